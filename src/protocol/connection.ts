// A WebSocket connection after the opening handshake (RFC 6455 §5–§7), free of I/O:
// receiving and closing here, sending in sending.ts, a message's parts in receiving.ts.
import { CloseCode, MAX_CONTROL_PAYLOAD, Opcode, isValidCloseCode } from './constants.js';
import { ErrorCode, WebSocketError, messageTooBig, protocolError, ProtocolError, LimitError } from './errors.js';
import { FrameParser, type FrameSink } from './frame.js';
import { isValidUtf8 } from './utf8.js';
import { concatBytes } from './bytes.js';
import { EMPTY, failureReason, validateClose, type CloseFrame } from './closing.js';
import { Receiving, isShortAscii } from './receiving.js';
import { Sending, RSV1, resolveSendProfile, type FrameOutput, type SendProfile, type SendingOptions } from './sending.js';
import type { DeflateCodec } from './extensions/permessage-deflate.js';

export type { CloseFrame, ConnectionState } from './closing.js';
export { validateClose } from './closing.js';
export { prepareFrame, type FrameOutput, type PreparedFrame, type WriteCallback } from './sending.js';

/**
 * What the host (the I/O layer) provides: where frame bytes go (`FrameOutput`), and what
 * the peer said. The core calls these synchronously; it never touches a socket itself.
 */
export interface ConnectionHandler extends FrameOutput {
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

export interface ConnectionOptions extends SendingOptions {
  /** Largest message (sum of its frames' payloads) accepted; larger closes with 1009. */
  maxPayload?: number;
  /** A fast whole-buffer UTF-8 check (e.g. Node's `buffer.isUtf8`) for single-part messages. */
  isUtf8?: (data: Uint8Array) => boolean;
  /** Allocates a buffer whose contents will all be overwritten (in Node, an unzeroed one). */
  allocate?: (size: number) => Uint8Array;
}

const textDecoder = new TextDecoder();

/**
 * Message states of finished messages, for the next message on any connection: most
 * connections are idle most of the time, and this keeps them from holding one each.
 */
const spareReceiving: Receiving[] = [];
/** The same for parsers at rest (`FrameParser.atRest`). */
const spareParsers: FrameParser[] = [];
const MAX_SPARES = 64;

/**
 * The WebSocket protocol after the opening handshake (RFC 6455 §5–§7), free of I/O:
 * bytes go in through `receiveData`/`receiveEof`, and out through the handler.
 */
/** What `ConnectionOptions` resolve to: shared by the connections made with one options object. */
interface Profile extends SendProfile {
  readonly maxPayload: number;
  readonly isUtf8: (data: Uint8Array) => boolean;
  readonly allocate: (size: number) => Uint8Array;
}
const profiles = new WeakMap<ConnectionOptions, Profile>();
function profileOf(options: ConnectionOptions): Profile {
  let p = profiles.get(options);
  if (p === undefined) {
    p = {
      ...resolveSendProfile(options),
      maxPayload: options.maxPayload ?? Infinity,
      isUtf8: options.isUtf8 ?? isValidUtf8,
      allocate: options.allocate ?? ((n) => new Uint8Array(n)),
    };
    profiles.set(options, p);
  }
  return p;
}

// `bits` of a Connection (Sending has bit 1).
const PAUSED = 2;
const PARSING = 4;
/** Waiting for the codec: parsing resumes in its callback. */
const INFLATING = 8;
/** The current incoming frame is its message's last. */
const FRAME_FIN = 16;

export class Connection extends Sending implements FrameSink {
  declare protected readonly profile: Profile;
  /** Made (or taken from the spares) when bytes come, given back once they are all parsed. */
  private parser: FrameParser | undefined;

  // Current incoming frame.
  private frameOpcode = 0;
  private controlParts: Uint8Array[] | undefined;
  /**
   * The data message being received, made with the first one: connections that only
   * ever receive control frames (subscribers, say) never hold it.
   */
  private msg: Receiving | undefined;

  /**
   * `options` are read when first used: connections made with the same options object share
   * what they resolve to. `deflate`: this connection's codec, for a host that passes one
   * options object to all its connections (default: `options.deflate`).
   */
  constructor(options: ConnectionOptions, handler: ConnectionHandler, deflate: DeflateCodec | undefined = options.deflate) {
    super(profileOf(options), deflate, handler);
  }

