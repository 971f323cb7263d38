// RFC 6455 §5.5.1 (close frames) and §7 (closing the connection) through Connection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, Opcode, WebSocketError, isValidCloseCode, validateClose } from '../../src/protocol/index.js';
import { OP, assertFailed, c2s, concatBytes, feed, hex, open, runAll, s2c, summary, utf8 } from './support.js';

function closePayload(code: number, reason: Uint8Array | string = ''): Uint8Array {
  const r = typeof reason === 'string' ? utf8(reason) : reason;
  return concatBytes(Uint8Array.of(code >> 8, code & 0xff), r);
}

const isErr = (code: string) => (e: unknown) => e instanceof WebSocketError && e.code === code;

describe('RFC 6455 §5.5.1 receiving a close frame first', () => {
  test('§5.5.1: an empty close is echoed empty; state closed with 1005 both ways, receivedFirst', () => {
    const r = runAll('server', c2s({ opcode: OP.close }));
    assert.deepEqual(r.calls, [{ kind: 'write', hex: '8800' }, { kind: 'shutdown' }]);
    assert.deepEqual(r.state, {
      kind: 'closed',
      sent: { code: 1005, reason: '' },
      received: { code: 1005, reason: '' },
      receivedFirst: true,
      error: undefined,
    });
  });

  test('§5.5.1: a close with a code and reason is echoed (code and reason); both are recorded', () => {
    const reason = 'bye, ünïcode';
    const r = runAll('server', c2s({ opcode: OP.close, payload: closePayload(1000, reason) }));
    assert.deepEqual(r.calls, [{ kind: 'write', hex: '8810' + '03e8' + hex(utf8(reason)) }, { kind: 'shutdown' }]);
    assert.deepEqual(r.state, {
      kind: 'closed',
      sent: { code: 1000, reason },
      received: { code: 1000, reason: 'bye, ünïcode' },
      receivedFirst: true,
      error: undefined,
    });
  });

  test('§5.5.1: a client echoes the close masked', () => {
    const r = runAll('client', s2c({ opcode: OP.close, payload: closePayload(1001) }));
    // 88 82, key 01 02 03 04, 03^01 e9^02
    assert.deepEqual(r.calls, [{ kind: 'write', hex: '88820102030402eb' }, { kind: 'shutdown' }]);
    assert.equal(r.state.received?.code, 1001);
  });

  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    test(`§7.4.1: valid code ${code} is accepted and echoed`, () => {
      const r = runAll('server', c2s({ opcode: OP.close, payload: closePayload(code, 'r') }));
      const codeHex = code.toString(16).padStart(4, '0');
      assert.deepEqual(r.calls, [{ kind: 'write', hex: '8803' + codeHex + '72' }, { kind: 'shutdown' }]);
      assert.deepEqual(r.state.received, { code, reason: 'r' });
      assert.deepEqual(r.state.sent, { code, reason: 'r' });
    });
  }

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    test(`§7.4: invalid code ${code} on the wire fails with WS_ERR_INVALID_CLOSE_CODE, 1002`, () => {
      const r = runAll('server', c2s({ opcode: OP.close, payload: closePayload(code) }));
      assertFailed(r, ErrorCode.InvalidCloseCode, 1002);
      assert.equal(r.rec.frames().length, 1);
    });
  }

  test('§5.5.1: a 1-byte close payload fails with WS_ERR_INVALID_CLOSE_PAYLOAD, 1002', () => {
    const r = runAll('server', c2s({ opcode: OP.close, payload: Uint8Array.of(0x03) }));
    assertFailed(r, ErrorCode.InvalidClosePayload, 1002);
  });

  for (const [name, bytes] of [
    ['a lone continuation byte', [0x80]],
    ['a truncated 2-byte sequence', [0xc3]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['a surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['0xFF', [0x61, 0xff]],
  ] as const) {
    test(`§5.5.1, §8.1: a close reason with ${name} fails with WS_ERR_INVALID_UTF8, 1007`, () => {
      const r = runAll('server', c2s({ opcode: OP.close, payload: closePayload(1000, Uint8Array.from(bytes)) }));
      assertFailed(r, ErrorCode.InvalidUtf8, 1007);
    });
  }

  test('§5.5.1: a close reason of 123 bytes (125-byte payload) is accepted', () => {
    const reason = 'x'.repeat(123);
    const r = runAll('server', c2s({ opcode: OP.close, payload: closePayload(4000, reason) }));
    assert.deepEqual(r.state.received, { code: 4000, reason });
  });

  test('§1.4: bytes after the close frame are not parsed', () => {
    const bytes = concatBytes(c2s({ opcode: OP.close }), c2s({ opcode: OP.text, payload: 'after' }), c2s({ opcode: OP.ping }));
    const r = runAll('server', bytes);
    assert.deepEqual(r.rec.kinds(), ['write', 'shutdown']);
    feed(r.conn, c2s({ opcode: OP.text, payload: 'later' }));
    assert.deepEqual(r.rec.kinds(), ['write', 'shutdown']);
  });

  test('§5.5.1: a close in the middle of a fragmented message ends it; the partial message is dropped', () => {
    const bytes = concatBytes(c2s({ opcode: OP.text, payload: 'part', fin: false }), c2s({ opcode: OP.close, payload: closePayload(1000) }));
    const r = runAll('server', bytes);
    assert.deepEqual(r.calls, [{ kind: 'write', hex: '880203e8' }, { kind: 'shutdown' }]);
  });

  test('§5.5.1: after the peer\'s close, send/ping/close fail or do nothing', () => {
    const r = runAll('server', c2s({ opcode: OP.close }));
    assert.throws(() => r.conn.sendText('x'), isErr(ErrorCode.InvalidState));
    assert.throws(() => r.conn.send(Opcode.Binary, Uint8Array.of(1)), isErr(ErrorCode.InvalidState));
    assert.throws(() => r.conn.ping(), isErr(ErrorCode.InvalidState));
    r.conn.close(1000);
    assert.deepEqual(r.rec.kinds(), ['write', 'shutdown']);
  });
});

