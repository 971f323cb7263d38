// Base64 (RFC 4648 §4), both ways, runtime-neutral: handshake keys and the embedded
// WebAssembly module.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Character codes of the alphabet, for building output with one `String.fromCharCode`. */
const B64_CODES = Array.from(B64, (c) => c.charCodeAt(0));
const PAD = 0x3d; // '='

/** Output code arrays of short lengths (keys, accepts), reused: encoding is synchronous. */
const SCRATCH: number[][] = [];

export function base64Encode(data: Uint8Array): string {
  const n = ((data.length + 2) / 3 | 0) * 4;
  const codes = n <= 64 ? (SCRATCH[n] ??= new Array<number>(n).fill(0)) : new Array<number>(n);
  let i = 0;
  let o = 0;
  for (; i + 2 < data.length; i += 3) {
    const v = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
    codes[o++] = B64_CODES[v >> 18]!;
    codes[o++] = B64_CODES[(v >> 12) & 63]!;
    codes[o++] = B64_CODES[(v >> 6) & 63]!;
    codes[o++] = B64_CODES[v & 63]!;
  }
  if (i < data.length) {
    const v = (data[i]! << 16) | ((data[i + 1] ?? 0) << 8);
    codes[o++] = B64_CODES[v >> 18]!;
    codes[o++] = B64_CODES[(v >> 12) & 63]!;
    codes[o++] = i + 1 < data.length ? B64_CODES[(v >> 6) & 63]! : PAD;
    codes[o++] = PAD;
  }
  if (o <= 8192) return String.fromCharCode.apply(null, codes);
  // In slices: an argument list has a limit.
  let s = '';
  for (let k = 0; k < o; k += 8192) s += String.fromCharCode.apply(null, codes.slice(k, k + 8192));
  return s;
}

/** Decodes well-formed base64 (the caller's own constant text: nothing is checked). */
export function base64Decode(text: string): Uint8Array {
  const value = new Uint8Array(128);
  for (let i = 0; i < 64; i++) value[B64.charCodeAt(i)] = i;
  const end = text.endsWith('==') ? text.length - 2 : text.endsWith('=') ? text.length - 1 : text.length;
  const out = new Uint8Array((end * 3) >> 2);
  let bits = 0;
  let n = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    bits = (bits << 6) | value[text.charCodeAt(i)]!;
    n += 6;
    if (n >= 8) {
      n -= 8;
      out[o++] = (bits >> n) & 255;
    }
  }
  return out;
}