  /** The permessage-deflate codec, when that extension was agreed. */
  get deflate(): DeflateCodec | undefined {
    return this.codec;
  }

  private get handler(): ConnectionHandler {
    return this.out as ConnectionHandler;
  }
  private get maxPayload(): number {
    return this.profile.maxPayload;
  }

  /** Bytes received and not yet parsed (while paused, for instance). */
  get receiveBuffered(): number {
    return this.parser?.bufferedAmount ?? 0;
  }

  // ---- input -------------------------------------------------------------------------

  /**
   * Feeds bytes read from the transport. The connection takes ownership of `data`: it
   * unmasks payloads in place and may hand views of it to `message`.
   */
  receiveData(data: Uint8Array): void {
    if (this._state.kind === 'closed') return;
    (this.parser ??= spareParsers.pop()?.rebind(this) ?? new FrameParser(this)).push(data);
    this.run();
  }

  /**
   * The transport's read side ended. If the closing handshake did not complete, the
   * connection closed abnormally (RFC 6455 §7.1.5: code 1006).
   */
  receiveEof(): void {
    if (this._state.kind === 'closed') return;
    const sent = this._state.kind === 'closing' ? this._state.sent : undefined;
    this.parser?.stop();
    this.dropQueue();
    this._state = { kind: 'closed', sent, received: undefined, receivedFirst: false, error: undefined };
    this.handler.shutdown();
  }

  /** Stops handing out messages until `resume()`; incoming bytes stay buffered. */
  pause(): void {
    this.setBit(PAUSED, true);
  }

  resume(): void {
    if (!this.hasBit(PAUSED)) return;
    this.setBit(PAUSED, false);
    this.run();
  }

  get isPaused(): boolean {
    return this.hasBit(PAUSED);
  }

