// Interop test peers: ws13 (the library under test), `ws` from npm and Python's
// `websockets` 10.4 (Debian python3-websockets, run with /usr/bin/python3).
//
// Every peer is driven through the same two shapes so that each scenario is written once:
//   - an echo server (startEchoServer), which records what it sees as events;
//   - a client (runClient), which runs a list of steps and records what it sees as events.
// The Python peers speak the same step language and event format (see python/client.py).
//
// ws13 is loaded by a dynamic import of a string variable, so that these files compile
// even before src/node/index.ts exists; then the ws13 tests fail (they are never skipped).

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { PYTHON } from '../support/peers-available.js';

export type Kind = 'ws13' | 'ws' | 'python';

/** One observation by a peer. The same shape is printed by the Python peers. */
export interface Ev {
  event: string;
  // message
  type?: 'text' | 'binary';
  length?: number;
  sha256?: string;
  text?: string;
  hex?: string;
  /** Node peers only: the JS type the library delivered ('string', 'buffer', …). */
  raw?: string;
  // open / connection
  subprotocol?: string | null;
  extensions?: string | null;
  path?: string;
  // closed
  code?: number | null;
  reason?: string | null;
  // many
  items?: string[];
  // listening
  port?: number;
  // error
  message?: string;
}

export type Step =
  | { op: 'send'; text: string }
  | { op: 'send'; hex: string }
  | { op: 'send_fragments'; text: string[] }
  | { op: 'send_fragments'; hex: string[]; binary: boolean }
  | { op: 'send_pattern'; kind: 'text' | 'binary' | 'random'; size: number }
  | { op: 'send_many'; count: number; prefix: string }
  | { op: 'recv' }
  | { op: 'recv_many'; count: number }
  | { op: 'ping'; hex: string }
  | { op: 'wait_ping'; hex: string }
  | { op: 'close'; code: number; reason: string }
  | { op: 'wait_closed' };

/**
 * permessage-deflate settings (RFC 7692), mapped onto each peer's own options. On a server:
 * what it asks for in its answer; on a client: what it offers (clientMaxWindowBits true
 * offers the parameter without a value). Every peer compresses every message (threshold 0).
 * 'default': the library's own defaults with compression enabled.
 */
export type DeflateConfig =
  | 'default'
  | {
      serverNoContextTakeover?: boolean;
      clientNoContextTakeover?: boolean;
      serverMaxWindowBits?: number;
      clientMaxWindowBits?: number | true;
    };

export interface EchoServerOptions {
  /** Enable permessage-deflate on the server (off when absent). */
  deflate?: DeflateConfig;
  /** Subprotocols the server supports, in its order of preference. */
  protocols?: string[];
  maxPayload?: number;
  /** On the first message: close with this code and reason instead of echoing. */
  closeAfterFirst?: { code: number; reason: string };
  /** On the first message: send a ping with this payload (hex) instead of echoing. */
  pingAfterFirst?: string;
  /** Echo every non-empty message as a fragmented message of this many frames. */
  fragmentEcho?: number;
}

export interface ClientOptions {
  /** Offer permessage-deflate (off when absent, except for ws13's own default). */
  deflate?: DeflateConfig;
  protocols?: string[];
  maxPayload?: number;
}

export interface EchoServer {
  kind: Kind;
  url: string;
  log: EventLog;
  /** Anything the peer wrote on stderr (Python) — for failure messages. */
  stderr(): string;
  close(): Promise<void>;
}

export { PYTHON };
export const PY_ECHO_SERVER = fileURLToPath(new URL('../../../test/interop/python/echo_server.py', import.meta.url));
export const PY_CLIENT = fileURLToPath(new URL('../../../test/interop/python/client.py', import.meta.url));

/** How long one step (or one wait for an event) may take before it counts as failed. */
export const STEP_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------------------
// Payloads shared with python/common.py

/** 32 bytes of UTF-8: 23 ASCII bytes, "€" (3), "🚀" (4), "é" (2). */
export const TEXT_UNIT = '0123456789abcdefghijklm\u20ac\u{1F680}\u00e9';
const BINARY_BLOCK = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 31 + 7) & 0xff));

