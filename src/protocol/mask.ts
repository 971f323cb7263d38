import { SIMD_SLICE, simdXor, type SimdXor } from './simd-xor.js';

/** Whether the platform stores 32-bit words little-endian (all current Node targets do). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** From this many bytes on, whole 32-bit words are XORed (four bytes per step). */
const WORDS_FROM = 64;
/** The SIMD kernel once first needed; false where there is none. */
let simd: SimdXor | false | undefined;

/** From this many bytes on, payloads go through the WebAssembly SIMD kernel (simd-xor.ts). */
const SIMD_FROM = 1024;

/**
 * XORs `data[start..end)` in place with the 4-byte `key`, starting at key byte `phase`
 * (RFC 6455 §5.3: octet i of the payload is XORed with octet i MOD 4 of the key).
 */
export function applyMask(data: Uint8Array, key: ArrayLike<number>, phase = 0, start = 0, end = data.length): void {
  maskWithWord(data, packKey(key[0]!, key[1]!, key[2]!, key[3]!), phase, start, end);
}

/** The 4 key bytes as one little-endian 32-bit word (key byte 0 in the low bits). */
export function packKey(k0: number, k1: number, k2: number, k3: number): number {
  return (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24)) >>> 0;
}

/** `applyMask` with the key packed by `packKey`. */
export function maskWithWord(data: Uint8Array, key: number, phase: number, start: number, end: number): void {
  // The key from byte `phase` on, rotated into place: the word for a 4-aligned position.
  const sh = (phase & 3) * 8;
  let k32 = sh === 0 ? key : ((key >>> sh) | (key << (32 - sh))) >>> 0;
  if (end - start >= SIMD_FROM && (simd ??= simdXor() ?? false) !== false) {
    simdMask(simd, data, k32, start, end);
    return;
  }
  let i = start;
  if (end - start >= WORDS_FROM) {
    // Bytes up to a 4-byte-aligned address, then words over the aligned middle.
    while ((data.byteOffset + i) & 3) {
      data[i] = data[i]! ^ (k32 & 0xff);
      k32 = ((k32 >>> 8) | (k32 << 24)) >>> 0;
      i++;
    }
    const words = (end - i) >>> 2;
    const w32 = LITTLE_ENDIAN ? k32 : ((k32 & 0xff) << 24) | ((k32 & 0xff00) << 8) | ((k32 >>> 8) & 0xff00) | (k32 >>> 24);
    const w = new Uint32Array(data.buffer, data.byteOffset + i, words);
    const words4 = words & ~3;
    let j = 0;
    for (; j < words4; j += 4) {
      w[j] = w[j]! ^ w32;
      w[j + 1] = w[j + 1]! ^ w32;
      w[j + 2] = w[j + 2]! ^ w32;
      w[j + 3] = w[j + 3]! ^ w32;
    }
    for (; j < words; j++) w[j] = w[j]! ^ w32;
    i += words << 2;
  }
  const k0 = k32 & 0xff;
  const k1 = (k32 >>> 8) & 0xff;
  const k2 = (k32 >>> 16) & 0xff;
  const k3 = k32 >>> 24;
  const end4 = i + ((end - i) & ~3);
  for (; i < end4; i += 4) {
    data[i] = data[i]! ^ k0;
    data[i + 1] = data[i + 1]! ^ k1;
    data[i + 2] = data[i + 2]! ^ k2;
    data[i + 3] = data[i + 3]! ^ k3;
  }
  if (i < end) data[i] = data[i]! ^ k0;
  if (i + 1 < end) data[i + 1] = data[i + 1]! ^ k1;
  if (i + 2 < end) data[i + 2] = data[i + 2]! ^ k2;
}

/** Through the SIMD kernel's memory, in slices: copy in, XOR, copy back (each at memory speed). */
function simdMask(simd: SimdXor, data: Uint8Array, k32: number, start: number, end: number): void {
  const mem = simd.memory;
  // Slices are a multiple of 4 bytes long, so the key phase is the same at each.
  for (let s = start; s < end; s += SIMD_SLICE) {
    const e = Math.min(end, s + SIMD_SLICE);
    mem.set(data.subarray(s, e));
    simd.xor(e - s, k32 | 0);
    data.set(e - s === mem.length ? mem : mem.subarray(0, e - s), s);
  }
}

/** Writes 4 fresh, unpredictable mask bytes into `dst` at `offset` (RFC 6455 §5.3, §10.3). */
export type MaskSource = (dst: Uint8Array, offset: number) => void;

/** A mask source that draws from a pooled buffer filled by `fill` (e.g. `crypto.getRandomValues`). */
export function pooledMaskSource(fill: (buf: Uint8Array) => void, poolSize = 8192): MaskSource {
  const pool = new Uint8Array(poolSize);
  let pos = poolSize;
  return (dst, offset) => {
    if (pos + 4 > poolSize) {
      fill(pool);
      pos = 0;
    }
    dst[offset] = pool[pos]!;
    dst[offset + 1] = pool[pos + 1]!;
    dst[offset + 2] = pool[pos + 2]!;
    dst[offset + 3] = pool[pos + 3]!;
    pos += 4;
  };
}