  private run(): void {
    if (this.hasBit(PARSING | PAUSED | INFLATING)) return;
    const parser = this.parser;
    if (parser === undefined) return;
    this.setBit(PARSING, true);
    try {
      parser.parse();
      // All parsed: an idle connection holds no parser.
      if (parser.atRest && this.parser === parser) {
        this.parser = undefined;
        if (spareParsers.length < MAX_SPARES) spareParsers.push(parser);
      }
    } catch (err) {
      this.fail(
        err instanceof WebSocketError
          ? err
          : new WebSocketError(ErrorCode.Internal, 'internal error', { closeCode: CloseCode.InternalError, cause: err }),
      );
    } finally {
      this.setBit(PARSING, false);
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
        (this.msg ??= spareReceiving.pop() ?? new Receiving()).start(opcode, rsv === RSV1);
      } else {
        return this.failWith(protocolError(ErrorCode.InvalidOpcode, `reserved opcode ${opcode}`));
      }
      // §10.4: limits are checked from the header, before the payload is buffered.
      const m = this.msg!;
      m.length += length;
      if (m.length > this.maxPayload) {
        return this.failWith(messageTooBig('message too big'));
      }
    }
    this.frameOpcode = opcode;
    this.setBit(FRAME_FIN, fin);
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
      const fin = last && this.hasBit(FRAME_FIN);
      m.inflateFed = fin;
      return this.inflate(m, data, fin, false);
    }
    if (m.opcode === Opcode.Text) {
      // §8.1: fail as soon as a byte cannot be UTF-8, even mid-frame. A message that arrives
      // in one part takes the fast whole-buffer check instead.
      const whole = this.hasBit(FRAME_FIN) && m.count === 0 && data.length === m.length;
      if (whole && !m.utf8Streaming) {
        m.ascii = isShortAscii(data);
        if (!m.ascii && !this.profile.isUtf8(data)) return this.failWith(invalidUtf8('invalid UTF-8 in text message'));
      } else {
        m.utf8Streaming = true;
        if (!this.checkUtf8Part(m, data)) return this.failWith(invalidUtf8('invalid UTF-8 in text message'));
      }
    }
    m.add(data, last && this.hasBit(FRAME_FIN) && m.count === 0 && data.length === m.length, m.length, this.maxPayload, this.profile.allocate);
    return true;
  }

  /** Validates one part of a text message as it arrives (RFC 6455 §8.1: fail fast). */
  private checkUtf8Part(m: Receiving, data: Uint8Array): boolean {
    return data.length >= 256 ? m.utf8.pushWith(data, this.profile.isUtf8) : m.utf8.push(data);
  }

  /** @internal */
  frameEnd(): boolean {
    const opcode = this.frameOpcode;
    if (opcode >= 0x8) {
      const payload = this.controlParts ? concatBytes(this.controlParts) : EMPTY;
      this.controlParts = undefined;
      return this.receivedControl(opcode, payload);
    }
    if (!this.hasBit(FRAME_FIN)) return true;
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
    const ascii = m.ascii;
    m.opcode = 0;
    m.length = 0;
    // An idle connection holds no message state: it goes back to the shared spares.
    this.msg = undefined;
    if (spareReceiving.length < MAX_SPARES) spareReceiving.push(m);
    this.handler.message(data, text, ascii);
    return this.canContinue();
  }

  /**
   * Hands compressed bytes to the codec. Returns true to go on parsing (the codec answered
   * at once); false when it failed or will answer later (RFC 7692 §7.2.2).
   */
  private inflate(m: Receiving, data: Uint8Array, fin: boolean, finishAfter: boolean): boolean {
    let sync = true;
    let ok = false;
    this.setBit(INFLATING, true);
    this.codec!.decompress(data, fin, this.maxPayload - m.inflatedLength, (err, out) => {
      this.setBit(INFLATING, false);
      if (this._state.kind === 'closed') return;
      ok = this.inflated(m, err, out, fin) && (!finishAfter || this.finishMessage(m));
      if (sync) return;
      // Answered later: go on where parsing stopped.
      if (ok) this.run();
    });
    sync = false;
    if (this.hasBit(INFLATING)) return false;
    return ok && this.canContinue();
  }

  /** Takes inflated output: limit, UTF-8 (failing fast), and keeps it for the message. */
  private inflated(m: Receiving, err: Error | null, out: Uint8Array[], fin: boolean): boolean {
    if (err) {
      return this.failWith(
        err instanceof LimitError
          ? messageTooBig('message too big once inflated')
          : new WebSocketError(ErrorCode.InvalidCompressedData, 'invalid compressed data', { closeCode: CloseCode.InvalidPayload }),
      );
    }
    const text = m.opcode === Opcode.Text;
    for (const chunk of out) {
      m.inflatedLength += chunk.length;
      if (m.inflatedLength > this.maxPayload) {
        return this.failWith(messageTooBig('message too big once inflated'));
      }
      if (text) {
        const whole = fin && !m.utf8Streaming && m.count === 0 && out.length === 1;
        if (whole) {
          if (!this.profile.isUtf8(chunk)) return this.failWith(invalidUtf8('invalid UTF-8 in text message'));
        } else {
          m.utf8Streaming = true;
          if (!this.checkUtf8Part(m, chunk)) return this.failWith(invalidUtf8('invalid UTF-8 in text message'));
        }
      }
      m.add(chunk, fin && out.length === 1 && m.count === 0, 0, this.maxPayload, this.profile.allocate);
    }
    return true;
  }

  /** A ping, pong or close frame arrived (RFC 6455 §5.5). */
  private receivedControl(opcode: number, payload: Uint8Array): boolean {
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
    this.parser?.stop();
    this._state = { kind: 'closed', sent, received, receivedFirst: state.kind === 'open', error: undefined };
    // After any message still being compressed, and our close frame, are written.
    this.afterSends(() => this.handler.shutdown());
    return false;
  }

  private canContinue(): boolean {
    return this._state.kind !== 'closed' && !this.hasBit(PAUSED);
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
    this.parser?.stop();
    // Failing: what waits behind a compression is dropped; the close frame goes now.
    this.dropQueue();
    let sent = state.kind === 'closing' ? state.sent : undefined;
    const code = err.closeCode ?? CloseCode.InternalError;
    if (state.kind === 'open' && code !== CloseCode.Abnormal) {
      // §7.4.1 1011: internal details stay private. §5.5: the reason fits in 123 bytes.
      const reasonBytes = failureReason(err, code);
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
}

function invalidUtf8(message: string): ProtocolError {
  return new ProtocolError(ErrorCode.InvalidUtf8, message, { closeCode: CloseCode.InvalidPayload });
}

function copy(data: Uint8Array): Uint8Array {
  return data.length === 0 ? EMPTY : data.slice();
}
