// The client under test (CUT), behind a small adapter so that the same conformance
// tests can drive ws13 (the default) or, with CUT=ws, the `ws` package (used only to
// debug the raw-server harness; ws13-specific expectations are kept in the tests).
//
// ws13 is loaded with a dynamic import through a string variable so that this file
// compiles whether or not src/node/index.ts exists yet.

export const CUT_NAME: string = process.env.CUT ?? 'ws13';

export interface CutOptions {
  protocols?: string[];
  origin?: string;
  headers?: Record<string, string>;
  handshakeTimeout?: number;
  signal?: AbortSignal;
  maxPayload?: number;
  closeTimeout?: number;
  maxHeaderSize?: number;
  /** permessage-deflate as ws13 takes it (passed to ws as is, level/memLevel mapped). */
  perMessageDeflate?: boolean | Record<string, unknown>;
}

export interface Message {
  /** The payload bytes (text is re-encoded as UTF-8). */
  data: Buffer;
  isBinary: boolean;
  /** What the library actually handed to the listener. */
  raw: unknown;
}

/** Normalised view of an error emitted or thrown by the CUT. */
export interface ErrorInfo {
  error: unknown;
  code: string | undefined;
  closeCode: number | undefined;
}

export interface Events {
  open: boolean;
  messages: Message[];
  pings: Buffer[];
  pongs: Buffer[];
  errors: ErrorInfo[];
  close: { code: number; reason: string } | undefined;
  /** Event names in the order they were emitted: 'open', 'message', 'error', 'close', ... */
  order: string[];
}

export interface Client {
  /** The underlying library object. */
  readonly ws: any;
  readonly events: Events;
  readonly protocol: string;
  readonly readyState: number;
  send(data: string | Buffer, options?: { binary?: boolean; compress?: boolean }): void;
  ping(data?: Buffer | string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  waitOpen(timeoutMs?: number): Promise<void>;
  waitMessages(n: number, timeoutMs?: number): Promise<Message[]>;
  waitError(timeoutMs?: number): Promise<ErrorInfo>;
  waitClose(timeoutMs?: number): Promise<{ code: number; reason: string }>;
}

type AnyModule = {
  WebSocket: any;
  WebSocketError?: any;
  HandshakeError?: any;
};

let modulePromise: Promise<AnyModule> | undefined;

/** Loads the library under test once. */
export function loadCut(): Promise<AnyModule> {
  if (!modulePromise) {
    if (CUT_NAME === 'ws') {
      const spec: string = 'ws';
      modulePromise = import(spec).then((m: any) => ({ WebSocket: m.default ?? m.WebSocket }));
    } else {
      const spec: string = '../../../src/node/index.js';
      modulePromise = import(spec).then((m: any) => ({
        WebSocket: m.WebSocket ?? m.default?.WebSocket,
        WebSocketError: m.WebSocketError ?? m.default?.WebSocketError,
        HandshakeError: m.HandshakeError ?? m.default?.HandshakeError,
      }));
    }
  }
  return modulePromise;
}

/** The error classes the CUT exports (undefined when it exports none, e.g. `ws`). */
export async function errorClasses(): Promise<{ WebSocketError: any; HandshakeError: any }> {
  const m = await loadCut();
  return { WebSocketError: m.WebSocketError, HandshakeError: m.HandshakeError };
}

/** Extracts `code` and `closeCode` from an error (for `ws`, its status-code symbol). */
export function describeError(err: unknown): ErrorInfo {
  const e = err as any;
  let closeCode: number | undefined = typeof e?.closeCode === 'number' ? e.closeCode : undefined;
  if (closeCode === undefined && e && typeof e === 'object') {
    for (const sym of Object.getOwnPropertySymbols(e)) {
      if (String(sym) === 'Symbol(status-code)' && typeof e[sym] === 'number') closeCode = e[sym];
    }
  }
  return { error: err, code: typeof e?.code === 'string' ? e.code : undefined, closeCode };
}

function toBuffer(x: unknown): Buffer {
  if (typeof x === 'string') return Buffer.from(x, 'utf8');
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  if (Array.isArray(x)) return Buffer.concat(x.map(toBuffer));
  if (x === undefined || x === null) return Buffer.alloc(0);
  return Buffer.from(String(x));
}

class Wrapped implements Client {
  readonly ws: any;
  readonly events: Events = {
    open: false,
    messages: [],
    pings: [],
    pongs: [],
    errors: [],
    close: undefined,
    order: [],
  };
  private waiters: Array<() => void> = [];

