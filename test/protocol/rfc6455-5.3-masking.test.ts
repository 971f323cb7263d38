// RFC 6455 §5.3 (client-to-server masking): applyMask at every phase and sub-range, the
// pooled mask source, masked output of a client-role Connection, unmasked server output.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, Opcode, WebSocketError, applyMask, pooledMaskSource, prepareFrame } from '../../src/protocol/index.js';
import { simdXor } from '../../src/protocol/simd-xor.js';
import {
  OP,
  RFC_KEY,
  c2s,
  concatBytes,
  decodeFrames,
  feed,
  fixedMask,
  fromHex,
  hex,
  open,
  pattern,
  runAll,
  utf8,
} from './support.js';

/** Octet i of the payload XORed with octet (phase + i) MOD 4 of the key, written plainly. */
function naiveMask(data: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  return data.map((b, i) => b ^ key[(phase + i) % 4]!);
}

const KEY = Uint8Array.of(0xa1, 0x5b, 0x3c, 0xe7);

describe('RFC 6455 §5.3 applyMask', () => {
  test('§5.3: the RFC 6455 §5.7 example: "Hello" with key 37 fa 21 3d is 7f 9f 4d 51 58', () => {
    const data = utf8('Hello');
    applyMask(data, RFC_KEY);
    assert.equal(hex(data), '7f9f4d5158');
    applyMask(data, RFC_KEY);
    assert.equal(hex(data), hex(utf8('Hello')));
  });

  test('§5.3: matches octet-by-octet XOR for lengths 0–40 at every phase 0–3', () => {
    for (let len = 0; len <= 40; len++) {
      for (let phase = 0; phase < 4; phase++) {
        const src = pattern(len, 3 * len + phase);
        const data = src.slice();
        applyMask(data, KEY, phase);
        assert.equal(hex(data), hex(naiveMask(src, KEY, phase)), `len ${len} phase ${phase}`);
      }
    }
  });

  test('§5.3: mask then unmask at the same phase is the identity, at every phase offset', () => {
    for (let len = 0; len <= 33; len++) {
      for (let phase = 0; phase < 8; phase++) {
        const src = pattern(len, 11);
        const data = src.slice();
        applyMask(data, KEY, phase);
        if (len > 0) assert.notEqual(hex(data), hex(src));
        applyMask(data, KEY, phase);
        assert.equal(hex(data), hex(src), `len ${len} phase ${phase}`);
      }
    }
  });

  test('§5.3: masking a payload in two parts, the second at phase = offset MOD 4, equals masking it whole', () => {
    const src = pattern(29, 5);
    const whole = src.slice();
    applyMask(whole, KEY);
    for (let split = 0; split <= src.length; split++) {
      const a = src.slice(0, split);
      const b = src.slice(split);
      applyMask(a, KEY, 0);
      applyMask(b, KEY, split & 3);
      assert.equal(hex(concatBytes(a, b)), hex(whole), `split at ${split}`);
      // And in place over sub-ranges of one buffer.
      const inPlace = src.slice();
      applyMask(inPlace, KEY, 0, 0, split);
      applyMask(inPlace, KEY, split & 3, split, src.length);
      assert.equal(hex(inPlace), hex(whole), `in-place split at ${split}`);
    }
  });

  test('§5.3: long payloads (word and SIMD paths, across 64 KiB slices) match octet-by-octet XOR at any alignment and phase', () => {
    assert.ok(simdXor(), 'WebAssembly SIMD is available on Node 20');
    const lengths = [63, 64, 65, 1023, 1024, 1025, 4099, 65535, 65536, 65537, 3 * 65536 + 5];
    for (const len of lengths) {
      for (const phase of [0, 1, 2, 3]) {
        for (const offset of [0, 1, 2, 3]) {
          // A view at an odd byte offset inside a larger buffer, with guard bytes around it.
          const backing = pattern(len + offset + 3, len + phase);
          const view = backing.subarray(offset, offset + len);
          const want = naiveMask(view.slice(), KEY, phase);
          const before = backing.slice();
          applyMask(view, KEY, phase);
          assert.equal(Buffer.compare(view, want), 0, `len ${len} phase ${phase} offset ${offset}`);
          assert.equal(hex(backing.subarray(0, offset)), hex(before.subarray(0, offset)), 'bytes before untouched');
          assert.equal(hex(backing.subarray(offset + len)), hex(before.subarray(offset + len)), 'bytes after untouched');
        }
      }
    }
  });

  test('§5.3: the SIMD kernel XORs the bytes at offset 0 of its memory with a repeated little-endian key, and no others', () => {
    const simd = simdXor()!;
    for (const len of [0, 1, 3, 4, 15, 16, 17, 63, 64, 65, 1000]) {
      const src = pattern(len + 8, len);
      simd.memory.set(src);
      simd.xor(len, 0xe73c5ba1); // KEY as a little-endian word
      const want = concatBytes(naiveMask(src.subarray(0, len), KEY, 0), src.subarray(len));
      assert.equal(hex(simd.memory.subarray(0, len + 8)), hex(want), `len ${len}`);
    }
  });

  test('§5.3: start/end limit the bytes touched; phase counts from start', () => {
    for (let start = 0; start <= 6; start++) {
      for (let end = start; end <= 14; end++) {
        for (let phase = 0; phase < 4; phase++) {
          const src = pattern(14, 100);
          const data = src.slice();
          applyMask(data, KEY, phase, start, end);
          const expected = src.slice();
          expected.set(naiveMask(src.subarray(start, end), KEY, phase), start);
          assert.equal(hex(data), hex(expected), `start ${start} end ${end} phase ${phase}`);
        }
      }
    }
  });
});

