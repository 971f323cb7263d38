import { ErrorCode, WebSocketError, protocolError } from './errors.js';
import { CloseCode } from './constants.js';
import { applyMask, maskWithWord, packKey, type MaskSource } from './mask.js';

/**
 * Receives frame events from a FrameParser. Each method returns false to stop parsing
 * (the connection failed or was paused); the parser then keeps its position.
 */
export interface FrameSink {
  /** Header through the payload length is known (RFC 6455 §5.2); the mask key may follow. */
  frameHeader(fin: boolean, rsv: number, opcode: number, length: number, masked: boolean): boolean;
  /** Unmasked payload bytes of the current frame, in order, in one or more parts; `last` on the frame's last part. */
  framePayload(data: Uint8Array, last: boolean): boolean;
  /** The current frame's payload is complete. */
  frameEnd(): boolean;
}

/** Parser states, named after the header fields of RFC 6455 §5.2. */
const State = {
  Header: 0,
  Length16: 1,
  Length64: 2,
  MaskKey: 3,
  Payload: 4,
  Stopped: 5,
} as const;
type State = (typeof State)[keyof typeof State];

const EMPTY = new Uint8Array(0);

/** Header bytes that straddle chunks are copied here; parsing is synchronous, so one serves all. */
const scratch = new Uint8Array(8);

/**
 * An explicit state machine over a list of received chunks. It gives the same events for
 * any chunking of the input, copies only header bytes that straddle chunks, and hands
 * payload parts to the sink as sub-arrays of the received chunks, unmasked in place.
 */
export class FrameParser {
  /** The chunk being read (EMPTY when nothing is buffered), and any received after it. */
  private head: Uint8Array = EMPTY;
  private queue: Uint8Array[] | undefined;
  /** Read position in `head`. */
  private pos = 0;
  private buffered = 0;
  private state: State = State.Header;
  /**
   * The current frame's mask key, packed (mask.ts packKey) and kept signed: a value past
   * 2^31 would make this a double field, boxed in a 16-byte heap number on every connection.
   */
  private maskKey = 0;
  /** Payload bytes of the current frame not yet handed to the sink. */
  private remaining = 0;
  /** Payload bytes already handed on, for the mask phase. */
  private done = 0;
  /** First two header bytes of the frame being parsed. */
  private b0 = 0;
  private b1 = 0;

  constructor(private sink: FrameSink) {}

  /** Nothing buffered and no frame begun: the parser holds nothing of its sink's. */
  get atRest(): boolean {
    return this.state === State.Header && this.buffered === 0;
  }

  /** A parser at rest, for another sink (`Connection` keeps parsers only while frames are incomplete). */
  rebind(sink: FrameSink): this {
    this.sink = sink;
    return this;
  }

  /** Bytes received and not yet parsed. */
  get bufferedAmount(): number {
    return this.buffered;
  }

  /** Queues `chunk`; call `parse()` to process it. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.state === State.Stopped) return;
    // Plain Uint8Array views: sub-arrays of a subclass (such as Node's) cost more.
    const c = chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.buffered === 0) {
      this.head = c;
      this.pos = 0;
    } else {
      (this.queue ??= []).push(c);
    }
    this.buffered += chunk.length;
  }

  /** Moves the read position `n` bytes on within chunks[0] (which holds them). */
  private advance(n: number): void {
    this.buffered -= n;
    this.pos += n;
    if (this.pos === this.head.length) this.next();
  }

  /** `head` is used up: on to the next chunk. */
  private next(): void {
    const q = this.queue;
    this.pos = 0;
    if (q === undefined) {
      this.head = EMPTY;
      return;
    }
    this.head = q.shift()!;
    if (q.length === 0) this.queue = undefined;
  }

  /** Stops for good and drops what is buffered. */
  stop(): void {
    this.state = State.Stopped;
    this.head = EMPTY;
    this.queue = undefined;
    this.buffered = 0;
    this.pos = 0;
  }

