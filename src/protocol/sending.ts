// The sending half of a connection (RFC 6455 §5.2–§5.5, RFC 7692 §6–§7.2.1): every frame
// byte the core produces comes from here, through the host's `FrameOutput`.
import { CloseCode, MAX_CONTROL_PAYLOAD, Opcode, type Role } from './constants.js';
import { ErrorCode, WebSocketError } from './errors.js';
import { encodeHeader, encodeMaskedFrame, writeSmallFrameHeader, writeSmallMaskedFrame } from './frame.js';
import { pooledMaskSource, type MaskSource } from './mask.js';
import { concatBytes } from './bytes.js';
import { EMPTY, OPEN, closeBody, type ConnectionState } from './closing.js';
import { DEFAULT_DEFLATE_THRESHOLD, type DeflateCodec } from './extensions/permessage-deflate.js';

/** Called once written bytes were handed on to the transport (or failed to be). */
export type WriteCallback = (err?: Error | null) => void;

/** Where the core's frame bytes go: the host's transport. */
export interface FrameOutput {
  /**
   * Write `data` to the transport, after everything written before. A frame comes as two
   * calls (header, payload) and a send as several frames: hosts should batch the writes of
   * one turn of their event loop. `payload`: on the last write of a data frame, how many
   * bytes of the application's data it carries (before compression), for `bufferedAmount`.
   */
  write(data: Uint8Array, done?: WriteCallback, payload?: number): void;
  /**
   * Optional, for small frames: room for `n` bytes in the host's output buffer, returned as
   * that buffer; the frame goes at `reservedAt`. The core fills it and calls `commit` before
   * any other call. Without it, every frame goes through `write`.
   */
  reserve?(n: number): Uint8Array;
  /** Where the room of the last `reserve` starts. */
  readonly reservedAt?: number;
  /** `bytes` were written at `reservedAt`, `payload` of them the application's. */
  commit?(bytes: number, payload: number): void;
  /**
   * Optional: a prepared frame (`sendPrepared`), header then payload, in one call, when its
   * turn comes; a host may place the bytes of frames shared by many connections as it likes.
   * Without it, the header and the payload go through `write`.
   */
  writePrepared?(frame: PreparedFrame, done?: WriteCallback): void;
}

export interface SendingOptions {
  role: Role;
  /** Mask key source for the client role. Defaults to a pool filled by `crypto.getRandomValues`. */
  maskSource?: MaskSource;
  /** The permessage-deflate codec, when that extension was negotiated (RFC 7692). */
  deflate?: DeflateCodec;
  /** Messages under this many bytes go uncompressed (default 1024). */
  deflateThreshold?: number;
  /**
   * Writes `text` as UTF-8 at `at` in `buf` (at most `max` bytes; a lone surrogate as U+FFFD)
   * and returns the bytes written. Default: `TextEncoder.encodeInto`.
   */
  encodeInto?: (text: string, buf: Uint8Array, at: number, max: number) => number;
}

/** A frame encoded once, to be written to many server-side connections (a broadcast). */
export interface PreparedFrame {
  readonly opcode: number;
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
}

/** RSV1: "Per-Message Compressed" (RFC 7692 §6). */
export const RSV1 = 4;
/** Messages up to this many bytes (or UTF-16 units) may take `sendSmall`. */
export const SMALL_MESSAGE = 125;

/**
 * Encodes an unmasked, final data frame for `Connection.sendPrepared` (server role).
 * `compressed`: the payload is a whole message compressed without context takeover, sent
 * with RSV1 (RFC 7692 §6), only to connections that agreed permessage-deflate.
 */
export function prepareFrame(opcode: number, payload: Uint8Array, compressed = false): PreparedFrame {
  return { opcode, header: encodeHeader(opcode, payload.length, true, compressed ? RSV1 : 0, undefined), payload };
}

const textEncoder = new TextEncoder();
function encodeInto(text: string, buf: Uint8Array, at: number, max: number): number {
  return textEncoder.encodeInto(text, buf.subarray(at, at + max)).written;
}

