// Differential fuzzing of ws13's own DEFLATE encoder (deflate-encoder.c as WebAssembly):
// random, repetitive, run-heavy, short-period, near-window and text-like inputs of 0 to
// ~300 KiB, every window size 8–15. Each output must inflate to exactly its input with
// Node's zlib and with the tests' strict decoder, whose largest distance must fit the
// window; inputs over capacity must be a RangeError that leaves the encoder working. And
// the hash table's rebase past 2^31 is forced through the test-only `enc_test_base` export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageEncoder } from '../../src/protocol/extensions/deflate-encoder.js';
import { DEFLATE_ENCODER_WASM } from '../../src/protocol/extensions/deflate-encoder.wasm.js';
import { Inflater, inflateMessage } from '../conformance/deflate/codec.js';
import { Rng, budget, forEachCase } from './rng.js';

const enc = messageEncoder();

/** Random input of one of several shapes, `n` bytes. */
function input(rng: Rng, n: number): Buffer {
  const out = Buffer.alloc(n);
  let i = 0;
  const shape = rng.int(7);
  while (i < n) {
    // A mixed input changes shape at every segment; the others keep theirs.
    const kind = shape === 6 ? rng.int(6) : shape;
    const len = Math.min(n - i, shape === 6 ? rng.range(1, 5000) : n);
    const seg = out.subarray(i, i + len);
    if (kind === 0) {
      // Incompressible.
      seg.set(rng.bytes(len));
    } else if (kind === 1) {
      // Long runs of one byte.
      for (let k = 0; k < len; ) {
        const run = rng.range(1, rng.chance(0.5) ? 300 : 40_000);
        seg.fill(rng.u32() & 0xff, k, Math.min(len, k + run));
        k += run;
      }
    } else if (kind === 2) {
      // A short period (1 to 300 bytes), sometimes with a few changed bytes.
      const p = rng.bytes(rng.range(1, 300));
      for (let k = 0; k < len; k++) seg[k] = p[k % p.length]!;
      for (let k = rng.int(4); k > 0 && len > 0; k--) seg[rng.int(len)] = rng.u32() & 0xff;
    } else if (kind === 3) {
      // A period just around a window size: matches sit at the window's edge.
      const w = 2 ** rng.range(8, 15) + rng.range(-2, 2);
      const p = rng.bytes(w);
      for (let k = 0; k < len; k++) seg[k] = p[k % w]!;
    } else if (kind === 4) {
      // Text-like: words from a small vocabulary, some multi-byte.
      const words = ['the ', 'socket ', 'frame ', '{"id":', '12', ', ', '"ok":true}', '\n', 'é', '€ ', 'message ', 'deflate'];
      let k = 0;
      while (k < len) k += seg.write(rng.pick(words), k);
    } else {
      // Few distinct bytes: skewed literal counts, long codes.
      const alphabet = rng.bytes(rng.range(2, 20));
      for (let k = 0; k < len; k++) seg[k] = alphabet[Math.min(alphabet.length - 1, Math.floor(-Math.log2(rng.float() + 1e-9)))]!;
    }
    i += len;
  }
  return out;
}

function size(rng: Rng): number {
  const k = rng.int(100);
  if (k < 10) return rng.int(10);
  if (k < 40) return rng.int(2000);
  if (k < 85) return rng.int(65_537);
  if (k < 92) return rng.range(65_530, 65_536);
  // Over capacity, up to ~300 KiB.
  return rng.range(65_537, 300 * 1024);
}

/** Asserts `payload` inflates to `data` (zlib, and the strict decoder within 2^bits). */
function assertInflates(payload: Buffer, data: Buffer, bits: number, what: string): void {
  // zlib inflates no raw stream with windowBits 8; a window-8 stream is valid under 9.
  const z = inflateMessage(payload, Math.max(9, bits));
  assert.ok(z.equals(data), `${what}: zlib inflated ${z.length} bytes, not the input's ${data.length}`);
  const strict = new Inflater(false);
  assert.ok(strict.inflate(payload).equals(data), `${what}: strict decoder`);
  assert.ok(strict.maxDistance <= 2 ** bits, `${what}: distance ${strict.maxDistance} over 2^${bits}`);
}

