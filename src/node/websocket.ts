// The public WebSocket: the API and its events. The connection itself runs in a hidden
// host (host.ts: the pump between the transport and the core); dialing is client.ts's.
import type { Duplex } from 'node:stream';
import type { WriteCallback } from '../protocol/connection.js';
import { CloseCode, Opcode } from '../protocol/constants.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';
import { startClient, type Agreement, type ClientOptions } from './client.js';
import { WebSocketEventTarget, eventFor, reportUnhandledError } from './events.js';
import { SendQueue } from './send-queue.js';
import { messages } from './messages.js';
import { APP_PAUSED, HELD_BACK, toBytes, type SendData } from './output.js';
import { CLOSED, CLOSING, CONNECTING, ConnectionHost, OPEN, bindOwner, warnListenerThrew } from './host.js';
import { startHeartbeat } from './heartbeat.js';
import { resolveSettings } from './options.js';
import type { NodeDeflateCodec } from './deflate.js';
import * as topicsOf from './topics.js';
import * as diag from './diagnostics.js';

export type { ConnectionSettings } from './options.js';
export type { SendData } from './output.js';
export type { BinaryType, MessageData, SendOptions, StreamOptions } from './types.js';
import type { BinaryType, MessageData, SendOptions, StreamOptions } from './types.js';

const kInternal = Symbol('ws13.internal');
/** The request target of the last server-side connection (see `accept`). */
let lastUrl = '';