/** What `SendingOptions` resolve to (see `resolveSendProfile`). */
export interface SendProfile {
  readonly role: Role;
  /** RFC 6455 §5.3: a client MUST mask every frame; a server MUST NOT. */
  readonly mask: MaskSource | undefined;
  readonly threshold: number;
  readonly encodeInto: (text: string, buf: Uint8Array, at: number, max: number) => number;
}

export function resolveSendProfile(options: SendingOptions): SendProfile {
  return {
    role: options.role,
    mask: options.role === 'client' ? (options.maskSource ?? getDefaultMask()) : undefined,
    threshold: options.deflateThreshold ?? DEFAULT_DEFLATE_THRESHOLD,
    encodeInto: options.encodeInto ?? encodeInto,
  };
}

/** `Sending.bits`: the message being sent in fragments is compressed. */
const SENDING_COMPRESSED = 1;

let defaultMask: MaskSource | undefined;
function getDefaultMask(): MaskSource {
  return (defaultMask ??= pooledMaskSource((b) => globalThis.crypto.getRandomValues(b)));
}

/** Tells a write's callback that the write was dropped. */
function dropped(done: WriteCallback | undefined): void {
  done?.(new WebSocketError(ErrorCode.InvalidState, 'the connection failed before this was sent'));
}

/**
 * Sending: data frames (fragmented, compressed, prepared or small), control frames, and
 * the queue of writes behind a compression. `Connection` adds receiving and closing.
 */
export abstract class Sending {
  protected _state: ConnectionState = OPEN;
  protected readonly out: FrameOutput;
  /** The options as resolved: one object for every connection made with the same options. */
  protected readonly profile: SendProfile;
  protected readonly codec: DeflateCodec | undefined;
  /** Opcode of the message being sent in fragments, 0 when none. */
  private sendingOpcode = 0;
  /** Boolean state of this class and `Connection`, as bits (`SENDING_COMPRESSED`, …): a field each would cost every connection 8 bytes. */
  protected bits = 0;
  /**
   * While a compression is under way, later writes wait here, in order. Each runs with
   * true, or with false when the connection failed and it is dropped.
   */
  private sendQueue: Array<(go: boolean) => void> | undefined;
  /** Application bytes accepted by `send` and not yet handed to the host (see `queuedPayload`). */
  private waiting = 0;

  constructor(profile: SendProfile, codec: DeflateCodec | undefined, out: FrameOutput) {
    this.profile = profile;
    this.out = out;
    this.codec = codec;
  }

  get role(): Role {
    return this.profile.role;
  }

  protected hasBit(bit: number): boolean {
    return (this.bits & bit) !== 0;
  }
  protected setBit(bit: number, on: boolean): void {
    this.bits = on ? this.bits | bit : this.bits & ~bit;
  }

  /** _Fail the WebSocket Connection_ (RFC 6455 §7.1.7). */
  abstract fail(err: WebSocketError): void;

  get state(): ConnectionState {
    return this._state;
  }

  /**
   * Sends a data frame. With `fin` false the message continues in later calls with the
   * same opcode (RFC 6455 §5.4); control frames may be sent in between. `compress`: this
   * message goes compressed (see `shouldCompress`); the first fragment decides.
   * @throws WebSocketError WS_ERR_INVALID_STATE after a close frame was sent or received.
   */
  send(
    opcode: typeof Opcode.Text | typeof Opcode.Binary,
    data: Uint8Array,
    fin = true,
    done?: WriteCallback,
    compress = false,
  ): void {
    this.assertCanSend();
    let wire: number = opcode;
    if (this.sendingOpcode !== 0) {
      if (opcode !== this.sendingOpcode) {
        throw new WebSocketError(ErrorCode.InvalidState, 'a fragmented message of the other type is being sent');
      }
      wire = Opcode.Continuation;
    }
    const first = wire === opcode;
    this.sendingOpcode = fin ? 0 : opcode;
    // A message is compressed or not as a whole, as its first fragment decided (RFC 7692 §6).
    if (first) this.setBit(SENDING_COMPRESSED, compress && this.codec !== undefined);
    if (this.hasBit(SENDING_COMPRESSED)) {
      this.waiting += data.length;
      this.sendCompressed(wire, data, fin, first, done);
    } else if (this.sendQueue) {
      this.behindCompression(data.length, () => this.writeFrame(wire, data, fin, done, 0, data.length), done);
    } else {
      this.writeFrame(wire, data, fin, done, 0, data.length);
    }
  }

