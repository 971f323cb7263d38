import { CloseCode, MAX_CONTROL_PAYLOAD, Opcode, isValidCloseCode, type Role } from './constants.js';
import { ErrorCode, WebSocketError, protocolError } from './errors.js';
import { FrameParser, encodeHeader, encodeMaskedFrame, type FrameSink } from './frame.js';
import { pooledMaskSource, type MaskSource } from './mask.js';
import { Utf8Validator, isValidUtf8 } from './utf8.js';
import { InflateLimitError, type DeflateCodec } from './extensions/permessage-deflate.js';

/** Called once written bytes were handed on to the transport (or failed to be). */
export type WriteCallback = (err?: Error | null) => void;

/**
 * What the host (the I/O layer) provides. The core calls these synchronously; it never
 * touches a socket itself.
 */
export interface ConnectionHandler {
  /**
   * Write `data` to the transport, after everything written before. A frame comes as two
   * calls (header, payload) and a send as several frames: hosts should batch the writes of
   * one turn of their event loop. `payload`: on the last write of a data frame, how many
   * bytes of the application's data it carries (before compression), for `bufferedAmount`.
   */
  write(data: Uint8Array, done?: WriteCallback, payload?: number): void;
  /**
   * A complete message. `data` may be a view into received chunks: copy it to keep it past
   * this call if needed. `ascii`: text found to be all ASCII (it decodes as Latin-1 too).
   */
  message(data: Uint8Array, text: boolean, ascii?: boolean): void;
  ping(payload: Uint8Array): void;
  pong(payload: Uint8Array): void;
  /** The connection failed (RFC 6455 §7.1.7); `shutdown()` follows. */
  error(err: WebSocketError): void;
  /**
   * Nothing more will be sent or parsed: the closing handshake completed, or the connection
   * failed. The host now closes the transport as its role requires (RFC 6455 §7.1.1): a
   * server closes TCP at once; a client waits for the server to, with a timeout.
   */
  shutdown(): void;
}

export interface ConnectionOptions {
  role: Role;
  /** Largest message (sum of its frames' payloads) accepted; larger closes with 1009. */
  maxPayload?: number;
  /** Mask key source for the client role. Defaults to a pool filled by `crypto.getRandomValues`. */
  maskSource?: MaskSource;
  /** A fast whole-buffer UTF-8 check (e.g. Node's `buffer.isUtf8`) for single-part messages. */
  isUtf8?: (data: Uint8Array) => boolean;
  /** The permessage-deflate codec, when that extension was negotiated (RFC 7692). */
  deflate?: DeflateCodec;
  /** Allocates a buffer whose contents will all be overwritten (in Node, an unzeroed one). */
  allocate?: (size: number) => Uint8Array;
}

/** A close frame's content. `code` is 1005 when the frame carried none. */
export interface CloseFrame {
  readonly code: number;
  readonly reason: string;
}

/** The connection's state (RFC 6455 §4.1 _The WebSocket Connection is established_ onwards). */
export type ConnectionState =
  | { readonly kind: 'open' }
  /** We sent a close frame and wait for the peer's. */
  | { readonly kind: 'closing'; readonly sent: CloseFrame }
  /** No more frames either way: the closing handshake completed, or the connection failed. */
  | {
      readonly kind: 'closed';
      readonly sent: CloseFrame | undefined;
      readonly received: CloseFrame | undefined;
      /** The peer's close frame came before ours (only meaningful when both exist). */
      readonly receivedFirst: boolean;
      readonly error: WebSocketError | undefined;
    };

/** A frame encoded once, to be written to many server-side connections (a broadcast). */
export interface PreparedFrame {
  readonly opcode: number;
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
}

/**
 * Encodes an unmasked, final data frame for `Connection.sendPrepared` (server role).
 * `compressed`: the payload is a whole message compressed without context takeover, sent
 * with RSV1 (RFC 7692 §6), only to connections that agreed permessage-deflate.
 */
export function prepareFrame(opcode: number, payload: Uint8Array, compressed = false): PreparedFrame {
  return { opcode, header: encodeHeader(opcode, payload.length, true, compressed ? RSV1 : 0, undefined), payload };
}

const EMPTY = new Uint8Array(0);
/** The open state carries nothing: one object serves every connection. */
const OPEN: ConnectionState = Object.freeze({ kind: 'open' });
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
/** RSV1: "Per-Message Compressed" (RFC 7692 §6). */
const RSV1 = 4;

