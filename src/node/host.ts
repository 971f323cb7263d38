// The pump between a Node `Duplex` and the core's `Connection`: one per open WebSocket,
// hidden from the public class. It reads the transport into the core, writes the core's
// frames out (output.ts), closes the transport as the role requires, and tells the public
// object what happened through the binding websocket.ts registers once.
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { Connection, type ConnectionHandler, type ConnectionOptions, type PreparedFrame } from '../protocol/connection.js';
import { CloseCode, Opcode } from '../protocol/constants.js';
import { ErrorCode, NetworkError, WebSocketError } from '../protocol/errors.js';
import type { NodeDeflateCodec } from './deflate.js';
import { decodeLatin1, decodeUtf8, writeUtf8 } from './internals.js';
import { randomMaskSource } from './random.js';
import { routeSocket, type SocketTarget } from './socket-routing.js';
import { ALIVE, APP_PAUSED, CLOSE_EMITTED, CLOSE_TIMER, HELD_BACK, Output, PING_OUTSTANDING } from './output.js';
import type { ResolvedSettings } from './options.js';
import { Utf8Validator } from '../protocol/utf8.js';
import * as diag from './diagnostics.js';

/** What the host reads of its public object. */
export interface HostOwner {
  readonly binaryType: 'nodebuffer' | 'arraybuffer' | 'blob';
}

/** How hosts reach their public objects and back: registered once by websocket.ts. */
export interface OwnerBinding {
  /** Emits to the owner's listeners and `on…` handler; a listener's throw comes back as an exception only for 'message'. */
  dispatch(owner: HostOwner, type: string, ...args: unknown[]): void;
  hostOf(owner: object): ConnectionHost | undefined;
  /**
   * Makes the server side of a connection over `socket` after a 101 (reading starts with
   * `host.start`). `startsNow`: `start` follows in this same call, so the transport is not paused.
   */
  accept(
    socket: Duplex,
    url: string,
    protocol: string,
    extensions: string,
    codec: NodeDeflateCodec | undefined,
    settings: ResolvedSettings,
    startsNow: boolean,
  ): HostOwner;
}
let binding: OwnerBinding;
export function bindOwner(b: OwnerBinding): void {
  binding = b;
}
/** See `OwnerBinding.accept`. */
export function acceptConnection(...args: Parameters<OwnerBinding['accept']>): HostOwner {
  return binding.accept(...args);
}
/** The host of an open (or closing) WebSocket; undefined while it connects. */
export function hostOf(ws: object): ConnectionHost | undefined {
  return binding.hostOf(ws);
}

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/**
 * The core's options for `settings` and `role`: one object per server (or client dial) and
 * role, so that its connections share what the core resolves from it.
 */
const coreOptionsOf = new WeakMap<ResolvedSettings, { server?: ConnectionOptions; client?: ConnectionOptions }>();
function coreOptions(settings: ResolvedSettings, role: 'client' | 'server'): ConnectionOptions {
  let byRole = coreOptionsOf.get(settings);
  if (byRole === undefined) coreOptionsOf.set(settings, (byRole = {}));
  return (byRole[role] ??= {
    role,
    maxPayload: settings.maxPayload,
    maskSource: settings.maskSource ?? (role === 'client' ? randomMaskSource : undefined),
    isUtf8,
    allocate: Buffer.allocUnsafe,
    encodeInto,
    deflateThreshold: settings.deflateThreshold,
  });
}

/** Node's fast UTF-8 write, for the core's small-message path. */
function encodeInto(text: string, buf: Uint8Array, at: number, max: number): number {
  return writeUtf8(buf as Buffer, text, at, max);
}

export class ConnectionHost extends Output implements ConnectionHandler, SocketTarget {
  readonly owner: HostOwner;
  /** UTF-8 state of a text message being sent from bytes in fragments. */
  #sendUtf8: Utf8Validator | undefined;
  /** What closed the connection, for `for await` and `WebSocket.connect`. */
  closedBy: WebSocketError | undefined;
  /**
   * A client's own heartbeat (an interval) while open; the close timer once closing
   * (`CLOSE_TIMER` in `flags`). One field: idle connections are many.
   */
  timer: NodeJS.Timeout | undefined;

