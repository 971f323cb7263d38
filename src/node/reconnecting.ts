// An opt-in client that reconnects: exponential backoff with full jitter, a hook run on every
// (re)connection so the application restores its subscriptions, and the messages sent while
// disconnected kept in a bounded queue and sent, in order, once the next connection is open.
import type { WriteCallback } from '../protocol/connection.js';
import { CloseCode } from '../protocol/constants.js';
import { ErrorCode, HandshakeError, WebSocketError } from '../protocol/errors.js';
import type { ClientOptions } from './client.js';
import { WebSocketEventTarget, eventFor } from './events.js';
import { WebSocket, type BinaryType, type MessageData, type SendData, type SendOptions } from './websocket.js';

/** Defaults of the options below. */
export const RECONNECT_DEFAULTS = {
  initialDelay: 500,
  maxDelay: 30_000,
  factor: 2,
  maxAttempts: Infinity,
  resetAfter: 5000,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 1024 * 1024,
} as const;

/** How a connection ended, as `shouldReconnect` sees it. */
export interface CloseInfo {
  code: number;
  reason: string;
  wasClean: boolean;
  /** The error that ended it, if any: a HandshakeError (with `status`) when the server refused. */
  error: Error | undefined;
}

export interface ReconnectOptions extends ClientOptions {
  /** Upper bound of the first retry's delay, in ms (default 500). */
  initialDelay?: number;
  /** Largest upper bound of a delay, in ms (default 30000). */
  maxDelay?: number;
  /** Growth of the bound per consecutive failure (default 2). */
  factor?: number;
  /** Consecutive retries before giving up (default Infinity: never). */
  maxAttempts?: number;
  /** A connection that stayed open this long (ms, default 5000) resets the backoff. */
  resetAfter?: number;
  /** Messages kept while disconnected (default 1000). */
  maxQueuedMessages?: number;
  /** Bytes kept while disconnected, payloads as UTF-8 (default 1 MiB). */
  maxQueuedBytes?: number;
  /**
   * Beyond either limit: 'error' (default) makes `send` throw WS_ERR_QUEUE_FULL; 'drop-oldest'
   * drops the oldest queued messages ('drop' event, their callbacks get WS_ERR_QUEUE_FULL).
   */
  queueOverflow?: 'error' | 'drop-oldest';
  /**
   * Runs on every connection, first and later ones, before queued messages go out and before
   * 'open': send subscriptions here on `ws` (they go first). A throw or rejection closes the
   * connection with 1011 and counts as a failed attempt.
   */
  onOpen?: (ws: WebSocket, info: { attempt: number; reconnected: boolean }) => void | Promise<void>;
  /** Whether to reconnect after a connection ended; default {@link shouldReconnect}. */
  shouldReconnect?: (close: CloseInfo) => boolean;
}

/**
 * The default policy. Not retried: close codes that say the client itself is at fault and would
 * be again — 1002 (protocol error), 1003 (unsupported data), 1007 (invalid payload), 1008
 * (policy violation), 1010 (extension required) — a handshake refused with a 4xx status
 * other than 408 and 429, one aborted by the `signal` option, and a redirect refused or past
 * `maxRedirects` (followRedirects: the same next time). Everything else is retried: 1000, 1001, 1006 (no close frame, a
 * refused or failed TCP connection), 1009, 1011–1014, 3000–4999 and 5xx answers.
 */
export function shouldReconnect(close: CloseInfo): boolean {
  // The application's AbortSignal stopped it.
  if (close.error instanceof WebSocketError && close.error.code === ErrorCode.HandshakeAborted) return false;
  if (close.error instanceof WebSocketError && (close.error.code === ErrorCode.RedirectRefused || close.error.code === ErrorCode.TooManyRedirects)) return false;
  const s = close.error instanceof HandshakeError ? close.error.status : undefined;
  if (s !== undefined && s >= 400 && s < 500 && s !== 408 && s !== 429) return false;
  return !NO_RETRY.has(close.code);
}
const NO_RETRY = new Set<number>([
  CloseCode.ProtocolError,
  CloseCode.UnsupportedData,
  CloseCode.InvalidPayload,
  CloseCode.PolicyViolation,
  CloseCode.MandatoryExtension,
]);

