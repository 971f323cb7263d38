// RFC 6455 §5.4 (fragmentation), receiving and sending, through Connection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, Opcode, WebSocketError } from '../../src/protocol/index.js';
import { OP, assertFailed, c2s, concatBytes, hex, open, pattern, runAll, s2c, utf8 } from './support.js';

describe('RFC 6455 §5.4 receiving fragmented messages', () => {
  test('§5.4: a text message in three fragments is delivered once, reassembled', () => {
    const bytes = concatBytes(
      c2s({ opcode: OP.text, payload: 'Hel', fin: false }),
      c2s({ opcode: OP.cont, payload: 'lo, ', fin: false }),
      c2s({ opcode: OP.cont, payload: 'world' }),
    );
    const r = runAll('server', bytes);
    assert.deepEqual(r.calls, [{ kind: 'message', hex: hex(utf8('Hello, world')), text: true }]);
    assert.deepEqual(r.state, { kind: 'open' });
  });

  test('§5.4: RFC 6455 §5.7 fragmented unmasked text "Hel" + "lo" (client role)', () => {
    const r = runAll('client', Uint8Array.of(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f));
    assert.deepEqual(r.calls, [{ kind: 'message', hex: hex(utf8('Hello')), text: true }]);
  });

  test('§5.4: a binary message in fragments keeps its type (text=false)', () => {
    const a = pattern(200, 1);
    const b = pattern(70000, 2);
    const bytes = concatBytes(c2s({ opcode: OP.binary, payload: a, fin: false }), c2s({ opcode: OP.cont, payload: b }));
    const r = runAll('server', bytes);
    assert.deepEqual(r.calls, [{ kind: 'message', hex: hex(concatBytes(a, b)), text: false }]);
  });

  test('§5.4: empty fragments are allowed, at the start, middle and end', () => {
    const bytes = concatBytes(
      c2s({ opcode: OP.text, fin: false }),
      c2s({ opcode: OP.cont, payload: 'ab', fin: false }),
      c2s({ opcode: OP.cont, fin: false }),
      c2s({ opcode: OP.cont, payload: 'c', fin: false }),
      c2s({ opcode: OP.cont }),
    );
    const r = runAll('server', bytes);
    assert.deepEqual(r.calls, [{ kind: 'message', hex: hex(utf8('abc')), text: true }]);
    const allEmpty = runAll('server', concatBytes(c2s({ opcode: OP.binary, fin: false }), c2s({ opcode: OP.cont })));
    assert.deepEqual(allEmpty.calls, [{ kind: 'message', hex: '', text: false }]);
  });

  test('§5.4, §5.5.2: a ping between fragments is answered (same payload) before the message is delivered', () => {
    const bytes = concatBytes(
      c2s({ opcode: OP.text, payload: 'frag1', fin: false }),
      c2s({ opcode: OP.ping, payload: 'ping!' }),
      c2s({ opcode: OP.cont, payload: 'frag2' }),
    );
    const r = runAll('server', bytes);
    assert.deepEqual(r.calls, [
      { kind: 'write', hex: '8a05' + hex(utf8('ping!')) },
      { kind: 'ping', hex: hex(utf8('ping!')) },
      { kind: 'message', hex: hex(utf8('frag1frag2')), text: true },
    ]);
  });

  test('§5.4: pings and pongs between fragments, client role (pong written masked)', () => {
    const bytes = concatBytes(
      s2c({ opcode: OP.binary, payload: Uint8Array.of(1), fin: false }),
      s2c({ opcode: OP.pong, payload: 'x' }),
      s2c({ opcode: OP.cont, payload: Uint8Array.of(2), fin: false }),
      s2c({ opcode: OP.ping, payload: Uint8Array.of(0xaa, 0xbb) }),
      s2c({ opcode: OP.cont, payload: Uint8Array.of(3) }),
    );
    const r = runAll('client', bytes);
    assert.deepEqual(r.rec.kinds(), ['pong', 'write', 'ping', 'message']);
    assert.deepEqual(r.calls[0], { kind: 'pong', hex: '78' });
    assert.deepEqual(r.calls[3], { kind: 'message', hex: '010203', text: false });
    // 8a 82, key 01 02 03 04, aa^01 bb^02
    assert.deepEqual(r.calls[1], { kind: 'write', hex: '8a8201020304abb9' });
  });

  test('§5.4: a continuation frame with no message started fails with WS_ERR_UNEXPECTED_CONTINUATION, 1002', () => {
    const r = runAll('server', c2s({ opcode: OP.cont, payload: 'x' }));
    assertFailed(r, ErrorCode.UnexpectedContinuation, 1002);
    assert.deepEqual(r.rec.kinds(), ['write', 'error', 'shutdown']);
  });

  test('§5.4: a continuation after a complete message fails with 1002', () => {
    const bytes = concatBytes(c2s({ opcode: OP.text, payload: 'done' }), c2s({ opcode: OP.cont, payload: 'more' }));
    const r = runAll('server', bytes);
    assert.deepEqual(r.calls[0], { kind: 'message', hex: hex(utf8('done')), text: true });
    assertFailed(r, ErrorCode.UnexpectedContinuation, 1002);
  });

  test('§5.4: a non-final continuation without a start fails with 1002 (client role)', () => {
    assertFailed(runAll('client', s2c({ opcode: OP.cont, fin: false })), ErrorCode.UnexpectedContinuation, 1002);
  });

  for (const [name, opcode] of [
    ['text', OP.text],
    ['binary', OP.binary],
  ] as const) {
    test(`§5.4: a new ${name} frame inside a fragmented message fails with WS_ERR_EXPECTED_CONTINUATION, 1002`, () => {
      const bytes = concatBytes(
        c2s({ opcode: OP.text, payload: 'start', fin: false }),
        c2s({ opcode, payload: 'other' }),
        c2s({ opcode: OP.cont, payload: 'end' }),
      );
      const r = runAll('server', bytes);
      assertFailed(r, ErrorCode.ExpectedContinuation, 1002);
      assert.deepEqual(r.rec.messages(), []);
    });
  }

  test('§5.4: the failure comes at the offending header, before its payload', () => {
    const { conn, rec } = open('server');
    conn.receiveData(c2s({ opcode: OP.binary, payload: 'a', fin: false }));
    conn.receiveData(c2s({ opcode: OP.binary, payload: 'b' }).subarray(0, 2));
    assert.deepEqual(
      rec.calls.filter((c) => c.kind === 'error'),
      [{ kind: 'error', code: ErrorCode.ExpectedContinuation, closeCode: 1002 }],
    );
  });

  test('§5.4: messages after a fragmented one start afresh', () => {
    const bytes = concatBytes(
      c2s({ opcode: OP.binary, payload: Uint8Array.of(1), fin: false }),
      c2s({ opcode: OP.cont, payload: Uint8Array.of(2) }),
      c2s({ opcode: OP.text, payload: 'next', fin: false }),
      c2s({ opcode: OP.cont, payload: '!' }),
      c2s({ opcode: OP.binary, payload: Uint8Array.of(3) }),
    );
    const r = runAll('server', bytes);
    assert.deepEqual(r.calls, [
      { kind: 'message', hex: '0102', text: false },
      { kind: 'message', hex: hex(utf8('next!')), text: true },
      { kind: 'message', hex: '03', text: false },
    ]);
  });
});

