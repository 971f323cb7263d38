// RFC 6455 §5.1–§5.2 (base framing protocol) and §10.4 (limits), driven through Connection
// with hand-built byte fixtures, each fed whole, in 1-byte and in 2-byte chunks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/index.js';
import {
  OP,
  RFC_KEY,
  assertFailed,
  c2s,
  concatBytes,
  feed,
  fromHex,
  hex,
  open,
  pattern,
  runAll,
  s2c,
  toRole,
  utf8,
} from './support.js';

describe('RFC 6455 §5.2 payload length encodings', () => {
  const cases: Array<{ len: number; bits: 7 | 16 | 64; second: number; header: number }> = [
    { len: 0, bits: 7, second: 0, header: 2 },
    { len: 125, bits: 7, second: 125, header: 2 },
    { len: 126, bits: 16, second: 126, header: 4 },
    { len: 65535, bits: 16, second: 126, header: 4 },
    { len: 65536, bits: 64, second: 127, header: 10 },
  ];
  for (const role of ['server', 'client'] as const) {
    for (const { len, bits, second, header } of cases) {
      test(`§5.2: ${len}-byte binary message with a ${bits}-bit length, received by the ${role}`, () => {
        const payload = pattern(len, 7);
        const bytes = toRole(role, { opcode: OP.binary, payload });
        // The fixture itself uses the expected encoding.
        assert.equal(bytes[0], 0x82);
        assert.equal(bytes[1]! & 0x7f, second);
        assert.equal((bytes[1]! & 0x80) !== 0, role === 'server');
        assert.equal(bytes.length, header + (role === 'server' ? 4 : 0) + len);
        const r = runAll(role, bytes);
        assert.deepEqual(r.calls, [{ kind: 'message', hex: hex(payload), text: false }]);
        assert.deepEqual(r.state, { kind: 'open' });
        assert.equal(r.conn.receiveBuffered, 0);
      });
    }
    test(`§5.2: text messages of 0, 125, 126, 65535 and 65536 bytes, received by the ${role}`, () => {
      for (const len of [0, 125, 126, 65535, 65536]) {
        const text = 'é'.repeat(Math.floor(len / 2)) + 'a'.repeat(len % 2);
        assert.equal(utf8(text).length, len);
        const r = runAll(role, toRole(role, { opcode: OP.text, payload: text }));
        assert.deepEqual(r.calls, [{ kind: 'message', hex: hex(utf8(text)), text: true }]);
      }
    });
  }

  test('§5.2: exact header bytes of the length fixtures (hand-written hex)', () => {
    // Server to client, unmasked: 82 7e 00 7e + 126 bytes, 82 7f 00..01 00 00 + 65536 bytes.
    const r126 = runAll('client', concatBytes(fromHex('82 7e 00 7e'), pattern(126)));
    assert.deepEqual(r126.calls, [{ kind: 'message', hex: hex(pattern(126)), text: false }]);
    const r64k = runAll('client', concatBytes(fromHex('82 7f 00 00 00 00 00 01 00 00'), pattern(65536)));
    assert.deepEqual(r64k.calls, [{ kind: 'message', hex: hex(pattern(65536)), text: false }]);
    // RFC 6455 §5.7: unmasked and masked "Hello".
    assert.deepEqual(runAll('client', fromHex('81 05 48 65 6c 6c 6f')).calls, [
      { kind: 'message', hex: hex(utf8('Hello')), text: true },
    ]);
    assert.deepEqual(runAll('server', fromHex('81 85 37 fa 21 3d 7f 9f 4d 51 58')).calls, [
      { kind: 'message', hex: hex(utf8('Hello')), text: true },
    ]);
  });

  test('§5.2: several frames in one chunk are all delivered, in order', () => {
    const bytes = concatBytes(
      c2s({ opcode: OP.text, payload: 'one' }),
      c2s({ opcode: OP.binary, payload: Uint8Array.of(1, 2, 3) }),
      c2s({ opcode: OP.text, payload: '' }),
      c2s({ opcode: OP.ping, payload: 'p' }),
    );
    const r = runAll('server', bytes);
    assert.deepEqual(r.calls, [
      { kind: 'message', hex: hex(utf8('one')), text: true },
      { kind: 'message', hex: '010203', text: false },
      { kind: 'message', hex: '', text: true },
      { kind: 'write', hex: '8a0170' },
      { kind: 'ping', hex: '70' },
    ]);
  });

  test('§5.2: an empty chunk changes nothing; a partial frame stays buffered', () => {
    const { conn, rec } = open('server');
    conn.receiveData(new Uint8Array(0));
    const bytes = c2s({ opcode: OP.text, payload: 'abc' });
    feed(conn, bytes.subarray(0, 5));
    assert.deepEqual(rec.calls, []);
    // 2 header bytes parsed; 3 of the 4 mask-key bytes wait for the fourth.
    assert.equal(conn.receiveBuffered, 3);
    feed(conn, bytes.subarray(5));
    assert.deepEqual(rec.calls, [{ kind: 'message', hex: hex(utf8('abc')), text: true }]);
    assert.equal(conn.receiveBuffered, 0);
  });
});