describe('RFC 6455 §5.3 / §10.3 mask sources', () => {
  test('§10.3: pooledMaskSource hands out consecutive 4-byte groups and refills when exhausted', () => {
    let fills = 0;
    const source = pooledMaskSource((buf) => {
      fills++;
      for (let i = 0; i < buf.length; i++) buf[i] = (i + fills * 16) & 0xff;
    }, 8);
    const out = new Uint8Array(6);
    source(out, 1);
    assert.equal(fills, 1);
    assert.equal(hex(out), '0010111213' + '00');
    source(out, 2);
    assert.equal(hex(out.subarray(2, 6)), '14151617');
    assert.equal(fills, 1);
    source(out, 0);
    assert.equal(fills, 2);
    assert.equal(hex(out.subarray(0, 4)), '20212223');
  });

  test('§5.3: a client-role frame draws a fresh key from the mask source for each frame', () => {
    const { conn, rec } = open('client');
    conn.sendText('a');
    conn.sendText('a');
    conn.ping(utf8('p'));
    const frames = rec.frames();
    assert.deepEqual(
      frames.map((f) => f.key),
      ['01020304', '05060708', '090a0b0c'],
    );
    assert.deepEqual(
      frames.map((f) => hex(f.payload)),
      ['61', '61', '70'],
    );
  });
});

describe('RFC 6455 §5.3 Connection output', () => {
  test('§5.3, §5.7: a client sends "Hello" masked with the injected key: 81 85 37 fa 21 3d 7f 9f 4d 51 58', () => {
    const { conn, rec } = open('client', { maskSource: fixedMask(RFC_KEY) });
    conn.sendText('Hello');
    assert.equal(hex(rec.written()), '818537fa213d7f9f4d5158');
  });

  test('§5.3, §5.7: a server sends "Hello" unmasked: 81 05 48 65 6c 6c 6f', () => {
    const { conn, rec } = open('server');
    conn.sendText('Hello');
    assert.equal(hex(rec.written()), '810548656c6c6f');
  });

  test('§5.3: client frames of 0, 125, 126, 65535 and 65536 bytes: exact header and masked payload', () => {
    const key = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
    for (const [len, headHex] of [
      [0, '8280'],
      [125, '82fd'],
      [126, '82fe007e'],
      [65535, '82feffff'],
      [65536, '82ff0000000000010000'],
    ] as const) {
      const { conn, rec } = open('client', { maskSource: fixedMask(key) });
      const payload = pattern(len, 1);
      const before = hex(payload);
      conn.send(Opcode.Binary, payload);
      assert.equal(hex(payload), before, 'the caller\'s data is not modified');
      const out = rec.written();
      const expected = concatBytes(fromHex(headHex), key, naiveMask(payload, key, 0));
      assert.equal(out.length, expected.length, `length for ${len}`);
      assert.ok(Buffer.from(out).equals(Buffer.from(expected)), `bytes for ${len}`);
    }
  });

  test('§5.3: server frames of 126 and 65536 bytes are unmasked, with 16- and 64-bit lengths', () => {
    for (const [len, headHex] of [
      [126, '827e007e'],
      [2000, '827e07d0'],
      [65536, '827f0000000000010000'],
    ] as const) {
      const { conn, rec } = open('server');
      const payload = pattern(len, 9);
      conn.send(Opcode.Binary, payload);
      const out = rec.written();
      assert.equal(hex(out.subarray(0, headHex.length / 2)), headHex);
      assert.ok(Buffer.from(out.subarray(headHex.length / 2)).equals(Buffer.from(payload)));
    }
  });

  test('§5.3: client pong, close and fragments are masked with the injected source', () => {
    const { conn, rec } = open('client');
    conn.pong(utf8('hb'));
    conn.send(Opcode.Text, utf8('ab'), false);
    conn.send(Opcode.Text, utf8('cd'), true);
    conn.close(1000, 'ok');
    const frames = rec.frames();
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.masked, f.key, hex(f.payload)]),
      [
        [OP.pong, true, true, '01020304', hex(utf8('hb'))],
        [OP.text, false, true, '05060708', hex(utf8('ab'))],
        [OP.cont, true, true, '090a0b0c', hex(utf8('cd'))],
        [OP.close, true, true, '0d0e0f10', '03e8' + hex(utf8('ok'))],
      ],
    );
    // Exact bytes of the pong: 8a 82 01 02 03 04 ('h'^1) ('b'^2).
    assert.equal(hex(rec.writes[0]!), '8a8201020304' + hex(Uint8Array.of(0x68 ^ 1, 0x62 ^ 2)));
  });

  test('§5.3: a server answers a masked ping with an unmasked pong of the same payload', () => {
    const r = runAll('server', c2s({ opcode: OP.ping, payload: 'Hello' }));
    assert.deepEqual(r.calls, [
      { kind: 'write', hex: '8a05' + hex(utf8('Hello')) },
      { kind: 'ping', hex: hex(utf8('Hello')) },
    ]);
  });
});

