// Shared helpers for the client conformance tests: a raw server per test, parsing of the
// client's request head, crafted 101 responses, and expectations on close frames.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { RawServer, RawPeer, accept, closePayload, frame, sleep, type Frame } from '../../support/raw.js';
import { create, connect, type Client, type CutOptions } from './cut.js';

export { RawServer, RawPeer, accept, closePayload, frame, sleep };
export type { Frame, Client };

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

export interface Request {
  head: string;
  requestLine: string;
  /** Header lines as sent, name case preserved, in order. */
  rawHeaders: Array<[string, string]>;
  /** All values of a header (case-insensitive name). */
  all(name: string): string[];
  /** The single value of a header, or undefined. Fails if it is present more than once. */
  get(name: string): string | undefined;
  key: string;
}

export function parseRequest(head: string): Request {
  const lines = head.split('\r\n');
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const requestLine = lines[0] ?? '';
  const rawHeaders = lines.slice(1).map((l): [string, string] => {
    const i = l.indexOf(':');
    assert.ok(i > 0, `request header line without a colon: ${JSON.stringify(l)}`);
    return [l.slice(0, i), l.slice(i + 1).trim()];
  });
  const all = (name: string): string[] =>
    rawHeaders.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  const get = (name: string): string | undefined => {
    const v = all(name);
    assert.ok(v.length <= 1, `header ${name} sent ${v.length} times`);
    return v[0];
  };
  return { head, requestLine, rawHeaders, all, get, key: get('sec-websocket-key') ?? '' };
}

export interface ResponseOptions {
  statusLine?: string;
  /** null: omit the header; a string: use this value instead of the correct one. */
  upgrade?: string | null;
  connection?: string | null;
  accept?: string | null;
  /** Extra raw header lines ("Name: value"). */
  extra?: string[];
}

/** A 101 response head for `req`, correct unless told otherwise. */
export function response101(req: Request, o: ResponseOptions = {}): string {
  const lines = [o.statusLine ?? 'HTTP/1.1 101 Switching Protocols'];
  if (o.upgrade !== null) lines.push(`Upgrade: ${o.upgrade ?? 'websocket'}`);
  if (o.connection !== null) lines.push(`Connection: ${o.connection ?? 'Upgrade'}`);
  if (o.accept !== null) lines.push(`Sec-WebSocket-Accept: ${o.accept ?? accept(req.key)}`);
  lines.push(...(o.extra ?? []));
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Per-test resources, all released by t.after(). */
export class Scope {
  readonly clients: Client[] = [];
  constructor(readonly server: RawServer) {}

  url(path = '/'): string {
    return this.server.url(path);
  }

  async create(options: CutOptions = {}, path = '/'): Promise<Client> {
    const c = await create(this.url(path), options);
    this.clients.push(c);
    return c;
  }

  /** Starts `WebSocket.connect()`; the promise is returned unawaited (with a no-op catch attached). */
  connect(options: CutOptions = {}, path = '/'): Promise<Client> {
    const p = connect(this.url(path), options).then((c) => {
      this.clients.push(c);
      return c;
    });
    p.catch(() => {});
    return p;
  }

  /** Accepts the next connection and parses its request head. */
  async accept(timeoutMs = 5000): Promise<{ peer: RawPeer; req: Request }> {
    const peer = await this.server.accept(timeoutMs);
    const req = parseRequest(await peer.head(timeoutMs));
    return { peer, req };
  }

  /** A client (constructor form) connected to a raw peer through a correct handshake. */
  async open(options: CutOptions = {}, response: ResponseOptions = {}): Promise<{ client: Client; peer: RawPeer; req: Request }> {
    const client = await this.create(options);
    const { peer, req } = await this.accept();
    peer.write(response101(req, response));
    await client.waitOpen();
    return { client, peer, req };
  }
}

export async function scope(t: TestContext): Promise<Scope> {
  const server = await RawServer.listen();
  const s = new Scope(server);
  t.after(async () => {
    for (const c of s.clients) {
      try {
        c.terminate();
      } catch {
        /* already gone */
      }
    }
    await server.close();
  });
  return s;
}

/** Decodes a close frame body. */
export function closeBody(f: Frame): { code: number | undefined; reason: Buffer } {
  if (f.payload.length < 2) return { code: undefined, reason: Buffer.alloc(0) };
  return { code: f.payload.readUInt16BE(0), reason: f.payload.subarray(2) };
}

function describeFrame(f: Frame): string {
  const body = f.opcode === OP.CLOSE ? ` code=${closeBody(f).code} reason=${JSON.stringify(closeBody(f).reason.toString())}` : '';
  return `{opcode=${f.opcode} fin=${f.fin} rsv=${f.rsv} masked=${f.masked} len=${f.payload.length}${body}}`;
}

/** Asserts that the next frame from the client is a masked close frame with `code`. */
export async function expectCloseFrame(peer: RawPeer, code: number, timeoutMs = 2000): Promise<Frame> {
  let f: Frame;
  try {
    f = await peer.nextFrame(timeoutMs);
  } catch (e) {
    assert.fail(
      `expected a close frame with code ${code} within ${timeoutMs} ms, got none (client TCP ${peer.ended ? 'closed' : 'still open'})`,
    );
  }
  assert.equal(f.opcode, OP.CLOSE, `expected a close frame (code ${code}), got ${describeFrame(f)}`);
  assert.equal(f.masked, true, 'client close frame must be masked');
  assert.equal(f.fin, true, 'close frame must have FIN set');
  assert.equal(f.rsv, 0, 'close frame must have RSV bits clear');
  assert.equal(closeBody(f).code, code, `close code: expected ${code}, got ${describeFrame(f)}`);
  const reason = closeBody(f).reason;
  assert.ok(new TextDecoder('utf-8', { fatal: true }).decode(reason) !== undefined);
  return f;
}

/** Asserts that no frame arrives and TCP stays open for `ms`. */
export async function expectQuiet(peer: RawPeer, ms: number): Promise<void> {
  await sleep(ms);
  const extra = peer.takeFrames();
  assert.deepEqual(extra.map(describeFrame), [], 'client sent unexpected frames');
}

/** Collects frames from the client until one has FIN set; returns them all. */
export async function nextMessageFrames(peer: RawPeer, timeoutMs = 10_000): Promise<Frame[]> {
  const out: Frame[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = await peer.nextFrame(Math.max(1, deadline - Date.now()));
    out.push(f);
    if (f.fin) return out;
  }
}

/** Asserts the minimal length encoding RFC 6455 §5.2 requires. */
export function assertMinimalLength(f: Frame): void {
  const n = f.payload.length;
  const want = n < 126 ? 7 : n < 65536 ? 16 : 64;
  assert.equal(f.lengthBits, want, `payload length ${n} must be encoded in ${want} bits, was ${f.lengthBits}`);
}

/** A UTF-8 string of exactly `n` bytes, with 1-, 2-, 3- and 4-byte characters. */
export function textOfBytes(n: number): string {
  const unit = 'ab\u00e9\u20ac\u{1F600}c'; // 1+1+2+3+4+1 = 12 bytes
  const s = unit.repeat(Math.floor(n / 12)) + 'x'.repeat(n % 12);
  assert.equal(Buffer.byteLength(s), n);
  return s;
}

/** Deterministic pseudo-random bytes (so failures are reproducible). */
export function bytesOf(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function elapsedSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Ends our side of TCP (FIN) like a server finishing the closing handshake. */
export function serverEnd(peer: RawPeer): void {
  peer.socket.end();
}

export { closePayload as closeBytes };