let defaultMask: MaskSource | undefined;
function getDefaultMask(): MaskSource {
  return (defaultMask ??= pooledMaskSource((b) => globalThis.crypto.getRandomValues(b)));
}

/** How far beyond the bytes received a message's buffer may be sized from its frame headers. */
const HINT_SLACK = 256 * 1024;

/**
 * A data message being received (RFC 6455 §5.4). A message that arrives as one part is kept
 * as a view of the received chunk (no copy); one that arrives in parts is copied into one
 * growing buffer, so the memory it holds follows its payload bytes, not its fragment count.
 */
class Receiving {
  /** Opcode of the message being received, 0 when none. */
  opcode = 0;
  /** Payload bytes on the wire so far (compressed, for a compressed message). */
  length = 0;
  /** RSV1 was set on the message's first frame. */
  compressed = false;
  inflatedLength = 0;
  /** The compressed message's end (and the 00 00 ff ff tail) went to the codec. */
  inflateFed = false;
  /** Whether the incremental validator has seen this message (vs. the fast whole check). */
  utf8Streaming = false;
  /** A text message in one part found to be all ASCII. */
  ascii = false;
  /** Parts kept so far: 0, 1 (in `whole`), or more (copied into `buf`). */
  count = 0;
  /** The message when it came as one part: a view, not a copy. */
  private whole: Uint8Array = EMPTY;
  /** The message's parts, copied, when it comes in several; `used` bytes of it are filled. */
  private buf: Uint8Array | undefined;
  private used = 0;
  private utf8Lazy: Utf8Validator | undefined;
  /** Incremental UTF-8 state, made when a text message first arrives in parts. */
  get utf8(): Utf8Validator {
    return (this.utf8Lazy ??= new Utf8Validator());
  }

  start(opcode: number, compressed: boolean): void {
    this.opcode = opcode;
    this.length = 0;
    this.utf8Streaming = false;
    this.ascii = false;
    this.compressed = compressed;
    this.inflatedLength = 0;
    this.inflateFed = false;
  }

  /**
   * Keeps a part of the message. `only`: it is the whole message, kept as a view. Other
   * parts are copied, since a view would keep its whole socket chunk alive: a million
   * one-byte fragments would hold a million chunks. `expect`: the bytes the message is known
   * to have so far (its frames' lengths), the buffer's first size; `limit` bounds its growth.
   */
  add(data: Uint8Array, only: boolean, expect: number, limit: number, allocate: (size: number) => Uint8Array): void {
    if (only && this.count === 0) {
      this.count = 1;
      this.whole = data;
      return;
    }
    if (this.count === 1 && this.buf === undefined) {
      // A second part after a whole one (inflated output can come in pieces): copy it in.
      const w = this.whole;
      this.whole = EMPTY;
      this.count = 0;
      this.add(w, false, expect, limit, allocate);
    }
    this.count++;
    const need = this.used + data.length;
    let buf = this.buf;
    if (buf === undefined || buf.length < need) {
      // Doubling keeps the copying linear; never past the message size limit.
      // The announced size saves a copy, but is only believed up to HINT_SLACK beyond what
      // arrived: a header may announce gigabytes and send none of them.
      const grow = Math.max(need, 2 * (buf?.length ?? 0), 1024);
      const size = Math.min(Math.max(grow, Math.min(expect, need + HINT_SLACK)), Math.max(limit, need));
      const grown = allocate(size);
      if (buf !== undefined) grown.set(buf.subarray(0, this.used));
      this.buf = buf = grown;
    }
    buf.set(data, this.used);
    this.used = need;
  }

  /** The message's bytes: the single view as it is, or the copied parts. */
  take(): Uint8Array {
    const n = this.count;
    this.count = 0;
    if (n === 1 && this.buf === undefined) {
      const w = this.whole;
      this.whole = EMPTY;
      return w;
    }
    if (n === 0) return EMPTY;
    const out = this.buf!.subarray(0, this.used);
    this.buf = undefined;
    this.used = 0;
    return out;
  }
}

/**
 * The WebSocket protocol after the opening handshake (RFC 6455 §5–§7), free of I/O:
 * bytes go in through `receiveData`/`receiveEof`, and out through the handler.
 */
