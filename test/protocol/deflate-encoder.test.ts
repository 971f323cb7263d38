// ws13's own DEFLATE encoder (src/protocol/extensions/deflate-encoder.c, as WebAssembly):
// every output must inflate, with zlib and with the tests' own strict decoder, to its input;
// distances must stay within the window; code lengths within 15 bits whatever the counts;
// the size must match zlib's level 1; and the embedded module must be what its source builds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { messageEncoder } from '../../src/protocol/extensions/deflate-encoder.js';
import { Inflater, inflateMessage } from '../conformance/deflate/codec.js';
import { bytes } from '../conformance/server/helpers.js';
import { peerTest } from '../support/peers-available.js';

const enc = messageEncoder();

/** Deterministic pseudo-random bytes, shared with the conformance suites. */
const random = (n: number, seed: number): Buffer => bytes(n, seed);

function text(n: number, seed: number): Buffer {
  const words = ['alpha', 'beta', 'gamma', '{"id":', '"name":"', 'true,', 'false}', '\n', ' ', 'price', '12.5', 'ü', '€'];
  const r = random(n, seed);
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const w = words[r[i % n]! % words.length]!;
    parts.push(w);
    len += Buffer.byteLength(w);
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

/** Encodes, then inflates with zlib and with the strict decoder; returns the payload. */
function roundTrip(data: Buffer, windowBits: number, what: string): Buffer {
  assert.ok(enc);
  const payload = Buffer.from(enc.encode(data, windowBits));
  // zlib takes no raw window under 9; distances are checked by the decoder below.
  assert.ok(inflateMessage(payload, Math.max(9, windowBits)).equals(data), `${what}: zlib`);
  const strict = new Inflater(false);
  assert.ok(strict.inflate(payload).equals(data), `${what}: strict decoder`);
  assert.ok(strict.maxDistance <= 2 ** windowBits, `${what}: distance ${strict.maxDistance} over 2^${windowBits}`);
  return payload;
}

test('deflate encoder: loads where WebAssembly is available', () => {
  assert.ok(enc, 'WebAssembly encoder did not load');
  assert.equal(enc.capacity, 64 * 1024);
});

test('deflate encoder: sizes 0 to 64 KiB, text, random and repetitive, round trip', () => {
  const sizes = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 100, 257, 258, 259, 1000, 1135, 4096, 16_384, 32_768, 32_769, 65_535, 65_536];
  for (const n of sizes) {
    roundTrip(text(n, n + 1), 15, `text ${n}`);
    roundTrip(random(n, n + 7), 15, `random ${n}`);
    roundTrip(Buffer.alloc(n, 0x61), 15, `one byte repeated ${n}`);
  }
});

test('deflate encoder: incompressible data goes out stored, at most 5 bytes per 64 KiB over its size', () => {
  for (const n of [100, 5000, 65_535, 65_536]) {
    const payload = roundTrip(random(n, 99), 15, `random ${n}`);
    assert.ok(payload.length <= n + 5 * Math.ceil(n / 65_535) + 1, `random ${n}: ${payload.length} bytes`);
  }
});

test('deflate encoder: distances never exceed 2^windowBits (8 to 15)', () => {
  for (let bits = 8; bits <= 15; bits++) {
    const w = 2 ** bits;
    // A random block repeated one byte beyond the window: no match may reach it.
    const far = random(w + 1, bits);
    const data = Buffer.concat([far, far, far]).subarray(0, 65_536);
    const payload = roundTrip(data, bits, `period 2^${bits}+1`);
    assert.ok(payload.length > data.length * 0.9, `period 2^${bits}+1 compressed to ${payload.length}: a match reached too far`);
    // Repeated within the window: the window must be used, at least as well as zlib does.
    if (bits < 9) continue;
    const near = random(w / 2, bits + 100);
    const periodic = Buffer.concat([near, near, near, near]);
    const ours = roundTrip(periodic, bits, `period 2^${bits - 1}`).length;
    const zlib1 = zlib.deflateRawSync(periodic, { level: 1, windowBits: bits, finishFlush: zlib.constants.Z_SYNC_FLUSH }).length - 4;
    assert.ok(ours <= zlib1 * 1.05, `period 2^${bits - 1}: ${ours} bytes against zlib's ${zlib1}`);
  }
});

test('deflate encoder: code lengths stay within 15 bits on Fibonacci-skewed counts', () => {
  // Counts 1, 1, 2, 3, 5 ... 6765 over 20 byte values would give a 19-bit code unlimited.
  const fib = [1, 1];
  while (fib.length < 20) fib.push(fib[fib.length - 1]! + fib[fib.length - 2]!);
  const bytes: number[] = [];
  fib.forEach((count, i) => {
    for (let k = 0; k < count; k++) bytes.push(i * 11);
  });
  // Shuffled, so that LZ77 finds little and the literal counts stay as they are.
  const r = random(bytes.length, 5);
  for (let i = bytes.length - 1; i > 0; i--) {
    const j = (r[i]! * 256 + r[i - 1]!) % (i + 1);
    [bytes[i], bytes[j]] = [bytes[j]!, bytes[i]!];
  }
  const data = Buffer.from(bytes);
  assert.ok(data.length <= 65_536);
  roundTrip(data, 15, 'fibonacci counts');
});

test('deflate encoder: as small as zlib level 1 (within 3%) on text and JSON', () => {
  const json = Buffer.from(
    JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b'], ok: i % 3 === 0 }))),
  );
  for (const [what, data] of [
    ['json', json],
    ['text 1 KiB', text(1024, 3)],
    ['text 16 KiB', text(16_384, 4)],
  ] as const) {
    const ours = roundTrip(data, 15, what).length;
    const theirs = zlib.deflateRawSync(data, { level: 1, finishFlush: zlib.constants.Z_SYNC_FLUSH }).length - 4;
    assert.ok(ours <= theirs * 1.03, `${what}: ${ours} bytes against zlib's ${theirs}`);
  }
});

test('deflate encoder: one message after another, the hash table never refers across them', () => {
  assert.ok(enc);
  const a = text(4000, 1);
  const first = Buffer.from(enc.encode(a, 15));
  // The same text again must not use the first message as history: it inflates alone.
  const second = Buffer.from(enc.encode(a, 15));
  assert.ok(second.equals(first));
  for (let i = 0; i < 200; i++) roundTrip(text(1 + ((i * 373) % 9000), i), 9 + (i % 7), `message ${i}`);
});

test('deflate encoder: over capacity is a RangeError, not a truncated message', () => {
  assert.ok(enc);
  assert.throws(() => enc.encode(Buffer.alloc(enc.capacity + 1), 15), RangeError);
});

peerTest(
  ['clang'],
  'deflate encoder: the embedded module is what deflate-encoder.c builds to',
  {},
  () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const r = spawnSync('bash', ['scripts/build-wasm.sh', '--check'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  },
);
