// Client conformance: data framing (RFC 6455 §5), masking, fragmentation, control frames,
// and the client's reaction to protocol violations by the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  scope,
  frame,
  closeBytes,
  sleep,
  OP,
  expectCloseFrame,
  expectQuiet,
  nextMessageFrames,
  assertMinimalLength,
  textOfBytes,
  bytesOf,
  type Client,
  type Frame,
  type RawPeer,
} from './harness.js';
import { CUT_NAME, type CutOptions } from './cut.js';
import type { FrameSpec } from '../../support/raw.js';

const T = { timeout: 20_000 };
const SIZES = [0, 125, 126, 65535, 65536, 16 * 1024 * 1024];

/** Writes the header bytes one per write (with a short pause), then the rest in `chunk`-byte writes. */
async function writeSplit(peer: RawPeer, data: Buffer, chunk: number): Promise<void> {
  const headLen = Math.min(data.length, 14);
  await peer.writeChunked(data.subarray(0, headLen), 1, 1);
  if (data.length > headLen) await peer.writeChunked(data.subarray(headLen), chunk, 0);
}

// ---- client -> server ----

test(`[${CUT_NAME}] every client frame is masked, with a fresh mask key each time`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  const sent: Array<[number, Buffer]> = [];
  for (let i = 0; i < 6; i++) {
    const text = `message number ${i} ${'x'.repeat(i * 10)}`;
    client.send(text);
    sent.push([OP.TEXT, Buffer.from(text)]);
    const bin = bytesOf(20 + i, i + 7);
    client.send(bin);
    sent.push([OP.BINARY, bin]);
  }
  client.ping(Buffer.from('are you there'));
  sent.push([OP.PING, Buffer.from('are you there')]);
  const frames: Frame[] = [];
  for (let i = 0; i < sent.length; i++) frames.push(await peer.nextFrame(2000));
  const keys = new Set<string>();
  frames.forEach((f, i) => {
    assert.equal(f.masked, true, `frame ${i} is not masked`);
    assert.ok(f.maskKey && f.maskKey.length === 4);
    keys.add(f.maskKey.toString('hex'));
    assert.equal(f.fin, true);
    assert.equal(f.rsv, 0);
    assert.equal(f.opcode, sent[i]![0], `frame ${i} opcode`);
    assert.deepEqual(f.payload, sent[i]![1], `frame ${i}: unmasked payload differs`);
  });
  assert.equal(keys.size, frames.length, `mask keys repeat: ${[...keys].join(' ')}`);
});

test(`[${CUT_NAME}] a masked payload is not sent in clear (masking really applied)`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  const payload = Buffer.alloc(64, 0x41);
  client.send(payload);
  const f = await peer.nextFrame(2000);
  assert.equal(f.masked, true);
  assert.deepEqual(f.payload, payload);
  assert.notEqual(f.maskKey!.toString('hex'), '00000000', 'an all-zero mask key leaves the payload in clear');
});

for (const n of SIZES) {
  for (const kind of ['text', 'binary'] as const) {
    test(`[${CUT_NAME}] client sends ${kind} of ${n} bytes: one masked frame, minimal length, exact payload`, T, async (t) => {
      const s = await scope(t);
      const { client, peer } = await s.open();
      const expected = kind === 'text' ? Buffer.from(textOfBytes(n)) : bytesOf(n, n + 3);
      client.send(kind === 'text' ? expected.toString('utf8') : expected);
      const frames = await nextMessageFrames(peer, 15_000);
      assert.equal(frames[0]!.opcode, kind === 'text' ? OP.TEXT : OP.BINARY);
      for (const [i, f] of frames.entries()) {
        assert.equal(f.masked, true, `frame ${i} not masked`);
        assert.equal(f.rsv, 0);
        if (i > 0) assert.equal(f.opcode, OP.CONT);
        assertMinimalLength(f);
      }
      const got = frames.length === 1 ? frames[0]!.payload : Buffer.concat(frames.map((f) => f.payload));
      assert.equal(got.length, n);
      assert.ok(got.equals(expected), 'payload differs');
    });
  }
}

