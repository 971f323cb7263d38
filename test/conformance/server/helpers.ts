// Shared helpers for the server conformance suite: a raw client (masked frames, crafted
// bytes) over RawPeer, and assertions on what the server sends back. A raw peer runs over TCP
// (an HTTP/1.1 upgrade) or over an HTTP/2 stream (an extended CONNECT on a node:http2 client
// session, RFC 8441): `both()` defines a case once and runs it over each.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type net from 'node:net';
import { before, after, afterEach, test, type TestOptions } from 'node:test';
import { RawPeer, frame, parseHead, header, accept, sleep, type Frame, type FrameSpec } from '../../support/raw.js';
import { SUT_NAME, startServer, type Sut, type SutOptions } from './sut.js';

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

/** Per-test time bound for node:test. */
export const T = { timeout: 20_000 };
/** How long the server has to close TCP after its close frame. */
export const CLOSE_TCP_MS = 2000;

const SEED_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

const openPeers = new Set<RawPeer>();
const openSessions = new Set<http2.ClientHttp2Session>();

/** How a raw peer reaches the server: TCP with an HTTP/1.1 upgrade, or an HTTP/2 stream. */
export type Transport = 'tcp' | 'h2';

/** Where to open a WebSocket: a port (TCP), or a fixture's endpoint over a transport. */
export interface Endpoint {
  readonly port: number;
  readonly via: Transport;
}

export interface Fixture {
  /** The TCP port (HTTP/1.1 upgrades). */
  readonly port: number;
  /** The endpoint over `via`: the TCP port, or the h2c port of the same endpoint. */
  at(via: Transport): Endpoint;
}

/** What an HTTP/2 raw peer has beyond its stream: whether the server ended it (END_STREAM). */
interface H2Peer {
  readonly stream: http2.ClientHttp2Stream;
  endStream: boolean;
}
const h2Peers = new WeakMap<RawPeer, H2Peer>();

function destroyAll(): void {
  for (const p of openPeers) p.destroy();
  openPeers.clear();
  for (const s of openSessions) s.destroy();
  openSessions.clear();
}

/**
 * Starts a server for the current test file (before) and stops it (after). With `http2`, the
 * same endpoint is served over h2c too, for cases defined with `both()`.
 */
export function serverFixture(options: SutOptions = {}, http2Too = false): Fixture {
  let sut: Sut | undefined;
  before(async () => {
    sut = await startServer(options, http2Too);
  });
  after(async () => {
    destroyAll();
    await sut?.close();
  });
  afterEach(destroyAll);
  return {
    get port(): number {
      if (!sut) throw new Error('server under test did not start');
      return sut.port;
    },
    at(via: Transport): Endpoint {
      if (!sut) throw new Error('server under test did not start');
      if (via === 'tcp') return { port: sut.port, via };
      if (sut.h2Port === undefined) throw new Error('this fixture serves no HTTP/2: serverFixture(options, true)');
      return { port: sut.h2Port, via };
    },
  };
}

/**
 * Defines a case once and runs it twice: over TCP, and over an HTTP/2 stream (named
 * "… [HTTP/2]"). The `ws` package has no RFC 8441: with SUT=ws the HTTP/2 runs are skipped.
 */
export function both(name: string, options: TestOptions, fn: (via: Transport) => Promise<void>): void {
  test(name, options, () => fn('tcp'));
  test(`${name} [HTTP/2]`, { ...options, ...(SUT_NAME === 'ws' ? { skip: 'the ws package has no WebSocket over HTTP/2' } : {}) }, () => fn('h2'));
}

/** A raw TCP connection to the server, tracked so that it is destroyed after the test. */
export async function connectRaw(port: number): Promise<RawPeer> {
  const p = await RawPeer.connect(port);
  openPeers.add(p);
  return p;
}

/**
 * Opens a WebSocket with the seed handshake and checks the answer: over TCP (a port, or an
 * endpoint `via: 'tcp'`) the 101; over HTTP/2 the 200 to an extended CONNECT.
 */
export async function openWs(target: number | Endpoint, opts: { path?: string; extra?: string[] } = {}): Promise<RawPeer> {
  if (typeof target !== 'number' && target.via === 'h2') return openH2(target.port, opts);
  const port = typeof target === 'number' ? target : target.port;
  const p = await connectRaw(port);
  const lines = [
    `GET ${opts.path ?? '/'} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${SEED_KEY}`,
    'Sec-WebSocket-Version: 13',
    ...(opts.extra ?? []),
    '',
    '',
  ];
  p.write(lines.join('\r\n'));
  const head = await p.head(5000);
  const { statusLine, headers } = parseHead(head);
  assert.match(statusLine, /^HTTP\/1\.1 101 /, `handshake refused: ${statusLine}`);
  assert.deepEqual(header(headers, 'sec-websocket-accept'), [accept(SEED_KEY)]);
  return p;
}