describe('RFC 6455 §5.1 masking direction', () => {
  test('§5.1: a server fails the connection on an unmasked frame: WS_ERR_EXPECTED_MASK, 1002', () => {
    const r = runAll('server', s2c({ opcode: OP.text, payload: 'hi' }));
    assertFailed(r, ErrorCode.ExpectedMask, 1002);
    // The close frame is written unmasked (server role) before error and shutdown.
    assert.deepEqual(r.rec.kinds(), ['write', 'error', 'shutdown']);
    const [close] = r.rec.frames();
    assert.equal(close!.masked, false);
    assert.equal(hex(close!.payload.subarray(0, 2)), '03ea');
  });

  test('§5.1: the server fails on the header alone, before any payload byte', () => {
    const { conn, rec } = open('server');
    feed(conn, fromHex('81 05'));
    assert.deepEqual(
      rec.calls.filter((c) => c.kind === 'error'),
      [{ kind: 'error', code: ErrorCode.ExpectedMask, closeCode: 1002 }],
    );
    const calls = rec.calls.length;
    feed(conn, utf8('hello'));
    assert.equal(rec.calls.length, calls, 'bytes after the failure are ignored');
  });

  test('§5.1: a client fails the connection on a masked frame: WS_ERR_UNEXPECTED_MASK, 1002', () => {
    const r = runAll('client', c2s({ opcode: OP.binary, payload: Uint8Array.of(9, 9) }));
    assertFailed(r, ErrorCode.UnexpectedMask, 1002);
    const [close] = r.rec.frames();
    // The client's own close frame is masked with the injected mask source (01 02 03 04).
    assert.equal(close!.masked, true);
    assert.equal(close!.key, '01020304');
  });

  test('§5.1: unmasked control frames to a server also fail it', () => {
    for (const opcode of [OP.ping, OP.pong, OP.close]) {
      const r = runAll('server', s2c({ opcode }));
      assertFailed(r, ErrorCode.ExpectedMask, 1002);
    }
  });
});

describe('RFC 6455 §5.2 reserved bits and opcodes', () => {
  for (const rsv of [1, 2, 4, 3, 7]) {
    test(`§5.2: RSV bits ${rsv.toString(2).padStart(3, '0')} without an extension fail with 1002`, () => {
      const r = runAll('server', c2s({ opcode: OP.text, payload: 'x', rsv }));
      assertFailed(r, ErrorCode.UnexpectedRsv, 1002);
      assert.equal(r.rec.messages().length, 0);
    });
  }

  test('§5.2: RSV bits on a control frame fail with 1002 too (client role)', () => {
    const r = runAll('client', s2c({ opcode: OP.ping, rsv: 4 }));
    assertFailed(r, ErrorCode.UnexpectedRsv, 1002);
    assert.ok(!r.calls.some((c) => c.kind === 'ping'));
  });

  for (const opcode of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`§5.2: reserved opcode 0x${opcode.toString(16)} fails with WS_ERR_INVALID_OPCODE, 1002`, () => {
      const r = runAll('server', c2s({ opcode, payload: 'abc' }));
      assertFailed(r, ErrorCode.InvalidOpcode, 1002);
    });
  }

  test('§5.2: a reserved opcode after a valid message: the message is kept, then the failure', () => {
    const bytes = concatBytes(c2s({ opcode: OP.text, payload: 'ok' }), c2s({ opcode: 0x5 }));
    const r = runAll('server', bytes);
    assert.deepEqual(r.calls[0], { kind: 'message', hex: hex(utf8('ok')), text: true });
    assertFailed(r, ErrorCode.InvalidOpcode, 1002);
  });
});

