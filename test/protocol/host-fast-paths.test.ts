// What the core tells its host so the host can take fast paths: the `ascii` hint on short
// text messages (the host may decode them as Latin-1), `canWriteDirect` (the host may frame
// a small message itself), and `writeSmallFrameHeader`, the header it writes (RFC 6455 §5.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeSmallFrameHeader } from '../../src/protocol/frame.js';
import { OP, c2s, feed, open, utf8, decodeFrames, concatBytes } from './support.js';

test('ascii hint: true only for a one-part ASCII text message the core checked whole', () => {
  const { conn, rec } = open('server');
  feed(conn, c2s({ opcode: OP.text, payload: 'plain ascii' }));
  feed(conn, c2s({ opcode: OP.text, payload: 'grüße' }));
  feed(conn, c2s({ opcode: OP.text, payload: 'x'.repeat(65) })); // over the short check: validated, no hint
  feed(conn, c2s({ opcode: OP.binary, payload: 'bytes' }));
  feed(conn, concatBytes(c2s({ opcode: OP.text, payload: 'two ', fin: false }), c2s({ opcode: OP.cont, payload: 'parts' })));
  feed(conn, c2s({ opcode: OP.text, payload: 'again' }), 1); // in 1-byte chunks: parts, no hint
  feed(conn, c2s({ opcode: OP.text, payload: '' })); // no payload, nothing checked: no hint
  assert.deepEqual(
    rec.messages().map((m) => Buffer.from(m.hex, 'hex').toString()),
    ['plain ascii', 'grüße', 'x'.repeat(65), 'bytes', 'two parts', 'again', ''],
  );
  assert.deepEqual(rec.asciiHints, [true, false, false, false, false, false, false]);
});

test('canWriteDirect: server role, open, no fragmented message being sent', () => {
  const server = open('server');
  assert.equal(server.conn.canWriteDirect, true);
  server.conn.send(OP.text, utf8('first '), false);
  assert.equal(server.conn.canWriteDirect, false, 'a fragmented message is being sent');
  server.conn.send(OP.text, utf8('last'), true);
  assert.equal(server.conn.canWriteDirect, true);
  server.conn.close(1000);
  assert.equal(server.conn.canWriteDirect, false, 'closing');
  const client = open('client');
  assert.equal(client.conn.canWriteDirect, false, 'a client masks its frames');
});

test('writeSmallFrameHeader: 7-bit lengths in place, 16-bit ones after moving the payload', () => {
  for (const n of [0, 1, 125, 126, 300, 65_535]) {
    const payload = Buffer.alloc(n);
    for (let i = 0; i < n; i++) payload[i] = (i * 31 + 7) & 255;
    const buf = Buffer.alloc(10 + 4 + n, 0xee);
    payload.copy(buf, 10 + 2);
    const size = writeSmallFrameHeader(buf, 10, OP.text, n);
    assert.equal(size, (n < 126 ? 2 : 4) + n);
    assert.ok(buf.subarray(0, 10).every((b) => b === 0xee), 'nothing before the frame is touched');
    const [f] = decodeFrames(buf.subarray(10, 10 + size));
    assert.ok(f && f.fin && !f.masked && f.opcode === OP.text);
    assert.ok(Buffer.from(f.payload).equals(payload), `payload of ${n}`);
  }
});