export class Connection implements FrameSink {
  readonly role: Role;
  private _state: ConnectionState = OPEN;
  private readonly parser: FrameParser;
  private readonly handler: ConnectionHandler;
  private readonly maxPayload: number;
  private readonly mask: MaskSource | undefined;
  private readonly isUtf8: (data: Uint8Array) => boolean;
  private readonly codec: DeflateCodec | undefined;
  private readonly allocate: (size: number) => Uint8Array;
  private paused = false;
  private parsing = false;
  /** Waiting for the codec: parsing resumes in its callback. */
  private inflating = false;

  // Current incoming frame.
  private frameOpcode = 0;
  private frameFin = false;
  private controlParts: Uint8Array[] | undefined;
  /**
   * The data message being received, made with the first one: connections that only
   * ever receive control frames (subscribers, say) never hold it.
   */
  private msg: Receiving | undefined;
  // Outgoing fragmentation: opcode of the message being sent in fragments, 0 when none.
  private sendingOpcode = 0;
  /** The message being sent is compressed. */
  private sendingCompressed = false;
  /**
   * While a compression is under way, later writes wait here, in order. Each runs with
   * true, or with false when the connection failed and it is dropped.
   */
  private sendQueue: Array<(go: boolean) => void> | undefined;
  /** Application bytes accepted by `send` and not yet handed to the host (see `queuedPayload`). */
  private waiting = 0;

  constructor(options: ConnectionOptions, handler: ConnectionHandler) {
    this.role = options.role;
    this.handler = handler;
    this.maxPayload = options.maxPayload ?? Infinity;
    // RFC 6455 §5.3: a client MUST mask every frame; a server MUST NOT.
    this.mask = options.role === 'client' ? (options.maskSource ?? getDefaultMask()) : undefined;
    this.isUtf8 = options.isUtf8 ?? isValidUtf8;
    this.codec = options.deflate;
    this.allocate = options.allocate ?? ((n) => new Uint8Array(n));
    this.parser = new FrameParser(this);
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Bytes received and not yet parsed (while paused, for instance). */
  get receiveBuffered(): number {
    return this.parser.bufferedAmount;
  }

  // ---- input -------------------------------------------------------------------------

  /**
   * Feeds bytes read from the transport. The connection takes ownership of `data`: it
   * unmasks payloads in place and may hand views of it to `message`.
   */
  receiveData(data: Uint8Array): void {
    if (this._state.kind === 'closed') return;
    this.parser.push(data);
    this.run();
  }

  /**
   * The transport's read side ended. If the closing handshake did not complete, the
   * connection closed abnormally (RFC 6455 §7.1.5: code 1006).
   */
  receiveEof(): void {
    if (this._state.kind === 'closed') return;
    const sent = this._state.kind === 'closing' ? this._state.sent : undefined;
    this.parser.stop();
    this.dropQueue();
    this._state = { kind: 'closed', sent, received: undefined, receivedFirst: false, error: undefined };
    this.handler.shutdown();
  }

  /** Stops handing out messages until `resume()`; incoming bytes stay buffered. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.run();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  private run(): void {
    if (this.parsing || this.paused || this.inflating) return;
    this.parsing = true;
    try {
      this.parser.parse();
    } catch (err) {
      this.fail(
        err instanceof WebSocketError
          ? err
          : new WebSocketError(ErrorCode.Internal, 'internal error', { closeCode: CloseCode.InternalError, cause: err }),
      );
    } finally {
      this.parsing = false;
    }
  }

  // ---- FrameSink ---------------------------------------------------------------------

  /** @internal Validates a frame header (RFC 6455 §5.2–§5.5) before any payload is read. */
  frameHeader(fin: boolean, rsv: number, opcode: number, length: number, masked: boolean): boolean {
    if (this._state.kind === 'closed') return false;
    /** Opcode of the data message under way, 0 when none. */
    const current = this.msg?.opcode ?? 0;
    // RFC 6455 §5.2: RSV bits MUST be 0 unless an extension defines them. RFC 7692 §6:
    // permessage-deflate defines RSV1, on the first frame of a data message only.
    if (rsv !== 0) {
      const firstDataFrame = (opcode === Opcode.Text || opcode === Opcode.Binary) && current === 0;
      if (rsv !== RSV1 || !this.codec || !firstDataFrame) {
        return this.failWith(protocolError(ErrorCode.UnexpectedRsv, 'reserved bits set'));
      }
    }
    // §5.1: a server MUST close on an unmasked frame; a client on a masked one.
    if (masked !== (this.role === 'server')) {
      return this.failWith(
        this.role === 'server'
          ? protocolError(ErrorCode.ExpectedMask, 'client frame not masked')
          : protocolError(ErrorCode.UnexpectedMask, 'server frame masked'),
      );
    }
    if (opcode >= 0x8) {
      // §5.5: control frames are 0x8–0xA, at most 125 bytes, and MUST NOT be fragmented.
      if (opcode > Opcode.Pong) return this.failWith(protocolError(ErrorCode.InvalidOpcode, `reserved opcode ${opcode}`));
      if (!fin) return this.failWith(protocolError(ErrorCode.FragmentedControl, 'fragmented control frame'));
      if (length > MAX_CONTROL_PAYLOAD) return this.failWith(protocolError(ErrorCode.ControlTooLong, 'control frame too long'));
    } else {
      if (opcode === Opcode.Continuation) {
        // §5.4: a continuation frame continues a message that was started.
        if (current === 0) return this.failWith(protocolError(ErrorCode.UnexpectedContinuation, 'continuation without a message'));
      } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
        // §5.4: fragments of one message MUST NOT be interleaved with another message.
        if (current !== 0) return this.failWith(protocolError(ErrorCode.ExpectedContinuation, 'new message inside a fragmented one'));
        (this.msg ??= new Receiving()).start(opcode, rsv === RSV1);
      } else {
        return this.failWith(protocolError(ErrorCode.InvalidOpcode, `reserved opcode ${opcode}`));
      }
      // §10.4: limits are checked from the header, before the payload is buffered.
      const m = this.msg!;
      m.length += length;
      if (m.length > this.maxPayload) {
        return this.failWith(
          new WebSocketError(ErrorCode.MessageTooBig, 'message too big', { closeCode: CloseCode.MessageTooBig }),
        );
      }
    }
    this.frameOpcode = opcode;
    this.frameFin = fin;
    return true;
  }