/**
 * Incompressible bytes, the same in python/common.py: xorshift32 from a fixed seed, one
 * byte (the low 8 bits) per step.
 */
function randomBytes(size: number): Buffer {
  const buf = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

/** The deterministic payload of `size` bytes that python/common.py's pattern() also builds. */
export function pattern(kind: 'text', size: number): string;
export function pattern(kind: 'binary' | 'random', size: number): Buffer;
export function pattern(kind: 'text' | 'binary' | 'random', size: number): string | Buffer;
export function pattern(kind: 'text' | 'binary' | 'random', size: number): string | Buffer {
  if (kind === 'random') return randomBytes(size);
  if (kind === 'binary') {
    const buf = Buffer.alloc(size);
    if (size > 0) buf.fill(BINARY_BLOCK);
    return buf;
  }
  if (size % 32 !== 0) throw new Error('text pattern size must be a multiple of 32 bytes');
  return TEXT_UNIT.repeat(size / 32);
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).digest('hex');
}

/** The label recv_many reports for item i of send_many (text for even i, binary for odd). */
export function manyLabel(i: number, prefix: string): string {
  const text = `${prefix}${i}`;
  return i % 2 === 0 ? `t:${text}` : `b:${Buffer.from(text).toString('hex')}`;
}

export function hexOf(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex');
}

const INLINE_LIMIT = 4096;

function describe(buf: Buffer, isBinary: boolean, raw: string): Ev {
  const ev: Ev = { event: 'message', type: isBinary ? 'binary' : 'text', length: buf.length, sha256: sha256(buf) };
  if (buf.length <= INLINE_LIMIT) {
    if (isBinary) ev.hex = buf.toString('hex');
    else ev.text = buf.toString('utf8');
  }
  ev.raw = raw;
  return ev;
}

function toBuffer(data: unknown): { buf: Buffer; raw: string } {
  if (typeof data === 'string') return { buf: Buffer.from(data, 'utf8'), raw: 'string' };
  if (Buffer.isBuffer(data)) return { buf: data, raw: 'buffer' };
  if (data instanceof ArrayBuffer) return { buf: Buffer.from(data), raw: 'arraybuffer' };
  if (ArrayBuffer.isView(data)) return { buf: Buffer.from(data.buffer, data.byteOffset, data.byteLength), raw: 'view' };
  if (Array.isArray(data)) return { buf: Buffer.concat(data as Buffer[]), raw: 'array' };
  throw new TypeError(`unexpected message data type: ${Object.prototype.toString.call(data)}`);
}

function reasonString(reason: unknown): string {
  if (reason === undefined || reason === null) return '';
  if (typeof reason === 'string') return reason;
  if (Buffer.isBuffer(reason)) return reason.toString('utf8');
  return String(reason);
}

// ---------------------------------------------------------------------------------------
// Event log with waiting

export class EventLog {
  readonly events: Ev[] = [];
  private waiters: Array<{ pred: (ev: Ev) => boolean; resolve: (ev: Ev) => void }> = [];

  push(ev: Ev): void {
    this.events.push(ev);
    const ready = this.waiters.filter((w) => w.pred(ev));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve(ev);
  }

  /** Resolves with the first event (already seen or future) matching pred; rejects on timeout. */
  waitFor(pred: (ev: Ev) => boolean, what: string, timeoutMs = STEP_TIMEOUT_MS): Promise<Ev> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<Ev>((resolve, reject) => {
      const entry = {
        pred,
        resolve: (ev: Ev) => {
          clearTimeout(timer);
          resolve(ev);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== entry);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(entry);
    });
  }
}

/** A FIFO where next() waits (bounded) for the following item. */
class Queue<T> {
  private items: T[] = [];
  private waiting: Array<(item: T | undefined, err?: Error) => void> = [];
  private ended: Error | undefined;

  push(item: T): void {
    const w = this.waiting.shift();
    if (w) w(item);
    else this.items.push(item);
  }