/**
 * The delay before retry number `retry` (1 for the first), with full jitter: uniform in
 * [0, min(maxDelay, initialDelay × factor^(retry − 1))). Spreads the clients of a restarted
 * server over the whole window instead of bringing them back together.
 */
export function backoffDelay(
  retry: number,
  o: { initialDelay?: number; maxDelay?: number; factor?: number } = {},
  random: () => number = Math.random,
): number {
  const { initialDelay = RECONNECT_DEFAULTS.initialDelay, maxDelay = RECONNECT_DEFAULTS.maxDelay, factor = RECONNECT_DEFAULTS.factor } = o;
  const bound = Math.min(maxDelay, initialDelay * factor ** Math.max(0, retry - 1));
  return Math.floor(random() * bound);
}

/** Options of the reconnecting client itself, not handed to each WebSocket. */
const OWN_OPTIONS = [
  'initialDelay', 'maxDelay', 'factor', 'maxAttempts', 'resetAfter', 'maxQueuedMessages', 'maxQueuedBytes', 'queueOverflow', 'onOpen', 'shouldReconnect',
] as const;

/** Why the client stopped for good ('end' event). */
export type EndReason = 'closed' | 'no-retry' | 'max-attempts';

interface Queued {
  data: SendData;
  options: SendOptions | undefined;
  size: number;
  callback: WriteCallback | undefined;
}

type Limits = { -readonly [K in keyof typeof RECONNECT_DEFAULTS]: number };

type State = 'connecting' | 'open' | 'waiting' | 'closing' | 'closed';