  /** @internal */
  framePayload(data: Uint8Array, last: boolean): boolean {
    if (this.frameOpcode >= 0x8) {
      (this.controlParts ??= []).push(data);
      return true;
    }
    const m = this.msg!;
    if (m.compressed) {
      const fin = last && this.frameFin;
      m.inflateFed = fin;
      return this.inflate(m, data, fin, false);
    }
    if (m.opcode === Opcode.Text) {
      // §8.1: fail as soon as a byte cannot be UTF-8, even mid-frame. A message that arrives
      // in one part takes the fast whole-buffer check instead.
      const whole = this.frameFin && m.count === 0 && data.length === m.length;
      if (whole && !m.utf8Streaming) {
        m.ascii = isShortAscii(data);
        if (!m.ascii && !this.isUtf8(data)) return this.failWith(invalidUtf8('invalid UTF-8 in text message'));
      } else {
        m.utf8Streaming = true;
        if (!this.checkUtf8Part(m, data)) return this.failWith(invalidUtf8('invalid UTF-8 in text message'));
      }
    }
    m.add(data, last && this.frameFin && m.count === 0 && data.length === m.length, m.length, this.maxPayload, this.allocate);
    return true;
  }

  /** Validates one part of a text message as it arrives (RFC 6455 §8.1: fail fast). */
  private checkUtf8Part(m: Receiving, data: Uint8Array): boolean {
    return data.length >= 256 ? m.utf8.pushWith(data, this.isUtf8) : m.utf8.push(data);
  }

  /** @internal */
  frameEnd(): boolean {
    const opcode = this.frameOpcode;
    if (opcode >= 0x8) {
      const payload = this.controlParts ? concat(this.controlParts, -1) : EMPTY;
      this.controlParts = undefined;
      return this.control(opcode, payload);
    }
    if (!this.frameFin) return true;
    const m = this.msg!;
    if (m.compressed && !m.inflateFed) {
      // The last frame was empty: the codec still needs the message's end.
      m.inflateFed = true;
      return this.inflate(m, EMPTY, true, true);
    }
    return this.finishMessage(m);
  }

  /** Delivers the message just completed. */
  private finishMessage(m: Receiving): boolean {
    const text = m.opcode === Opcode.Text;
    if (text && m.utf8Streaming && !m.utf8.finish()) {
      return this.failWith(invalidUtf8('invalid UTF-8 in text message'));
    }
    const data = m.take();
    m.opcode = 0;
    m.length = 0;
    this.handler.message(data, text, m.ascii);
    return this.canContinue();
  }

