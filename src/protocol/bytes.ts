// Byte helpers shared by the core and its hosts.

/**
 * Joins `parts` in order into one buffer of `total` bytes (counted when not given), made by
 * `allocate`. A single part is returned as it is, without a copy.
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  total = -1,
  allocate: (size: number) => Uint8Array = (n) => new Uint8Array(n),
): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  if (total < 0) {
    total = 0;
    for (const p of parts) total += p.length;
  }
  const out = allocate(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