test(`[${CUT_NAME}] a pong answering a ping that arrives while the client sends 16 MiB is not interleaved inside a frame`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  const big = bytesOf(16 * 1024 * 1024, 99);
  client.send(big);
  peer.write(frame({ opcode: OP.PING, payload: 'mid-send' }));
  // parseFrames would misparse if the pong were spliced into the data frame's bytes.
  const frames: Frame[] = [];
  while (!frames.some((f) => f.opcode === OP.PONG) || !frames.some((f) => f.fin && f.opcode !== OP.PONG)) {
    frames.push(await peer.nextFrame(15_000));
  }
  const data = frames.filter((f) => f.opcode !== OP.PONG);
  const pong = frames.find((f) => f.opcode === OP.PONG)!;
  assert.equal(pong.payload.toString(), 'mid-send');
  assert.equal(pong.masked, true);
  assert.equal(data[0]!.opcode, OP.BINARY);
  for (const f of data.slice(1)) assert.equal(f.opcode, OP.CONT);
  assert.ok(Buffer.concat(data.map((f) => f.payload)).equals(big), 'data payload corrupted');
});

test(`[${CUT_NAME}] client ping(data) sends a masked ping with that payload`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  client.ping(Buffer.from([0, 1, 2, 0xff]));
  const f = await peer.nextFrame(2000);
  assert.equal(f.opcode, OP.PING);
  assert.equal(f.masked, true);
  assert.deepEqual(f.payload, Buffer.from([0, 1, 2, 0xff]));
});

// ---- server -> client ----

for (const n of SIZES) {
  for (const kind of ['text', 'binary'] as const) {
    const expected = (): Buffer => (kind === 'text' ? Buffer.from(textOfBytes(n)) : bytesOf(n, n + 11));
    const check = (client: Client, data: Buffer): void => {
      const m = client.events.messages[0]!;
      assert.equal(m.isBinary, kind === 'binary');
      assert.equal(m.data.length, n);
      assert.ok(m.data.equals(data), 'payload differs');
      assert.equal(client.events.messages.length, 1);
    };
    test(`[${CUT_NAME}] server sends ${kind} of ${n} bytes in one write`, T, async (t) => {
      const s = await scope(t);
      const { client, peer } = await s.open({ maxPayload: 32 * 1024 * 1024 });
      const data = expected();
      peer.write(frame({ opcode: kind === 'text' ? OP.TEXT : OP.BINARY, payload: data }));
      await client.waitMessages(1, 15_000);
      check(client, data);
    });
    // 1-byte writes for everything up to 64 KiB; the 16 MiB case splits its header
    // byte by byte and then uses 4093-byte writes (a prime, so chunks straddle everything).
    test(`[${CUT_NAME}] server sends ${kind} of ${n} bytes split into tiny writes`, T, async (t) => {
      const s = await scope(t);
      const { client, peer } = await s.open({ maxPayload: 32 * 1024 * 1024 });
      const data = expected();
      await writeSplit(peer, frame({ opcode: kind === 'text' ? OP.TEXT : OP.BINARY, payload: data }), n > 65536 ? 4093 : 1);
      await client.waitMessages(1, 15_000);
      check(client, data);
    });
  }
}

test(`[${CUT_NAME}] text messages are delivered as strings, binary as Buffers (ws13 API)`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  peer.write(frame({ opcode: OP.TEXT, payload: 'h\u00e9llo' }));
  peer.write(frame({ opcode: OP.BINARY, payload: Buffer.from([9, 8]) }));
  const [a, b] = await client.waitMessages(2, 2000);
  assert.equal(a!.raw, 'h\u00e9llo');
  assert.equal(a!.isBinary, false);
  assert.ok(Buffer.isBuffer(b!.raw));
  assert.equal(b!.isBinary, true);
});

test(`[${CUT_NAME}] fragmented text from the server with a ping between fragments`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  peer.write(frame({ opcode: OP.TEXT, fin: false, payload: 'Hel' }));
  peer.write(frame({ opcode: OP.PING, payload: 'between' }));
  peer.write(frame({ opcode: OP.CONT, fin: false, payload: 'lo, ' }));
  peer.write(frame({ opcode: OP.CONT, fin: true, payload: 'world' }));
  const pong = await peer.nextFrame(2000);
  assert.equal(pong.opcode, OP.PONG);
  assert.equal(pong.masked, true);
  assert.equal(pong.fin, true);
  assert.equal(pong.payload.toString(), 'between');
  const [m] = await client.waitMessages(1, 2000);
  assert.equal(m!.isBinary, false);
  assert.equal(m!.data.toString(), 'Hello, world');
  await expectQuiet(peer, 50);
});