  constructor(
    owner: HostOwner,
    socket: Duplex,
    role: 'client' | 'server',
    settings: ResolvedSettings,
    codec: NodeDeflateCodec | undefined,
    startsNow = false,
  ) {
    super();
    this.owner = owner;
    this.socket = socket;
    this.settings = settings;
    this.conn = new Connection(coreOptions(settings, role), this, codec);
    const s = socket as Duplex & { setNoDelay?: (v: boolean) => void; setTimeout?: (ms: number) => void; timeout?: number };
    s.setNoDelay?.(true);
    // An HTTP server's idle timeout (`server.timeout`) stays set on an upgraded socket, with
    // nobody listening, and is re-armed at every read and write: cleared. A socket without
    // one is left alone (the call validates and looks up timers: 0.5 µs of every handshake).
    if (s.timeout) s.setTimeout?.(0);
    // Nothing is read until `start`, so bytes that came with the handshake go first; a
    // host started in the caller's same synchronous run cannot be overtaken by a read.
    if (!startsNow) socket.pause();
    // Listeners shared by all connections find theirs through the socket (no closures each).
    routeSocket(socket, this);
  }

  /** The permessage-deflate codec, when that extension was agreed. */
  get codec(): NodeDeflateCodec | undefined {
    return this.conn.deflate as NodeDeflateCodec | undefined;
  }

  /** The server's close hook (see `ResolvedSettings.onClosed`); clients have none. */
  get onClosed(): ((ws: object) => void) | undefined {
    return this.settings.onClosed;
  }

  /** WebSocket.readyState: the core's state, and whether the transport closed. */
  get readyState(): number {
    if (this.has(CLOSE_EMITTED)) return CLOSED;
    return this.conn.state.kind === 'open' && !this.socket.destroyed ? OPEN : CLOSING;
  }

  /**
   * Starts reading: first the bytes that came with the handshake, then the transport.
   * Called once the application could attach its listeners, so that no message is lost.
   */
  start(head: Uint8Array): void {
    if (head.length > 0) this.conn.receiveData(head);
    if (!this.has(APP_PAUSED) && !this.has(HELD_BACK)) this.socket.resume();
  }

  private dispatch(type: string, ...args: unknown[]): void {
    binding.dispatch(this.owner, type, ...args);
  }

  // ---- ConnectionHandler: what the core says ------------------------------------------

  message(data: Uint8Array, text: boolean, ascii?: boolean): void {
    let value: string | Buffer | ArrayBuffer | Blob;
    // ASCII reads the same as Latin-1, which V8 copies without decoding (measured: 72 against 104 ns for 32 bytes).
    if (text) value = ascii ? decodeLatin1(data, 0, data.length) : decodeUtf8(data, 0, data.length);
    else if (this.owner.binaryType === 'nodebuffer') value = toBuffer(data);
    // A copy of exactly the message: `data` may be a view into a larger socket buffer.
    else if (this.owner.binaryType === 'arraybuffer') value = new Uint8Array(data).buffer;
    else value = new Blob([data]);
    diag.received(this, data.length, !text);
    this.dispatch('message', value, !text);
  }

  ping(payload: Uint8Array): void {
    this.dispatch('ping', toBuffer(payload));
  }

  pong(payload: Uint8Array): void {
    this.set(PING_OUTSTANDING, false);
    this.dispatch('pong', toBuffer(payload));
  }

  error(err: WebSocketError): void {
    this.fault(err);
  }

  /** Records `err` as what closed the connection and emits it. */
  fault(err: WebSocketError): void {
    this.closedBy = err;
    this.dispatch('error', err);
  }

  /** The core has nothing more to say: close the transport as the role requires (RFC 6455 §7.1.1). */
  shutdown(): void {
    const socket = this.socket;
    const conn = this.conn;
    const failed = conn.state.kind === 'closed' && conn.state.error !== undefined;
    // §7.1.1: the server closes the TCP connection first; the client waits for it.
    if (conn.role === 'server' || failed) {
      // Our close frame goes out, then FIN (§7.1.1: the server closes first; a client that
      // failed the connection does not wait, §7.1.7). Input that still comes is read and
      // dropped: closing with unread input would send a RST, which can make the peer's
      // kernel discard our close frame before the peer reads it.
      this.flush();
      this.endAfterOutput();
      socket.resume();
      // A client that failed closes at once, once its close frame is handed to the OS.
      if (conn.role === 'client' && !socket.destroyed) socket.once('finish', () => socket.destroy());
    }
    this.armCloseTimer();
  }

  /** Drops the transport if the closing handshake and the TCP close take over `closeTimeout`. */
  armCloseTimer(): void {
    if (this.has(CLOSE_TIMER) || this.socket.destroyed) return;
    this.set(CLOSE_TIMER, true);
    // A heartbeat has nothing left to do once closing (it only pings open connections).
    clearInterval(this.timer);
    this.timer = setTimeout(() => {
      this.closedBy ??= new NetworkError(ErrorCode.CloseTimeout, 'the closing handshake timed out', { closeCode: CloseCode.Abnormal });
      this.socket.destroy();
    }, this.settings.closeTimeout);
    this.timer.unref?.();
  }