describe('RFC 6455 §5.1 prepared (broadcast) frames are unmasked: server only', () => {
  test('§5.1: sendPrepared writes the prepared header and payload; a client refuses it', () => {
    const small = prepareFrame(Opcode.Text, utf8('hi'));
    assert.equal(hex(small.header), '8102');
    const big = prepareFrame(Opcode.Binary, pattern(70000));
    assert.equal(hex(big.header), '827f0000000000011170');
    const { conn, rec } = open('server');
    conn.sendPrepared(small);
    conn.sendPrepared(big);
    const frames = rec.frames();
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.masked, f.payload.length]),
      [
        [OP.text, true, false, 2],
        [OP.binary, true, false, 70000],
      ],
    );
    assert.ok(Buffer.from(frames[1]!.payload).equals(Buffer.from(pattern(70000))));
    const isState = (e: unknown) => e instanceof WebSocketError && e.code === ErrorCode.InvalidState;
    const client = open('client');
    assert.throws(() => client.conn.sendPrepared(small), isState);
    assert.equal(client.rec.writes.length, 0);
    conn.send(Opcode.Text, utf8('a'), false);
    assert.throws(() => conn.sendPrepared(small), isState, 'not inside a fragmented message');
  });
});

describe('RFC 6455 §5.3 unmasking received frames', () => {
  test('§5.3: a masked payload split at every position is unmasked correctly (server role)', () => {
    const payload = pattern(23, 77);
    const bytes = c2s({ opcode: OP.binary, payload, key: KEY });
    for (let split = 1; split < bytes.length; split++) {
      const { conn, rec } = open('server');
      feed(conn, bytes.subarray(0, split));
      feed(conn, bytes.subarray(split));
      assert.deepEqual(rec.calls, [{ kind: 'message', hex: hex(payload), text: false }], `split at ${split}`);
    }
  });

  test('§5.3: masked payloads in 3-, 5- and 7-byte chunks across fragments', () => {
    const a = pattern(10, 1);
    const b = pattern(13, 2);
    const bytes = concatBytes(
      c2s({ opcode: OP.binary, payload: a, fin: false, key: Uint8Array.of(1, 2, 3, 4) }),
      c2s({ opcode: OP.cont, payload: b, key: Uint8Array.of(0xff, 0xee, 0xdd, 0xcc) }),
    );
    for (const size of [3, 5, 7]) {
      const { conn, rec } = open('server');
      feed(conn, bytes, size);
      assert.deepEqual(rec.calls, [{ kind: 'message', hex: hex(concatBytes(a, b)), text: false }], `size ${size}`);
    }
  });

  test('§5.3: decodeFrames (test helper) agrees with the RFC example', () => {
    const [f] = decodeFrames(fromHex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
    assert.equal(f!.key, '37fa213d');
    assert.equal(Buffer.from(f!.payload).toString(), 'Hello');
  });
});