  /**
   * Hands compressed bytes to the codec. Returns true to go on parsing (the codec answered
   * at once); false when it failed or will answer later (RFC 7692 §7.2.2).
   */
  private inflate(m: Receiving, data: Uint8Array, fin: boolean, finishAfter: boolean): boolean {
    let sync = true;
    let ok = false;
    this.inflating = true;
    this.codec!.decompress(data, fin, this.maxPayload - m.inflatedLength, (err, out) => {
      this.inflating = false;
      if (this._state.kind === 'closed') return;
      ok = this.inflated(m, err, out, fin) && (!finishAfter || this.finishMessage(m));
      if (sync) return;
      // Answered later: go on where parsing stopped.
      if (ok) this.run();
    });
    sync = false;
    if (this.inflating) return false;
    return ok && this.canContinue();
  }

  /** Takes inflated output: limit, UTF-8 (failing fast), and keeps it for the message. */
  private inflated(m: Receiving, err: Error | null, out: Uint8Array[], fin: boolean): boolean {
    if (err) {
      return this.failWith(
        err instanceof InflateLimitError
          ? new WebSocketError(ErrorCode.MessageTooBig, 'message too big once inflated', { closeCode: CloseCode.MessageTooBig })
          : new WebSocketError(ErrorCode.InvalidCompressedData, 'invalid compressed data', { closeCode: CloseCode.InvalidPayload }),
      );
    }
    const text = m.opcode === Opcode.Text;
    for (const chunk of out) {
      m.inflatedLength += chunk.length;
      if (m.inflatedLength > this.maxPayload) {
        return this.failWith(new WebSocketError(ErrorCode.MessageTooBig, 'message too big once inflated', { closeCode: CloseCode.MessageTooBig }));
      }
      if (text) {
        const whole = fin && !m.utf8Streaming && m.count === 0 && out.length === 1;
        if (whole) {
          if (!this.isUtf8(chunk)) return this.failWith(invalidUtf8('invalid UTF-8 in text message'));
        } else {
          m.utf8Streaming = true;
          if (!this.checkUtf8Part(m, chunk)) return this.failWith(invalidUtf8('invalid UTF-8 in text message'));
        }
      }
      m.add(chunk, fin && out.length === 1 && m.count === 0, 0, this.maxPayload, this.allocate);
    }
    return true;
  }

  private control(opcode: number, payload: Uint8Array): boolean {
    if (opcode === Opcode.Ping) {
      // §5.5.2: answer with a pong carrying the same payload, unless already closing.
      if (this._state.kind === 'open') this.sendFrame(Opcode.Pong, copy(payload), true);
      this.handler.ping(payload);
      return this.canContinue();
    }
    if (opcode === Opcode.Pong) {
      this.handler.pong(payload);
      return this.canContinue();
    }
    return this.closeFrame(payload);
  }

  /** A close frame arrived (RFC 6455 §5.5.1). */
  private closeFrame(payload: Uint8Array): boolean {
    let received: CloseFrame;
    if (payload.length === 0) {
      received = { code: CloseCode.NoStatus, reason: '' };
    } else if (payload.length === 1) {
      return this.failWith(protocolError(ErrorCode.InvalidClosePayload, 'close frame with a 1-byte payload'));
    } else {
      const code = (payload[0]! << 8) | payload[1]!;
      // §7.4: only defined or registered codes may appear on the wire.
      if (!isValidCloseCode(code)) return this.failWith(protocolError(ErrorCode.InvalidCloseCode, `invalid close code ${code}`));
      const reasonBytes = payload.subarray(2);
      // §5.5.1: the reason is UTF-8.
      if (!isValidUtf8(reasonBytes)) return this.failWith(invalidUtf8('invalid UTF-8 in close reason'));
      received = { code, reason: textDecoder.decode(reasonBytes) };
    }
    const state = this._state;
    let sent: CloseFrame | undefined;
    if (state.kind === 'open') {
      // §5.5.1: reply with a close frame, echoing the status code received (and, as
      // `ws` and Python `websockets` do, the reason, so both ends report the same).
      sent = received;
      this.writeClose(received.code, payload.length > 2 ? copy(payload.subarray(2)) : EMPTY);
    } else if (state.kind === 'closing') {
      sent = state.sent;
    } else {
      return false;
    }
    this.parser.stop();
    this._state = { kind: 'closed', sent, received, receivedFirst: state.kind === 'open', error: undefined };
    // After any message still being compressed, and our close frame, are written.
    this.afterSends(() => this.handler.shutdown());
    return false;
  }