  /** After this, next() rejects with err once no items are left (the connection closed). */
  end(err: Error): void {
    this.ended = err;
    for (const w of this.waiting.splice(0)) w(undefined, err);
  }

  drain(): T[] {
    const out = this.items;
    this.items = [];
    return out;
  }

  next(what: string, timeoutMs = STEP_TIMEOUT_MS): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    if (this.ended) return Promise.reject(new Error(`${this.ended.message} while waiting for ${what}`));
    return new Promise<T>((resolve, reject) => {
      const w = (item: T | undefined, err?: Error) => {
        clearTimeout(timer);
        if (err) reject(new Error(`${err.message} while waiting for ${what}`));
        else resolve(item as T);
      };
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiting.push(w);
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

// ---------------------------------------------------------------------------------------
// ws13 adapter

/** The part of ws13's WebSocket (both roles) these tests use; see docs/API.md. */
export interface Ws13Socket {
  readonly protocol: string;
  readonly extensions: string;
  readonly readyState: number;
  binaryType: string;
  send(data: string | Buffer, options?: { binary?: boolean; fin?: boolean }, cb?: (err?: Error) => void): void;
  ping(data?: Buffer | string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

export interface Ws13Server {
  listen(port: number, host: string): Promise<AddressInfo>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  readonly clients: Set<Ws13Socket>;
  close(): Promise<void>;
}

export interface Ws13Module {
  WebSocket: new (url: string, protocols?: string[], options?: Record<string, unknown>) => Ws13Socket;
  WebSocketServer: new (options?: Record<string, unknown>) => Ws13Server;
}

// A variable, not a literal: tsc must not try to resolve it (src/ may not exist yet).
const WS13_ENTRY = '../../src/node/index.js';
let ws13Module: Promise<Ws13Module> | undefined;

export function loadWs13(): Promise<Ws13Module> {
  ws13Module ??= import(WS13_ENTRY) as Promise<Ws13Module>;
  return ws13Module;
}

// ---------------------------------------------------------------------------------------
// permessage-deflate options of each peer

/** `ws`'s perMessageDeflate option (client or server). */
function wsDeflateOptions(d: DeflateConfig | undefined): false | true | Record<string, unknown> {
  if (!d) return false;
  if (d === 'default') return true;
  // ws reads an explicit false as "refuse": a client then fails on a server-imposed
  // client_no_context_takeover, a server declines offers of server_no_context_takeover.
  // Only true is passed; absent means ws's default (not asked for, but accepted).
  const o: Record<string, unknown> = { threshold: 0 };
  if (d.serverNoContextTakeover) o.serverNoContextTakeover = true;
  if (d.clientNoContextTakeover) o.clientNoContextTakeover = true;
  if (d.serverMaxWindowBits !== undefined) o.serverMaxWindowBits = d.serverMaxWindowBits;
  if (d.clientMaxWindowBits !== undefined) o.clientMaxWindowBits = d.clientMaxWindowBits;
  return o;
}

/** ws13's perMessageDeflate option (docs/API.md, "Compression"). */
function ws13DeflateOptions(d: DeflateConfig): true | Record<string, unknown> {
  if (d === 'default') return true;
  const o: Record<string, unknown> = {
    serverNoContextTakeover: d.serverNoContextTakeover ?? false,
    clientNoContextTakeover: d.clientNoContextTakeover ?? false,
    threshold: 0,
  };
  if (d.serverMaxWindowBits !== undefined) o.serverMaxWindowBits = d.serverMaxWindowBits;
  if (d.clientMaxWindowBits !== undefined) o.clientMaxWindowBits = d.clientMaxWindowBits;
  return o;
}

/** The --deflate argument of the Python peers: "default" or JSON with RFC 7692 names. */
function pythonDeflateArg(d: DeflateConfig): string {
  if (d === 'default') return 'default';
  return JSON.stringify({
    server_no_context_takeover: d.serverNoContextTakeover ?? false,
    client_no_context_takeover: d.clientNoContextTakeover ?? false,
    server_max_window_bits: d.serverMaxWindowBits ?? null,
    client_max_window_bits: d.clientMaxWindowBits ?? null,
  });
}

// ---------------------------------------------------------------------------------------
// Node echo server logic, shared by the ws and ws13 servers

/** The common subset of ws's and ws13's WebSocket used by the Node peers. */
interface NodeSocket {
  readonly protocol: string;
  readonly extensions: unknown;
  send(data: string | Buffer, options: { binary?: boolean; fin?: boolean }, cb?: (err?: Error) => void): void;
  ping(data: Buffer): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

function extensionsString(ext: unknown): string {
  if (typeof ext === 'string') return ext;
  if (ext && typeof ext === 'object') return Object.keys(ext).join(', ');
  return '';
}

function splitBuffer(buf: Buffer, parts: number): Buffer[] {
  const step = Math.max(1, Math.ceil(buf.length / parts));
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += step) out.push(buf.subarray(i, i + step));
  return out;
}

function serveEcho(sock: NodeSocket, path: string, log: EventLog, opts: EchoServerOptions, ext?: string): void {
  log.push({
    event: 'connection',
    subprotocol: sock.protocol || null,
    path,
    extensions: ext ?? extensionsString(sock.extensions),
  });
  let first = true;
  sock.on('message', (data: unknown, isBinary: boolean) => {
    const { buf, raw } = toBuffer(data);
    log.push(describe(buf, isBinary, raw));
    if (first && opts.closeAfterFirst) {
      first = false;
      sock.close(opts.closeAfterFirst.code, opts.closeAfterFirst.reason);
      return;
    }
    if (first && opts.pingAfterFirst !== undefined) {
      first = false;
      sock.ping(Buffer.from(opts.pingAfterFirst, 'hex'));
      return;
    }
    first = false;
    const parts = opts.fragmentEcho ?? 1;
    try {
      if (parts > 1 && buf.length > 0) {
        // Split at arbitrary byte positions: text fragments may cut a UTF-8 sequence.
        const chunks = splitBuffer(buf, parts);
        chunks.forEach((chunk, i) => sock.send(chunk, { binary: isBinary, fin: i === chunks.length - 1 }));
      } else if (isBinary) {
        sock.send(buf, { binary: true });
      } else {
        sock.send(buf.toString('utf8'), { binary: false });
      }
    } catch (err) {
      // Report it as the server's own failure and end the connection so the client stops waiting.
      log.push({ event: 'error', message: `echo: send() threw ${String(err)}` });
      sock.close(1011, 'echo failed');
    }
  });
  sock.on('ping', (payload: Buffer) => log.push({ event: 'ping', hex: Buffer.from(payload).toString('hex') }));
  sock.on('pong', (payload: Buffer) => log.push({ event: 'pong', hex: Buffer.from(payload).toString('hex') }));
  sock.on('error', (err: unknown) => log.push({ event: 'error', message: String(err) }));
  sock.on('close', (code: number, reason: unknown) => log.push({ event: 'closed', code, reason: reasonString(reason) }));
}

async function startWsEchoServer(opts: EchoServerOptions): Promise<EchoServer> {
  const log = new EventLog();
  const supported = opts.protocols;
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: wsDeflateOptions(opts.deflate),
    maxPayload: opts.maxPayload ?? 100 * 1024 * 1024,
    // Server preference: the first of ours that the client offered; none if no overlap.
    handleProtocols: (offered: Set<string>) => supported?.find((p) => offered.has(p)) ?? false,
  });
  // With deflate, report the Sec-WebSocket-Extensions answer ws sent (its `extensions`
  // property only lists names).
  const answered = new WeakMap<object, string>();
  if (opts.deflate) {
    wss.on('headers', (headers: string[], req: object) => {
      const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
      answered.set(req, line ? line.slice(line.indexOf(':') + 1).trim() : '');
    });
  }
  wss.on('connection', (ws, req) => {
    const sock = ws as unknown as NodeSocket;
    const ext = opts.deflate ? (answered.get(req) ?? '') : undefined;
    serveEcho(sock, req.url ?? '', log, opts, ext);
  });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    }),
    STEP_TIMEOUT_MS,
    'ws server listening',
  );
  const { port } = wss.address() as AddressInfo;
  return {
    kind: 'ws',
    url: `ws://127.0.0.1:${port}`,
    log,
    stderr: () => '',
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await withTimeout(new Promise<void>((resolve) => wss.close(() => resolve())), 5_000, 'ws server close');
    },
  };
}

