// Hostile input to a client with permessage-deflate: deflate bombs against maxPayload
// (1009), invalid deflate data (1007), forbidden RSV bits (1002), invalid UTF-8 in
// compressed text (1007), and a hostile Sec-WebSocket-Extensions answer.
import './env.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { frame, expectCloseFrame, scope, response101, closeBytes } from '../client/harness.js';
import { describeError } from '../client/cut.js';
import { openClient, ServerDriver, pmdOptions, type ClientSession } from './client-side.js';
import { compressMessage } from './codec.js';
import { OP, PMD, prose, elapsedMs } from './common.js';
import { bomb, garbage } from './hostile.js';

const T = { timeout: 30_000 };
const MIB = 1024 * 1024;

/**
 * The client must fail with `code`: a masked close frame with it, no message delivered,
 * an error event with that closeCode, then the close event (`code`, or 1006 as the client
 * conformance suite allows once we end TCP).
 */
async function expectClientFail(s: ClientSession, code: number, timeoutMs = 3000): Promise<void> {
  const before = s.client.events.messages.length;
  await expectCloseFrame(s.peer, code, timeoutMs);
  s.peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(code) }));
  s.peer.socket.end();
  const c = await s.client.waitClose(3000);
  assert.ok([code, 1006].includes(c.code), `close event code ${c.code}, expected ${code} (or 1006)`);
  assert.equal(s.client.events.messages.length, before, 'a message was delivered from the offending data');
  const err = s.client.events.errors[0];
  assert.ok(err, 'an error event must be emitted');
  assert.equal(err.closeCode, code, 'error.closeCode');
}

describe('client hostile: maxPayload 1 MiB', () => {
  test('deflate bomb (10 MiB of zeros in ~10 KiB) -> 1009, quickly', T, async (t) => {
    const s = await openClient(t, pmdOptions(undefined, { maxPayload: MIB }), PMD);
    const t0 = process.hrtime.bigint();
    s.peer.write(frame({ opcode: OP.BINARY, rsv1: true, payload: bomb() }));
    await expectClientFail(s, 1009);
    assert.ok(elapsedMs(t0) < 1500, `took ${elapsedMs(t0).toFixed(0)} ms`);
  });

  test('deflate bomb as text in 40 fragments -> 1009', T, async (t) => {
    const s = await openClient(t, pmdOptions(undefined, { maxPayload: MIB }), PMD);
    const b = compressMessage(Buffer.alloc(10 * MIB, 0x61), { level: 9 });
    const step = Math.ceil(b.length / 40);
    const frames: Buffer[] = [];
    for (let i = 0; i * step < b.length; i++) {
      frames.push(frame({ opcode: i === 0 ? OP.TEXT : OP.CONT, rsv1: i === 0, fin: (i + 1) * step >= b.length, payload: b.subarray(i * step, (i + 1) * step) }));
    }
    s.peer.write(Buffer.concat(frames));
    await expectClientFail(s, 1009);
  });

  test('inflated size exactly maxPayload is accepted; one byte more -> 1009', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }, { maxPayload: MIB }), PMD);
    const d = new ServerDriver(s);
    await d.roundTrip(OP.BINARY, Buffer.alloc(MIB, 0x2a), 'exactly 1 MiB');
    await d.send(OP.BINARY, Buffer.alloc(MIB + 1, 0x2a));
    await expectClientFail(s, 1009);
    d.close();
  });
});