test(`[${CUT_NAME}] fragmented binary from the server (many fragments, one empty), then another message`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  const whole = bytesOf(3000, 5);
  const parts = [whole.subarray(0, 1), whole.subarray(1, 1), whole.subarray(1, 200), whole.subarray(200, 2999), whole.subarray(2999)];
  const bytes = Buffer.concat(
    parts.map((p, i) => frame({ opcode: i === 0 ? OP.BINARY : OP.CONT, fin: i === parts.length - 1, payload: p })),
  );
  await writeSplit(peer, Buffer.concat([bytes, frame({ opcode: OP.TEXT, payload: 'next' })]), 7);
  const [a, b] = await client.waitMessages(2, 3000);
  assert.equal(a!.isBinary, true);
  assert.ok(a!.data.equals(whole));
  assert.equal(b!.data.toString(), 'next');
});

test(`[${CUT_NAME}] a multi-byte UTF-8 character split across fragments is valid`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  const euro = Buffer.from('\u20ac'); // e2 82 ac
  peer.write(frame({ opcode: OP.TEXT, fin: false, payload: Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]) }));
  peer.write(frame({ opcode: OP.CONT, fin: false, payload: euro.subarray(1, 2) }));
  peer.write(frame({ opcode: OP.CONT, fin: true, payload: Buffer.concat([euro.subarray(2), Buffer.from('b')]) }));
  const [m] = await client.waitMessages(1, 2000);
  assert.equal(m!.data.toString(), 'a\u20acb');
  await expectQuiet(peer, 50);
});

for (const payload of [Buffer.alloc(0), Buffer.from('p'), bytesOf(125, 3)]) {
  test(`[${CUT_NAME}] server ping of ${payload.length} bytes -> masked pong with the same payload`, T, async (t) => {
    const s = await scope(t);
    const { peer } = await s.open();
    peer.write(frame({ opcode: OP.PING, payload }));
    const f = await peer.nextFrame(2000);
    assert.equal(f.opcode, OP.PONG);
    assert.equal(f.masked, true);
    assert.equal(f.fin, true);
    assert.ok(f.payload.equals(payload), 'pong payload differs from ping payload');
  });
}

test(`[${CUT_NAME}] an unsolicited pong from the server is ignored`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  peer.write(frame({ opcode: OP.PONG, payload: 'unsolicited' }));
  peer.write(frame({ opcode: OP.TEXT, payload: 'after' }));
  const [m] = await client.waitMessages(1, 2000);
  assert.equal(m!.data.toString(), 'after');
  await expectQuiet(peer, 50);
  assert.equal(client.readyState, 1);
});

// ---- protocol violations by the server ----

interface Violation {
  name: string;
  bytes: () => Buffer;
  code: number;
  options?: CutOptions;
  /** Bytes are written as a prefix and the connection left hanging (fail-fast checks). */
  partial?: boolean;
}

const hello = (): Buffer => frame({ opcode: OP.TEXT, payload: 'must not be delivered' });

