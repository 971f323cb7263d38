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

  /**
   * Like `push`, with a fast whole-buffer check (e.g. Node's `buffer.isUtf8`) for the bulk:
   * a pending sequence is finished byte by byte, the bytes up to the last character
   * boundary go to `whole`, and an unfinished last character is kept for the next call.
   * Still fails within the call that brings the first bad byte.
   */
  pushWith(data: Uint8Array, whole: (d: Uint8Array) => boolean): boolean {
    const n = data.length;
    let i = 0;
    while (this.need !== 0 && i < n) {
      if (!this.push(data, i, i + 1)) return false;
      i++;
    }
    if (i >= n) return true;
    // The last character boundary: after the last lead byte's sequence if it is complete.
    let b = n;
    for (let k = n - 1; k >= i && k >= n - 4; k--) {
      const c = data[k]!;
      if ((c & 0xc0) !== 0x80) {
        const len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        b = k + len <= n ? n : k;
        break;
      }
    }
    if (b > i && !whole(data.subarray(i, b))) return false;
    return this.push(data, b, n);
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