/**
 * A WebSocket as an extended CONNECT stream (RFC 8441 §4–5) on a fresh node:http2 client
 * session; the raw peer then writes and reads frame bytes on the stream, masking its own.
 */
async function openH2(port: number, opts: { path?: string; extra?: string[] }): Promise<RawPeer> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  openSessions.add(session);
  session.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('close', () => reject(new Error('the HTTP/2 session closed before SETTINGS')));
  });
  // RFC 8441 §3: a client MUST NOT send :protocol before the server allowed it.
  assert.equal(session.remoteSettings.enableConnectProtocol, true, 'the server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL');
  const headers: http2.OutgoingHttpHeaders = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':authority': `127.0.0.1:${port}`,
    ':path': opts.path ?? '/',
    'sec-websocket-version': '13',
  };
  // HTTP/1.1 header lines, as the TCP cases give them, become lower-case HTTP/2 fields.
  for (const line of opts.extra ?? []) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const stream = session.request(headers, { endStream: false });
  stream.on('error', () => {});
  const status = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no answer to the extended CONNECT in 5000 ms')), 5000);
    stream.once('response', (h) => {
      clearTimeout(t);
      resolve(Number(h[':status']));
    });
    stream.once('close', () => {
      clearTimeout(t);
      reject(new Error(`the stream was reset before the answer (code ${stream.rstCode})`));
    });
  });
  assert.equal(status, 200, `extended CONNECT refused: ${status}`);
  const info: H2Peer = { stream, endStream: false };
  stream.once('end', () => (info.endStream = true));
  // RawPeer reads and writes any duplex; the stream stands where the socket would.
  const p = new RawPeer(stream as unknown as net.Socket);
  p.startFrames();
  h2Peers.set(p, info);
  openPeers.add(p);
  return p;
}

/** Encodes a client frame: masked with a random key unless `mask` is given. */
export function cf(spec: FrameSpec): Buffer {
  return frame({ mask: true, ...spec });
}

export function send(p: RawPeer, ...frames: Buffer[]): void {
  p.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
}

/** Writes `data` as separate writes: `sizes` cycles through the piece sizes. */
export async function writePieces(p: RawPeer, data: Buffer, sizes: number | number[], delayMs = 0): Promise<void> {
  const list = Array.isArray(sizes) ? sizes : [sizes];
  let off = 0;
  let i = 0;
  while (off < data.length) {
    const n = list[i++ % list.length]!;
    const piece = data.subarray(off, off + n);
    off += n;
    await new Promise<void>((resolve) => p.socket.write(piece, () => resolve()));
    if (p.ended) return;
    if (delayMs) await sleep(delayMs);
    else await new Promise((r) => setImmediate(r));
  }
}

