// Seeds, budgets and a small PRNG shared by the fuzz tests. A run's base seed comes from
// FUZZ_SEED, or is drawn at random and printed when a case fails; iteration i always uses
// the same seed derived from the base, so `FUZZ_SEED=<base>` replays a failure exactly,
// in the default and the long mode alike.
import { randomInt } from 'node:crypto';

/** FUZZ_LONG=1, or CI=true unless FUZZ_LONG=0: longer runs (more iterations, a longer soak). */
export const LONG = process.env.FUZZ_LONG === '1' || (process.env.CI === 'true' && process.env.FUZZ_LONG !== '0');

/** Iterations for this mode: `n` by default, `n * factor` in the long mode. */
export function budget(n: number, factor = 15): number {
  return LONG ? n * factor : n;
}

/** The base seed: FUZZ_SEED (decimal or 0x hex) or a fresh random one. */
export const BASE_SEED: number = (() => {
  const s = process.env.FUZZ_SEED;
  if (s !== undefined && s !== '') {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FUZZ_SEED must be a 32-bit unsigned integer, got ${s}`);
    return n;
  }
  return randomInt(1, 0xffffffff);
})();

/** xorshift32 (Marsaglia, 2003): small, fast, and good enough to pick test inputs. */
export class Rng {
  private x: number;
  constructor(seed: number) {
    // Zero is xorshift's one fixed point.
    this.x = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.x;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.x = x;
    return x;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0x100000000 ? Math.floor((this.u32() / 0x100000000) * n) : Math.floor(this.float() * n);
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  float(): number {
    return (this.u32() * 0x100000000 + this.u32()) / 2 ** 64;
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** The seed of iteration `i` of the test named `name`: independent streams per test and iteration. */
export function seedOf(name: string, i: number): number {
  let h = BASE_SEED ^ 0x811c9dc5;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193);
  h = Math.imul(h ^ i, 0x9e3779b1);
  h ^= h >>> 15;
  return h >>> 0;
}

/**
 * Runs `iterations` cases of `body`, each with its own Rng. A failure is rethrown with the
 * seed to replay it and the iteration it happened in.
 */
export function forEachCase(name: string, iterations: number, body: (rng: Rng, i: number) => void): void {
  for (let i = 0; i < iterations; i++) {
    try {
      body(new Rng(seedOf(name, i)), i);
    } catch (err) {
      throw replayable(err, name, i);
    }
  }
}

/** The async form of `forEachCase`. */
export async function forEachCaseAsync(name: string, iterations: number, body: (rng: Rng, i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < iterations; i++) {
    try {
      await body(new Rng(seedOf(name, i)), i);
    } catch (err) {
      throw replayable(err, name, i);
    }
  }
}

/** `err` with the replay instructions prepended to its message (and printed, for long runs). */
export function replayable(err: unknown, name: string, i: number): Error {
  const note = `[fuzz] ${name}: failed at iteration ${i}; replay with FUZZ_SEED=${BASE_SEED}${LONG ? ' FUZZ_LONG=1' : ''}`;
  console.error(note);
  if (err instanceof Error) {
    err.message = `${note}\n${err.message}`;
    return err;
  }
  return new Error(`${note}\n${String(err)}`);
}