  /**
   * Whether a message of `size` bytes should go compressed: permessage-deflate is in use,
   * the codec compresses, the caller allows it, and it is at least the threshold. The one
   * place this is decided.
   */
  shouldCompress(size: number, allowed = true): boolean {
    return allowed && this.codec !== undefined && this.codec.canCompress !== false && size >= this.profile.threshold;
  }

  /**
   * A whole, small message (at most 125 bytes or UTF-16 units) framed straight into the
   * host's output buffer (`FrameOutput.reserve`): no header or payload objects of its own.
   * Returns false, having sent nothing, where that does not apply: a host without
   * `reserve`, a message that would be compressed, or while anything else must go first
   * (a compression, a fragmented message); then use `send`. A client's frame is masked in
   * place (RFC 6455 §5.3).
   * @throws WebSocketError WS_ERR_INVALID_STATE after a close frame was sent or received.
   */
  sendSmall(opcode: typeof Opcode.Text | typeof Opcode.Binary, data: string | Uint8Array, compress = true): boolean {
    const out = this.out;
    if (data.length > SMALL_MESSAGE || out.reserve === undefined) return false;
    this.assertCanSend();
    if (this.sendQueue !== undefined || this.sendingOpcode !== 0) return false;
    // At most 3 UTF-8 bytes per UTF-16 unit.
    const max = typeof data === 'string' ? 3 * data.length : data.length;
    if (this.shouldCompress(max, compress)) return false;
    const mask = this.profile.mask;
    // The payload goes where the shortest header ends; a 16-bit length moves it on.
    const head = mask === undefined ? 2 : 6;
    const buf = out.reserve(head + 2 + max);
    const at = out.reservedAt!;
    let n: number;
    if (typeof data === 'string') {
      n = this.profile.encodeInto(data, buf, at + head, max);
    } else {
      buf.set(data, at + head);
      n = data.length;
    }
    out.commit!(mask === undefined ? writeSmallFrameHeader(buf, at, opcode, n) : writeSmallMaskedFrame(buf, at, opcode, n, mask), n);
    return true;
  }

  /**
   * Application bytes accepted by `send` (and `sendPrepared`) that were not yet handed to
   * the host: being compressed, or waiting behind a compression. Counted before compression,
   * as browsers count `bufferedAmount`.
   */
  get queuedPayload(): number {
    return this.waiting;
  }

  /** Whether permessage-deflate is in use. */
  get compression(): boolean {
    return this.codec !== undefined;
  }

  /** Sends a text message from a string. */
  sendText(text: string, done?: WriteCallback): void {
    this.send(Opcode.Text, textEncoder.encode(text), true, done);
  }

  /** Writes a frame prepared once for many connections (server role only). */
  sendPrepared(frame: PreparedFrame, done?: WriteCallback): void {
    this.assertCanSend();
    if (this.role !== 'server') throw new WebSocketError(ErrorCode.InvalidState, 'prepared frames are unmasked: server only');
    if (this.sendingOpcode !== 0) throw new WebSocketError(ErrorCode.InvalidState, 'a fragmented message is being sent');
    const n = frame.payload.length;
    if (this.sendQueue) this.behindCompression(n, () => this.writePrepared(frame, done), done);
    else this.writePrepared(frame, done);
  }

  private writePrepared(frame: PreparedFrame, done: WriteCallback | undefined): void {
    const out = this.out;
    if (out.writePrepared !== undefined) out.writePrepared(frame, done);
    else this.writeParts(frame.header, frame.payload, done, frame.payload.length);
  }

  /**
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for more than 125 bytes (RFC 6455 §5.5),
   * WS_ERR_INVALID_STATE once closing.
   */
  ping(payload: Uint8Array = EMPTY, done?: WriteCallback): void {
    this.sendControl(Opcode.Ping, payload, done);
  }

  /** An unsolicited pong is a heartbeat (RFC 6455 §5.5.3). @throws as `ping`. */
  pong(payload: Uint8Array = EMPTY, done?: WriteCallback): void {
    this.sendControl(Opcode.Pong, payload, done);
  }

