// SHA-1 (FIPS 180-4 §6.1) and base64 (RFC 4648 §4), small and runtime-neutral, for the
// handshake's Sec-WebSocket-Accept only. SHA-1 is no security here (RFC 6455 §10.2 notes
// the key is no authentication); it proves the server read the request.
import { base64Encode } from './base64.js';

/** The message schedule, reused: hashing is synchronous. */
const W = new Int32Array(80);
/** The running hash value, reused likewise. */
const H = new Int32Array(5);

/** Expands W[0..15] into the 80-word schedule (FIPS 180-4 §6.1.2 step 1). */
function expand(w: Int32Array): void {
  for (let i = 16; i < 80; i++) {
    const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
    w[i] = (x << 1) | (x >>> 31);
  }
}

/** One block's 80 rounds over schedule `w`, added into H (§6.1.2 steps 2–4), in 32-bit integers. */
function compress(w: Int32Array): void {
  let a = H[0]!, b = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!;
  let i = 0;
  for (; i < 20; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
  }
  for (; i < 40; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
  }
  for (; i < 60; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + w[i]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
  }
  for (; i < 80; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w[i]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t;
  }
  H[0] = (H[0]! + a) | 0; H[1] = (H[1]! + b) | 0; H[2] = (H[2]! + c) | 0; H[3] = (H[3]! + d) | 0; H[4] = (H[4]! + e) | 0;
}

function init(): void {
  H[0] = 0x67452301; H[1] = 0xefcdab89 | 0; H[2] = 0x98badcfe | 0; H[3] = 0x10325476; H[4] = 0xc3d2e1f0 | 0;
}

function digest(): Uint8Array {
  const out = new Uint8Array(20);
  for (let i = 0; i < 5; i++) {
    const h = H[i]!;
    out[i * 4] = h >>> 24; out[i * 4 + 1] = h >>> 16; out[i * 4 + 2] = h >>> 8; out[i * 4 + 3] = h;
  }
  return out;
}

/** SHA-1 of any bytes. */
export function sha1(msg: Uint8Array): Uint8Array {
  const ml = msg.length;
  const total = ((ml + 8) >> 6) * 64 + 64;
  const buf = new Uint8Array(total);
  buf.set(msg);
  buf[ml] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(total - 8, Math.floor((ml * 8) / 0x100000000));
  view.setUint32(total - 4, (ml * 8) >>> 0);
  init();
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getInt32(off + i * 4);
    expand(W);
    compress(W);
  }
  return digest();
}

/**
 * SHA-1 of a 24-character ASCII string followed by the 36-character `suffix` (a key and the
 * WebSocket GUID): 60 bytes, so two blocks. The suffix fills words 6 to 14 of the first
 * block and is read once per suffix; the second block (padding and length) is the same for
 * every key and is scheduled once. Latin-1 code units, as `asciiBytes` takes them.
 */
export function sha1Of60(key: string, suffix: string): Uint8Array {
  if (key.length !== 24 || suffix.length !== 36) return sha1(asciiBytes(key + suffix));
  if (suffix !== lastSuffix) {
    for (let i = 0; i < 9; i++) SUFFIX_WORDS[i] = word(suffix, i * 4);
    lastSuffix = suffix;
  }
  for (let i = 0; i < 6; i++) W[i] = word(key, i * 4);
  W.set(SUFFIX_WORDS, 6);
  W[15] = 0x80000000 | 0; // §5.1.1: the 1 bit after the message, then zeros to the block's end
  expand(W);
  init();
  compress(W);
  compress(TAIL_SCHEDULE);
  return digest();
}

/** Four Latin-1 code units of `s` from `at`, big-endian. */
function word(s: string, at: number): number {
  return ((s.charCodeAt(at) & 0xff) << 24) | ((s.charCodeAt(at + 1) & 0xff) << 16) | ((s.charCodeAt(at + 2) & 0xff) << 8) | (s.charCodeAt(at + 3) & 0xff);
}
const SUFFIX_WORDS = new Int32Array(9);
let lastSuffix = '';

/** The schedule of the second block of a 60-byte message: zeros, then its length in bits (480). */
const TAIL_SCHEDULE = new Int32Array(80);
TAIL_SCHEDULE[15] = 60 * 8;
expand(TAIL_SCHEDULE);

export { base64Encode };

/** Latin-1 bytes of an ASCII string (header values are ASCII here). */
export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}