function notOpen(): WebSocketError {
  return new WebSocketError(ErrorCode.InvalidState, 'the WebSocket is not open');
}
function stillConnecting(): WebSocketError {
  return new WebSocketError(ErrorCode.InvalidState, 'the WebSocket is still connecting');
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
  /** Client, with followRedirects: a 3xx is being followed to `url`. */
  on(event: 'redirect', listener: (url: string, status: number) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * A WebSocket connection, client or server side. Client: `new WebSocket(url, protocols,
 * options)` or `await WebSocket.connect(url, options)`. Server: from `WebSocketServer`.
 *
 * It runs over any Node `Duplex` (a TCP or TLS socket, or an HTTP/2 stream).
 */
/** A client's handshake under way. */
interface Dialing {
  readonly abort: () => void;
  /** close() or terminate() was called while connecting. */
  aborting: boolean;
}

export class WebSocket extends WebSocketEventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  // CONNECTING, OPEN, CLOSING and CLOSED are on the prototype too (below the class), and
  // so are `protocol` and `extensions` while they are '': instance fields would cost every
  // connection 8 bytes each.
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  /** The URL connected to (client), or the request target (server). */
  readonly url: string;
  /** The subprotocol agreed in the handshake, or ''. */
  declare protocol: string;
  /** The extensions agreed in the handshake, as in Sec-WebSocket-Extensions, or ''. */
  declare extensions: string;
  #binaryType: BinaryType = 'nodebuffer';
  /** How binary messages arrive. Other values are ignored, as browsers ignore them. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(type: BinaryType) {
    if (type === 'nodebuffer' || type === 'arraybuffer' || type === 'blob') this.#binaryType = type;
  }

  /** The open connection (undefined while connecting, or when the handshake failed). */
  #host: ConnectionHost | undefined;
  /**
   * What never coexists, in one field (idle connections are many): a client's handshake
   * under way, or why it failed (then CLOSED), before there is a host; once open, the sends
   * waiting behind a Blob being read (send-queue.ts), or undefined when none.
   */
  #side: Dialing | WebSocketError | SendQueue | undefined;

  // The private methods are static: an instance method (#m) would give every connection a
  // field of its own (V8's class brand), 8 bytes.

  static {
    bindOwner({
      dispatch: (ws, type, ...args) => WebSocket.#dispatch(ws as WebSocket, type, ...args),
      hostOf: (ws) => (ws as WebSocket).#host,
      accept(socket, url, protocol, extensions, codec, settings, startsNow) {
        const ws = new WebSocket(kInternal as unknown as string);
        // Most connections ask for the same path: keep one copy of it, not one each.
        if (url === lastUrl) url = lastUrl;
        else lastUrl = url;
        (ws as { url: string }).url = url;
        if (protocol !== '') ws.protocol = protocol;
        if (extensions !== '') ws.extensions = extensions;
        ws.#host = new ConnectionHost(ws, socket, 'server', settings, codec, startsNow);
        return ws;
      },
    });
  }

  /**
   * Opens a client connection (RFC 6455 §4.1). Failures arrive as an 'error' event (when
   * listened to) and a 'close' event with code 1006.
   * @throws WebSocketError WS_ERR_INVALID_URL for a URL that is not ws:, wss:, http: or https:
   *   or has a fragment; WS_ERR_INVALID_ARGUMENT for subprotocols that are not distinct tokens.
   */
  constructor(url: string | URL, protocols?: string | string[] | ClientOptions, options?: ClientOptions) {
    super();
    if ((url as unknown) === kInternal) {
      this.url = '';
      return;
    }
    let opts: ClientOptions = options ?? {};
    let protos: string[] = [];
    if (typeof protocols === 'string') protos = [protocols];
    else if (Array.isArray(protocols)) protos = protocols;
    else if (protocols) opts = protocols;
    if (opts.protocols && protos.length === 0) protos = [...opts.protocols];
    const dial = startClient(url, protos, opts, {
      upgrade: (handshake) => this.emit('upgrade', handshake),
      open: (socket, rest, agreement) => WebSocket.#open(this, socket, rest, agreement),
      fail: (err) => WebSocket.#failHandshake(this, err),
      redirect: (to, status) => this.emit('redirect', to, status),
    });
    this.url = dial.url;
    this.#side = { abort: dial.abort, aborting: false };
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
        reject(WebSocket.#error(ws) ?? new WebSocketError(ErrorCode.HandshakeNetwork, 'connection closed during the handshake'));
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
    if (options.protocol) ws.protocol = options.protocol;
    const host = (ws.#host = new ConnectionHost(ws, stream, options.role, resolveSettings(options), undefined));
    const head = options.head ?? new Uint8Array(0);
    setImmediate(() => host.start(head));
    return ws;
  }

  /** The client's handshake succeeded. */
  static #open(ws: WebSocket, socket: Duplex, rest: Uint8Array, a: Agreement): void {
    ws.#side = undefined;
    if (a.protocol !== '') ws.protocol = a.protocol;
    if (a.extensions !== '') ws.extensions = a.extensions;
    const host = (ws.#host = new ConnectionHost(ws, socket, 'client', a.settings, a.codec as NodeDeflateCodec | undefined));
    diag.opened(host);
    WebSocket.#dispatch(ws, 'open');
    // After `await WebSocket.connect()` has returned too, so that frames that came with
    // the 101 reach listeners attached then.
    setImmediate(() => host.start(rest));
    if (a.heartbeat > 0) startHeartbeat(host, a.heartbeat);
  }

  /** The client's handshake failed: CLOSED, 'error' then 'close' (1006). */
  static #failHandshake(ws: WebSocket, err: WebSocketError): void {
    ws.#side = err;
    WebSocket.#dispatch(ws, 'error', err);
    diag.closed({ owner: ws }, CloseCode.Abnormal, '', false);
    WebSocket.#dispatch(ws, 'close', CloseCode.Abnormal, '', false);
  }

  /** Client: why the handshake failed. */
  static #failed(ws: WebSocket): WebSocketError | undefined {
    const d = ws.#side;
    return d instanceof WebSocketError ? d : undefined;
  }

  /** Client, connecting: gives up the handshake (WHATWG: CLOSING until 'error' and 'close' come). */
  static #abortDial(ws: WebSocket): void {
    const d = ws.#side;
    if (d === undefined || d instanceof WebSocketError || d instanceof SendQueue) return;
    d.aborting = true;
    d.abort();
  }

  /** What closed the connection, if an error did. */
  static #error(ws: WebSocket): WebSocketError | undefined {
    return ws.#host?.closedBy ?? WebSocket.#failed(ws);
  }

  /** CONNECTING until the handshake is done; then as the core's state and the transport say. */
  get readyState(): number {
    const host = this.#host;
    if (host === undefined) {
      const d = this.#side;
      return d instanceof WebSocketError ? CLOSED : (d as Dialing | undefined)?.aborting ? CLOSING : CONNECTING;
    }
    return host.readyState;
  }

  /**
   * Bytes of data messages accepted by `send()` and not yet handed to the OS: waiting for
   * compression, for this turn's write, or for a slow transport. As in browsers, payload
   * bytes (before compression); frame headers and control frames are not counted.
   */
  get bufferedAmount(): number {
    const q = this.#side;
    return (this.#host?.bufferedPayload ?? 0) + (q instanceof SendQueue ? q.bytes : 0);
  }

  /** Whether reading is paused (`pause()`). */
  get isPaused(): boolean {
    return this.#host?.has(APP_PAUSED) ?? false;
  }

  /**
   * Sends a message: strings as text, bytes as binary, unless `options.binary` says
   * otherwise. `callback` runs when the data was written (or with the error).
   * @throws WebSocketError WS_ERR_INVALID_STATE while CONNECTING; WS_ERR_INVALID_ARGUMENT for
   *   bytes sent as text that are not UTF-8.
   */
  send(data: SendData | Blob, options?: SendOptions | WriteCallback, callback?: WriteCallback): void {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const host = this.#host;
    if (host === undefined) {
      if (WebSocket.#failed(this) === undefined) throw stillConnecting();
      if (callback) process.nextTick(callback, notOpen());
      return;
    }
    if (host.readyState !== OPEN) {
      if (callback) process.nextTick(callback, notOpen());
      return;
    }
    // A Blob is read first; what is sent after it waits behind it (send-queue.ts).
    // (Open: the side field holds nothing but a SendQueue.)
    const queued = this.#side as SendQueue | undefined;
    if ((queued !== undefined && !queued.draining) || data instanceof Blob) {
      const q = queued ?? (this.#side = new SendQueue((d, o, cb) => this.send(d, o ?? {}, cb), () => (this.#side = undefined)));
      q.push(data, options, callback);
      return;
    }
    const binary = options?.binary ?? typeof data !== 'string';
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    const fin = options?.fin ?? true;
    const allowCompress = options?.compress !== false;
    // Small and whole: framed by the core straight into this turn's output buffer.
    if (
      callback === undefined &&
      fin &&
      (typeof data === 'string' || (binary && data instanceof Uint8Array)) &&
      host.sendSmall(opcode, data as string | Uint8Array, allowCompress)
    ) {
      diag.sent(host, data, binary);
      return;
    }
    const bytes = toBytes(data);
    if (!binary && typeof data !== 'string') host.checkOutgoingText(bytes, fin);
    const conn = host.conn;
    const compress = conn.shouldCompress(bytes.length, allowCompress);
    conn.send(opcode, bytes, fin, callback, compress);
    if (fin) diag.sent(host, bytes, binary);
    // Waiting for compression writes nothing yet, but counts against maxBackpressure.
    if (compress) host.checkBackpressure();
  }

  /** Like `send`, and resolves once the data was written to the transport. */
  sendAsync(data: SendData | Blob, options?: SendOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.send(data, options ?? {}, (err) => (err ? reject(err) : resolve()));
    });
  }

  // ── Topics (server side): the registry is in topics.ts; nothing is stored on the socket. ──

  /**
   * Subscribes this connection to `topic`: it receives what `server.publish(topic, …)` sends,
   * from this process or, through the server's broker, from others. Closing leaves every topic.
   * Returns false when it was already subscribed or is no longer open.
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for a topic that is not a non-empty string;
   *   WS_ERR_INVALID_STATE on a connection not accepted by a WebSocketServer; WS_ERR_TOPIC_TOO_LONG,
   *   WS_ERR_TOO_MANY_TOPICS over the server's `maxTopicLength`, `maxTopicsPerSocket`.
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

  // ── End of topics. ──

  /**
   * Sends a ping (RFC 6455 §5.5.2); the peer answers with a pong ('pong' event).
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT over 125 bytes; WS_ERR_INVALID_STATE while CONNECTING.
   */
  ping(data: SendData = '', callback?: WriteCallback): void {
    WebSocket.#sendControl(this, Opcode.Ping, data, callback);
  }

  /** Sends an unsolicited pong (RFC 6455 §5.5.3). @throws as `ping`. */
  pong(data: SendData = '', callback?: WriteCallback): void {
    WebSocket.#sendControl(this, Opcode.Pong, data, callback);
  }

  static #sendControl(ws: WebSocket, opcode: number, data: SendData, callback?: WriteCallback): void {
    if (ws.readyState === CONNECTING) throw stillConnecting();
    const bytes = toBytes(data);
    if (bytes.length > 125) throw new WebSocketError(ErrorCode.InvalidArgument, 'control frame payload over 125 bytes');
    const conn = ws.#host?.conn;
    if (!conn || conn.state.kind !== 'open') {
      if (callback) process.nextTick(callback, notOpen());
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
    const host = this.#host;
    if (this.readyState === CLOSED) return;
    if (!host) {
      // Still connecting: give up the handshake (WHATWG: fail the connection, CLOSING until
      // 'error' and 'close' come, after this returns).
      WebSocket.#abortDial(this);
      return;
    }
    host.conn.close(code, reason ?? '');
    host.armCloseTimer();
  }

  /** Drops the transport now, without a closing handshake ('close' gets 1006). */
  terminate(): void {
    if (this.readyState === CLOSED) return;
    const host = this.#host;
    if (!host) {
      WebSocket.#abortDial(this);
      return;
    }
    host.socket.destroy();
  }

  /** Stops reading: no 'message' events and no reads from the transport until `resume()`. */
  pause(): void {
    const host = this.#host;
    if (!host) return;
    host.set(APP_PAUSED, true);
    host.conn.pause();
    host.socket.pause();
  }

  resume(): void {
    const host = this.#host;
    if (!host) return;
    host.set(APP_PAUSED, false);
    if (host.has(HELD_BACK)) return;
    host.socket.resume();
    host.conn.resume();
  }

  // ---- events --------------------------------------------------------------------------

  /** Emits to EventEmitter listeners, then to the WHATWG listeners and `on…` handlers (events.ts). */
  static #dispatch(ws: WebSocket, type: string, ...args: unknown[]): void {
    try {
      const l = ws.whatwg();
      // 'error' without a listener would throw: a peer's mistake must never crash the process.
      if (type !== 'error' || ws.listenerCount('error') > 0) ws.emit(type, ...args);
      else if (!l?.has('error') && !l?.has('close') && ws.listenerCount('close') === 0) reportUnhandledError(args[0] as Error, ws.#host?.conn.role);
      if (l !== undefined && l.has(type)) l.dispatch(ws, eventFor(ws.url, type, args), true);
    } catch (err) {
      // A 'message' listener's throw is the core's to handle (it fails with 1011).
      if (type === 'message') throw err;
      if (ws.#host) ws.#host.listenerThrew(err, type);
      else warnListenerThrew(err, type);
    }
  }


  /**
   * Messages in order until the connection closes. Ends quietly on 1000, 1001 or 1005;
   * otherwise throws the WebSocketError that closed it. Reading pauses while 64 messages
   * wait to be taken.
   */
  [Symbol.asyncIterator](): AsyncGenerator<MessageData, void, undefined> {
    return messages<MessageData>(this, () => WebSocket.#error(this));
  }
}

// '' until a handshake agrees on one (an own property then).
for (const name of ['protocol', 'extensions']) {
  Object.defineProperty(WebSocket.prototype, name, { value: '', writable: true, enumerable: true, configurable: true });
}
for (const [name, value] of [['CONNECTING', 0], ['OPEN', 1], ['CLOSING', 2], ['CLOSED', 3]] as const) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