describe('RFC 6455 §5.2 64-bit length and §10.4 limits', () => {
  test('§5.2: a 64-bit length with the most significant bit set fails with WS_ERR_INVALID_LENGTH, 1002', () => {
    const r = runAll('server', concatBytes(fromHex('82 ff 80 00 00 00 00 00 00 01'), RFC_KEY, Uint8Array.of(1)));
    assertFailed(r, ErrorCode.InvalidLength, 1002);
  });

  test('§5.2: MSB set is detected from the length bytes alone', () => {
    const { conn, rec } = open('client');
    feed(conn, fromHex('82 7f 80 00 00 00 00 00 00 00'));
    assert.deepEqual(
      rec.calls.filter((c) => c.kind === 'error'),
      [{ kind: 'error', code: ErrorCode.InvalidLength, closeCode: 1002 }],
    );
  });

  test('§10.4: a 64-bit length of 2^53 or more fails with 1009 (no exact number, no limit allows it)', () => {
    const r = runAll('client', fromHex('82 7f 00 20 00 00 00 00 00 00'));
    assertFailed(r, ErrorCode.MessageTooBig, 1009);
  });

  test('§5.2: with a length of 2^53 or more, a reserved bit is reported first (1002, not 1009)', () => {
    // RSV2 set, binary, 64-bit length 2^60: the header's other fields are judged before the length.
    const r = runAll('client', fromHex('a2 7f 10 00 00 00 00 00 00 00'));
    assertFailed(r, ErrorCode.UnexpectedRsv, 1002);
  });

  test('§5.2: with a length of 2^53 or more, a reserved opcode is reported first (1002, not 1009)', () => {
    const r = runAll('client', fromHex('83 7f 00 20 00 00 00 00 00 00'));
    assertFailed(r, ErrorCode.InvalidOpcode, 1002);
  });

  test('§10.4: a 64-bit length of 2^53 or more fails with 1009 even without maxPayload', () => {
    const r = runAll('client', fromHex('82 7f 00 20 00 00 00 00 00 00'), { maxPayload: Infinity });
    assertFailed(r, ErrorCode.MessageTooBig, 1009);
  });

  test('§10.4: maxPayload is checked from the header, before any payload byte is fed', () => {
    const { conn, rec } = open('server', { maxPayload: 10 });
    const bytes = c2s({ opcode: OP.binary, payload: pattern(11) });
    feed(conn, bytes.subarray(0, 2)); // 82 8b: header through the length only
    assert.deepEqual(
      rec.calls.filter((c) => c.kind === 'error'),
      [{ kind: 'error', code: ErrorCode.MessageTooBig, closeCode: 1009 }],
    );
    assert.equal(conn.state.kind, 'closed');
    const [close] = rec.frames();
    assert.equal(close!.opcode, OP.close);
    assert.equal(hex(close!.payload.subarray(0, 2)), '03f1');
    const n = rec.calls.length;
    feed(conn, bytes.subarray(2));
    assert.equal(rec.calls.length, n);
  });

  test('§10.4: maxPayload from a 16-bit and a 64-bit header, all chunkings', () => {
    const r16 = runAll('server', c2s({ opcode: OP.binary, payload: pattern(300) }), { maxPayload: 299 });
    assertFailed(r16, ErrorCode.MessageTooBig, 1009);
    const r64 = runAll('client', fromHex('82 7f 00 00 00 01 00 00 00 00'), { maxPayload: 1 << 20 });
    assertFailed(r64, ErrorCode.MessageTooBig, 1009);
  });

  test('§10.4: a message of exactly maxPayload bytes is accepted', () => {
    const r = runAll('server', c2s({ opcode: OP.binary, payload: pattern(300) }), { maxPayload: 300 });
    assert.deepEqual(r.calls, [{ kind: 'message', hex: hex(pattern(300)), text: false }]);
  });

  test('§10.4: maxPayload counts the sum of a message\'s fragments; fails at the header of the one that passes it', () => {
    const first = c2s({ opcode: OP.binary, payload: pattern(6), fin: false });
    const second = c2s({ opcode: OP.cont, payload: pattern(5) });
    const { conn, rec } = open('server', { maxPayload: 10 });
    feed(conn, first, 1);
    assert.equal(rec.calls.length, 0);
    feed(conn, second.subarray(0, 2), 1);
    assert.deepEqual(
      rec.calls.filter((c) => c.kind === 'error'),
      [{ kind: 'error', code: ErrorCode.MessageTooBig, closeCode: 1009 }],
    );
    // And the same through all chunkings.
    assertFailed(runAll('server', concatBytes(first, second), { maxPayload: 10 }), ErrorCode.MessageTooBig, 1009);
    // Control frames do not count towards the message.
    const withPing = concatBytes(
      c2s({ opcode: OP.binary, payload: pattern(6), fin: false }),
      c2s({ opcode: OP.ping, payload: pattern(100) }),
      c2s({ opcode: OP.cont, payload: pattern(4) }),
    );
    const ok = runAll('server', withPing, { maxPayload: 10 });
    assert.deepEqual(ok.calls.at(-1), { kind: 'message', hex: hex(concatBytes(pattern(6), pattern(4))), text: false });
  });

  test('§10.4: the limit applies per message, not per connection', () => {
    const bytes = concatBytes(
      c2s({ opcode: OP.binary, payload: pattern(8) }),
      c2s({ opcode: OP.binary, payload: pattern(8) }),
    );
    const r = runAll('server', bytes, { maxPayload: 10 });
    assert.deepEqual(r.rec.kinds(), ['message', 'message']);
  });
});

