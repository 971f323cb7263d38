// Handshake nonces come from the pooled crypto-random source (src/node/random.ts): each is
// 16 bytes, none repeats, across several refills of the pool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomNonce } from '../../src/node/random.js';

test('randomNonce: 16 bytes each, 2,000 in a row all different (the pool refills every 512)', () => {
  const seen = new Set<string>();
  let ones = 0;
  for (let i = 0; i < 2000; i++) {
    const n = randomNonce();
    assert.equal(n.length, 16);
    seen.add(Buffer.from(n).toString('hex'));
    for (const b of n) for (let bit = 0; bit < 8; bit++) ones += (b >> bit) & 1;
  }
  assert.equal(seen.size, 2000);
  // 256,000 bits: a fair source gives 128,000 ones, with a standard deviation of 253.
  assert.ok(Math.abs(ones - 128_000) < 253 * 6, `${ones} one bits of 256,000`);
});