async function startWs13EchoServer(opts: EchoServerOptions): Promise<EchoServer> {
  const { WebSocketServer: Ws13Server } = await loadWs13();
  const log = new EventLog();
  const options: Record<string, unknown> = { closeTimeout: 2_000 };
  if (opts.protocols) options.protocols = opts.protocols;
  if (opts.maxPayload !== undefined) options.maxPayload = opts.maxPayload;
  if (opts.deflate) options.perMessageDeflate = ws13DeflateOptions(opts.deflate);
  const server = new Ws13Server(options);
  server.on('connection', (ws: Ws13Socket, req: { url?: string }) =>
    serveEcho(ws as unknown as NodeSocket, req?.url ?? '', log, opts),
  );
  server.on('handshakeError', (err: unknown) => log.push({ event: 'error', message: `handshakeError: ${String(err)}` }));
  const { port } = await withTimeout(server.listen(0, '127.0.0.1'), STEP_TIMEOUT_MS, 'ws13 server listen');
  return {
    kind: 'ws13',
    url: `ws://127.0.0.1:${port}`,
    log,
    stderr: () => '',
    close: async () => {
      try {
        await withTimeout(server.close(), 5_000, 'ws13 server close');
      } finally {
        for (const c of server.clients ?? []) c.terminate();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// Python processes

const children = new Set<ChildProcess>();

/** Kills every Python process still running (call from `after` hooks). */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c)));
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 2_000);
    child.once('exit', () => {
      clearTimeout(hard);
      children.delete(child);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function spawnPython(script: string, args: string[]): ChildProcess {
  const child = spawn(PYTHON, ['-B', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Parses each stdout line as JSON and hands it over; non-JSON lines become error events. */
function readEvents(child: ChildProcess, onEvent: (ev: Ev) => void): void {
  const rl = createInterface({ input: child.stdout!, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (line.trim() === '') return;
    try {
      onEvent(JSON.parse(line) as Ev);
    } catch {
      onEvent({ event: 'error', message: `unparsable line from python: ${line.slice(0, 200)}` });
    }
  });
}

function collectStderr(child: ChildProcess): () => string {
  let text = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (text.length < 20_000) text += s;
  });
  return () => text;
}

async function startPythonEchoServer(opts: EchoServerOptions): Promise<EchoServer> {
  const args: string[] = ['--max-size', String(opts.maxPayload ?? 2 ** 20), '--lifetime', '180'];
  if (opts.protocols) args.push('--subprotocols', opts.protocols.join(','));
  if (opts.closeAfterFirst) args.push('--close-after-first', String(opts.closeAfterFirst.code), opts.closeAfterFirst.reason);
  if (opts.pingAfterFirst !== undefined) args.push('--ping-after-first', opts.pingAfterFirst);
  if (opts.fragmentEcho !== undefined) args.push('--fragment-echo', String(opts.fragmentEcho));
  if (opts.deflate) args.push('--deflate', pythonDeflateArg(opts.deflate));
  const child = spawnPython(PY_ECHO_SERVER, args);
  const stderr = collectStderr(child);
  const log = new EventLog();
  readEvents(child, (ev) => log.push(ev));
  child.once('exit', (code, signal) => log.push({ event: 'exit', code, reason: signal ?? '' }));
  let listening: Ev;
  try {
    listening = await log.waitFor((ev) => ev.event === 'listening' || ev.event === 'exit', 'python echo server listening');
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  if (listening.event !== 'listening') throw new Error(`python echo server exited early: ${stderr()}`);
  // The listening line is not part of the scenario's observations.
  log.events.splice(log.events.indexOf(listening), 1);
  return {
    kind: 'python',
    url: `ws://127.0.0.1:${listening.port}`,
    log,
    stderr,
    close: () => stopChild(child),
  };
}

export function startEchoServer(kind: Kind, opts: EchoServerOptions = {}): Promise<EchoServer> {
  switch (kind) {
    case 'ws':
      return startWsEchoServer(opts);
    case 'ws13':
      return startWs13EchoServer(opts);
    case 'python':
      return startPythonEchoServer(opts);
  }
}

// ---------------------------------------------------------------------------------------
// Clients

export interface ClientRun {
  events: Ev[];
  stderr: string;
}

/** Runs the steps as a client of `kind` against url; resolves with everything it observed. */
export function runClient(kind: Kind, url: string, opts: ClientOptions, steps: Step[]): Promise<ClientRun> {
  if (kind === 'python') return runPythonClient(url, opts, steps);
  return runNodeClient(kind, url, opts, steps);
}

async function runPythonClient(url: string, opts: ClientOptions, steps: Step[]): Promise<ClientRun> {
  const args = [url, '--max-size', String(opts.maxPayload ?? 2 ** 20)];
  if (opts.protocols) args.push('--subprotocols', opts.protocols.join(','));
  if (opts.deflate) args.push('--deflate', pythonDeflateArg(opts.deflate));
  const child = spawnPython(PY_CLIENT, args);
  const stderr = collectStderr(child);
  const events: Ev[] = [];
  readEvents(child, (ev) => events.push(ev));
  child.stdin!.end(JSON.stringify(steps));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const limit = 60_000 + steps.length * 1_000;
  try {
    await withTimeout(exited, limit, 'python client to finish');
  } catch (err) {
    events.push({ event: 'error', message: String(err) });
    await stopChild(child);
  }
  // Let readline deliver the last lines.
  await new Promise((r) => setImmediate(r));
  return { events, stderr: stderr() };
}

async function makeNodeClient(kind: 'ws' | 'ws13', url: string, opts: ClientOptions): Promise<NodeSocket> {
  if (kind === 'ws') {
    const ws = new WebSocket(url, opts.protocols ?? [], {
      perMessageDeflate: wsDeflateOptions(opts.deflate),
      maxPayload: opts.maxPayload ?? 100 * 1024 * 1024,
    });
    return ws as unknown as NodeSocket;
  }
  const { WebSocket: Ws13 } = await loadWs13();
  const options: Record<string, unknown> = { closeTimeout: 5_000 };
  if (opts.maxPayload !== undefined) options.maxPayload = opts.maxPayload;
  if (opts.deflate) options.perMessageDeflate = ws13DeflateOptions(opts.deflate);
  return new Ws13(url, opts.protocols ?? [], options) as unknown as NodeSocket;
}

async function runNodeClient(kind: 'ws' | 'ws13', url: string, opts: ClientOptions, steps: Step[]): Promise<ClientRun> {
  const events: Ev[] = [];
  const log = new EventLog();
  const record = (ev: Ev) => {
    events.push(ev);
    log.push(ev);
  };
  let sock: NodeSocket;
  try {
    sock = await makeNodeClient(kind, url, opts);
  } catch (err) {
    record({ event: 'error', message: `could not create ${kind} client: ${String(err)}` });
    record({ event: 'done' });
    return { events, stderr: '' };
  }

  const messages = new Queue<Ev>();
  const pongs = new Queue<string>();
  let closeInfo: { code: number; reason: string } | undefined;
  const closed = new EventLog();

  // ws reports only extension names: with deflate, record the answer it received instead.
  let answer: string | undefined;
  if (kind === 'ws' && opts.deflate) {
    sock.on('upgrade', (res: { headers: Record<string, string | string[] | undefined> }) => {
      const h = res.headers['sec-websocket-extensions'];
      answer = Array.isArray(h) ? h.join(', ') : (h ?? '');
    });
  }
  const opened = new Promise<boolean>((resolve) => {
    sock.on('open', () => resolve(true));
    sock.on('close', () => resolve(false));
  });
  sock.on('message', (data: unknown, isBinary: boolean) => {
    const { buf, raw } = toBuffer(data);
    messages.push(describe(buf, isBinary, raw));
  });
  sock.on('ping', (payload: Buffer) => record({ event: 'ping', hex: Buffer.from(payload).toString('hex') }));
  sock.on('pong', (payload: Buffer) => pongs.push(Buffer.from(payload).toString('hex')));
  sock.on('error', (err: unknown) => record({ event: 'error', message: `${kind} client error event: ${String(err)}` }));
  sock.on('close', (code: number, reason: unknown) => {
    closeInfo = { code, reason: reasonString(reason) };
    closed.push({ event: 'closed', ...closeInfo });
    const gone = new Error(`the connection closed (code ${code}, reason ${JSON.stringify(closeInfo.reason)})`);
    messages.end(gone);
    pongs.end(gone);
  });
  const waitClosed = () => closed.waitFor((ev) => ev.event === 'closed', 'the close event');

  if (!(await withTimeout(opened, STEP_TIMEOUT_MS, 'client open').catch(() => false))) {
    record({ event: 'error', message: `${kind} client did not open (close: ${JSON.stringify(closeInfo)})` });
    sock.terminate();
    record({ event: 'done' });
    return { events, stderr: '' };
  }
  record({ event: 'open', subprotocol: sock.protocol || null, extensions: answer ?? extensionsString(sock.extensions) });

  try {
    for (const step of steps) {
      switch (step.op) {
        case 'send':
          if ('text' in step) sock.send(step.text, { binary: false });
          else sock.send(Buffer.from(step.hex, 'hex'), { binary: true });
          break;
        case 'send_fragments':
          if ('text' in step) {
            step.text.forEach((t, i) => sock.send(t, { binary: false, fin: i === step.text.length - 1 }));
          } else {
            step.hex.forEach((h, i) =>
              sock.send(Buffer.from(h, 'hex'), { binary: step.binary, fin: i === step.hex.length - 1 }),
            );
          }
          break;
        case 'send_pattern':
          sock.send(pattern(step.kind, step.size), { binary: step.kind !== 'text' });
          break;
        case 'send_many':
          for (let i = 0; i < step.count; i++) {
            const text = `${step.prefix}${i}`;
            if (i % 2 === 0) sock.send(text, { binary: false });
            else sock.send(Buffer.from(text), { binary: true });
          }
          break;
        case 'recv':
          record(await messages.next('a message'));
          break;
        case 'recv_many': {
          const items: string[] = [];
          for (let i = 0; i < step.count; i++) {
            const m = await messages.next(`message ${i + 1} of ${step.count}`);
            items.push(m.type === 'text' ? `t:${m.text}` : `b:${m.hex}`);
          }
          record({ event: 'many', items });
          break;
        }
        case 'ping': {
          pongs.drain();
          sock.ping(Buffer.from(step.hex, 'hex'));
          try {
            record({ event: 'pong', hex: await pongs.next('a pong') });
          } catch {
            record({ event: 'pong_timeout', hex: step.hex });
          }
          break;
        }
        case 'wait_ping':
          await log.waitFor((ev) => ev.event === 'ping' && ev.hex === step.hex, `a ping with payload ${step.hex}`);
          break;
        case 'close':
          sock.close(step.code, step.reason);
          await waitClosed();
          record({ event: 'closed', code: closeInfo!.code, reason: closeInfo!.reason });
          break;
        case 'wait_closed':
          await waitClosed();
          for (const m of messages.drain()) record(m);
          record({ event: 'closed', code: closeInfo!.code, reason: closeInfo!.reason });
          break;
      }
    }
  } catch (err) {
    record({ event: 'error', message: String(err) });
  } finally {
    if (!closeInfo) {
      try {
        sock.close(1000, '');
        await waitClosed();
      } catch {
        sock.terminate();
      }
    }
  }
  record({ event: 'done' });
  return { events, stderr: '' };
}