const violations: Violation[] = [
  { name: 'masked text frame from the server', code: 1002, bytes: () => frame({ opcode: OP.TEXT, payload: 'hi', mask: true }) },
  { name: 'masked ping from the server', code: 1002, bytes: () => frame({ opcode: OP.PING, payload: 'p', mask: true }) },
  { name: 'RSV1 set (no extension negotiated)', code: 1002, bytes: () => frame({ opcode: OP.TEXT, rsv1: true, payload: 'x' }) },
  { name: 'RSV2 set', code: 1002, bytes: () => frame({ opcode: OP.BINARY, rsv2: true, payload: 'x' }) },
  { name: 'RSV3 set', code: 1002, bytes: () => frame({ opcode: OP.TEXT, rsv3: true, payload: 'x' }) },
  { name: 'RSV1 on a ping', code: 1002, bytes: () => frame({ opcode: OP.PING, rsv1: true, payload: 'x' }) },
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map(
    (op): Violation => ({
      name: `reserved opcode 0x${op.toString(16)}`,
      code: 1002,
      bytes: () => frame({ opcode: op, payload: 'x' }),
    }),
  ),
  { name: 'continuation frame without a started message', code: 1002, bytes: () => frame({ opcode: OP.CONT, payload: 'x' }) },
  {
    name: 'non-final continuation without a started message',
    code: 1002,
    bytes: () => frame({ opcode: OP.CONT, fin: false, payload: 'x' }),
  },
  {
    name: 'new text frame while a fragmented message is in progress',
    code: 1002,
    bytes: () =>
      Buffer.concat([frame({ opcode: OP.TEXT, fin: false, payload: 'a' }), frame({ opcode: OP.TEXT, payload: 'b' })]),
  },
  {
    name: 'new binary frame while a fragmented message is in progress',
    code: 1002,
    bytes: () =>
      Buffer.concat([frame({ opcode: OP.BINARY, fin: false, payload: 'a' }), frame({ opcode: OP.BINARY, payload: 'b' })]),
  },
  { name: 'ping with 126-byte payload', code: 1002, bytes: () => frame({ opcode: OP.PING, payload: Buffer.alloc(126, 1) }) },
  { name: 'pong with 126-byte payload', code: 1002, bytes: () => frame({ opcode: OP.PONG, payload: Buffer.alloc(126, 1) }) },
  {
    name: 'close with 126-byte payload',
    code: 1002,
    bytes: () => frame({ opcode: OP.CLOSE, payload: closeBytes(1000, 'r'.repeat(124)) }),
  },
  { name: 'fragmented ping (FIN clear)', code: 1002, bytes: () => frame({ opcode: OP.PING, fin: false, payload: 'x' }) },
  { name: 'fragmented close (FIN clear)', code: 1002, bytes: () => frame({ opcode: OP.CLOSE, fin: false, payload: closeBytes(1000) }) },
  { name: 'close frame with a 1-byte payload', code: 1002, bytes: () => frame({ opcode: OP.CLOSE, payload: Buffer.from([0x03]) }) },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].map(
    (c): Violation => ({
      name: `close with invalid code ${c}`,
      code: 1002,
      bytes: () => frame({ opcode: OP.CLOSE, payload: closeBytes(c, 'bad') }),
    }),
  ),
  {
    name: 'close with invalid UTF-8 reason',
    code: 1007,
    bytes: () => frame({ opcode: OP.CLOSE, payload: closeBytes(1000, Buffer.from([0x61, 0xff, 0x62])) }),
  },
  ...(
    [
      ['0xff byte', [0x68, 0xff, 0x69]],
      ['lone continuation byte 0x80', [0x80]],
      ['overlong "/" (c0 af)', [0xc0, 0xaf]],
      ['overlong 3-byte (e0 80 af)', [0xe0, 0x80, 0xaf]],
      ['UTF-16 surrogate (ed a0 80)', [0xed, 0xa0, 0x80]],
      ['code point above U+10FFFF (f4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
      ['truncated sequence at end of message (e2 82)', [0x61, 0xe2, 0x82]],
      ['0xf5 lead byte', [0xf5, 0x80, 0x80, 0x80]],
    ] as Array<[string, number[]]>
  ).map(
    ([n, b]): Violation => ({
      name: `invalid UTF-8 in text: ${n}`,
      code: 1007,
      bytes: () => frame({ opcode: OP.TEXT, payload: Buffer.from(b) }),
    }),
  ),
  {
    name: 'invalid UTF-8 in the last fragment of a fragmented text',
    code: 1007,
    bytes: () =>
      Buffer.concat([
        frame({ opcode: OP.TEXT, fin: false, payload: 'valid start ' }),
        frame({ opcode: OP.CONT, fin: true, payload: Buffer.from([0xce, 0xba, 0xff]) }),
      ]),
  },
  {
    name: 'fragmented text that ends inside a multi-byte character',
    code: 1007,
    bytes: () =>
      Buffer.concat([
        frame({ opcode: OP.TEXT, fin: false, payload: Buffer.from([0x61, 0xf0, 0x9f]) }),
        frame({ opcode: OP.CONT, fin: true, payload: Buffer.from([0x98]) }),
      ]),
  },
  {
    name: 'fail-fast: invalid byte early in a 1000-byte text frame whose rest never arrives',
    code: 1007,
    partial: true,
    bytes: () => frame({ opcode: OP.TEXT, payload: Buffer.concat([Buffer.from('ok '), Buffer.from([0xff]), Buffer.alloc(996, 0x61)]) }).subarray(0, 4 + 20),
  },
  {
    name: 'fail-fast: invalid first fragment of a message whose next fragments never arrive',
    code: 1007,
    partial: true,
    bytes: () => frame({ opcode: OP.TEXT, fin: false, payload: Buffer.from([0x61, 0xc0, 0x80, 0x62]) }),
  },
  {
    name: 'maxPayload 1000: frame header declaring 1001 bytes (payload never sent)',
    code: 1009,
    partial: true,
    options: { maxPayload: 1000 },
    bytes: () => frame({ opcode: OP.BINARY, payload: Buffer.alloc(0), declaredLength: 1001 }),
  },
  {
    name: 'maxPayload 1000: 64-bit length 2^62 (payload never sent)',
    code: 1009,
    partial: true,
    options: { maxPayload: 1000 },
    bytes: () => frame({ opcode: OP.TEXT, payload: Buffer.alloc(0), declaredLength: 2n ** 62n }),
  },
  {
    name: 'maxPayload 1000: fragments of 600 + 600 bytes',
    code: 1009,
    options: { maxPayload: 1000 },
    bytes: () =>
      Buffer.concat([
        frame({ opcode: OP.BINARY, fin: false, payload: Buffer.alloc(600, 1) }),
        frame({ opcode: OP.CONT, fin: true, payload: Buffer.alloc(600, 2) }),
      ]),
  },
];