  private sendControl(opcode: number, payload: Uint8Array, done?: WriteCallback): void {
    this.assertCanSend();
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new WebSocketError(ErrorCode.InvalidArgument, 'control frame payload over 125 bytes');
    }
    this.sendFrame(opcode, payload, true, done);
  }

  protected assertCanSend(): void {
    // §5.5.1: after sending a close frame, no more data frames.
    if (this._state.kind !== 'open') throw new WebSocketError(ErrorCode.InvalidState, 'the connection is closing or closed');
  }

  /**
   * Compresses and sends a message or one fragment of it, RSV1 on the first frame only
   * (RFC 7692 §7.2.1, §6).
   */
  private sendCompressed(opcode: number, data: Uint8Array, fin: boolean, first: boolean, done?: WriteCallback): void {
    if (this.sendQueue) {
      this.sendQueue.push((go) => {
        if (go) return this.sendCompressed(opcode, data, fin, first, done);
        this.waiting -= data.length;
        dropped(done);
      });
      return;
    }
    const queue: Array<(go: boolean) => void> = [];
    this.sendQueue = queue;
    this.codec!.compress(data, fin, (err, out) => {
      this.waiting -= data.length;
      // The connection failed meanwhile: nothing more goes out.
      if (this.sendQueue !== queue) return dropped(done);
      this.sendQueue = undefined;
      if (err) {
        dropped(done);
        this.fail(new WebSocketError(ErrorCode.Internal, 'compression failed', { closeCode: CloseCode.InternalError, cause: err }));
        return;
      }
      this.writeFrame(opcode, concatBytes(out), fin, done, first ? RSV1 : 0, data.length);
      for (let i = 0; i < queue.length; i++) {
        if (this.sendQueue) {
          (this.sendQueue as Array<(go: boolean) => void>).push(...queue.slice(i));
          return;
        }
        queue[i]!(true);
      }
    });
  }

  /** Runs `f` once every write queued behind a compression has gone out. */
  protected afterSends(f: () => void): void {
    if (this.sendQueue) this.sendQueue.push((go) => go && f());
    else f();
  }

  /** Drops the writes waiting behind a compression, telling their callbacks. */
  protected dropQueue(): void {
    const q = this.sendQueue;
    this.sendQueue = undefined;
    if (q) for (const f of q) f(false);
  }

  /** Writes a close frame (RFC 6455 §5.5.1) with `code` (1005: no body) and `reason`. */
  protected writeClose(code: number, reason: Uint8Array): void {
    this.sendFrame(Opcode.Close, closeBody(code, reason), true);
  }

  protected sendFrame(opcode: number, payload: Uint8Array, fin: boolean, done?: WriteCallback): void {
    if (this.sendQueue) this.behindCompression(0, () => this.writeFrame(opcode, payload, fin, done, 0, 0), done);
    else this.writeFrame(opcode, payload, fin, done, 0, 0);
  }

  /**
   * Queues a write behind the compression under way (callers check `sendQueue`, so the
   * common case makes no closure); `app` application bytes count as waiting meanwhile.
   */
  private behindCompression(app: number, write: () => void, done: WriteCallback | undefined): void {
    this.waiting += app;
    this.sendQueue!.push((go) => {
      this.waiting -= app;
      if (go) write();
      else dropped(done);
    });
  }

  /** `app`: the application's bytes this frame carries (0 for control frames). */
  private writeFrame(opcode: number, payload: Uint8Array, fin: boolean, done: WriteCallback | undefined, rsv: number, app: number): void {
    const mask = this.profile.mask;
    if (mask) {
      this.out.write(encodeMaskedFrame(opcode, payload, fin, rsv, mask), done, app);
      return;
    }
    this.writeParts(encodeHeader(opcode, payload.length, fin, rsv, undefined), payload, done, app);
  }

  /** Header and payload as two writes, never copied here: the host batches its writes. */
  private writeParts(header: Uint8Array, payload: Uint8Array, done: WriteCallback | undefined, app: number): void {
    if (payload.length === 0) {
      this.out.write(header, done, app);
    } else {
      this.out.write(header);
      this.out.write(payload, done, app);
    }
  }
}