describe('RFC 6455 §7.1.2 starting the closing handshake', () => {
  test('§7.1.2: close() without a code sends an empty close frame; state closing', () => {
    const { conn, rec } = open('server');
    conn.close();
    assert.deepEqual(rec.calls, [{ kind: 'write', hex: '8800' }]);
    assert.deepEqual(summary(conn.state), { kind: 'closing', sent: { code: 1005, reason: '' } });
  });

  test('§7.1.2: close(code, reason) sends the code and the UTF-8 reason', () => {
    const { conn, rec } = open('server');
    conn.close(1000, 'bye');
    assert.deepEqual(rec.calls, [{ kind: 'write', hex: '880503e8' + hex(utf8('bye')) }]);
    assert.deepEqual(summary(conn.state), { kind: 'closing', sent: { code: 1000, reason: 'bye' } });
    conn.close(1001, 'again');
    assert.equal(rec.calls.length, 1, 'a second close() does nothing');
  });

  test('§7.1.2: a client\'s close frame is masked with the injected mask source', () => {
    const { conn, rec } = open('client');
    conn.close(4001);
    // 88 82, key 01 02 03 04, 0f^01 a1^02
    assert.deepEqual(rec.calls, [{ kind: 'write', hex: '8882010203040ea3' }]);
  });

  test('§7.1.2: after our close, data still arrives until the peer\'s close; state closed, receivedFirst false', () => {
    const bytes = concatBytes(
      c2s({ opcode: OP.text, payload: 'in flight' }),
      c2s({ opcode: OP.binary, payload: Uint8Array.of(7), fin: false }),
      c2s({ opcode: OP.cont, payload: Uint8Array.of(8) }),
      c2s({ opcode: OP.pong, payload: 'p' }),
      c2s({ opcode: OP.close, payload: closePayload(1000, 'ack') }),
      c2s({ opcode: OP.text, payload: 'ignored' }),
    );
    const r = runAll('server', bytes, {}, (conn) => conn.close(1000, 'bye'));
    assert.deepEqual(r.calls, [
      { kind: 'write', hex: '880503e8' + hex(utf8('bye')) },
      { kind: 'message', hex: hex(utf8('in flight')), text: true },
      { kind: 'message', hex: '0708', text: false },
      { kind: 'pong', hex: '70' },
      { kind: 'shutdown' },
    ]);
    assert.deepEqual(r.state, {
      kind: 'closed',
      sent: { code: 1000, reason: 'bye' },
      received: { code: 1000, reason: 'ack' },
      receivedFirst: false,
      error: undefined,
    });
  });

  test('§7.1.2: sending after close() throws WS_ERR_INVALID_STATE and writes nothing', () => {
    const { conn, rec } = open('client');
    conn.close(1000);
    assert.throws(() => conn.sendText('x'), isErr(ErrorCode.InvalidState));
    assert.throws(() => conn.send(Opcode.Binary, Uint8Array.of(1), false), isErr(ErrorCode.InvalidState));
    assert.throws(() => conn.ping(), isErr(ErrorCode.InvalidState));
    assert.throws(() => conn.pong(), isErr(ErrorCode.InvalidState));
    assert.equal(rec.writes.length, 1);
  });

  test('§7.1.2: a protocol error while closing fails the connection without a second close frame', () => {
    const r = runAll('server', c2s({ opcode: OP.text, payload: 'x', rsv: 1 }), {}, (conn) => conn.close(1000));
    assert.deepEqual(r.calls, [
      { kind: 'write', hex: '880203e8' },
      { kind: 'error', code: ErrorCode.UnexpectedRsv, closeCode: 1002 },
      { kind: 'shutdown' },
    ]);
    assert.deepEqual(r.state, {
      kind: 'closed',
      sent: { code: 1000, reason: '' },
      received: undefined,
      receivedFirst: false,
      error: { code: ErrorCode.UnexpectedRsv, closeCode: 1002 },
    });
  });
});

