// Regression (found by the frame fuzz): a message arriving in parts was given a buffer of the
// size its frame header announced. A header announcing 571 GB (maxPayload unset) made that
// allocation fail with 1011; one announcing 60 MB under a 64 MiB limit would have cost 60 MB
// for ten bytes sent. The announced size is now believed only a little beyond what arrived.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { concatBytes, feed, fromHex, open, RFC_KEY } from './support.js';

for (const [label, lengthHex, maxPayload] of [
  ['571 GB, no maxPayload', '00 00 00 85 1a 0b 4d eb', Infinity],
  ['60 MB, maxPayload 64 MiB', '00 00 00 00 03 93 87 00', 64 * 1024 * 1024],
] as const) {
  test(`§10.4: a header announcing ${label}, then 10 bytes in two parts: no failure, and the buffer follows the bytes received`, () => {
    const sizes: number[] = [];
    const { conn, rec } = open('server', { maxPayload, allocate: (n) => (sizes.push(n), new Uint8Array(n)) });
    const header = concatBytes(fromHex(`02 ff ${lengthHex}`), RFC_KEY);
    feed(conn, header);
    feed(conn, new Uint8Array(4));
    feed(conn, new Uint8Array(6));
    assert.deepEqual(rec.calls.filter((c) => c.kind === 'error'), []);
    assert.equal(conn.state.kind, 'open');
    assert.ok(sizes.length > 0, 'the parts were copied into a buffer');
    assert.ok(Math.max(...sizes) <= 10 + 256 * 1024, `allocated ${Math.max(...sizes)} bytes for 10 received`);
  });
}