describe('client hostile: invalid data and reserved bits', () => {
  for (const [i, g] of garbage().entries()) {
    test(`invalid deflate data #${i} (${g.subarray(0, 6).toString('hex')}…) with RSV1 -> 1007`, T, async (t) => {
      const s = await openClient(t, pmdOptions(undefined), PMD);
      s.peer.write(frame({ opcode: i % 2 ? OP.TEXT : OP.BINARY, rsv1: true, payload: g }));
      await expectClientFail(s, 1007);
    });
  }

  for (const [name, opcode, payload] of [
    ['ping', OP.PING, 'x'],
    ['pong', OP.PONG, 'x'],
    ['close', OP.CLOSE, Buffer.from([0x03, 0xe8])],
  ] as const) {
    test(`RSV1 on a ${name} frame -> 1002`, T, async (t) => {
      const s = await openClient(t, pmdOptions(undefined), PMD);
      s.peer.write(frame({ opcode, rsv1: true, payload }));
      await expectClientFail(s, 1002);
    });
  }

  test('RSV1 on a continuation frame -> 1002', T, async (t) => {
    const s = await openClient(t, pmdOptions(undefined), PMD);
    const c = compressMessage(prose(1000));
    s.peer.write(Buffer.concat([frame({ opcode: OP.TEXT, rsv1: true, fin: false, payload: c.subarray(0, 10) }), frame({ opcode: OP.CONT, rsv1: true, payload: c.subarray(10) })]));
    await expectClientFail(s, 1002);
  });

  for (const [name, bits] of [
    ['RSV2', { rsv2: true }],
    ['RSV3', { rsv3: true }],
    ['RSV1+RSV2', { rsv1: true, rsv2: true }],
  ] as const) {
    test(`${name} on a data frame with the extension negotiated -> 1002`, T, async (t) => {
      const s = await openClient(t, pmdOptions(undefined), PMD);
      s.peer.write(frame({ opcode: OP.BINARY, ...bits, payload: compressMessage(Buffer.from('hello')) }));
      await expectClientFail(s, 1002);
    });
  }

  test('RSV1 when the server did not accept the extension -> 1002', T, async (t) => {
    const s = await openClient(t, pmdOptions(undefined), undefined);
    s.peer.write(frame({ opcode: OP.TEXT, rsv1: true, payload: compressMessage(Buffer.from('hello')) }));
    await expectClientFail(s, 1002);
  });

  test('RSV1 with perMessageDeflate: false -> 1002', T, async (t) => {
    const s = await openClient(t, { perMessageDeflate: false }, undefined);
    s.peer.write(frame({ opcode: OP.TEXT, rsv1: true, payload: compressMessage(Buffer.from('hello')) }));
    await expectClientFail(s, 1002);
  });

  test('compressed text that inflates to invalid UTF-8 -> 1007', T, async (t) => {
    const s = await openClient(t, pmdOptions(undefined), PMD);
    s.peer.write(frame({ opcode: OP.TEXT, rsv1: true, payload: compressMessage(Buffer.from([0x48, 0x69, 0xc3, 0x28, 0x20, 0x21])) }));
    await expectClientFail(s, 1007);
  });

  test('compressed fragmented text ending in a truncated UTF-8 sequence -> 1007', T, async (t) => {
    const s = await openClient(t, pmdOptions(undefined), PMD);
    const c = compressMessage(Buffer.concat([Buffer.from('hello \u20ac '), Buffer.from([0xe2, 0x82])]));
    s.peer.write(Buffer.concat([frame({ opcode: OP.TEXT, rsv1: true, fin: false, payload: c.subarray(0, 4) }), frame({ opcode: OP.CONT, payload: c.subarray(4) })]));
    await expectClientFail(s, 1007);
  });
});

describe('client hostile: Sec-WebSocket-Extensions answer', () => {
  for (const [name, value] of [
    ['permessage-deflate followed by 8 KiB of ";"', PMD + ';'.repeat(8 * 1024)],
    ['600 answers (11 KiB, under maxHeaderSize)', Array(600).fill(PMD).join(',')],
    ['one answer with 2000 parameters', PMD + '; a'.repeat(2000)],
  ] as const) {
    test(`${name}: the handshake fails within 500 ms`, T, async (t) => {
      const sc = await scope(t);
      const pending = sc.connect(pmdOptions(undefined));
      const { peer, req } = await sc.accept();
      const t0 = process.hrtime.bigint();
      peer.write(response101(req, { extra: [`Sec-WebSocket-Extensions: ${value}`] }));
      let err: unknown;
      await pending.then(
        () => assert.fail('the client accepted the answer'),
        (e) => {
          err = e;
        },
      );
      assert.ok(elapsedMs(t0) < 500, `failed after ${elapsedMs(t0).toFixed(0)} ms`);
      assert.equal(describeError(err).code, 'WS_ERR_HANDSHAKE_EXTENSION');
    });
  }
});
