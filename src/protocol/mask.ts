/**
 * XORs `data[start..end)` in place with the 4-byte `key`, starting at key byte `phase`
 * (RFC 6455 §5.3: octet i of the payload is XORed with octet i MOD 4 of the key).
 */
export function applyMask(data: Uint8Array, key: ArrayLike<number>, phase = 0, start = 0, end = data.length): void {
  const k0 = key[phase & 3]!;
  const k1 = key[(phase + 1) & 3]!;
  const k2 = key[(phase + 2) & 3]!;
  const k3 = key[(phase + 3) & 3]!;
  let i = start;
  const end4 = start + ((end - start) & ~3);
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
