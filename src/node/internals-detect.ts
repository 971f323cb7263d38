// Detection of the Node internals internals.ts and internals-zlib.ts may use (see internals.ts).
/** The internals this module may use, by the names WS13_NO_INTERNALS takes. */
export const INTERNAL_NAMES = ['zlib', 'utf8Write', 'utf8Slice', 'latin1Slice', 'events'] as const;
export type InternalName = (typeof INTERNAL_NAMES)[number];

const disabled: ReadonlySet<string> = (() => {
  const v = (process.env.WS13_NO_INTERNALS ?? '').trim();
  if (v === '' || v === '0') return new Set<string>();
  if (v === '1' || v === 'all' || v === 'true') return new Set<string>(INTERNAL_NAMES);
  return new Set(v.split(',').map((s) => s.trim()));
})();

/** Runs `probe` unless the internal is disabled; false on any throw. */
export function detect(name: InternalName, probe: () => boolean): boolean {
  if (disabled.has(name)) return false;
  try {
    return probe();
  } catch {
    return false;
  }
}

/** One warning for an internal that fell back: what, why, and the cost. */
export function warn(name: InternalName, what: string, cost: string): void {
  const why = disabled.has(name) ? 'disabled by WS13_NO_INTERNALS' : `missing or not as expected on Node ${process.version}`;
  process.emitWarning(`ws13: internal '${name}' (${what}) ${why}; the public API is used instead: ${cost}`, { code: 'WS13_INTERNALS' });
}
