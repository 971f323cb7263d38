import { SIMD_SLICE, simdXor as simd, type SimdXor } from './simd-xor.js';

/** Whether the platform stores 32-bit words little-endian (all current Node targets do). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** From this many bytes on, whole 32-bit words are XORed (four bytes per step). */
const WORDS_FROM = 64;
/** From this many bytes on, payloads go through the WebAssembly SIMD kernel (simd-xor.ts). */
const SIMD_FROM = 1024;

/**
 * XORs `data[start..end)` in place with the 4-byte `key`, starting at key byte `phase`
 * (RFC 6455 §5.3: octet i of the payload is XORed with octet i MOD 4 of the key).
 */
export function applyMask(data: Uint8Array, key: ArrayLike<number>, phase = 0, start = 0, end = data.length): void {
  let i = start;
  let ph = phase;
  if (simd !== undefined && end - start >= SIMD_FROM) {
    simdMask(simd, data, key, phase, start, end);
    return;
  }
  if (end - start >= WORDS_FROM) {
    // Bytes up to a 4-byte-aligned address, then words over the aligned middle.
    while ((data.byteOffset + i) & 3) {
      data[i] = data[i]! ^ key[ph & 3]!;
      i++;
      ph++;
    }
    const words = (end - i) >>> 2;
    const a = key[ph & 3]!;
    const b = key[(ph + 1) & 3]!;
    const c = key[(ph + 2) & 3]!;
    const d = key[(ph + 3) & 3]!;
    const k32 = LITTLE_ENDIAN ? a | (b << 8) | (c << 16) | (d << 24) : (a << 24) | (b << 16) | (c << 8) | d;
    const w = new Uint32Array(data.buffer, data.byteOffset + i, words);
    const words4 = words & ~3;
    let j = 0;
    for (; j < words4; j += 4) {
      w[j] = w[j]! ^ k32;
      w[j + 1] = w[j + 1]! ^ k32;
      w[j + 2] = w[j + 2]! ^ k32;
      w[j + 3] = w[j + 3]! ^ k32;
    }
    for (; j < words; j++) w[j] = w[j]! ^ k32;
    i += words << 2;
  }
  const k0 = key[ph & 3]!;
  const k1 = key[(ph + 1) & 3]!;
  const k2 = key[(ph + 2) & 3]!;
  const k3 = key[(ph + 3) & 3]!;
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
function simdMask(simd: SimdXor, data: Uint8Array, key: ArrayLike<number>, phase: number, start: number, end: number): void {
  const a = key[phase & 3]!;
  const b = key[(phase + 1) & 3]!;
  const c = key[(phase + 2) & 3]!;
  const d = key[(phase + 3) & 3]!;
  // WebAssembly memory is little-endian whatever the platform.
  const k32 = a | (b << 8) | (c << 16) | (d << 24);
  const mem = simd.memory;
  // Slices are a multiple of 4 bytes long, so the key phase is the same at each.
  for (let s = start; s < end; s += SIMD_SLICE) {
    const e = Math.min(end, s + SIMD_SLICE);
    mem.set(data.subarray(s, e));
    simd.xor(e - s, k32);
    data.set(e - s === mem.length ? mem : mem.subarray(0, e - s), s);
  }
}

/** Copies `src` into `dst` at `offset` while masking it with `key` from phase 0. */
export function copyMasked(src: Uint8Array, dst: Uint8Array, offset: number, key: Uint8Array): void {
  dst.set(src, offset);
  applyMask(dst, key, 0, offset, offset + src.length);
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
