// The WebSocket as browsers have it (https://websockets.spec.whatwg.org/#the-websocket-interface):
// the same connection as ws13's WebSocket, with the browser's argument checks, DOMExceptions,
// binaryType and send/close rules. test/browser/ runs it against Chromium's own.
import { Buffer } from 'node:buffer';
import { WebSocket, type BinaryType, type SendData } from './websocket.js';
import type { ClientOptions } from './client.js';

/** What `send()` takes in a browser; other values are sent as their string (WebIDL). */
export type BrowserSendData = SendData | Blob;


/** RFC 6455 §4.1 item 10 / RFC 2616 §2.2: a subprotocol is a token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function syntaxError(message: string): DOMException {
  return new DOMException(message, 'SyntaxError');
}

/** WebIDL `[Clamp] unsigned short`. */
function clampUint16(v: unknown): number {
  const n = Number(v);
  if (Number.isNaN(n)) return 0;
  const c = Math.min(Math.max(n, 0), 65535);
  const f = Math.floor(c);
  // Round half to even.
  const r = c - f > 0.5 || (c - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  return r;
}

/** WebIDL USVString: lone surrogates become U+FFFD. */
function toUsv(v: unknown): string {
  const s = String(v);
  return /[\uD800-\uDFFF]/.test(s) ? Buffer.from(s, 'utf8').toString('utf8') : s;
}

/**
 * The browser's `new WebSocket(url, protocols)` checks, before anything is sent.
 * @throws DOMException SyntaxError for a URL that does not parse, a scheme other than
 *   ws/wss/http/https, a fragment, or subprotocols that are not distinct tokens.
 */
export function checkArguments(url: unknown, protocols: unknown): string[] {
  let u: URL;
  try {
    u = new URL(toUsv(url));
  } catch {
    throw syntaxError(`The URL '${String(url)}' is invalid.`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(u.protocol)) {
    throw syntaxError(`The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. '${u.protocol.slice(0, -1)}' is not allowed.`);
  }
  if (u.hash !== '' || toUsv(url).includes('#')) throw syntaxError(`The URL contains a fragment identifier ('${u.hash}').`);
  const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...(protocols as Iterable<unknown>)].map(String);
  const seen = new Set<string>();
  for (const p of list) {
    if (!TOKEN.test(p)) throw syntaxError(`The subprotocol '${p}' is invalid.`);
    if (seen.has(p)) throw syntaxError(`The subprotocol '${p}' is duplicated.`);
    seen.add(p);
  }
  return list;
}

function byteSize(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data, 'utf8');
  if (data instanceof Blob) return data.size;
  if (data instanceof ArrayBuffer) return data.byteLength;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  return Buffer.byteLength(toUsv(data), 'utf8');
}

/**
 * A WebSocket client that behaves as the browser's: `binaryType` 'blob' (default) or
 * 'arraybuffer', DOMExceptions named as in browsers, `close()` limited to 1000 and 3000–4999,
 * `send()` of a Blob, and after closing `send()` counts into `bufferedAmount` instead of
 * failing. Everything else (events, `readyState`, `bufferedAmount`, `protocol`, `extensions`)
 * is ws13's WebSocket, which it extends.
 */
export class BrowserWebSocket extends WebSocket {
  /** Bytes passed to send() once closing: browsers count them in bufferedAmount for good. */
  #afterClose = 0;
  /** Reading is paused until the next turn, after a message (see `emit`). */
  #stepping = false;
  /**
   * Opens a connection, as `new WebSocket(url, protocols)` in a browser. `options` (ws13's
   * client options: origin, headers, tls, …) has no browser counterpart.
   * @throws DOMException SyntaxError (see the browser's rules above).
   */
  constructor(url: string | URL, protocols?: string | string[], options?: ClientOptions) {
    super(String(url), checkArguments(url, protocols), options ?? {});
    super.binaryType = 'blob';
  }

  /**
   * Browsers fire each message in a task of its own, so the promise callbacks a listener
   * starts run before the next message: code that awaits one message at a time sees them
   * all. ws13 parses every frame of a read at once, so reading pauses after each message
   * and goes on in the next turn of the event loop.
   */
  override emit(type: string | symbol, ...args: any[]): boolean {
    if (type === 'message' && !this.isPaused) {
      super.pause();
      this.#stepping = true;
      setImmediate(BrowserWebSocket.#step, this);
    }
    return super.emit(type, ...args);
  }

  /** Stops reading (see WebSocket#pause); a pause of the application's is kept, not undone by the step above. */
  override pause(): void {
    this.#stepping = false;
    super.pause();
  }

  /** The next turn after a message: read on, unless the application paused meanwhile. */
  static #step(ws: BrowserWebSocket): void {
    if (!ws.#stepping) return;
    ws.#stepping = false;
    if (ws.readyState !== WebSocket.CLOSED) ws.resume();
  }

  /** 'blob' (default) or 'arraybuffer'; other values are ignored, as in browsers. */
  override get binaryType(): BinaryType {
    return super.binaryType;
  }
  override set binaryType(type: BinaryType) {
    if (type === 'blob' || type === 'arraybuffer') super.binaryType = type;
  }

  override get bufferedAmount(): number {
    return super.bufferedAmount + this.#afterClose;
  }

  /**
   * Sends a message. Strings go as text; a Blob, ArrayBuffer or view as binary; anything else
   * as its string. Once closing, nothing is sent and the size is added to bufferedAmount.
   * @throws DOMException InvalidStateError while CONNECTING.
   */
  override send(data: BrowserSendData): void {
    const state = this.readyState;
    if (state === WebSocket.CONNECTING) {
      throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
    }
    if (!(typeof data === 'string' || data instanceof Blob || data instanceof ArrayBuffer || ArrayBuffer.isView(data))) data = toUsv(data);
    if (state !== WebSocket.OPEN) {
      this.#afterClose += byteSize(data);
      return;
    }
    super.send(data);
  }

  /**
   * Starts the closing handshake, as a browser does.
   * @throws DOMException InvalidAccessError for a code other than 1000 or 3000–4999;
   *   SyntaxError for a reason over 123 UTF-8 bytes.
   */
  override close(code?: number, reason?: string): void {
    // Chromium reads a missing code before a reason as 0, and throws below (the WHATWG text
    // would send 1000): it is the browser this class is tested against.
    if (code === undefined && reason !== undefined) code = 0;
    const [c, r] = checkClose(code, reason);
    super.close(c, r);
  }
}

/**
 * The browser's close() checks; returns the code and reason to send.
 * @throws DOMException InvalidAccessError (code), SyntaxError (reason over 123 bytes).
 */
export function checkClose(code: unknown, reason: unknown): [number | undefined, string | undefined] {
  let c: number | undefined;
  if (code !== undefined) {
    c = clampUint16(code);
    if (c !== 1000 && (c < 3000 || c > 4999)) {
      throw new DOMException(
        `Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${c} is neither.`,
        'InvalidAccessError',
      );
    }
  }
  let r: string | undefined;
  if (reason !== undefined) {
    r = toUsv(reason);
    if (Buffer.byteLength(r, 'utf8') > 123) {
      throw syntaxError("Failed to execute 'close' on 'WebSocket': The close reason must not be greater than 123 UTF-8 bytes.");
    }
  }
  return [c, r];
}