  /** Reads `n` (≤ 8) header bytes; the result is valid until the next call. */
  private take(n: number): Uint8Array {
    const head = this.head;
    this.buffered -= n;
    if (head.length - this.pos > n) {
      const out = head.subarray(this.pos, this.pos + n);
      this.pos += n;
      return out;
    }
    // Straddles chunks (or ends one exactly): copy into scratch.
    let filled = 0;
    while (filled < n) {
      const c = this.head;
      const k = Math.min(n - filled, c.length - this.pos);
      scratch.set(c.subarray(this.pos, this.pos + k), filled);
      filled += k;
      this.pos += k;
      if (this.pos === c.length) this.next();
    }
    return scratch.subarray(0, n);
  }

  /**
   * Runs the state machine until bytes run short or the sink stops it.
   * @throws WebSocketError for a malformed length (the caller fails the connection).
   */
  parse(): void {
    for (;;) {
      switch (this.state) {
        case State.Header: {
          if (this.buffered < 2) return;
          const c = this.head;
          const p = this.pos;
          if (c.length - p >= 2) {
            this.b0 = c[p]!;
            this.b1 = c[p + 1]!;
            this.advance(2);
          } else {
            const h = this.take(2);
            this.b0 = h[0]!;
            this.b1 = h[1]!;
          }
          const len7 = this.b1 & 0x7f;
          // RFC 6455 §5.5: a control frame's payload is at most 125 bytes, so its length is
          // always the 7-bit form (§5.2: "the minimal number of bytes MUST be used"). The
          // 126/127 markers are passed on as the length: the sink refuses them (1002).
          if (len7 >= 126 && (this.b0 & 0x08) !== 0) {
            if (!this.header(len7)) return;
          } else if (len7 === 126) this.state = State.Length16;
          else if (len7 === 127) this.state = State.Length64;
          else if (!this.header(len7)) return;
          break;
        }
        case State.Length16: {
          if (this.buffered < 2) return;
          const h = this.take(2);
          if (!this.header((h[0]! << 8) | h[1]!)) return;
          break;
        }
        case State.Length64: {
          if (this.buffered < 8) return;
          const h = this.take(8);
          const hi = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
          const lo = ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0;
          // RFC 6455 §5.2: "the most significant bit MUST be 0".
          if (hi & 0x80000000) {
            this.stop();
            throw protocolError(ErrorCode.InvalidLength, 'frame length has its most significant bit set');
          }
          // The sink checks the header's other fields first (a bad opcode, RSV or mask is a
          // 1002 whatever the length); past 2^53 no JavaScript number is exact, and no limit
          // could allow such a frame: 1009.
          if (!this.header(hi * 0x100000000 + lo)) return;
          if (hi >= 0x200000) {
            this.stop();
            throw new WebSocketError(ErrorCode.MessageTooBig, 'frame length too large', {
              closeCode: CloseCode.MessageTooBig,
            });
          }
          break;
        }
        case State.MaskKey: {
          if (this.buffered < 4) return;
          const c = this.head;
          const p = this.pos;
          if (c.length - p >= 4) {
            this.maskKey = packKey(c[p]!, c[p + 1]!, c[p + 2]!, c[p + 3]!) | 0;
            this.advance(4);
          } else {
            const t = this.take(4);
            this.maskKey = packKey(t[0]!, t[1]!, t[2]!, t[3]!) | 0;
          }
          this.state = State.Payload;
          break;
        }
        case State.Payload: {
          if (this.remaining === 0) {
            this.state = State.Header;
            if (!this.sink.frameEnd()) return;
            break;
          }
          if (this.buffered === 0) return;
          const c = this.head;
          const n = Math.min(this.remaining, c.length - this.pos);
          const part = c.subarray(this.pos, this.pos + n);
          this.pos += n;
          this.buffered -= n;
          if (this.pos === c.length) this.next();
          if (this.b1 & 0x80) maskWithWord(part, this.maskKey >>> 0, this.done & 3, 0, part.length);
          this.remaining -= n;
          this.done += n;
          if (!this.sink.framePayload(part, this.remaining === 0)) return;
          break;
        }
        case State.Stopped:
          return;
      }
    }
  }

