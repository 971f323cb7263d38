// A data message being received (RFC 6455 §5.4), its parts kept until the last frame.
import { EMPTY } from './closing.js';
import { Utf8Validator } from './utf8.js';

/** How far beyond the bytes received a message's buffer may be sized from its frame headers. */
const HINT_SLACK = 256 * 1024;

/**
 * A data message being received (RFC 6455 §5.4). A message that arrives as one part is kept
 * as a view of the received chunk (no copy); one that arrives in parts is copied into one
 * growing buffer, so the memory it holds follows its payload bytes, not its fragment count.
 */
export class Receiving {
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
    this.utf8Lazy?.reset();
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

/** A short all-ASCII payload: checked here, cheaper than a call out for a few bytes. */
export function isShortAscii(d: Uint8Array): boolean {
  if (d.length > 64) return false;
  let acc = 0;
  for (let i = 0; i < d.length; i++) acc |= d[i]!;
  return acc < 0x80;
}

