// RFC 6455 §5.5 (control frames): size and fragmentation limits, ping/pong (§5.5.2, §5.5.3).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, WebSocketError } from '../../src/protocol/index.js';
import { OP, assertFailed, c2s, concatBytes, feed, fromHex, hex, open, pattern, runAll, s2c, utf8 } from './support.js';

describe('RFC 6455 §5.5 control frame limits', () => {
  for (const opcode of [OP.ping, OP.pong, OP.close]) {
    test(`§5.5: a 126-byte control frame (opcode 0x${opcode.toString(16)}) fails with WS_ERR_CONTROL_FRAME_TOO_LONG, 1002`, () => {
      const r = runAll('server', c2s({ opcode, payload: pattern(126) }));
      assertFailed(r, ErrorCode.ControlTooLong, 1002);
      assert.ok(!r.calls.some((c) => c.kind === 'ping' || c.kind === 'pong'));
    });
  }

  test('§5.5: a control frame too long is refused from its header, before the payload', () => {
    const { conn, rec } = open('server');
    feed(conn, fromHex('89 fe 00 7e'));
    assert.deepEqual(
      rec.calls.filter((c) => c.kind === 'error'),
      [{ kind: 'error', code: ErrorCode.ControlTooLong, closeCode: 1002 }],
    );
  });

  // §5.5 limits control payloads to 125 bytes and §5.2 requires the minimal length encoding,
  // so a control frame's length is always the 7-bit form: the 16- and 64-bit forms fail.
  for (const lengthBits of [16, 64] as const) {
    test(`§5.2/§5.5: a 5-byte ping with a ${lengthBits}-bit length (not minimal) fails with WS_ERR_CONTROL_FRAME_TOO_LONG, 1002`, () => {
      const r = runAll('server', c2s({ opcode: OP.ping, payload: 'hello', lengthBits }));
      assertFailed(r, ErrorCode.ControlTooLong, 1002);
    });
  }

  test('§5.2: a data frame with a non-minimal length is accepted (the MUST binds the sender; ws13 is liberal here)', () => {
    const r = runAll('server', c2s({ opcode: OP.text, payload: 'hello', lengthBits: 64 }));
    assert.deepEqual(
      r.calls.filter((c) => c.kind === 'message').map((c) => (c as { hex: string }).hex),
      [hex(Buffer.from('hello'))],
    );
  });

  for (const opcode of [OP.ping, OP.pong, OP.close]) {
    test(`§5.5: a fragmented control frame (opcode 0x${opcode.toString(16)}, FIN clear) fails with WS_ERR_FRAGMENTED_CONTROL_FRAME, 1002`, () => {
      const r = runAll('server', c2s({ opcode, payload: 'x', fin: false }));
      assertFailed(r, ErrorCode.FragmentedControl, 1002);
    });
  }

  test('§5.5: a fragmented ping inside a fragmented message fails with 1002 (client role)', () => {
    const bytes = concatBytes(s2c({ opcode: OP.text, payload: 'a', fin: false }), s2c({ opcode: OP.ping, fin: false }));
    const r = runAll('client', bytes);
    assertFailed(r, ErrorCode.FragmentedControl, 1002);
    assert.deepEqual(r.rec.messages(), []);
  });
});

describe('RFC 6455 §5.5.2 ping and §5.5.3 pong', () => {
  test('§5.5.2: a ping is answered by a pong with the same payload (0, 1, 125 bytes)', () => {
    for (const len of [0, 1, 125]) {
      const payload = pattern(len, 50);
      const r = runAll('server', c2s({ opcode: OP.ping, payload }));
      const lenHex = len.toString(16).padStart(2, '0');
      assert.deepEqual(r.calls, [
        { kind: 'write', hex: '8a' + lenHex + hex(payload) },
        { kind: 'ping', hex: hex(payload) },
      ]);
    }
  });

  test('§5.5.2: each of several pings is answered in order', () => {
    const bytes = concatBytes(c2s({ opcode: OP.ping, payload: '1' }), c2s({ opcode: OP.ping, payload: '2' }));
    const r = runAll('server', bytes);
    assert.deepEqual(
      r.calls.map((c) => (c.kind === 'write' ? `w:${c.hex}` : c.kind)),
      ['w:8a0131', 'ping', 'w:8a0132', 'ping'],
    );
  });

  test('§5.5.3: a received pong is reported and not answered', () => {
    const r = runAll('server', c2s({ opcode: OP.pong, payload: 'beat' }));
    assert.deepEqual(r.calls, [{ kind: 'pong', hex: hex(utf8('beat')) }]);
    const empty = runAll('client', s2c({ opcode: OP.pong }));
    assert.deepEqual(empty.calls, [{ kind: 'pong', hex: '' }]);
  });

  test('§5.5.2: the pong answer does not alias the received buffer', () => {
    const { conn, rec } = open('client');
    const input = s2c({ opcode: OP.ping, payload: 'abc' });
    conn.receiveData(input);
    input.fill(0);
    // pong key 01 02 03 04: 'a'^1 'b'^2 'c'^3
    assert.equal(hex(rec.writes[0]!), '8a8301020304' + hex(Uint8Array.of(0x61 ^ 1, 0x62 ^ 2, 0x63 ^ 3)));
  });

  test('§5.5.2: after our close frame was sent, a ping is reported but not answered', () => {
    const r = runAll('server', c2s({ opcode: OP.ping, payload: 'late' }), {}, (conn) => conn.close(1000));
    assert.deepEqual(r.calls, [
      { kind: 'write', hex: '880203e8' },
      { kind: 'ping', hex: hex(utf8('late')) },
    ]);
    assert.equal(r.state.kind, 'closing');
  });

  test('§5.5: ping() and pong() send control frames; over 125 bytes throws WS_ERR_INVALID_ARGUMENT', () => {
    const { conn, rec } = open('server');
    conn.ping();
    conn.ping(pattern(125));
    conn.pong(utf8('u'));
    assert.deepEqual(
      rec.writes.map((w) => hex(w)),
      ['8900', '897d' + hex(pattern(125)), '8a0175'],
    );
    for (const f of [() => conn.ping(pattern(126)), () => conn.pong(pattern(126))]) {
      assert.throws(f, (e: unknown) => e instanceof WebSocketError && e.code === ErrorCode.InvalidArgument);
    }
    assert.equal(rec.writes.length, 3);
  });

  test('§5.5: ping() and pong() throw WS_ERR_INVALID_STATE once closing', () => {
    const { conn } = open('server');
    conn.close();
    for (const f of [() => conn.ping(), () => conn.pong()]) {
      assert.throws(f, (e: unknown) => e instanceof WebSocketError && e.code === ErrorCode.InvalidState);
    }
  });

  test('§5.5: the write callback of ping() is passed to the handler', () => {
    const { conn } = open('server');
    let called = 0;
    conn.ping(utf8('x'), () => called++);
    assert.equal(called, 1);
  });
});