  // ---- SocketTarget: what the transport says --------------------------------------------

  onData(chunk: Buffer): void {
    this.set(ALIVE, true);
    diag.read(this, chunk.length);
    this.conn.receiveData(chunk);
  }

  onEnd(): void {
    this.conn.receiveEof();
    // Nothing more can come: end our side too, so that a half-open transport (an HTTP/2
    // stream, a socket with allowHalfOpen) closes. Plain sockets do this by themselves.
    const socket = this.socket;
    // (The closing handshake may have destroyed it already: see `shutdown`.)
    if (!socket.writableEnded && !socket.destroyed) {
      this.flush();
      this.endAfterOutput();
    }
  }

  onError(err: Error): void {
    // The 'close' that follows reports 1006; keep the cause for `for await`.
    this.closedBy ??= new NetworkError(ErrorCode.Abnormal, `transport error: ${err.message}`, {
      closeCode: CloseCode.Abnormal,
      cause: err,
    });
  }

  onClose(): void {
    const conn = this.conn;
    conn.receiveEof();
    this.dropOutput();
    this.codec?.close();
    clearTimeout(this.timer);
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
    if (this.has(CLOSE_EMITTED)) return;
    this.set(CLOSE_EMITTED, true);
    this.onClosed?.(this.owner);
    diag.closed(this, code, reason, clean);
    this.dispatch('close', code, reason, clean);
  }

  /**
   * An application listener threw. An open connection fails with 1011 (no detail to the
   * peer) and reports it as 'error'; otherwise it becomes a process warning. Never an
   * exception into Node's socket code, which would crash the process.
   */
  listenerThrew(err: unknown, event: string): void {
    const conn = this.conn;
    if (event !== 'error' && conn.state.kind !== 'closed') {
      conn.fail(new WebSocketError(ErrorCode.Internal, `a '${event}' listener threw`, { closeCode: CloseCode.InternalError, cause: err }));
      return;
    }
    warnListenerThrew(err, event);
  }

  /**
   * Bytes sent as text must be UTF-8 (RFC 6455 §5.6); a fragment may end inside a
   * character, so fragments are checked as one stream. Nothing invalid is put on the wire.
   */
  checkOutgoingText(bytes: Uint8Array, fin: boolean): void {
    if (fin && !this.#sendUtf8 && isUtf8(bytes)) return;
    const v = (this.#sendUtf8 ??= new Utf8Validator());
    const ok = v.push(bytes) && (!fin || v.finish());
    if (fin || !ok) this.#sendUtf8 = undefined;
    if (!ok) {
      v.reset();
      throw new WebSocketError(ErrorCode.InvalidArgument, 'text messages must be valid UTF-8');
    }
  }

  /**
   * Writes a frame prepared once for a broadcast, unless the transport has more than
   * `limit` bytes from earlier turns: then the connection is skipped, or closed with 1013.
   */
  sendPrepared(frame: PreparedFrame, limit: number, overflow: 'close' | 'skip'): boolean {
    const conn = this.conn;
    if (this.readyState !== OPEN) return false;
    // A burst written in this turn is not held against a client that reads.
    if (this.transportBacklog > limit) {
      // Too slow for broadcasts: its backlog stays bounded by the limit and one turn's messages.
      diag.stalled(this, overflow === 'close' ? 'broadcast-close' : 'broadcast-skip', this.transportBacklog);
      if (overflow === 'close') {
        conn.close(CloseCode.TryAgainLater, 'too slow: broadcast backlog over the limit');
        this.armCloseTimer();
      }
      return false;
    }
    conn.sendPrepared(frame);
    diag.sent(this, frame.payload.length, frame.opcode === Opcode.Binary);
    return true;
  }

  /** A small message framed straight into this turn's output buffer, when the core allows. */
  sendSmall(opcode: typeof Opcode.Text | typeof Opcode.Binary, data: string | Uint8Array, compress: boolean): boolean {
    // A closed transport drops it, as `write` would.
    if (!this.socket.writable) return true;
    return this.conn.sendSmall(opcode, data, compress);
  }
}

/** A listener threw where no connection can fail for it: a process warning. */
export function warnListenerThrew(err: unknown, event: string): void {
  const e = err instanceof Error ? err : new Error(String(err));
  process.emitWarning(`a '${event}' listener threw: ${e.message}`, { code: 'WS13_LISTENER_ERROR', detail: e.stack ?? '' });
}
