/**
 * Incremental UTF-8 validation (RFC 3629 §4, as RFC 6455 §8.1 requires for text messages
 * and close reasons). Bytes may arrive split at any position; `push` reports the first
 * invalid byte at once, so a connection can fail before the rest of a message arrives.
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the current sequence. */
  private need = 0;
  /** Allowed range for the next continuation byte (narrowed after E0, ED, F0, F4). */
  private lo = 0x80;
  private hi = 0xbf;

  /** Validates `data[start..end)`. Returns false at the first byte that cannot be UTF-8. */
  push(data: Uint8Array, start = 0, end = data.length): boolean {
    let need = this.need;
    let lo = this.lo;
    let hi = this.hi;
    let i = start;
    while (i < end) {
      const b = data[i++]!;
      if (need === 0) {
        if (b < 0x80) continue;
        if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          // E0 would be overlong below A0; ED would encode surrogates from A0 (RFC 3629 §3).
          if (b === 0xe0) lo = 0xa0;
          else if (b === 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          // F0 would be overlong below 90; F4 would pass U+10FFFF from 90.
          if (b === 0xf0) lo = 0x90;
          else if (b === 0xf4) hi = 0x8f;
        } else {
          this.need = need;
          return false;
        }
      } else {
        if (b < lo || b > hi) {
          this.need = need;
          return false;
        }
        lo = 0x80;
        hi = 0xbf;
        need--;
      }
    }
    this.need = need;
    this.lo = lo;
    this.hi = hi;
    return true;
  }

  /** True when the bytes so far end on a character boundary. Resets for the next message. */
  finish(): boolean {
    const ok = this.need === 0;
    this.reset();
    return ok;
  }

  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }
}

const shared = new Utf8Validator();

/** Whether `data` is complete, valid UTF-8. */
export function isValidUtf8(data: Uint8Array): boolean {
  shared.reset();
  return shared.push(data) && shared.finish();
}