describe('RFC 6455 §5.4 sending fragmented messages', () => {
  test('§5.4: send(fin=false) then more: first frame has the opcode and FIN clear, then continuations', () => {
    const { conn, rec } = open('server');
    conn.send(Opcode.Text, utf8('ab'), false);
    conn.send(Opcode.Text, utf8('cd'), false);
    conn.send(Opcode.Text, utf8('ef'), true);
    assert.deepEqual(
      rec.writes.map((w) => hex(w)),
      ['0102' + hex(utf8('ab')), '0002' + hex(utf8('cd')), '8002' + hex(utf8('ef'))],
    );
  });

  test('§5.4: a control frame may be sent between fragments', () => {
    const { conn, rec } = open('server');
    conn.send(Opcode.Binary, Uint8Array.of(1, 2), false);
    conn.ping(Uint8Array.of(9));
    conn.pong();
    conn.send(Opcode.Binary, Uint8Array.of(3), true);
    conn.send(Opcode.Binary, Uint8Array.of(4), true);
    assert.deepEqual(
      rec.writes.map((w) => hex(w)),
      ['02020102', '890109', '8a00', '800103', '820104'],
    );
  });

  test('§5.4: the other data type cannot be sent while a fragmented message is open (WS_ERR_INVALID_STATE)', () => {
    const { conn, rec } = open('server');
    conn.send(Opcode.Text, utf8('a'), false);
    assert.throws(
      () => conn.send(Opcode.Binary, Uint8Array.of(1)),
      (e: unknown) => e instanceof WebSocketError && e.code === ErrorCode.InvalidState,
    );
    // A send of the same type continues the open message (sendText finishes it).
    conn.sendText('b');
    conn.sendText('c');
    assert.deepEqual(
      rec.writes.map((w) => hex(w)),
      ['010161', '800162', '810163'],
    );
  });

  test('§5.4: a client sends masked fragments with the continuation opcode', () => {
    const { conn, rec } = open('client');
    conn.send(Opcode.Binary, Uint8Array.of(0x10, 0x20), false);
    conn.send(Opcode.Binary, Uint8Array.of(0x30), true);
    const frames = rec.frames();
    assert.deepEqual(
      frames.map((f) => [f.fin, f.opcode, f.masked, f.key, hex(f.payload)]),
      [
        [false, OP.binary, true, '01020304', '1020'],
        [true, OP.cont, true, '05060708', '30'],
      ],
    );
    assert.equal(hex(rec.writes[0]!), '028201020304' + '1122');
  });
});