for (const v of violations) {
  test(`[${CUT_NAME}] ${v.name} -> client closes with ${v.code}`, T, async (t) => {
    const s = await scope(t);
    const { client, peer } = await s.open({ closeTimeout: 2000, ...(v.options ?? {}) });
    const bytes = v.bytes();
    peer.write(v.partial ? bytes : Buffer.concat([bytes, hello()]));
    const t0 = Date.now();
    await expectCloseFrame(peer, v.code, 1500);
    const dt = Date.now() - t0;
    if (v.partial) assert.ok(dt < 1000, `close came after ${dt} ms; must not wait for more data`);
    // Nothing after the violation may be delivered as a message.
    assert.deepEqual(
      client.events.messages.map((m) => m.data.toString('latin1')),
      [],
      'no message may be delivered',
    );
    // RFC 6455 §7.1.7: having failed the connection, the client does not wait for a server
    // that broke the protocol: TCP is closed right after its close frame (as `ws` does).
    const t1 = Date.now();
    const closed = await client.waitClose(1000);
    const closeMs = Date.now() - t1;
    assert.ok([v.code, 1006].includes(closed.code), `close event code ${closed.code}, expected ${v.code} (or 1006)`);
    const err = client.events.errors[0];
    assert.ok(err, 'an error event must be emitted for a protocol violation');
    assert.match(err.code ?? '', /^WS_ERR_/, `error code ${err.code}`);
    assert.equal(err.closeCode, v.code, 'error.closeCode');
    assert.ok(client.events.order.indexOf('error') < client.events.order.indexOf('close'), 'error must precede close');
    assert.ok(closeMs < 500, `close event ${closeMs} ms after the close frame; closeTimeout is 2000`);
    await peer.waitEnd(1000);
  });
}

test(`[${CUT_NAME}] maxPayload: a message of exactly maxPayload bytes is accepted (also fragmented)`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open({ maxPayload: 1000 });
  peer.write(frame({ opcode: OP.BINARY, payload: Buffer.alloc(1000, 7) }));
  peer.write(frame({ opcode: OP.TEXT, fin: false, payload: 'a'.repeat(500) }));
  peer.write(frame({ opcode: OP.CONT, fin: true, payload: 'b'.repeat(500) }));
  const [a, b] = await client.waitMessages(2, 2000);
  assert.equal(a!.data.length, 1000);
  assert.equal(b!.data.toString(), 'a'.repeat(500) + 'b'.repeat(500));
  await expectQuiet(peer, 50);
});

test(`[${CUT_NAME}] valid close codes from the server are accepted and reported`, T, async (t) => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    const s = await scope(t);
    const { client, peer } = await s.open();
    peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(code, `c${code}`) }));
    const f = await peer.nextFrame(2000);
    assert.equal(f.opcode, OP.CLOSE, `code ${code}: expected a close reply`);
    assert.equal(f.masked, true);
    const echoed = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
    assert.ok(echoed === code || echoed === 1000, `code ${code}: client replied with ${echoed}`);
    peer.socket.end();
    const closed = await client.waitClose(2000);
    assert.deepEqual(closed, { code, reason: `c${code}` }, `code ${code}`);
    assert.equal(client.events.errors.length, 0, `code ${code}: no error expected`);
  }
});

test(`[${CUT_NAME}] empty close frame from the server -> reply close, close event 1005`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  peer.write(frame({ opcode: OP.CLOSE }));
  const f = await peer.nextFrame(2000);
  assert.equal(f.opcode, OP.CLOSE);
  assert.equal(f.masked, true);
  assert.ok(f.payload.length === 0 || f.payload.readUInt16BE(0) === 1000, `reply payload ${f.payload.toString('hex')}`);
  peer.socket.end();
  const closed = await client.waitClose(2000);
  assert.equal(closed.code, 1005);
  assert.equal(closed.reason, '');
});

test(`[${CUT_NAME}] data after the server's close frame is not delivered`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  peer.write(Buffer.concat([frame({ opcode: OP.CLOSE, payload: closeBytes(1000) }), frame({ opcode: OP.TEXT, payload: 'late' })]));
  await expectCloseFrame(peer, 1000);
  peer.socket.end();
  await client.waitClose(2000);
  assert.equal(client.events.messages.length, 0);
});

export type { FrameSpec };