  /** The length is known: tell the sink, then read the mask key or the payload. */
  private header(length: number): boolean {
    const masked = (this.b1 & 0x80) !== 0;
    this.remaining = length;
    this.done = 0;
    this.state = masked ? State.MaskKey : State.Payload;
    return this.sink.frameHeader((this.b0 & 0x80) !== 0, (this.b0 >> 4) & 7, this.b0 & 0x0f, length, masked);
  }
}

/**
 * Encodes a frame header (RFC 6455 §5.2) with the minimal length encoding. When `mask` is
 * given, four mask bytes are drawn from it and placed in the header.
 */
export function encodeHeader(
  opcode: number,
  length: number,
  fin: boolean,
  rsv: number,
  mask: MaskSource | undefined,
): Uint8Array {
  const lenBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const header = new Uint8Array(2 + lenBytes + (mask ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  writeLength(header, length, lenBytes, mask !== undefined);
  if (mask) mask(header, 2 + lenBytes);
  return header;
}

/**
 * Writes the header of a final, unmasked frame (RFC 6455 §5.2) whose payload of `length`
 * bytes (under 64 KiB) starts at `off + 2` in `buf`: a 7-bit length in place, or a 16-bit
 * one after moving the payload two bytes on. Returns the frame's total size.
 */
export function writeSmallFrameHeader(buf: Uint8Array, off: number, opcode: number, length: number): number {
  buf[off] = 0x80 | opcode;
  if (length < 126) {
    buf[off + 1] = length;
    return 2 + length;
  }
  buf.copyWithin(off + 4, off + 2, off + 2 + length);
  buf[off + 1] = 126;
  buf[off + 2] = length >>> 8;
  buf[off + 3] = length & 0xff;
  return 4 + length;
}

/**
 * `writeSmallFrameHeader` for a client (RFC 6455 §5.3: masked): `length` payload bytes are
 * at `off + 6`; writes the header and a mask key from `mask` before them (moving the
 * payload 2 bytes on for a 16-bit length) and masks the payload in place. Returns the
 * frame's size.
 */
export function writeSmallMaskedFrame(buf: Uint8Array, off: number, opcode: number, length: number, mask: MaskSource): number {
  let head = 6;
  buf[off] = 0x80 | opcode;
  if (length < 126) {
    buf[off + 1] = 0x80 | length;
  } else {
    buf.copyWithin(off + 8, off + 6, off + 6 + length);
    buf[off + 1] = 0x80 | 126;
    buf[off + 2] = length >>> 8;
    buf[off + 3] = length & 0xff;
    head = 8;
  }
  const k = off + head - 4;
  mask(buf, k);
  maskWithWord(buf, packKey(buf[k]!, buf[k + 1]!, buf[k + 2]!, buf[k + 3]!), 0, off + head, off + head + length);
  return head + length;
}

function writeLength(header: Uint8Array, length: number, lenBytes: number, masked: boolean): void {
  const m = masked ? 0x80 : 0;
  if (lenBytes === 0) {
    header[1] = m | length;
  } else if (lenBytes === 2) {
    header[1] = m | 126;
    header[2] = length >>> 8;
    header[3] = length & 0xff;
  } else {
    header[1] = m | 127;
    const hi = Math.floor(length / 0x100000000);
    header[2] = 0;
    header[3] = 0;
    header[4] = (hi >>> 8) & 0xff;
    header[5] = hi & 0xff;
    header[6] = (length >>> 24) & 0xff;
    header[7] = (length >>> 16) & 0xff;
    header[8] = (length >>> 8) & 0xff;
    header[9] = length & 0xff;
  }
}

/**
 * Encodes a whole masked frame into one buffer (client role): header, then the payload
 * copied and masked, so the caller's data is never modified.
 */
export function encodeMaskedFrame(
  opcode: number,
  payload: Uint8Array,
  fin: boolean,
  rsv: number,
  mask: MaskSource,
): Uint8Array {
  const length = payload.length;
  const lenBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const hl = 6 + lenBytes;
  const out = new Uint8Array(hl + length);
  out[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  writeLength(out, length, lenBytes, true);
  mask(out, hl - 4);
  out.set(payload, hl);
  applyMask(out, out.subarray(hl - 4, hl), 0, hl, hl + length);
  return out;
}

