import { EventEmitter } from 'node:events';
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { Connection, type ConnectionHandler, type PreparedFrame, type WriteCallback } from '../protocol/connection.js';
import type { SharedFrame } from './shared-frame.js';
import { CloseCode, Opcode } from '../protocol/constants.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';
import { writeSmallFrameHeader } from '../protocol/frame.js';
import type { MaskSource } from '../protocol/mask.js';
import type { PerMessageDeflateOptions } from '../protocol/extensions/permessage-deflate.js';
import type { NodeDeflateCodec } from './deflate.js';
import { Utf8Validator } from '../protocol/utf8.js';
import { startClient, type ClientOptions } from './client.js';
import { WsCloseEvent, WsErrorEvent, WsEvent, WsMessageEvent, type EventListenerLike } from './events.js';
import { randomMaskSource } from './random.js';
import { FEED_LIMIT, Outbox } from './outbox.js';
import { decodeLatin1, decodeUtf8, useListenerTable, writeUtf8 } from './internals.js';
import * as topicsOf from './topics.js';

export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'blob';
export type MessageData = string | Buffer | ArrayBuffer | Blob;
export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView;

export interface SendOptions {
  /** Send as a binary message even for a string, or as text for bytes (which must be UTF-8). */
  binary?: boolean;
  /** False to send a fragment; the message continues with the next sends (RFC 6455 §5.4). */
  fin?: boolean;
  /** False to send this message uncompressed when permessage-deflate is in use. */
  compress?: boolean;
}

/** Settings of a connection once open, shared by both roles. */
export interface ConnectionSettings {
  /** Largest message accepted, in bytes (default 64 MiB); larger closes with 1009. */
  maxPayload?: number;
  /** How long to wait for the closing handshake and the TCP close, in ms (default 5000). */
  closeTimeout?: number;
  /** Fills 4 mask bytes (client role). For tests; the default draws from a crypto-random pool. */
  maskSource?: MaskSource;
  /** permessage-deflate (RFC 7692): off on servers and on for clients unless set. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * While more than this many bytes wait to go out (default 1 MiB), the connection stops
   * reading, so a peer that sends (pings, say) but never reads is held back by TCP instead
   * of growing our buffer; reading resumes once the transport drains.
   */
  maxBackpressure?: number;
}

/** Options of `WebSocket.fromStream`. */
export interface StreamOptions extends ConnectionSettings {
  /** Which end this is: a client masks what it sends, a server must not (RFC 6455 §5.1). */
  role: 'client' | 'server';
  /** The subprotocol the handshake agreed on, if any. */
  protocol?: string;
  /** For `ws.url`: the URL or request target, if any. */
  url?: string;
  /** Bytes that came after the handshake, before the stream's own: read first. */
  head?: Uint8Array;
}

export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
export const DEFAULT_CLOSE_TIMEOUT = 5000;
export const DEFAULT_MAX_BACKPRESSURE = 1024 * 1024;

const kInternal = Symbol('ws13.internal');
/** The request target of the last server-side connection (see `_accept`). */
let lastUrl = '';
/** What a transport's shared listeners call: its WebSocket, or the server's handshake before it. */
export interface SocketTarget {
  _onData(chunk: Buffer): void;
  _onEnd(): void;
  _onSocketClose(): void;
  _onSocketError(err: Error): void;
}
/** The target of a transport's shared listeners (below). */
const kWs = Symbol('ws13.target');
type Owned = Duplex & { [kWs]: SocketTarget };

function onSocketData(this: Owned, chunk: Buffer): void {
  this[kWs]._onData(chunk);
}
function onSocketEnd(this: Owned): void {
  this[kWs]._onEnd();
}
function onSocketClose(this: Owned): void {
  this[kWs]._onSocketClose();
}
function onSocketError(this: Owned, err: Error): void {
  this[kWs]._onSocketError(err);
}
function onSocketDrain(this: Owned): void {
  (this[kWs] as WebSocket)._onDrain();
}

/**
 * @internal Points the transport's listeners at `target`, adding them the first time.
 * They are never removed: one function each for all connections, no closures, and no
 * `removeListener`, whose `delete` would turn the socket's listener table into a
 * dictionary (about 200 bytes more per connection).
 */
export function routeSocket(socket: Duplex, target: SocketTarget): void {
  const s = socket as Duplex & { [kWs]?: SocketTarget };
  const first = s[kWs] === undefined;
  s[kWs] = target;
  if (!first) return;
  socket.on('data', onSocketData);
  // A net.Socket that is not half-open ends its side when the peer ends, and 'close'
  // follows, which reports the end: an 'end' listener would only cost memory.
  if (!(socket instanceof Socket) || socket.allowHalfOpen) socket.on('end', onSocketEnd);
  socket.on('close', onSocketClose);
  socket.on('error', onSocketError);
}
function flushSoon(ws: WebSocket): void {
  ws._flush();
}

/** The core's handler for one WebSocket: one small object, its methods shared. */
class Handler implements ConnectionHandler {
  constructor(private readonly ws: WebSocket) {}
  write(data: Uint8Array, done?: WriteCallback, payload?: number): void {
    this.ws._write(data, done, payload);
  }
  message(data: Uint8Array, text: boolean, ascii?: boolean): void {
    this.ws._message(data, text, ascii);
  }
  ping(payload: Uint8Array): void {
    this.ws._ping(payload);
  }
  pong(payload: Uint8Array): void {
    this.ws._pong(payload);
  }
  error(err: WebSocketError): void {
    this.ws._error(err);
  }
  shutdown(): void {
    this.ws._shutdown();
  }
}
// Bits of WebSocket#flags (the booleans of a connection).
/** A flush of the frames written this tick is scheduled. */
const FLUSH_QUEUED = 1;
const CLOSE_EMITTED = 2;
/** Any frame arrived since the last heartbeat tick. */
const ALIVE = 4;
const PING_OUTSTANDING = 8;
/** Reading is stopped until the transport drains (`maxBackpressure`). */
const HELD_BACK = 16;
/** A 'drain' listener is on the transport. */
const DRAIN_WAIT = 32;
/** End the transport once the outbox is empty. */
const END_AFTER_OUTPUT = 64;
/** The application called `pause()`. */
const APP_PAUSED = 128;

