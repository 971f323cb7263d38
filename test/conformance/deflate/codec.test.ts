// Self-test of the suite's DEFLATE tools (codec.ts) against node:zlib, so that a failure
// elsewhere points at the peer under test, not at the harness.
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressMessage, inflateMessage, ZDeflater, Inflater, encodeWindowLimited, DeflateError } from './codec.js';
import { payloadOf, windowProbe, KINDS, SIZES } from './common.js';

const T = { timeout: 30_000 };

test('codec: Inflater decodes zlib output of every kind and size, levels 0, 1, 9', T, () => {
  for (const kind of KINDS) {
    for (const n of [0, ...SIZES]) {
      for (const level of [0, 1, 9]) {
        const data = payloadOf(kind, n);
        const c = compressMessage(data, { level });
        assert.ok(new Inflater(false).inflate(c).equals(data), `${kind} ${n} level ${level}`);
      }
    }
  }
});

test('codec: Inflater measures the window zlib used (windowBits 9..15)', T, () => {
  for (let bits = 9; bits <= 15; bits++) {
    const data = windowProbe(bits);
    const inf = new Inflater(false);
    assert.ok(inf.inflate(compressMessage(data, { windowBits: bits })).equals(data));
    assert.ok(inf.maxDistance <= 1 << bits, `bits ${bits}: distance ${inf.maxDistance}`);
    const wide = new Inflater(false);
    wide.inflate(compressMessage(data, { windowBits: 15 }));
    if (bits < 14) assert.ok(wide.maxDistance > 1 << bits, `probe for ${bits} bits does not tempt a 15-bit compressor`);
  }
});

test('codec: context takeover across messages (ZDeflater + persistent Inflater)', T, async () => {
  const d = new ZDeflater();
  const keep = new Inflater(true);
  try {
    const first = payloadOf('binary-random', 4000);
    keep.inflate(await d.compress(first));
    const again = await d.compress(first);
    assert.ok(again.length < 200, 'the repeat should be a back-reference into the previous message');
    assert.ok(keep.inflate(again).equals(first));
    assert.throws(() => new Inflater(false).inflate(again), DeflateError);
  } finally {
    d.close();
  }
});

test('codec: encodeWindowLimited reaches exactly 256 back and zlib inflates it', T, () => {
  const block = payloadOf('binary-random', 256, 11);
  const data = Buffer.concat([block, block, windowProbe(8)]);
  const c = encodeWindowLimited(data, 256);
  const inf = new Inflater(false);
  assert.ok(inf.inflate(c).equals(data));
  assert.equal(inf.maxDistance, 256);
  assert.ok(inflateMessage(c, 9).equals(data));
  const hist = payloadOf('text', 300);
  const c2 = encodeWindowLimited(hist, 256, hist);
  const keep = new Inflater(true);
  keep.inflate(encodeWindowLimited(hist, 256));
  assert.ok(keep.inflate(c2).equals(hist));
});

test('codec: the empty message 0x00 and invalid data', T, () => {
  assert.equal(new Inflater(false).inflate(Buffer.from([0])).length, 0);
  assert.equal(inflateMessage(Buffer.from([0])).length, 0);
  assert.throws(() => new Inflater(false).inflate(Buffer.from([0xff, 0xff, 0xff, 0xff])), DeflateError);
  assert.throws(() => inflateMessage(Buffer.from([0xff, 0xff, 0xff, 0xff])));
});