  private canContinue(): boolean {
    return this._state.kind !== 'closed' && !this.paused;
  }

  // ---- output ------------------------------------------------------------------------

  /**
   * Sends a data frame. With `fin` false the message continues in later calls with the
   * same opcode (RFC 6455 §5.4); control frames may be sent in between.
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
    if (first) this.sendingCompressed = compress && this.codec !== undefined;
    if (this.sendingCompressed) {
      this.waiting += data.length;
      this.sendCompressed(wire, data, fin, first, done);
    } else if (this.sendQueue) {
      this.behindCompression(data.length, () => this.writeFrame(wire, data, fin, done, 0, data.length), done);
    } else {
      this.writeFrame(wire, data, fin, done, 0, data.length);
    }
  }

  /**
   * Application bytes accepted by `send` (and `sendPrepared`) that were not yet handed to
   * the host: being compressed, or waiting behind a compression. Counted before compression,
   * as browsers count `bufferedAmount`.
   */
  get queuedPayload(): number {
    return this.waiting;
  }

  /**
   * Whether the host may write a final, unmasked, uncompressed data frame of its own right
   * now (server role, open, nothing queued behind a compression, no fragmented message
   * being sent): the host's fast path for small messages (`writeSmallFrameHeader`).
   */
  get canWriteDirect(): boolean {
    return this._state.kind === 'open' && this.mask === undefined && this.sendQueue === undefined && this.sendingOpcode === 0;
  }