describe('RFC 6455 §7.1.7 after a failure', () => {
  test('§7.1.7: nothing more is parsed or delivered once the connection failed', () => {
    const bytes = concatBytes(
      c2s({ opcode: OP.text, payload: 'a', rsv: 2 }),
      c2s({ opcode: OP.text, payload: 'b' }),
      c2s({ opcode: OP.ping }),
    );
    const r = runAll('server', bytes);
    assert.deepEqual(r.rec.kinds(), ['write', 'error', 'shutdown']);
    feed(r.conn, c2s({ opcode: OP.text, payload: 'later' }));
    r.conn.receiveEof();
    assert.deepEqual(r.rec.kinds(), ['write', 'error', 'shutdown']);
  });
});

describe('receive flow control: pause() and resume()', () => {
  const three = concatBytes(
    c2s({ opcode: OP.text, payload: 'one' }),
    c2s({ opcode: OP.ping, payload: 'p' }),
    c2s({ opcode: OP.text, payload: 'two' }),
  );

  test('pause() before data holds every frame; resume() delivers them in order', () => {
    for (const size of [0, 1, 2]) {
      const { conn, rec } = open('server');
      conn.pause();
      assert.equal(conn.isPaused, true);
      feed(conn, three, size);
      assert.deepEqual(rec.calls, [], `size ${size}`);
      assert.equal(conn.receiveBuffered, three.length);
      conn.resume();
      assert.equal(conn.isPaused, false);
      assert.deepEqual(rec.calls, [
        { kind: 'message', hex: hex(utf8('one')), text: true },
        { kind: 'write', hex: '8a0170' },
        { kind: 'ping', hex: '70' },
        { kind: 'message', hex: hex(utf8('two')), text: true },
      ]);
      assert.equal(conn.receiveBuffered, 0);
    }
  });

  test('pause() from inside message() stops after that message; resume() continues with the next frame', () => {
    for (const size of [0, 1, 2]) {
      const { conn, rec } = open('server');
      rec.onMessage = () => conn.pause();
      feed(conn, three, size);
      assert.deepEqual(rec.calls, [{ kind: 'message', hex: hex(utf8('one')), text: true }], `size ${size}`);
      assert.equal(conn.receiveBuffered, three.length - c2s({ opcode: OP.text, payload: 'one' }).length);
      conn.resume(); // pauses again after "two"
      assert.deepEqual(rec.kinds(), ['message', 'write', 'ping', 'message']);
      assert.deepEqual(rec.calls[3], { kind: 'message', hex: hex(utf8('two')), text: true });
      assert.equal(conn.isPaused, true);
      assert.equal(conn.receiveBuffered, 0);
      conn.resume();
      assert.equal(rec.calls.length, 4);
    }
  });

  test('resume() without pause() does nothing; a message arriving while paused waits', () => {
    const { conn, rec } = open('client');
    conn.resume();
    conn.pause();
    feed(conn, s2c({ opcode: OP.binary, payload: Uint8Array.of(5) }));
    feed(conn, s2c({ opcode: OP.close }));
    assert.deepEqual(rec.calls, []);
    assert.equal(conn.state.kind, 'open');
    conn.resume();
    assert.deepEqual(rec.calls, [
      { kind: 'message', hex: '05', text: false },
      { kind: 'write', hex: '888001020304' },
      { kind: 'shutdown' },
    ]);
    assert.equal(conn.state.kind, 'closed');
  });
});