export function describe(f: Frame): string {
  const name: Record<number, string> = { 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
  let s = `${name[f.opcode] ?? 'opcode ' + f.opcode} fin=${f.fin} rsv=${f.rsv} len=${f.payload.length}`;
  if (f.opcode === OP.CLOSE && f.payload.length >= 2) {
    s += ` code=${f.payload.readUInt16BE(0)} reason=${JSON.stringify(f.payload.subarray(2).toString())}`;
  } else if (f.payload.length <= 32) s += ` payload=${f.payload.toString('hex')}`;
  return `[${s}]`;
}

/** Next frame from the server, checking what every server frame must satisfy. */
export async function nextFrame(p: RawPeer, timeoutMs = 5000, what = 'a frame from the server'): Promise<Frame> {
  let f: Frame;
  try {
    f = await p.nextFrame(timeoutMs);
  } catch {
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for ${what}` +
        (p.ended ? ' (server closed TCP)' : '') +
        (p.pending().length ? ` (${p.pending().length} unparsed bytes: ${p.pending().subarray(0, 16).toString('hex')})` : ''),
    );
  }
  assert.equal(f.masked, false, `server frame must not be masked: ${describe(f)}`);
  assert.equal(f.rsv, 0, `server frame must not set RSV bits: ${describe(f)}`);
  const bits = (f as { lengthBits?: number }).lengthBits;
  if (bits !== undefined) {
    const minimal = f.payload.length < 126 ? 7 : f.payload.length < 65536 ? 16 : 64;
    assert.equal(bits, minimal, `server must use the minimal length encoding: ${describe(f)} was sent with ${bits} bits`);
  }
  if (f.opcode >= 8) {
    assert.ok(f.fin, `server control frame must not be fragmented: ${describe(f)}`);
    assert.ok(f.payload.length <= 125, `server control frame too long: ${describe(f)}`);
  }
  return f;
}

export interface Message {
  opcode: number;
  data: Buffer;
}

/** Reads one data message from the server, reassembling fragments (any framing is fine). */
export async function readMessage(p: RawPeer, timeoutMs = 5000): Promise<Message> {
  const deadline = Date.now() + timeoutMs;
  const first = await nextFrame(p, timeoutMs, 'an echoed message');
  assert.ok(first.opcode === OP.TEXT || first.opcode === OP.BINARY, `expected a data message, got ${describe(first)}`);
  const parts = [first.payload];
  let last = first;
  while (!last.fin) {
    last = await nextFrame(p, Math.max(1, deadline - Date.now()), 'a continuation frame');
    assert.equal(last.opcode, OP.CONT, `expected a continuation frame, got ${describe(last)}`);
    parts.push(last.payload);
  }
  return { opcode: first.opcode, data: Buffer.concat(parts) };
}

/** Asserts the next message is an echo of `data` with the given type. */
export async function expectEcho(p: RawPeer, opcode: number, data: Buffer | string, timeoutMs = 5000): Promise<void> {
  const m = await readMessage(p, timeoutMs);
  const want = typeof data === 'string' ? Buffer.from(data) : data;
  assert.equal(m.opcode, opcode, `echo has opcode ${m.opcode}, expected ${opcode}`);
  if (!m.data.equals(want)) {
    assert.fail(
      `echo differs: got ${m.data.length} bytes, expected ${want.length}` +
        (want.length <= 64 ? ` (got ${m.data.toString('hex')}, expected ${want.toString('hex')})` : ''),
    );
  }
}

export function closeCode(f: Frame): number | undefined {
  return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
}

function assertValidCloseBody(f: Frame): void {
  assert.notEqual(f.payload.length, 1, 'a close payload of 1 byte is invalid');
  if (f.payload.length > 2) {
    assert.doesNotThrow(
      () => new TextDecoder('utf-8', { fatal: true }).decode(f.payload.subarray(2)),
      'close reason from the server must be valid UTF-8',
    );
  }
}

/**
 * The server must fail the connection: next frame is a close with `code`, then the server
 * closes TCP by itself (EOF within CLOSE_TCP_MS; we never send a close), and nothing follows.
 */
export async function expectFail(p: RawPeer, code: number, timeoutMs = 3000): Promise<void> {
  const f = await nextFrame(p, timeoutMs, `a close frame with code ${code}`);
  assert.equal(f.opcode, OP.CLOSE, `expected close ${code}, got ${describe(f)}`);
  assertValidCloseBody(f);
  assert.equal(closeCode(f), code, `expected close code ${code}, got ${describe(f)}`);
  await expectTcpClosedByServer(p);
}

/**
 * EOF from the server within CLOSE_TCP_MS, with no frame after the close. Over HTTP/2 the
 * server ends the stream instead (END_STREAM, RFC 8441 §5), and a reset does not count.
 */
export async function expectTcpClosedByServer(p: RawPeer): Promise<void> {
  const h2 = h2Peers.get(p);
  try {
    await p.waitEnd(CLOSE_TCP_MS);
  } catch {
    assert.fail(`server did not ${h2 ? 'end the stream' : 'close TCP'} within ${CLOSE_TCP_MS} ms after its close frame`);
  }
  if (h2) assert.ok(h2.endStream, `server reset the stream (RST_STREAM code ${h2.stream.rstCode}) instead of ending it with END_STREAM`);
  const after = p.takeFrames();
  assert.equal(after.length, 0, `server sent frames after its close frame: ${after.map(describe).join(' ')}`);
  assert.equal(p.pending().length, 0, 'server sent bytes after its close frame');
}

/** Asserts the server sends nothing for `ms` (and keeps TCP open). */
export async function expectSilence(p: RawPeer, ms = 300): Promise<void> {
  await sleep(ms);
  const got = p.takeFrames();
  assert.equal(got.length, 0, `expected no frame, got ${got.map(describe).join(' ')}`);
  assert.equal(p.ended, false, `server ${h2Peers.has(p) ? 'ended the stream' : 'closed TCP'} unexpectedly`);
}

/** Sends a ping and expects the matching pong: proves the connection is still healthy. */
export async function expectAlive(p: RawPeer, tag = 'alive?'): Promise<void> {
  send(p, cf({ opcode: OP.PING, payload: tag }));
  const f = await nextFrame(p, 3000, 'a pong (connection still alive)');
  assert.equal(f.opcode, OP.PONG, `expected pong, got ${describe(f)}`);
  assert.equal(f.payload.toString(), tag);
}

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
export function bytes(n: number, seed = 0x9e3779b9): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** `n` bytes of valid UTF-8 text (printable ASCII pattern). */
export function asciiText(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 0x21 + ((i * 7) % 94);
  return b;
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** The bytes the server sent after its 101 response head. */
export function bytesAfterHead(p: RawPeer): Buffer {
  const headLen = p.httpHead === undefined ? 0 : Buffer.byteLength(p.httpHead, 'latin1');
  return p.rawBytes().subarray(headLen);
}