/** Frames written in one tick up to this many bytes are copied into one buffer. */
const COALESCE_LIMIT = 64 * 1024;
/** Writes up to this size are copied straight into the tick's output buffer. */
const SMALL_WRITE = 256;
/** Size of a tick's output buffer (from Node's buffer pool: under 4 KiB). */
const OUTPUT_BUFFER = 2048;
/** Messages up to this many bytes (or UTF-16 units) may be framed straight into it. */
const SMALL_MESSAGE = 125;


/** Whether a close code ends `for await` quietly. */
function isNormalClose(code: number): boolean {
  return code === CloseCode.Normal || code === CloseCode.GoingAway || code === CloseCode.NoStatus;
}

/** One buffer holding `parts` (`size` bytes in all), in order. */
function join(parts: Uint8Array[], size: number): Buffer {
  const one = Buffer.allocUnsafe(size);
  let off = 0;
  for (const p of parts) {
    one.set(p, off);
    off += p.length;
  }
  return one;
}

function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** Decodes UTF-8 (already validated) straight from any Uint8Array, without a Buffer around it. */
function decodeText(u8: Uint8Array, ascii: boolean | undefined): string {
  // ASCII reads the same as Latin-1, which V8 copies without decoding (measured: 72 against 104 ns for 32 bytes).
  return ascii ? decodeLatin1(u8, 0, u8.length) : decodeUtf8(u8, 0, u8.length);
}

export function toBytes(data: SendData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new WebSocketError(ErrorCode.InvalidArgument, 'data must be a string, Buffer, ArrayBuffer or ArrayBufferView');
}