describe('RFC 6455 §7.4 close() argument validation', () => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5, NaN, -1000]) {
    test(`§7.4: close(${code}) throws WS_ERR_INVALID_CLOSE_CODE and sends nothing`, () => {
      const { conn, rec } = open('server');
      assert.throws(() => conn.close(code), isErr(ErrorCode.InvalidCloseCode));
      assert.deepEqual(rec.calls, []);
      assert.deepEqual(summary(conn.state), { kind: 'open' });
    });
  }

  test('§7.4, §5.5: a reason needs a code, and is at most 123 UTF-8 bytes (WS_ERR_INVALID_CLOSE_REASON)', () => {
    const { conn, rec } = open('server');
    assert.throws(() => conn.close(undefined, 'why'), isErr(ErrorCode.InvalidCloseReason));
    assert.throws(() => conn.close(1000, 'x'.repeat(124)), isErr(ErrorCode.InvalidCloseReason));
    // 62 × "é" is 124 bytes though only 62 UTF-16 units.
    assert.throws(() => conn.close(1000, 'é'.repeat(62)), isErr(ErrorCode.InvalidCloseReason));
    assert.deepEqual(rec.calls, []);
    conn.close(1000, 'é'.repeat(61) + 'x');
    const [f] = rec.frames();
    assert.equal(f!.payload.length, 125);
    assert.equal(Buffer.from(f!.payload.subarray(2)).toString('utf8'), 'é'.repeat(61) + 'x');
  });

  test('§7.4: validateClose returns the reason bytes; isValidCloseCode ranges', () => {
    assert.equal(hex(validateClose(1000, 'ok')), hex(utf8('ok')));
    assert.equal(validateClose(undefined, '').length, 0);
    const valid: number[] = [];
    for (let c = 0; c < 6000; c++) if (isValidCloseCode(c)) valid.push(c);
    assert.equal(valid.length, 4 + 8 + 2000);
    assert.deepEqual(valid.slice(0, 12), [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]);
    assert.equal(valid[12], 3000);
    assert.equal(valid.at(-1), 4999);
  });
});

