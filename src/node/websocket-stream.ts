// WebSocketStream: the streams-based WebSocket API Chromium ships
// (https://github.com/ricea/websocketstream-explainer), over ws13's public WebSocket.
// Backpressure both ways: a readable that is not read pauses the WebSocket (no more reads
// from the socket, so TCP holds the peer back); a write resolves once handed to the OS.
import { Buffer } from 'node:buffer';
import type { ReadableStreamDefaultController } from 'node:stream/web';
import { WebSocket } from './websocket.js';
import { checkArguments, checkClose } from './browser.js';

export interface WebSocketStreamOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Aborts the opening handshake (no effect once open). */
  signal?: AbortSignal;
}

export interface WebSocketOpenInfo {
  /** Messages: text as strings, binary as ArrayBuffers (as Chromium gives them). */
  readable: ReadableStream<string | ArrayBuffer>;
  /** Takes strings (text) and ArrayBuffers or views (binary). */
  writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
  extensions: string;
  protocol: string;
}

export interface WebSocketCloseInfo {
  closeCode?: number;
  reason?: string;
}

/** The error of a WebSocketStream (Chromium's `WebSocketError`): a DOMException with the close code and reason. */
export class WebSocketStreamError extends DOMException {
  readonly closeCode: number | null;
  readonly reason: string;
  constructor(message = '', init: WebSocketCloseInfo = {}) {
    super(message, 'WebSocketError');
    this.closeCode = init.closeCode ?? null;
    this.reason = init.reason ?? '';
  }
}

function noop(): void {}

/** Promise plus its settle functions; handled, so a rejection nobody awaits is no crash. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(noop);
  return { promise, resolve, reject };
}

/**
 * A WebSocket client as streams: `await wss.opened` gives `readable` and `writable`;
 * `wss.closed` settles with the close code and reason; `wss.close({ closeCode, reason })`.
 * @throws DOMException SyntaxError for a bad URL or subprotocols (as `new WebSocket`).
 */
export class WebSocketStream {
  readonly url: string;
  readonly opened: Promise<WebSocketOpenInfo>;
  readonly closed: Promise<WebSocketCloseInfo>;
  #ws: WebSocket | undefined;

  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    const protocols = checkArguments(url, options.protocols);
    const u = new URL(String(url));
    if (u.protocol === 'http:') u.protocol = 'ws:';
    else if (u.protocol === 'https:') u.protocol = 'wss:';
    this.url = u.href;
    const opened = deferred<WebSocketOpenInfo>();
    const closed = deferred<WebSocketCloseInfo>();
    this.opened = opened.promise;
    this.closed = closed.promise;
    const signal = options.signal;
    if (signal?.aborted) {
      opened.reject(signal.reason);
      closed.reject(signal.reason);
      return;
    }
    const ws = new WebSocket(this.url, protocols);
    this.#ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.on('error', noop);
    let aborted = false;
    const onAbort = (): void => {
      if (ws.readyState !== WebSocket.CONNECTING) return;
      aborted = true;
      opened.reject(signal!.reason);
      closed.reject(signal!.reason);
      ws.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    let reader: ReadableStreamDefaultController<string | ArrayBuffer> | undefined;
    let isOpen = false;
    ws.on('open', () => {
      signal?.removeEventListener('abort', onAbort);
      isOpen = true;
      const readable = new ReadableStream<string | ArrayBuffer>(
        {
          start: (c) => {
            reader = c;
          },
          // The reader wants more: read from the socket again.
          pull: () => {
            if (ws.isPaused) ws.resume();
          },
          cancel: (reason) => this.#closeFor(reason),
        },
        new CountQueuingStrategy({ highWaterMark: 1 }),
      );
      const writable = new WritableStream<string | ArrayBuffer | ArrayBufferView>({
        write: (chunk) => {
          if (ws.readyState !== WebSocket.OPEN) return Promise.reject(new DOMException('the WebSocket is not open', 'InvalidStateError'));
          if (typeof chunk === 'string') return ws.sendAsync(chunk);
          if (chunk instanceof ArrayBuffer) return ws.sendAsync(new Uint8Array(chunk.slice(0)));
          if (ArrayBuffer.isView(chunk)) return ws.sendAsync(Buffer.from(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength)));
          return Promise.reject(new TypeError('a WebSocketStream writes strings, ArrayBuffers and views'));
        },
        close: () => this.#closeFor(undefined),
        abort: (reason) => this.#closeFor(reason),
      });
      opened.resolve({ readable, writable, extensions: ws.extensions, protocol: ws.protocol });
    });
    ws.on('message', (data) => {
      const c = reader;
      if (!c) return;
      c.enqueue(data as string | ArrayBuffer);
      // Nobody reads: stop reading the socket until `pull`.
      if ((c.desiredSize ?? 0) <= 0) ws.pause();
    });
    ws.on('close', (code, reason, wasClean) => {
      signal?.removeEventListener('abort', onAbort);
      if (aborted) return;
      if (!isOpen) {
        // As Chromium: the opening fails without a code, the connection closes with 1006.
        opened.reject(new WebSocketStreamError('the WebSocket could not be opened'));
        closed.reject(new WebSocketStreamError('the WebSocket could not be opened', { closeCode: code }));
        return;
      }
      if (wasClean) {
        try {
          reader?.close();
        } catch {
          // Already closed or cancelled.
        }
        closed.resolve({ closeCode: code, reason });
      } else {
        const err = new WebSocketStreamError('the connection was closed abnormally', { closeCode: code, reason });
        try {
          reader?.error(err);
        } catch {
          // Already closed.
        }
        closed.reject(err);
      }
    });
  }

  /** Closes with the code and reason of a WebSocketStreamError, else with none. */
  #closeFor(reason: unknown): void {
    if (reason instanceof WebSocketStreamError) this.close({ closeCode: reason.closeCode ?? undefined, reason: reason.reason });
    else this.close();
  }

  /**
   * Starts the closing handshake (before open: gives up the handshake).
   * @throws DOMException InvalidAccessError for a code other than 1000 or 3000–4999;
   *   SyntaxError for a reason over 123 UTF-8 bytes.
   */
  close(info: WebSocketCloseInfo = {}): void {
    let code = info.closeCode;
    // A reason alone goes with 1000.
    if (code === undefined && info.reason !== undefined && info.reason !== '') code = 1000;
    const [c, r] = checkClose(code, info.reason);
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) return;
    ws.resume();
    ws.close(c, c === undefined ? undefined : r);
  }
}