export interface ReconnectingWebSocket {
  on(event: 'connecting', listener: (info: { attempt: number }) => void): this;
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (data: MessageData, isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: string, wasClean: boolean) => void): this;
  on(event: 'reconnectScheduled', listener: (info: { attempt: number; delay: number; code: number; reason: string }) => void): this;
  on(event: 'drop', listener: (data: SendData) => void): this;
  /** A redirect followed during an attempt (`followRedirects`): the next URL and the 3xx status. */
  on(event: 'redirect', listener: (url: string, status: number) => void): this;
  on(event: 'end', listener: (info: { reason: EndReason; code: number }) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * A client WebSocket that reconnects by itself. Events: 'connecting' before each attempt,
 * 'open' once a connection is ready (after `onOpen` and the queued messages), 'message',
 * 'close' for each connection or failed attempt, 'reconnectScheduled' with the delay chosen,
 * 'drop', 'redirect' (each redirect an attempt follows), 'error' (only when listened to),
 * and 'end' once it stops for good. Also
 * `onopen`/`onmessage`/`onclose`/`onerror` and `addEventListener`, as on a browser WebSocket.
 *
 * Delivery is at most once: a message is queued only while no connection is open; a message
 * handed to a connection that then drops is not sent again.
 * @throws WebSocketError WS_ERR_INVALID_URL, WS_ERR_INVALID_ARGUMENT (from the constructor)
 */
export class ReconnectingWebSocket extends WebSocketEventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  readonly url: string;
  #binaryType: BinaryType = 'nodebuffer';
  readonly #options: ReconnectOptions;
  readonly #client: ClientOptions;
  readonly #limits: Limits;
  #state: State = 'connecting';
  #ws: WebSocket | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Consecutive retries since the last connection that lasted `resetAfter`. */
  #retries = 0;
  #attempt = 0;
  #everOpened = false;
  #openedAt: number | undefined;
  #lastError: Error | undefined;
  #queue: Queued[] = [];
  #queuedBytes = 0;

  constructor(url: string | URL, options: ReconnectOptions = {}) {
    super();
    this.#options = options;
    this.#limits = { ...RECONNECT_DEFAULTS };
    for (const k of Object.keys(RECONNECT_DEFAULTS) as Array<keyof Limits>) {
      const v = options[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !(v >= 0)) throw new WebSocketError(ErrorCode.InvalidArgument, `${k} must be a number ≥ 0`);
      this.#limits[k] = v;
    }
    const client: Record<string, unknown> = { ...options };
    for (const k of OWN_OPTIONS) delete client[k];
    this.#client = client as ClientOptions;
    // The first attempt starts now, so a bad URL or subprotocol list throws here.
    this.url = this.#connect(url, true);
    // An abort stops the reconnecting too, not only the handshake under way.
    options.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  /** 0 while (re)connecting or waiting to, 1 open, 2 closing, 3 closed for good. */
  get readyState(): number {
    const s = this.#state;
    return s === 'open' ? 1 : s === 'closing' ? 2 : s === 'closed' ? 3 : 0;
  }

  /** The current connection, if any (open, or still in its handshake). */
  get socket(): WebSocket | undefined {
    return this.#ws;
  }

  get protocol(): string {
    return this.#ws?.protocol ?? '';
  }

  get extensions(): string {
    return this.#ws?.extensions ?? '';
  }

  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(t: BinaryType) {
    this.#binaryType = t;
    if (this.#ws) this.#ws.binaryType = t;
  }

  /** Bytes queued while disconnected, plus the connection's own `bufferedAmount`. */
  get bufferedAmount(): number {
    return this.#queuedBytes + (this.#state === 'open' ? (this.#ws?.bufferedAmount ?? 0) : 0);
  }

  /** Messages and bytes waiting for the next connection. */
  get queued(): { messages: number; bytes: number } {
    return { messages: this.#queue.length, bytes: this.#queuedBytes };
  }

  /**
   * Sends now when open; otherwise queues the message for the next connection.
   * @throws WebSocketError WS_ERR_QUEUE_FULL over `maxQueuedMessages`/`maxQueuedBytes` (with
   *   'error'), or for one message larger than `maxQueuedBytes`; WS_ERR_INVALID_STATE for a
   *   fragment (`fin: false`) while not open; as `WebSocket.send` when open.
   */
  send(data: SendData, options?: SendOptions | WriteCallback, callback?: WriteCallback): void {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const ws = this.#ws;
    if (this.#state === 'open' && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(data, options, callback);
      return;
    }
    if (this.#state === 'closing' || this.#state === 'closed') {
      if (callback) process.nextTick(callback, new WebSocketError(ErrorCode.InvalidState, 'the client is closed'));
      return;
    }
    if (options?.fin === false) throw new WebSocketError(ErrorCode.InvalidState, 'fragments are not queued: send whole messages while disconnected');
    const size = sizeOf(data);
    const { maxQueuedMessages: maxN, maxQueuedBytes: maxB } = this.#limits;
    if (size > maxB) throw new WebSocketError(ErrorCode.QueueFull, `a message of ${size} bytes is over maxQueuedBytes (${maxB})`);
    while (this.#queue.length + 1 > maxN || this.#queuedBytes + size > maxB) {
      if (this.#options.queueOverflow !== 'drop-oldest') {
        throw new WebSocketError(ErrorCode.QueueFull, `disconnected, and the queue is full (${this.#queue.length} messages, ${this.#queuedBytes} bytes)`);
      }
      const old = this.#queue.shift()!;
      this.#queuedBytes -= old.size;
      if (old.callback) process.nextTick(old.callback, new WebSocketError(ErrorCode.QueueFull, 'dropped from a full queue'));
      this.#dispatch('drop', old.data);
    }
    this.#queue.push({ data, options, size, callback });
    this.#queuedBytes += size;
  }

  /**
   * Closes the current connection (if any) and stops reconnecting; 'end' follows. Queued
   * messages are dropped, their callbacks get WS_ERR_INVALID_STATE.
   * @throws as `WebSocket.close` for an invalid code or reason while a connection is open
   */
  close(code?: number, reason?: string): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    clearTimeout(this.#timer);
    const ws = this.#ws;
    if (!ws) {
      this.#state = 'closing';
      this.#end('closed', code ?? CloseCode.Normal);
      return;
    }
    // 'closing' first: a WebSocket still in its handshake reports its close at once.
    const before = this.#state;
    this.#state = 'closing';
    try {
      ws.close(code, reason);
    } catch (err) {
      this.#state = before;
      throw err;
    }
  }

  /** Starts an attempt; returns the normalized URL. */
  #connect(target: string | URL, first = false): string {
    this.#state = 'connecting';
    this.#timer = undefined;
    this.#lastError = undefined;
    const attempt = this.#attempt++;
    const ws = new WebSocket(target, this.#client);
    ws.binaryType = this.#binaryType;
    this.#ws = ws;
    ws.on('open', () => void this.#opened(ws, attempt));
    ws.on('message', (data: MessageData, isBinary: boolean) => {
      if (this.#ws === ws) this.#dispatch('message', data, isBinary);
    });
    ws.on('error', (err: Error) => {
      if (this.#ws !== ws) return;
      this.#lastError = err;
      this.#dispatch('error', err);
    });
    ws.on('close', (code: number, reason: string, wasClean: boolean) => this.#closed(ws, code, reason, wasClean));
    ws.on('redirect', (url: string, status: number) => {
      if (this.#ws === ws) this.#dispatch('redirect', url, status);
    });
    // The first attempt starts in the constructor: 'connecting' once listeners can be attached.
    if (first) process.nextTick(() => this.#ws === ws && this.#dispatch('connecting', { attempt }));
    else this.#dispatch('connecting', { attempt });
    return ws.url;
  }

  async #opened(ws: WebSocket, attempt: number): Promise<void> {
    if (this.#ws !== ws) return;
    if (this.#state !== 'connecting') {
      // close() came while this handshake finished: no longer wanted.
      ws.close(CloseCode.Normal);
      return;
    }
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#openedAt = Date.now();
    const hook = this.#options.onOpen;
    if (hook) {
      try {
        await hook(ws, { attempt, reconnected });
      } catch (err) {
        if (this.#ws === ws) this.#dispatch('error', err instanceof Error ? err : new Error(String(err)));
        if (ws.readyState === WebSocket.OPEN) ws.close(CloseCode.InternalError, 'onOpen failed');
        return;
      }
    }
    if (this.#ws !== ws || this.#state !== 'connecting' || ws.readyState !== WebSocket.OPEN) return;
    this.#state = 'open';
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const m of queue) ws.send(m.data, m.options ?? {}, m.callback);
    this.#dispatch('open');
  }

  #closed(ws: WebSocket, code: number, reason: string, wasClean: boolean): void {
    if (this.#ws !== ws) return;
    this.#ws = undefined;
    const lasted = this.#openedAt === undefined ? 0 : Date.now() - this.#openedAt;
    this.#openedAt = undefined;
    if (lasted >= this.#limits.resetAfter) this.#retries = 0;
    const closing = this.#state === 'closing';
    this.#dispatch('close', code, reason, wasClean);
    if (closing || this.#state === 'closing' || this.#state === 'closed') return this.#end('closed', code);
    const retry = this.#options.shouldReconnect ?? shouldReconnect;
    if (!retry({ code, reason, wasClean, error: this.#lastError })) return this.#end('no-retry', code);
    if (this.#retries >= this.#limits.maxAttempts) return this.#end('max-attempts', code);
    const n = ++this.#retries;
    const delay = backoffDelay(n, this.#limits);
    this.#state = 'waiting';
    this.#timer = setTimeout(() => this.#connect(this.url), delay);
    this.#dispatch('reconnectScheduled', { attempt: n, delay, code, reason });
  }

  #end(reason: EndReason, code: number): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const m of queue) {
      if (m.callback) process.nextTick(m.callback, new WebSocketError(ErrorCode.InvalidState, 'the client closed before this message was sent'));
    }
    this.#dispatch('end', { reason, code });
  }

  // ---- browser-shaped events -------------------------------------------------------------

  #dispatch(type: string, ...args: unknown[]): void {
    try {
      // 'error' without a listener would throw: a failed attempt must never crash the process.
      if (type !== 'error' || this.listenerCount('error') > 0) this.emit(type, ...args);
      const l = this.whatwg();
      if (l !== undefined && l.has(type)) l.dispatch(this, eventFor(this.url, type, args), true);
    } catch (err) {
      // As on a WebSocket: a 'message' listener's throw fails that connection (1011).
      if (type === 'message') throw err;
      const e = err instanceof Error ? err : new Error(String(err));
      process.emitWarning(`a '${type}' listener threw: ${e.message}`, { code: 'WS13_LISTENER_ERROR', detail: e.stack ?? '' });
    }
  }

}

/** Payload bytes of a message (strings as UTF-8). */
function sizeOf(data: SendData): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  throw new WebSocketError(ErrorCode.InvalidArgument, 'data must be a string, Buffer, ArrayBuffer or ArrayBufferView');
}