describe('RFC 6455 §7.1.5 / §7.1.7 abnormal endings', () => {
  test('§7.1.5: EOF before any close frame: closed, nothing received, no error, shutdown', () => {
    const { conn, rec } = open('server');
    feed(conn, c2s({ opcode: OP.text, payload: 'hi' }));
    conn.receiveEof();
    assert.deepEqual(rec.calls, [{ kind: 'message', hex: hex(utf8('hi')), text: true }, { kind: 'shutdown' }]);
    assert.deepEqual(summary(conn.state), {
      kind: 'closed',
      sent: undefined,
      received: undefined,
      receivedFirst: false,
      error: undefined,
    });
    conn.receiveEof();
    assert.equal(rec.calls.length, 2);
  });

  test('§7.1.5: EOF after our close, before the peer\'s: sent kept, nothing received', () => {
    const { conn, rec } = open('client');
    conn.close(1001, 'away');
    conn.receiveEof();
    assert.deepEqual(rec.kinds(), ['write', 'shutdown']);
    assert.deepEqual(summary(conn.state), {
      kind: 'closed',
      sent: { code: 1001, reason: 'away' },
      received: undefined,
      receivedFirst: false,
      error: undefined,
    });
  });

  test('§7.1.5: EOF with a partial frame buffered drops it', () => {
    const { conn, rec } = open('server');
    feed(conn, c2s({ opcode: OP.text, payload: 'partial' }).subarray(0, 8));
    conn.receiveEof();
    assert.deepEqual(rec.calls, [{ kind: 'shutdown' }]);
    assert.equal(conn.receiveBuffered, 0);
  });

  test('§7.1.7: fail() sends a close frame with the error\'s close code and message, then error and shutdown', () => {
    const { conn, rec } = open('server');
    const err = new WebSocketError(ErrorCode.HeartbeatTimeout, 'no pong', { closeCode: 1008 });
    conn.fail(err);
    assert.deepEqual(rec.calls, [
      { kind: 'write', hex: '8809' + '03f0' + hex(utf8('no pong')) },
      { kind: 'error', code: ErrorCode.HeartbeatTimeout, closeCode: 1008 },
      { kind: 'shutdown' },
    ]);
    assert.equal(rec.errors[0], err);
    conn.fail(err);
    assert.equal(rec.calls.length, 3);
  });

  test('§5.5, §5.5.1: fail() with a long non-ASCII message still sends a valid close frame (≤ 125 bytes, UTF-8)', () => {
    const { conn, rec } = open('server');
    conn.fail(new WebSocketError(ErrorCode.HeartbeatTimeout, 'é'.repeat(100), { closeCode: 1008 }));
    const [f] = rec.frames();
    assert.equal(f!.opcode, OP.close);
    assert.equal(hex(f!.payload.subarray(0, 2)), '03f0');
    assert.ok(f!.payload.length <= 125, `close payload is ${f!.payload.length} bytes`);
    assert.ok(Buffer.from(f!.payload.subarray(2)).toString('utf8').startsWith('é'));
  });

  test('§7.1.7, §7.4.1: a 1011 failure hides its message; a 1006 failure sends no close frame', () => {
    const a = open('server');
    a.conn.fail(new WebSocketError(ErrorCode.Internal, 'secret detail', { closeCode: 1011 }));
    assert.equal(hex(a.rec.writes[0]!), '880203f3');
    const b = open('server');
    b.conn.fail(new WebSocketError(ErrorCode.Abnormal, 'gone', { closeCode: 1006 }));
    assert.deepEqual(b.rec.kinds(), ['error', 'shutdown']);
    assert.equal(summary(b.conn.state).sent, undefined);
  });
});

describe('RFC 6455 §7 state in both orders', () => {
  test('§7: peer first then us (receivedFirst true) vs us first then peer (receivedFirst false)', () => {
    const peerFirst = open('server');
    feed(peerFirst.conn, c2s({ opcode: OP.close, payload: closePayload(1000, 'peer') }));
    assert.deepEqual(summary(peerFirst.conn.state), {
      kind: 'closed',
      sent: { code: 1000, reason: 'peer' },
      received: { code: 1000, reason: 'peer' },
      receivedFirst: true,
      error: undefined,
    });

    const usFirst = open('server');
    usFirst.conn.close(4000, 'us');
    assert.deepEqual(summary(usFirst.conn.state), { kind: 'closing', sent: { code: 4000, reason: 'us' } });
    feed(usFirst.conn, c2s({ opcode: OP.close, payload: closePayload(4000) }));
    assert.deepEqual(summary(usFirst.conn.state), {
      kind: 'closed',
      sent: { code: 4000, reason: 'us' },
      received: { code: 4000, reason: '' },
      receivedFirst: false,
      error: undefined,
    });
    assert.deepEqual(usFirst.rec.kinds(), ['write', 'shutdown']);
  });

  test('§7: our empty close answered by an empty close: both 1005', () => {
    const r = runAll('client', s2c({ opcode: OP.close }), {}, (conn) => conn.close());
    assert.deepEqual(r.state, {
      kind: 'closed',
      sent: { code: 1005, reason: '' },
      received: { code: 1005, reason: '' },
      receivedFirst: false,
      error: undefined,
    });
  });
});