test('deflate encoder fuzz: every output inflates to its input, every window 8–15', () => {
  assert.ok(enc, 'WebAssembly encoder did not load');
  let bytes = 0;
  let over = 0;
  forEachCase('deflate-encoder', budget(800, 4), (rng, i) => {
    const n = size(rng);
    const data = input(rng, n);
    const bits = 8 + (i % 8);
    const what = `${n} bytes, window 2^${bits}`;
    if (n > enc.capacity) {
      over++;
      assert.throws(() => enc.encode(data, bits), RangeError, what);
      return;
    }
    assertInflates(Buffer.from(enc.encode(data, bits)), data, bits, what);
    bytes += n;
  });
  assert.ok(over > 0 && bytes > 1_000_000, `over capacity ${over}, bytes ${bytes}`);
});

interface TestExports {
  memory: { buffer: ArrayBuffer };
  enc_input(): number;
  enc_output(): number;
  encode(n: number, windowBits: number): number;
  enc_test_base(value: number): number;
}

/** The little of the WebAssembly JS API used here (the project compiles without DOM types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

/** A fresh instance of the embedded module, with its test-only export. */
function instance(): { encode(data: Uint8Array, bits: number): Buffer; base(set?: number): number } {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const module = new wasm.Module(Buffer.from(DEFLATE_ENCODER_WASM, 'base64'));
  const e = new wasm.Instance(module, {}).exports as TestExports;
  const mem = new Uint8Array(e.memory.buffer);
  return {
    encode(data, bits) {
      mem.set(data, e.enc_input());
      const n = e.encode(data.length, bits);
      return Buffer.from(mem.subarray(e.enc_output(), e.enc_output() + n));
    },
    base: (set = 0) => e.enc_test_base(set) >>> 0,
  };
}

test('deflate encoder: the hash table rebases past 2^31 and compresses exactly as before', () => {
  const LIMIT = 0x7fffffff;
  forEachCase('deflate-rebase', budget(6, 5), (rng) => {
    const near = instance();
    const fresh = instance();
    // One byte short of the limit, at it, or just over: the rebase comes within a few messages.
    const start = LIMIT - rng.pick([0, 1, 100, 65_536, 200_000]);
    assert.equal(near.base(start), start);
    let rebased = false;
    // Until three messages after the rebase (at most 40 in all).
    for (let m = 0, afterRebase = 0; m < 40 && afterRebase < 3; m++, afterRebase += rebased ? 1 : 0) {
      const data = input(rng, rng.chance(0.2) ? rng.range(65_000, 65_536) : rng.int(40_000));
      const bits = rng.range(8, 15);
      const before = near.base();
      const out = near.encode(data, bits);
      const after = near.base();
      // lz77(): a base past 2^31 - 1 clears the table and restarts at 1; each message then
      // moves it on by its length + 1.
      if (before > LIMIT) {
        assert.equal(after, 1 + data.length + 1, `rebase from ${before}`);
        rebased = true;
      } else {
        assert.equal(after, before + data.length + 1);
      }
      // Only the message itself is history: the output is what a fresh table gives.
      assert.ok(out.equals(fresh.encode(data, bits)), `message ${m} after base ${before}: output differs from a fresh encoder's`);
      assertInflates(out, data, bits, `message ${m}, base ${before}`);
    }
    assert.ok(rebased, `no rebase from ${start}`);
  });
});

test('deflate encoder: entries of earlier messages are never matched, even a byte-identical one at the limit', () => {
  const e = instance();
  const data = input(new Rng(7), 30_000);
  // The same message straddling the limit, then again after the rebase.
  e.base(0x7fffffff - 10);
  const a = e.encode(data, 15);
  const b = e.encode(data, 15);
  const c = e.encode(data, 15);
  assert.ok(a.equals(b) && b.equals(c), 'the same message compresses the same, whatever the base');
  assertInflates(a, data, 15, 'at the limit');
});