export interface WebSocket {
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (data: MessageData, isBinary: boolean) => void): this;
  on(event: 'ping' | 'pong', listener: (payload: Buffer) => void): this;
  on(event: 'close', listener: (code: number, reason: string, wasClean: boolean) => void): this;
  on(event: 'error', listener: (err: WebSocketError) => void): this;
  once(event: 'open', listener: () => void): this;
  once(event: 'message', listener: (data: MessageData, isBinary: boolean) => void): this;
  once(event: 'ping' | 'pong', listener: (payload: Buffer) => void): this;
  once(event: 'close', listener: (code: number, reason: string, wasClean: boolean) => void): this;
  once(event: 'error', listener: (err: WebSocketError) => void): this;
  /** Client: the opening handshake's heads as sent and received (without the blank line). */
  on(event: 'upgrade', listener: (handshake: { request: string; response: string | undefined }) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * A WebSocket connection, client or server side. Client: `new WebSocket(url, protocols,
 * options)` or `await WebSocket.connect(url, options)`. Server: from `WebSocketServer`.
 *
 * It runs over any Node `Duplex` (a TCP or TLS socket, or an HTTP/2 stream).
 */
export class WebSocket extends EventEmitter implements SocketTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  // CONNECTING, OPEN, CLOSING and CLOSED are on the prototype too (below the class):
  // instance fields would cost every connection 32 bytes.
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  /** The URL connected to (client), or the request target (server). */
  readonly url: string;
  /** The subprotocol agreed in the handshake, or ''. */
  protocol = '';
  /** The extensions agreed in the handshake, as in Sec-WebSocket-Extensions, or ''. */
  extensions = '';
  binaryType: BinaryType = 'nodebuffer';

  #readyState = 0;
  /** @internal Called once, before 'close' is emitted (the server forgets the client). */
  _onClosed: ((ws: WebSocket) => void) | undefined;
  #conn: Connection | undefined;
  #socket: Duplex | undefined;
  /** The server's or the client's options (shared, read when needed). */
  #settings: ConnectionSettings = {};
  #closeTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  /** Frames written this tick, not yet handed to the transport. */
  #out: Uint8Array[] | undefined;
  /** When not 0: the last of `#out` is an output buffer still being filled, this far. */
  #outFill = 0;
  /** When set: broadcast frames of this tick, `#shared[#sharedStart, #sharedEnd)`, not yet in `#out`. */
  #shared: Buffer | undefined;
  #sharedStart = 0;
  #sharedEnd = 0;
  #outBytes = 0;
  /** Of `#outBytes`, the application's (data frame payloads, before compression). */
  #outPayload = 0;
  #outDone: WriteCallback[] | undefined;
  /** Output the transport has not finished with, while it is slow (see outbox.ts). */
  #outbox: Outbox | undefined;
  #codec: NodeDeflateCodec | undefined;
  /** Messages under this many bytes go uncompressed. */
  #threshold = 1024;
  /** UTF-8 state of a text message being sent from bytes in fragments. */
  #sendUtf8: Utf8Validator | undefined;
  #error: WebSocketError | undefined;
  /** Booleans in one field: FLUSH_QUEUED, ALIVE, … (idle connections are many; each field costs each 8 bytes). */
  #flags = ALIVE;
  #has(bit: number): boolean {
    return (this.#flags & bit) !== 0;
  }
  #set(bit: number, on: boolean): void {
    this.#flags = on ? this.#flags | bit : this.#flags & ~bit;
  }
  /** `on…` handlers, made on first use (most connections have none). */
  #handlers: Record<string, ((ev: WsEvent) => void) | null> | undefined;
  #wrapped: Map<EventListenerLike, Map<string, (...args: unknown[]) => void>> | undefined;

  /**
   * Opens a client connection (RFC 6455 §4.1). Failures arrive as an 'error' event (when
   * listened to) and a 'close' event with code 1006.
   * @throws WebSocketError WS_ERR_INVALID_URL for a URL that is not ws:, wss:, http: or https:
   *   or has a fragment; WS_ERR_INVALID_ARGUMENT for subprotocols that are not distinct tokens.
   */
  constructor(url: string | URL, protocols?: string | string[] | ClientOptions, options?: ClientOptions) {
    super();
    // A fast-mode listener table instead of EventEmitter's dictionary (internals.ts).
    useListenerTable(this);
    if ((url as unknown) === kInternal) {
      this.url = '';
      this.#readyState = WebSocket.OPEN;
      return;
    }
    let opts: ClientOptions = options ?? {};
    let protos: string[] = [];
    if (typeof protocols === 'string') protos = [protocols];
    else if (Array.isArray(protocols)) protos = protocols;
    else if (protocols) opts = protocols;
    if (opts.protocols && protos.length === 0) protos = [...opts.protocols];
    this.url = startClient(this, url, protos, opts);
  }

  /**
   * Connects and resolves once open.
   * @throws HandshakeError (rejection) with a WS_ERR_HANDSHAKE_* code.
   */
  static connect(url: string | URL, options: ClientOptions = {}): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url, [...(options.protocols ?? [])], options);
      } catch (err) {
        reject(err);
        return;
      }
      const onOpen = (): void => {
        ws.off('close', onClose);
        resolve(ws);
      };
      const onClose = (): void => {
        ws.off('open', onOpen);
        reject(ws.#error ?? new WebSocketError(ErrorCode.HandshakeNetwork, 'connection closed during the handshake'));
      };
      ws.once('open', onOpen);
      ws.once('close', onClose);
    });
  }

  /**
   * Runs the protocol over a transport whose opening handshake was done elsewhere: an
   * HTTP/2 stream after a CONNECT (RFC 8441), a handshake of the application's own, an
   * in-memory pipe. The WebSocket is open at once (no 'open' event); reading starts on the
   * next turn of the event loop, so listeners attached now miss nothing. No extensions:
   * permessage-deflate is agreed in a handshake this does not see.
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for a role other than 'client' or 'server'
   */
  static fromStream(stream: Duplex, options: StreamOptions): WebSocket {
    if (options.role !== 'client' && options.role !== 'server') {
      throw new WebSocketError(ErrorCode.InvalidArgument, "role must be 'client' or 'server'");
    }
    const ws = new WebSocket(kInternal as unknown as string);
    (ws as { url: string }).url = options.url ?? '';
    ws.protocol = options.protocol ?? '';
    ws.#attach(stream, options.role, options, undefined);
    const head = options.head ?? new Uint8Array(0);
    setImmediate(() => ws._start(head));
    return ws;
  }

  /** @internal Creates the server side of a connection over `socket` after a 101. */
  static _accept(
    socket: Duplex,
    url: string,
    protocol: string,
    extensions: string,
    codec: NodeDeflateCodec | undefined,
    settings: ConnectionSettings,
  ): WebSocket {
    const ws = new WebSocket(kInternal as unknown as string);
    // Most connections ask for the same path: keep one copy of it, not one each.
    if (url === lastUrl) url = lastUrl;
    else lastUrl = url;
    (ws as { url: string }).url = url;
    ws.protocol = protocol;
    ws.extensions = extensions;
    ws.#attach(socket, 'server', settings, codec);
    return ws;
  }

  /** @internal Called by the client once the server's 101 was checked. */
  _open(
    socket: Duplex,
    rest: Uint8Array,
    protocol: string,
    extensions: string,
    codec: NodeDeflateCodec | undefined,
    settings: ConnectionSettings,
  ): void {
    this.protocol = protocol;
    this.extensions = extensions;
    this.#readyState = WebSocket.OPEN;
    this.#attach(socket, 'client', settings, codec);
    this.#dispatch('open');
    // After `await WebSocket.connect()` has returned too, so that frames that came with
    // the 101 reach listeners attached then.
    setImmediate(() => this._start(rest));
  }

  /** @internal Called by the client when the handshake fails. */
  _failHandshake(err: WebSocketError): void {
    if (this.#readyState === WebSocket.CLOSED) return;
    this.#error = err;
    this.#readyState = WebSocket.CLOSED;
    this.#emitError(err);
    this.#emitClose(CloseCode.Abnormal, '', false);
  }

  get readyState(): number {
    return this.#readyState;
  }

  /**
   * Bytes of data messages accepted by `send()` and not yet handed to the OS: waiting for
   * compression, for this turn's write, or for a slow transport. As in browsers, payload
   * bytes (before compression); frame headers and control frames are not counted.
   */
  get bufferedAmount(): number {
    const box = this.#outbox;
    return (
      (this.#conn?.queuedPayload ?? 0) + this.#outPayload + (box ? box.payload(this.#socket!.writableLength) : 0)
    );
  }

  /** Bytes waiting to go out, headers included: what `maxBackpressure` and broadcasts weigh. */
  #backlog(): number {
    return (this.#conn?.queuedPayload ?? 0) + this.#outBytes + (this.#socket?.writableLength ?? 0) + (this.#outbox?.waitingBytes ?? 0);
  }

  /** Whether reading is paused (`pause()`). */
  get isPaused(): boolean {
    return this.#has(APP_PAUSED);
  }

  #attach(socket: Duplex, role: 'client' | 'server', settings: ConnectionSettings, codec: NodeDeflateCodec | undefined): void {
    this.#socket = socket;
    this.#codec = codec;
    const pmd = settings.perMessageDeflate;
    this.#threshold = (typeof pmd === 'object' ? pmd.threshold : undefined) ?? 1024;
    this.#settings = settings;
    const handler = new Handler(this);
    this.#conn = new Connection(
      {
        role,
        maxPayload: settings.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        maskSource: settings.maskSource ?? (role === 'client' ? randomMaskSource : undefined),
        isUtf8,
        allocate: Buffer.allocUnsafe,
        ...(codec ? { deflate: codec } : {}),
      },
      handler,
    );
    const s = socket as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void };
    s.setNoDelay?.(true);
    s.setTimeout?.(0);
    // Nothing is read until `_start`, so bytes that came with the handshake go first.
    socket.pause();
    // Listeners shared by all connections find theirs through the socket (no closures each).
    routeSocket(socket, this);
  }

  /** @internal ConnectionHandler.ping */
  _ping(payload: Uint8Array): void {
    this.#dispatch('ping', toBuffer(payload));
  }

  /** @internal ConnectionHandler.pong */
  _pong(payload: Uint8Array): void {
    this.#set(PING_OUTSTANDING, false);
    this.#dispatch('pong', toBuffer(payload));
  }

  /** @internal ConnectionHandler.error */
  _error(err: WebSocketError): void {
    this.#error = err;
    this.#emitError(err);
  }

  /**
   * @internal Starts reading: first the bytes that came with the handshake, then the
   * transport. Called once the application could attach its listeners, so that no message
   * is lost.
   */
  _start(head: Uint8Array): void {
    const conn = this.#conn;
    if (!conn) return;
    if (head.length > 0) conn.receiveData(head);
    if (!this.#has(APP_PAUSED) && !this.#has(HELD_BACK)) this.#socket?.resume();
  }

  /** @internal */
  _onData(chunk: Buffer): void {
    this.#set(ALIVE, true);
    this.#conn!.receiveData(chunk);
  }

  /** @internal */
  _onEnd(): void {
    this.#conn!.receiveEof();
    // Nothing more can come: end our side too, so that a half-open transport (an HTTP/2
    // stream, a socket with allowHalfOpen) closes. Plain sockets do this by themselves.
    const socket = this.#socket!;
    // (The closing handshake may have destroyed it already: see `_shutdown`.)
    if (!socket.writableEnded && !socket.destroyed) {
      this._flush();
      this.#endAfterOutput();
    }
  }

  /** @internal */
  _onSocketError(err: Error): void {
    // The 'close' that follows reports 1006; keep the cause for `for await`.
    this.#error ??= new WebSocketError(ErrorCode.Abnormal, `transport error: ${err.message}`, {
      closeCode: CloseCode.Abnormal,
      cause: err,
    });
  }

  /** @internal */
  _onSocketClose(): void {
    const conn = this.#conn!;
    conn.receiveEof();
    this.#outbox?.drop(new WebSocketError(ErrorCode.InvalidState, 'the transport closed before this was sent'));
    this.#codec?.close();
    clearTimeout(this.#closeTimer);
    clearInterval(this.#heartbeatTimer);
    this.#readyState = WebSocket.CLOSED;
    const st = conn.state;
    let code: number = CloseCode.Abnormal;
    let reason = '';
    let clean = false;
    if (st.kind === 'closed' && st.received) {
      // RFC 6455 §7.1.5: the close code is the one in the peer's close frame (1005 if none).
      code = st.received.code;
      reason = st.received.reason;
      clean = st.sent !== undefined;
    }
    this.#emitClose(code, reason, clean);
  }

  /** @internal The core has nothing more to say: close the transport as the role requires (RFC 6455 §7.1.1). */
  _shutdown(): void {
    if (this.#readyState === WebSocket.OPEN) this.#readyState = WebSocket.CLOSING;
    const socket = this.#socket!;
    // §7.1.1: the server closes the TCP connection first; the client waits for it.
    const conn = this.#conn!;
    const failed = conn.state.kind === 'closed' && conn.state.error !== undefined;
    if (conn.role === 'server' || failed) {
      // Our close frame goes out, then FIN (§7.1.1: the server closes first; a client that
      // failed the connection does not wait, §7.1.7). Input that still comes is read and
      // dropped: closing with unread input would send a RST, which can make the peer's
      // kernel discard our close frame before the peer reads it.
      this._flush();
      this.#endAfterOutput();
      socket.resume();
      // A client that failed closes at once, once its close frame is handed to the OS.
      if (conn.role === 'client' && !socket.destroyed) socket.once('finish', () => socket.destroy());
    }
    this.#armCloseTimer();
  }

  /** Ends the transport's write side once everything before it was handed on. */
  #endAfterOutput(): void {
    const socket = this.#socket!;
    if (socket.writableEnded || socket.destroyed) return;
    if (this.#outbox?.isWaiting) this.#set(END_AFTER_OUTPUT, true);
    else socket.end();
  }

  #armCloseTimer(): void {
    if (this.#closeTimer || !this.#socket || this.#socket.destroyed) return;
    this.#closeTimer = setTimeout(() => this.#socket?.destroy(), this.#settings.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT);
    this.#closeTimer.unref?.();
  }

  /**
   * Frames written in one tick leave together: small ones copied into one buffer and one
   * `write` (a stream write costs more than copying a few KiB), large ones under cork
   * (one writev, no copy).
   */
  /** @internal ConnectionHandler.write */
  _write(data: Uint8Array, done?: WriteCallback, payload?: number): void {
    const socket = this.#socket!;
    if (!socket.writable) {
      if (done) process.nextTick(done, new WebSocketError(ErrorCode.InvalidState, 'the transport is closed'));
      return;
    }
    if (data.length <= SMALL_WRITE) {
      const buf = this.#room(data.length);
      buf.set(data, this.#outFill);
      this.#outFill += data.length;
    } else {
      this.#seal();
      (this.#out ??= []).push(data);
    }
    this.#outBytes += data.length;
    if (payload) this.#outPayload += payload;
    if (done) (this.#outDone ??= []).push(done);
    this.#flushSoon();
  }

  #flushSoon(): void {
    if (!this.#has(FLUSH_QUEUED)) {
      this.#set(FLUSH_QUEUED, true);
      process.nextTick(flushSoon, this);
    }
  }

  /** The output buffer being filled, with room for `n` more bytes at `#outFill`. */
  #room(n: number): Buffer {
    const out = this.#out;
    if (this.#outFill !== 0) {
      const buf = out![out!.length - 1] as Buffer;
      if (buf.length - this.#outFill >= n) return buf;
      this.#seal();
    } else if (this.#shared !== undefined) this.#seal();
    const buf = Buffer.allocUnsafe(Math.max(n, OUTPUT_BUFFER));
    (this.#out ??= []).push(buf);
    return buf;
  }

  /** Cuts the output buffer being filled to what it holds (or closes the run of shared frames). */
  #seal(): void {
    const shared = this.#shared;
    if (shared !== undefined) {
      // (No output buffer is being filled while a run of shared frames is open.)
      (this.#out ??= []).push(shared.subarray(this.#sharedStart, this.#sharedEnd));
      this.#shared = undefined;
      return;
    }
    if (this.#outFill === 0) return;
    const out = this.#out!;
    out[out.length - 1] = out[out.length - 1]!.subarray(0, this.#outFill);
    this.#outFill = 0;
  }

  /**
   * A small message framed straight into this tick's output buffer: no header, payload or
   * Buffer objects of its own. Only when the core says nothing else must come first.
   */
  #sendSmall(data: string | Uint8Array, opcode: number): void {
    if (!this.#socket!.writable) return;
    let buf: Buffer;
    let n: number;
    if (typeof data === 'string') {
      // At most 3 UTF-8 bytes per UTF-16 unit (a lone surrogate becomes U+FFFD, as Buffer.from does).
      buf = this.#room(4 + 3 * data.length);
      n = writeUtf8(buf, data, this.#outFill + 2, 3 * data.length);
    } else {
      buf = this.#room(2 + data.length);
      buf.set(data, this.#outFill + 2);
      n = data.length;
    }
    const size = writeSmallFrameHeader(buf, this.#outFill, opcode, n);
    this.#outFill += size;
    this.#outBytes += size;
    this.#outPayload += n;
    this.#flushSoon();
  }

  /** @internal */
  _flush(): void {
    this.#set(FLUSH_QUEUED, false);
    this.#seal();
    const parts = this.#out;
    if (parts === undefined) return;
    const size = this.#outBytes;
    const payload = this.#outPayload;
    const dones = this.#outDone;
    this.#out = undefined;
    this.#outBytes = 0;
    this.#outPayload = 0;
    this.#outDone = undefined;
    const socket = this.#socket!;
    const cb = dones && ((err?: Error | null) => {
      for (const f of dones) f(err);
    });
    let box = this.#outbox;
    // An outbox whose writes all went out is dropped: no listener is needed to notice that.
    if (box !== undefined && box.isEmpty(socket.writableLength)) box = this.#outbox = undefined;
    if ((box !== undefined && box.isWaiting) || socket.writableLength + size > FEED_LIMIT) {
      // A slow transport, or a large write: handed on as it drains (outbox.ts).
      const b = (this.#outbox ??= new Outbox());
      // A view of a larger buffer (shared broadcast frames) is copied before it waits, so that
      // a slow reader holds its own bytes, not the buffers they were cut from.
      const one = parts.length === 1 && parts[0]!.buffer.byteLength <= 2 * size;
      b.hold(one || size > COALESCE_LIMIT ? parts : [join(parts, size)], size, payload, cb);
      if (b.feed(socket)) this.#waitForDrain();
    } else {
      if (parts.length === 1) {
        socket.write(parts[0]!, cb);
      } else if (size <= COALESCE_LIMIT) {
        socket.write(join(parts, size), cb);
      } else {
        socket.cork();
        for (let i = 0; i < parts.length - 1; i++) socket.write(parts[i]!);
        socket.write(parts[parts.length - 1]!, cb);
        socket.uncork();
      }
      // Not all taken at once: keep count of it, for `bufferedAmount`.
      if (socket.writableLength > 0) (this.#outbox ??= new Outbox()).handed(size, payload);
    }
    this.#checkBackpressure();
  }

  /**
   * Too much waits to go out (`maxBackpressure`): read nothing more until it drains, so a
   * peer that sends without reading is held back by TCP instead of growing our buffers.
   * Reading resumes once it is back under the limit (after a drain or a compression).
   */
  #checkBackpressure(): void {
    const socket = this.#socket!;
    const over = this.#backlog() > (this.#settings.maxBackpressure ?? DEFAULT_MAX_BACKPRESSURE);
    if (over) {
      if (!this.#has(HELD_BACK)) {
        // Both the transport and the core: bytes already read are not parsed either.
        this.#set(HELD_BACK, true);
        socket.pause();
        this.#conn!.pause();
      }
      if (socket.writableNeedDrain) this.#waitForDrain();
    } else if (this.#has(HELD_BACK)) {
      this.#set(HELD_BACK, false);
      const conn = this.#conn!;
      if (!this.#has(APP_PAUSED) && conn.state.kind !== 'closed') {
        socket.resume();
        conn.resume();
      }
    }
  }

  #waitForDrain(): void {
    if (this.#has(DRAIN_WAIT)) return;
    this.#set(DRAIN_WAIT, true);
    this.#socket!.once('drain', onSocketDrain);
  }

  /** @internal ConnectionHandler.message */
  _message(data: Uint8Array, text: boolean, ascii?: boolean): void {
    let value: MessageData;
    if (text) value = decodeText(data, ascii);
    else if (this.binaryType === 'nodebuffer') value = toBuffer(data);
    // A copy of exactly the message: `data` may be a view into a larger socket buffer.
    else if (this.binaryType === 'arraybuffer') value = new Uint8Array(data).buffer;
    else value = new Blob([data]);
    this.#dispatch('message', value, !text);
  }

  /**
   * Sends a message: strings as text, bytes as binary, unless `options.binary` says
   * otherwise. `callback` runs when the data was written (or with the error).
   * @throws WebSocketError WS_ERR_INVALID_STATE while CONNECTING; WS_ERR_INVALID_ARGUMENT for
   *   bytes sent as text that are not UTF-8.
   */
  send(data: SendData, options?: SendOptions | WriteCallback, callback?: WriteCallback): void {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (this.#readyState === WebSocket.CONNECTING) {
      throw new WebSocketError(ErrorCode.InvalidState, 'the WebSocket is still connecting');
    }
    const conn = this.#conn;
    if (this.#readyState !== WebSocket.OPEN || !conn || conn.state.kind !== 'open') {
      if (callback) process.nextTick(callback, new WebSocketError(ErrorCode.InvalidState, 'the WebSocket is not open'));
      return;
    }
    const binary = options?.binary ?? typeof data !== 'string';
    // Small and simple: framed here, straight into the output (see `#sendSmall`).
    if (
      callback === undefined &&
      (options?.fin ?? true) &&
      (typeof data === 'string' ? data.length <= SMALL_MESSAGE : binary && data instanceof Uint8Array && data.length <= SMALL_MESSAGE) &&
      conn.canWriteDirect &&
      (this.#codec === undefined || !this.#codec.canCompress || options?.compress === false || 3 * SMALL_MESSAGE < this.#threshold)
    ) {
      this.#sendSmall(data as string | Uint8Array, binary ? Opcode.Binary : Opcode.Text);
      return;
    }
    const bytes = toBytes(data);
    const fin = options?.fin ?? true;
    if (!binary && typeof data !== 'string') this.#checkOutgoingText(bytes, fin);
    const compress =
      this.#codec !== undefined && this.#codec.canCompress && options?.compress !== false && bytes.length >= this.#threshold;
    conn.send(binary ? Opcode.Binary : Opcode.Text, bytes, fin, callback, compress);
    // Waiting for compression writes nothing yet, but counts against maxBackpressure.
    if (compress) this.#checkBackpressure();
  }

  /**
   * Bytes sent as text must be UTF-8 (RFC 6455 §5.6); a fragment may end inside a
   * character, so fragments are checked as one stream. Nothing invalid is put on the wire.
   */
  #checkOutgoingText(bytes: Uint8Array, fin: boolean): void {
    if (fin && !this.#sendUtf8 && isUtf8(bytes)) return;
    const v = (this.#sendUtf8 ??= new Utf8Validator());
    const ok = v.push(bytes) && (!fin || v.finish());
    if (fin || !ok) this.#sendUtf8 = undefined;
    if (!ok) {
      v.reset();
      throw new WebSocketError(ErrorCode.InvalidArgument, 'text messages must be valid UTF-8');
    }
  }

  /** Like `send`, and resolves once the data was written to the transport. */
  sendAsync(data: SendData, options?: SendOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.send(data, options ?? {}, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** @internal Writes a frame prepared once for a broadcast. */
  _sendPrepared(frame: PreparedFrame, limit: number, overflow: 'close' | 'skip'): boolean {
    const conn = this.#conn;
    if (this.#readyState !== WebSocket.OPEN || !conn || conn.state.kind !== 'open') return false;
    // What the transport has not taken from earlier turns: a burst written in this turn is
    // not held against a client that reads.
    if (this.#socket!.writableLength + (this.#outbox?.waitingBytes ?? 0) > limit) {
      // Too slow for broadcasts: its backlog stays bounded by the limit and one turn's messages.
      if (overflow === 'close') this.close(CloseCode.TryAgainLater, 'too slow: broadcast backlog over the limit');
      return false;
    }
    const f = frame as SharedFrame;
    if (f.shared !== undefined && conn.canWriteDirect && this.#socket!.writable) {
      // Nothing must come first (canWriteDirect): extend this tick's run of shared frames when
      // this one follows it in the shared buffer, else start a new run.
      if (this.#shared === f.shared && this.#sharedEnd === f.start) this.#sharedEnd = f.end;
      else {
        this.#seal();
        this.#shared = f.shared;
        this.#sharedStart = f.start;
        this.#sharedEnd = f.end;
      }
      this.#outBytes += f.end - f.start;
      this.#outPayload += f.payload.length;
      this.#flushSoon();
      return true;
    }
    conn.sendPrepared(frame);
    return true;
  }

  // ── Topics (server side): the registry is in topics.ts; nothing is stored on the socket. ──

  /**
   * Subscribes this connection to `topic`: it receives what `server.publish(topic, …)` sends,
   * from this process or, through the server's broker, from others. Closing leaves every topic.
   * Returns false when it was already subscribed or is no longer open.
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for a topic that is not a non-empty string;
   *   WS_ERR_INVALID_STATE on a connection not accepted by a WebSocketServer.
   */
  subscribe(topic: string): boolean {
    return topicsOf.subscribe(this, topic);
  }

  /** Leaves `topic`; false when not subscribed. @throws as `subscribe`. */
  unsubscribe(topic: string): boolean {
    return topicsOf.unsubscribe(this, topic);
  }

  isSubscribed(topic: string): boolean {
    return topicsOf.isSubscribed(this, topic);
  }

  /** The topics this connection is subscribed to (a copy). */
  get topics(): readonly string[] {
    return topicsOf.topics(this);
  }

  /** @internal The permessage-deflate codec, for a publish compressed once for many (topics.ts). */
  _deflate(): NodeDeflateCodec | undefined {
    return this.#codec;
  }

  // ── End of topics. ──

  /**
   * Sends a ping (RFC 6455 §5.5.2); the peer answers with a pong ('pong' event).
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT over 125 bytes; WS_ERR_INVALID_STATE while CONNECTING.
   */
  ping(data: SendData = '', callback?: WriteCallback): void {
    this.#control(Opcode.Ping, data, callback);
  }

  /** Sends an unsolicited pong (RFC 6455 §5.5.3). @throws as `ping`. */
  pong(data: SendData = '', callback?: WriteCallback): void {
    this.#control(Opcode.Pong, data, callback);
  }

  #control(opcode: number, data: SendData, callback?: WriteCallback): void {
    if (this.#readyState === WebSocket.CONNECTING) throw new WebSocketError(ErrorCode.InvalidState, 'the WebSocket is still connecting');
    const bytes = toBytes(data);
    if (bytes.length > 125) throw new WebSocketError(ErrorCode.InvalidArgument, 'control frame payload over 125 bytes');
    const conn = this.#conn;
    if (!conn || conn.state.kind !== 'open') {
      if (callback) process.nextTick(callback, new WebSocketError(ErrorCode.InvalidState, 'the WebSocket is not open'));
      return;
    }
    if (opcode === Opcode.Ping) conn.ping(bytes, callback);
    else conn.pong(bytes, callback);
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2); 'close' follows once TCP is closed,
   * or after `closeTimeout`.
   * @throws WebSocketError WS_ERR_INVALID_CLOSE_CODE (not 1000–1003, 1007–1014, 3000–4999),
   *   WS_ERR_INVALID_CLOSE_REASON (over 123 UTF-8 bytes, or a reason without a code)
   */
  close(code?: number, reason?: string): void {
    const conn = this.#conn;
    if (this.#readyState === WebSocket.CLOSED) return;
    if (!conn) {
      // Still connecting: give up the handshake (WHATWG: fail the connection).
      this._abortHandshake?.();
      return;
    }
    conn.close(code, reason ?? '');
    if (this.#readyState === WebSocket.OPEN) this.#readyState = WebSocket.CLOSING;
    this.#armCloseTimer();
  }

  /** @internal Set by the client while connecting. */
  _abortHandshake: (() => void) | undefined;

  /** Drops the transport now, without a closing handshake ('close' gets 1006). */
  terminate(): void {
    if (this.#readyState === WebSocket.CLOSED) return;
    if (!this.#socket) {
      this._abortHandshake?.();
      return;
    }
    this.#readyState = WebSocket.CLOSING;
    this.#socket.destroy();
  }

  /** Stops reading: no 'message' events and no reads from the transport until `resume()`. */
  pause(): void {
    if (!this.#conn) return;
    this.#set(APP_PAUSED, true);
    this.#conn.pause();
    this.#socket?.pause();
  }

  resume(): void {
    if (!this.#conn) return;
    this.#set(APP_PAUSED, false);
    if (this.#has(HELD_BACK)) return;
    this.#socket?.resume();
    this.#conn.resume();
  }

  /**
   * @internal The transport took what it held: the peer is reading, so it is alive (a ping
   * of ours may be waiting behind that data). Hand on more, and read again when under the
   * backpressure limit.
   */
  _onDrain(): void {
    this.#set(DRAIN_WAIT, false);
    this.#set(ALIVE, true);
    const socket = this.#socket!;
    const box = this.#outbox;
    if (box) {
      if (box.feed(socket)) this.#waitForDrain();
      else {
        if (box.isEmpty(socket.writableLength)) this.#outbox = undefined;
        if (this.#has(END_AFTER_OUTPUT) && !socket.writableEnded) socket.end();
      }
    }
    if (this.#conn!.state.kind !== 'closed') this.#checkBackpressure();
  }

  /**
   * @internal One heartbeat tick: a peer that sent nothing since the last tick, though
   * pinged then, is dropped; an idle one is pinged.
   */
  _heartbeat(): void {
    const conn = this.#conn;
    if (!conn || conn.state.kind !== 'open') return;
    if (this.#has(ALIVE)) {
      this.#set(ALIVE, false);
      this.#set(PING_OUTSTANDING, false);
      return;
    }
    if (this.#has(PING_OUTSTANDING)) {
      const err = new WebSocketError(ErrorCode.HeartbeatTimeout, 'the peer did not answer a ping', {
        closeCode: CloseCode.Abnormal,
      });
      this.#error = err;
      this.#emitError(err);
      this.terminate();
      return;
    }
    this.#set(PING_OUTSTANDING, true);
    conn.ping();
  }

  /** @internal Starts a per-connection heartbeat (client side). */
  _startHeartbeat(interval: number): void {
    this.#heartbeatTimer = setInterval(() => this._heartbeat(), interval);
    this.#heartbeatTimer.unref?.();
  }

  // ---- events --------------------------------------------------------------------------

  #emitError(err: Error): void {
    this.#dispatch('error', err);
  }

  #emitClose(code: number, reason: string, wasClean: boolean): void {
    if (this.#has(CLOSE_EMITTED)) return;
    this._onClosed?.(this);
    this.#set(CLOSE_EMITTED, true);
    this.#dispatch('close', code, reason, wasClean);
  }

  /** Emits to EventEmitter listeners, then to the `on…` handler. */
  #dispatch(type: string, ...args: unknown[]): void {
    try {
      // 'error' without a listener would throw: a peer's mistake must never crash the process.
      if (type !== 'error' || this.listenerCount('error') > 0) this.emit(type, ...args);
      const h = this.#handlers?.[type];
      if (h) h.call(this, this.#eventFor(type, args));
    } catch (err) {
      // A 'message' listener's throw is the core's to handle (it fails with 1011).
      if (type === 'message') throw err;
      this._listenerThrew(err, type);
    }
  }

  /**
   * @internal An application listener threw. An open connection fails with 1011 (no
   * detail to the peer) and reports it as 'error'; otherwise it becomes a process warning.
   * Never an exception into Node's socket code, which would crash the process.
   */
  _listenerThrew(err: unknown, event: string): void {
    const conn = this.#conn;
    if (event !== 'error' && conn && conn.state.kind !== 'closed') {
      conn.fail(new WebSocketError(ErrorCode.Internal, `a '${event}' listener threw`, { closeCode: CloseCode.InternalError, cause: err }));
      return;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    process.emitWarning(`a '${event}' listener threw: ${e.message}`, { code: 'WS13_LISTENER_ERROR', detail: e.stack ?? '' });
  }

  #eventFor(type: string, args: unknown[]): WsEvent {
    switch (type) {
      case 'message':
        return new WsMessageEvent(this, args[0]);
      case 'close':
        return new WsCloseEvent(this, args[0] as number, args[1] as string, args[2] as boolean);
      case 'error':
        return new WsErrorEvent(this, args[0] as Error);
      default:
        return new WsEvent(type, this);
    }
  }

  /** WHATWG-style listener: receives an event object (`ev.data`, `ev.code`, …). */
  addEventListener(type: string, listener: EventListenerLike, options?: { once?: boolean }): void {
    const wrapped = (this.#wrapped ??= new Map());
    let byType = wrapped.get(listener);
    if (byType?.has(type)) return;
    const call = typeof listener === 'function' ? listener : (ev: WsEvent) => listener.handleEvent(ev);
    const wrapper = (...args: unknown[]): void => {
      if (options?.once) this.removeEventListener(type, listener);
      call.call(this, this.#eventFor(type, args));
    };
    if (!byType) wrapped.set(listener, (byType = new Map()));
    byType.set(type, wrapper);
    this.on(type, wrapper);
  }

  removeEventListener(type: string, listener: EventListenerLike): void {
    const byType = this.#wrapped?.get(listener);
    const wrapper = byType?.get(type);
    if (!wrapper) return;
    byType!.delete(type);
    this.off(type, wrapper);
  }

  get onopen(): ((ev: WsEvent) => void) | null {
    return this.#handlers?.open ?? null;
  }
  set onopen(f: ((ev: WsEvent) => void) | null) {
    (this.#handlers ??= {}).open = f;
  }
  get onmessage(): ((ev: WsMessageEvent) => void) | null {
    return (this.#handlers?.message as ((ev: WsMessageEvent) => void) | undefined) ?? null;
  }
  set onmessage(f: ((ev: WsMessageEvent) => void) | null) {
    (this.#handlers ??= {}).message = f as ((ev: WsEvent) => void) | null;
  }
  get onclose(): ((ev: WsCloseEvent) => void) | null {
    return (this.#handlers?.close as ((ev: WsCloseEvent) => void) | undefined) ?? null;
  }
  set onclose(f: ((ev: WsCloseEvent) => void) | null) {
    (this.#handlers ??= {}).close = f as ((ev: WsEvent) => void) | null;
  }
  get onerror(): ((ev: WsErrorEvent) => void) | null {
    return (this.#handlers?.error as ((ev: WsErrorEvent) => void) | undefined) ?? null;
  }
  set onerror(f: ((ev: WsErrorEvent) => void) | null) {
    (this.#handlers ??= {}).error = f as ((ev: WsEvent) => void) | null;
  }

  /**
   * Messages in order until the connection closes. Ends quietly on 1000, 1001 or 1005;
   * otherwise throws the WebSocketError that closed it. Reading pauses while 64 messages
   * wait to be taken.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<MessageData, void, undefined> {
    const queue: MessageData[] = [];
    let closed: { code: number } | undefined;
    let wake: (() => void) | undefined;
    const onMessage = (data: MessageData): void => {
      queue.push(data);
      if (queue.length >= 64) this.pause();
      wake?.();
    };
    const onClose = (code: number): void => {
      closed = { code };
      wake?.();
    };
    this.on('message', onMessage);
    this.on('close', onClose);
    if (this.#readyState === WebSocket.CLOSED) closed = { code: CloseCode.Abnormal };
    try {
      for (;;) {
        if (queue.length > 0) {
          const m = queue.shift()!;
          if (queue.length < 16 && this.isPaused) this.resume();
          yield m;
          continue;
        }
        if (closed) {
          if (isNormalClose(closed.code)) return;
          throw this.#error ?? new WebSocketError(ErrorCode.Abnormal, `connection closed with ${closed.code}`, { closeCode: closed.code });
        }
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      this.off('message', onMessage);
      this.off('close', onClose);
      if (this.isPaused) this.resume();
    }
  }
}

for (const [name, value] of [['CONNECTING', 0], ['OPEN', 1], ['CLOSING', 2], ['CLOSED', 3]] as const) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