  constructor(ws: any, alreadyOpen: boolean) {
    this.ws = ws;
    if (alreadyOpen) this.events.open = true;
    ws.on('open', () => {
      this.events.open = true;
      this.record('open');
    });
    ws.on('message', (data: unknown, isBinary: boolean) => {
      this.events.messages.push({ data: toBuffer(data), isBinary: Boolean(isBinary), raw: data });
      this.record('message');
    });
    ws.on('ping', (data: unknown) => {
      this.events.pings.push(toBuffer(data));
      this.record('ping');
    });
    ws.on('pong', (data: unknown) => {
      this.events.pongs.push(toBuffer(data));
      this.record('pong');
    });
    ws.on('error', (err: unknown) => {
      this.events.errors.push(describeError(err));
      this.record('error');
    });
    ws.on('close', (code: number, reason: unknown) => {
      this.events.close = { code, reason: toBuffer(reason).toString('utf8') };
      this.record('close');
    });
  }

  private record(name: string): void {
    this.events.order.push(name);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private until<T>(cond: () => T | undefined | false, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events so far: ${this.events.order.join(',') || 'none'}`)),
        timeoutMs,
      );
      const loop = (): void => {
        let v: T | undefined | false;
        try {
          v = cond();
        } catch (e) {
          clearTimeout(timer);
          reject(e);
          return;
        }
        if (v !== undefined && v !== false) {
          clearTimeout(timer);
          resolve(v as T);
        } else this.waiters.push(loop);
      };
      loop();
    });
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(data: string | Buffer, options?: { binary?: boolean; compress?: boolean }): void {
    if (options) this.ws.send(data, options);
    else this.ws.send(data);
  }

  ping(data?: Buffer | string): void {
    this.ws.ping(data);
  }

  close(code?: number, reason?: string): void {
    if (code === undefined) this.ws.close();
    else if (reason === undefined) this.ws.close(code);
    else this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  waitOpen(timeoutMs = 5000): Promise<void> {
    return this.until(
      () => {
        if (this.events.open) return true;
        if (this.events.close) throw new Error(`closed (${this.events.close.code}) before open`);
        return undefined;
      },
      'open',
      timeoutMs,
    ).then(() => undefined);
  }

  waitMessages(n: number, timeoutMs = 5000): Promise<Message[]> {
    return this.until(() => this.events.messages.length >= n && this.events.messages.slice(0, n), `${n} message(s)`, timeoutMs);
  }

  waitError(timeoutMs = 5000): Promise<ErrorInfo> {
    return this.until(() => this.events.errors[0], 'an error event', timeoutMs);
  }

  waitClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.events.close, 'the close event', timeoutMs);
  }
}

function wsOptions(o: CutOptions): Record<string, unknown> {
  const r: Record<string, unknown> = { perMessageDeflate: false };
  if (o.origin !== undefined) r.origin = o.origin;
  if (o.headers !== undefined) r.headers = o.headers;
  if (o.handshakeTimeout !== undefined) r.handshakeTimeout = o.handshakeTimeout;
  if (o.signal !== undefined) r.signal = o.signal;
  if (o.maxPayload !== undefined) r.maxPayload = o.maxPayload;
  if (o.maxHeaderSize !== undefined) r.maxHeaderSize = o.maxHeaderSize;
  if (o.perMessageDeflate !== undefined) {
    if (typeof o.perMessageDeflate !== 'object') r.perMessageDeflate = o.perMessageDeflate;
    else {
      const { level, memLevel, ...rest } = o.perMessageDeflate;
      r.perMessageDeflate = {
        ...rest,
        ...(level !== undefined || memLevel !== undefined
          ? { zlibDeflateOptions: { ...(level !== undefined ? { level } : {}), ...(memLevel !== undefined ? { memLevel } : {}) } }
          : {}),
      };
    }
  }
  // ws has no closeTimeout option (fixed at 30 s).
  return r;
}

function ws13Options(o: CutOptions): Record<string, unknown> {
  const r: Record<string, unknown> = { ...o };
  delete r.protocols;
  return r;
}

/**
 * `new WebSocket(url, protocols, options)`: returns at once; listeners are attached
 * synchronously, so no event can be missed.
 */
export async function create(url: string, options: CutOptions = {}): Promise<Client> {
  const { WebSocket } = await loadCut();
  const protocols = options.protocols ?? [];
  const ws =
    CUT_NAME === 'ws'
      ? new WebSocket(url, protocols, wsOptions(options))
      : new WebSocket(url, protocols, ws13Options(options));
  return new Wrapped(ws, false);
}

/**
 * `await WebSocket.connect(url, options)`: resolves once open, rejects with the
 * handshake error. (For `ws`, emulated with the constructor.)
 */
export async function connect(url: string, options: CutOptions = {}): Promise<Client> {
  const { WebSocket } = await loadCut();
  if (CUT_NAME === 'ws') {
    const ws = new WebSocket(url, options.protocols ?? [], wsOptions(options));
    const c = new Wrapped(ws, false);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (e: unknown) => reject(e));
      ws.once('close', () => reject(new Error('closed before open')));
    });
    return c;
  }
  const ws = await WebSocket.connect(url, options);
  return new Wrapped(ws, true);
}
