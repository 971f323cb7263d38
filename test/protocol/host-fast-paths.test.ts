// What the core tells its host so the host can take fast paths: the `ascii` hint on short
// text messages (the host may decode them as Latin-1), `sendSmall` (a small message framed
// into the host's own output buffer), and `writeSmallFrameHeader`, the header it writes (RFC 6455 §5.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMaskedFrame, writeSmallFrameHeader, writeSmallMaskedFrame } from '../../src/protocol/frame.js';
import { Connection, type ConnectionHandler } from '../../src/protocol/connection.js';
import { ErrorCode, WebSocketError } from '../../src/protocol/errors.js';
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

/** A host output with the small-frame buffer (`reserve`/`commit`), recording what it got. */
class SmallOutput implements ConnectionHandler {
  buf = new Uint8Array(4096);
  fill = 0;
  reservedAt = 0;
  /** Bytes as they reached the transport, from `write` and from `commit` alike, in order. */
  wire: Uint8Array[] = [];
  commits = 0;
  write(data: Uint8Array): void {
    this.wire.push(data.slice());
  }
  reserve(n: number): Uint8Array {
    assert.ok(this.buf.length - this.fill >= n);
    this.reservedAt = this.fill;
    return this.buf;
  }
  commit(bytes: number): void {
    this.wire.push(this.buf.slice(this.reservedAt, this.reservedAt + bytes));
    this.fill += bytes;
    this.commits++;
  }
  message(): void {}
  ping(): void {}
  pong(): void {}
  error(): void {}
  shutdown(): void {}
}

test('sendSmall: a whole small message framed into the host buffer; declines where it must not (RFC 6455 §5.2)', () => {
  const out = new SmallOutput();
  const conn = new Connection({ role: 'server' }, out);
  assert.equal(conn.sendSmall(OP.text, 'héllo'), true);
  assert.equal(conn.sendSmall(OP.binary, Uint8Array.of(1, 2, 3)), true);
  assert.equal(conn.sendSmall(OP.text, 'x'.repeat(126)), false, 'over 125 units');
  conn.send(OP.text, utf8('first '), false);
  assert.equal(conn.sendSmall(OP.text, 'between'), false, 'a fragmented message is being sent');
  conn.send(OP.text, utf8('last'), true);
  assert.equal(conn.sendSmall(OP.text, '\u{1F600}'.repeat(40)), true, 'up to 3 bytes a unit, 16-bit length');
  assert.equal(out.commits, 3);
  const frames = decodeFrames(concatBytes(...out.wire));
  assert.deepEqual(
    frames.map((f) => [f.opcode, f.fin, Buffer.from(f.payload).toString('hex')]),
    [
      [OP.text, true, Buffer.from('héllo').toString('hex')],
      [OP.binary, true, '010203'],
      [OP.text, false, Buffer.from('first ').toString('hex')],
      [OP.cont, true, Buffer.from('last').toString('hex')],
      [OP.text, true, Buffer.from('\u{1F600}'.repeat(40)).toString('hex')],
    ],
  );
  conn.close(1000);
  assert.throws(() => conn.sendSmall(OP.text, 'late'), (e: unknown) => e instanceof WebSocketError && e.code === ErrorCode.InvalidState);
  // A client's small frames are masked in place (RFC 6455 §5.3), each with a fresh key.
  const cout = new SmallOutput();
  const client = new Connection({ role: 'client' }, cout);
  assert.equal(client.sendSmall(OP.text, 'masked'), true);
  assert.equal(client.sendSmall(OP.binary, Uint8Array.of(9, 8, 7, 6, 5)), true);
  assert.equal(client.sendSmall(OP.text, '\u{1F600}'.repeat(40)), true, 'a 16-bit length, masked');
  const cframes = decodeFrames(concatBytes(...cout.wire));
  assert.deepEqual(
    cframes.map((f) => [f.opcode, f.fin, f.masked, Buffer.from(f.payload).toString('hex')]),
    [
      [OP.text, true, true, Buffer.from('masked').toString('hex')],
      [OP.binary, true, true, '0908070605'],
      [OP.text, true, true, Buffer.from('\u{1F600}'.repeat(40)).toString('hex')],
    ],
  );
  assert.ok(!Buffer.from(concatBytes(...cout.wire)).includes(Buffer.from('masked')), 'the payload is not on the wire in clear');
  const plain = new Connection({ role: 'server' }, { ...new SmallOutput(), reserve: undefined } as unknown as ConnectionHandler);
  assert.equal(plain.sendSmall(OP.text, 'no buffer'), false, 'a host without reserve');
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

test('writeSmallMaskedFrame: the same bytes as the general masked encoder, for 7- and 16-bit lengths (RFC 6455 §5.2, §5.3)', () => {
  let seed = 1;
  // A deterministic mask source: both encoders get the same key.
  const keys = (): ((dst: Uint8Array, at: number) => void) => {
    let k = seed++;
    return (dst, at) => {
      for (let i = 0; i < 4; i++) dst[at + i] = (k = (k * 1103515245 + 12345) & 0x7fffffff) & 255;
    };
  };
  for (const n of [0, 1, 3, 4, 5, 17, 125, 126, 127, 300, 375]) {
    const payload = Buffer.alloc(n);
    for (let i = 0; i < n; i++) payload[i] = (i * 37 + 11) & 255;
    for (const off of [0, 1, 3, 10]) {
      const buf = Buffer.alloc(off + 8 + n + 4, 0xee);
      payload.copy(buf, off + 6);
      const size = writeSmallMaskedFrame(buf, off, OP.binary, n, keys());
      seed--;
      const expected = encodeMaskedFrame(OP.binary, payload, true, 0, keys());
      assert.equal(size, expected.length, `size for ${n} at ${off}`);
      assert.ok(buf.subarray(off, off + size).equals(expected), `bytes for ${n} at ${off}`);
      assert.ok(buf.subarray(0, off).every((b) => b === 0xee), 'nothing before the frame is touched');
    }
  }
});