  /** Whether permessage-deflate is in use. */
  get compression(): boolean {
    return this.codec !== undefined;
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
      this.writeFrame(opcode, concat(out, -1), fin, done, first ? RSV1 : 0, data.length);
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
  private afterSends(f: () => void): void {
    if (this.sendQueue) this.sendQueue.push((go) => go && f());
    else f();
  }

  /** Drops the writes waiting behind a compression, telling their callbacks. */
  private dropQueue(): void {
    const q = this.sendQueue;
    this.sendQueue = undefined;
    if (q) for (const f of q) f(false);
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
    if (this.sendQueue) this.behindCompression(n, () => this.writeParts(frame.header, frame.payload, done, n), done);
    else this.writeParts(frame.header, frame.payload, done, n);
  }

  /**
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for more than 125 bytes (RFC 6455 §5.5),
   * WS_ERR_INVALID_STATE once closing.
   */
  ping(payload: Uint8Array = EMPTY, done?: WriteCallback): void {
    this.control_(Opcode.Ping, payload, done);
  }

  /** An unsolicited pong is a heartbeat (RFC 6455 §5.5.3). @throws as `ping`. */
  pong(payload: Uint8Array = EMPTY, done?: WriteCallback): void {
    this.control_(Opcode.Pong, payload, done);
  }

  private control_(opcode: number, payload: Uint8Array, done?: WriteCallback): void {
    this.assertCanSend();
    if (payload.length > MAX_CONTROL_PAYLOAD) {
      throw new WebSocketError(ErrorCode.InvalidArgument, 'control frame payload over 125 bytes');
    }
    this.sendFrame(opcode, payload, true, done);
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2). Without a code, the close frame has no
   * body (the peer sees 1005). Does nothing when already closing or closed.
   * @throws WebSocketError WS_ERR_INVALID_CLOSE_CODE for a code not allowed on the wire,
   * WS_ERR_INVALID_CLOSE_REASON for a reason over 123 UTF-8 bytes or without a code.
   */
  close(code?: number, reason = ''): void {
    const reasonBytes = validateClose(code, reason);
    if (this._state.kind !== 'open') return;
    const c = code ?? CloseCode.NoStatus;
    this.writeClose(c, reasonBytes);
    this._state = { kind: 'closing', sent: { code: c, reason } };
  }

  /**
   * _Fail the WebSocket Connection_ (RFC 6455 §7.1.7): send a close frame with the error's
   * code unless one was sent already or the code is 1006, stop parsing, and shut down.
   */
  fail(err: WebSocketError): void {
    const state = this._state;
    if (state.kind === 'closed') return;
    this.parser.stop();
    // Failing: what waits behind a compression is dropped; the close frame goes now.
    this.dropQueue();
    let sent = state.kind === 'closing' ? state.sent : undefined;
    const code = err.closeCode ?? CloseCode.InternalError;
    if (state.kind === 'open' && code !== CloseCode.Abnormal) {
      // §7.4.1 1011: internal details stay private. §5.5: the reason fits in 123 bytes.
      const reasonBytes = code === CloseCode.InternalError ? EMPTY : truncateUtf8(textEncoder.encode(err.message), 123);
      sent = { code, reason: textDecoder.decode(reasonBytes) };
      this.writeClose(code, reasonBytes);
    }
    this._state = { kind: 'closed', sent, received: undefined, receivedFirst: false, error: err };
    this.handler.error(err);
    this.handler.shutdown();
  }

  private failWith(err: WebSocketError): false {
    this.fail(err);
    return false;
  }

  private assertCanSend(): void {
    // §5.5.1: after sending a close frame, no more data frames.
    if (this._state.kind !== 'open') throw new WebSocketError(ErrorCode.InvalidState, 'the connection is closing or closed');
  }

  private writeClose(code: number, reason: Uint8Array): void {
    if (code === CloseCode.NoStatus) {
      this.sendFrame(Opcode.Close, EMPTY, true);
      return;
    }
    const body = new Uint8Array(2 + reason.length);
    body[0] = code >> 8;
    body[1] = code & 0xff;
    body.set(reason, 2);
    this.sendFrame(Opcode.Close, body, true);
  }

  private sendFrame(opcode: number, payload: Uint8Array, fin: boolean, done?: WriteCallback): void {
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
    if (this.mask) {
      this.handler.write(encodeMaskedFrame(opcode, payload, fin, rsv, this.mask), done, app);
      return;
    }
    this.writeParts(encodeHeader(opcode, payload.length, fin, rsv, undefined), payload, done, app);
  }

  /** Header and payload as two writes, never copied here: the host batches its writes. */
  private writeParts(header: Uint8Array, payload: Uint8Array, done: WriteCallback | undefined, app: number): void {
    if (payload.length === 0) {
      this.handler.write(header, done, app);
    } else {
      this.handler.write(header);
      this.handler.write(payload, done, app);
    }
  }
}

/**
 * Checks the arguments of a close (RFC 6455 §7.4, §5.5: a control payload is at most 125
 * bytes, so a reason at most 123). Returns the reason's UTF-8 bytes.
 * @throws WebSocketError WS_ERR_INVALID_CLOSE_CODE, WS_ERR_INVALID_CLOSE_REASON
 */
export function validateClose(code: number | undefined, reason: string): Uint8Array {
  if (code === undefined) {
    if (reason !== '') throw new WebSocketError(ErrorCode.InvalidCloseReason, 'a close reason needs a close code');
    return EMPTY;
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new WebSocketError(ErrorCode.InvalidCloseCode, `close code ${code} may not be sent`);
  }
  const bytes = textEncoder.encode(reason);
  if (bytes.length > 123) throw new WebSocketError(ErrorCode.InvalidCloseReason, 'close reason longer than 123 bytes');
  return bytes;
}

/** Cuts UTF-8 bytes to at most `max`, at a character boundary. */
function truncateUtf8(b: Uint8Array, max: number): Uint8Array {
  if (b.length <= max) return b;
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

/** A short all-ASCII payload: checked here, cheaper than a call out for a few bytes. */
function isShortAscii(d: Uint8Array): boolean {
  if (d.length > 64) return false;
  let acc = 0;
  for (let i = 0; i < d.length; i++) acc |= d[i]!;
  return acc < 0x80;
}

/** Tells a write's callback that the write was dropped. */
function dropped(done: WriteCallback | undefined): void {
  done?.(new WebSocketError(ErrorCode.InvalidState, 'the connection failed before this was sent'));
}

function invalidUtf8(message: string): WebSocketError {
  return new WebSocketError(ErrorCode.InvalidUtf8, message, { closeCode: CloseCode.InvalidPayload });
}

/** Joins parts; a single part is returned as is (no copy). */
function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 0) return EMPTY;
  if (total < 0) total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function copy(data: Uint8Array): Uint8Array {
  return data.length === 0 ? EMPTY : data.slice();
}
