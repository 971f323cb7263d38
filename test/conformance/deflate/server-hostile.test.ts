// Hostile input to a server with permessage-deflate: deflate bombs against maxPayload
// (1009), invalid deflate data (1007), RSV bits where RFC 7692 §6 forbids them (1002),
// invalid UTF-8 inside compressed text (1007), and hostile Sec-WebSocket-Extensions headers.
import './env.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverFixture, cf, send, expectFail, expectAlive, connectRaw } from '../server/helpers.js';
import { upgradeRequest, parseHead, header } from '../../support/raw.js';
import { openPmd, EchoDriver } from './server-side.js';
import { compressMessage } from './codec.js';
import { bomb, garbage } from './hostile.js';
import { OP, PMD, prose, elapsedMs, parseExtensions } from './common.js';

const T = { timeout: 30_000 };
const MIB = 1024 * 1024;
const offer = `${PMD}; client_max_window_bits`;

describe('server hostile: maxPayload 1 MiB', () => {
  const srv = serverFixture({ maxPayload: MIB, perMessageDeflate: { serverNoContextTakeover: false, threshold: 0 } });

  test('deflate bomb (10 MiB of zeros in ~10 KiB) -> 1009, quickly', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const b = bomb();
    assert.ok(b.length < 20 * 1024);
    const t0 = process.hrtime.bigint();
    send(s.p, cf({ opcode: OP.BINARY, rsv1: true, payload: b }));
    await expectFail(s.p, 1009, 3000);
    const ms = elapsedMs(t0);
    assert.ok(ms < 1500, `took ${ms.toFixed(0)} ms to refuse the bomb`);
  });

  test('deflate bomb as text in 40 fragments -> 1009', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const b = compressMessage(Buffer.alloc(10 * MIB, 0x61), { level: 9 });
    const n = 40;
    const step = Math.ceil(b.length / n);
    const frames: Buffer[] = [];
    for (let i = 0; i * step < b.length; i++) {
      const last = (i + 1) * step >= b.length;
      frames.push(cf({ opcode: i === 0 ? OP.TEXT : OP.CONT, rsv1: i === 0, fin: last, payload: b.subarray(i * step, (i + 1) * step) }));
    }
    send(s.p, ...frames);
    await expectFail(s.p, 1009, 3000);
  });

  test('deflate bomb after a normal message, with context takeover -> 1009', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    await d.roundTrip(OP.TEXT, prose(5000));
    await d.send(OP.BINARY, Buffer.alloc(2 * MIB));
    await expectFail(s.p, 1009, 3000);
    d.close();
  });

  test('inflated size exactly maxPayload is accepted; one byte more -> 1009', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    await d.roundTrip(OP.BINARY, Buffer.alloc(MIB, 0x2a), 'exactly 1 MiB');
    await d.send(OP.BINARY, Buffer.alloc(MIB + 1, 0x2a));
    await expectFail(s.p, 1009, 3000);
    d.close();
  });
});

describe('server hostile: invalid data and reserved bits', () => {
  const srv = serverFixture({ perMessageDeflate: { threshold: 0 } });

  for (const [i, g] of garbage().entries()) {
    test(`invalid deflate data #${i} (${g.subarray(0, 6).toString('hex')}…) with RSV1 -> 1007`, T, async () => {
      const s = await openPmd(srv.port, offer, offer);
      send(s.p, cf({ opcode: i % 2 ? OP.TEXT : OP.BINARY, rsv1: true, payload: g }));
      await expectFail(s.p, 1007);
    });
  }

  test('invalid deflate data in the second fragment -> 1007', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const good = compressMessage(prose(1000));
    send(s.p, cf({ opcode: OP.BINARY, rsv1: true, fin: false, payload: good.subarray(0, 20) }), cf({ opcode: OP.CONT, payload: Buffer.from([0xff, 0xff, 0xff]) }));
    await expectFail(s.p, 1007);
  });

  for (const [name, opcode, payload] of [
    ['ping', OP.PING, 'x'],
    ['pong', OP.PONG, 'x'],
    ['close', OP.CLOSE, Buffer.from([0x03, 0xe8])],
  ] as const) {
    test(`RSV1 on a ${name} frame -> 1002`, T, async () => {
      const s = await openPmd(srv.port, offer, offer);
      send(s.p, cf({ opcode, rsv1: true, payload }));
      await expectFail(s.p, 1002);
    });
  }

  test('RSV1 on a continuation frame -> 1002', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const c = compressMessage(prose(1000));
    send(s.p, cf({ opcode: OP.TEXT, rsv1: true, fin: false, payload: c.subarray(0, 10) }), cf({ opcode: OP.CONT, rsv1: true, payload: c.subarray(10) }));
    await expectFail(s.p, 1002);
  });

  test('RSV1 on a continuation of an uncompressed message -> 1002', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    send(s.p, cf({ opcode: OP.TEXT, fin: false, payload: 'abc' }), cf({ opcode: OP.CONT, rsv1: true, payload: compressMessage(Buffer.from('def')) }));
    await expectFail(s.p, 1002);
  });

  for (const [name, bits] of [
    ['RSV2', { rsv2: true }],
    ['RSV3', { rsv3: true }],
    ['RSV1+RSV2', { rsv1: true, rsv2: true }],
    ['RSV1+RSV3', { rsv1: true, rsv3: true }],
  ] as const) {
    test(`${name} on a data frame with the extension negotiated -> 1002`, T, async () => {
      const s = await openPmd(srv.port, offer, offer);
      send(s.p, cf({ opcode: OP.TEXT, ...bits, payload: compressMessage(Buffer.from('hello')) }));
      await expectFail(s.p, 1002);
    });
  }

  test('RSV1 when the client did not offer the extension -> 1002', T, async () => {
    const s = await openPmd(srv.port, undefined);
    assert.deepEqual(s.answerValues, []);
    send(s.p, cf({ opcode: OP.TEXT, rsv1: true, payload: compressMessage(Buffer.from('hello')) }));
    await expectFail(s.p, 1002);
  });

  test('RSV1 when the offer was declined -> 1002', T, async () => {
    const s = await openPmd(srv.port, `${PMD}; server_max_window_bits=7`);
    assert.deepEqual(s.answerValues, []);
    send(s.p, cf({ opcode: OP.BINARY, rsv1: true, payload: compressMessage(Buffer.from('hello')) }));
    await expectFail(s.p, 1002);
  });

  test('compressed text that inflates to invalid UTF-8 -> 1007', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    send(s.p, cf({ opcode: OP.TEXT, rsv1: true, payload: compressMessage(Buffer.from([0x48, 0x69, 0xc3, 0x28, 0x20, 0x21])) }));
    await expectFail(s.p, 1007);
  });

  test('compressed fragmented text ending in a truncated UTF-8 sequence -> 1007', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const c = compressMessage(Buffer.concat([Buffer.from('hello \u20ac '), Buffer.from([0xe2, 0x82])]));
    send(s.p, cf({ opcode: OP.TEXT, rsv1: true, fin: false, payload: c.subarray(0, 4) }), cf({ opcode: OP.CONT, payload: c.subarray(4) }));
    await expectFail(s.p, 1007);
  });

  test('compressed binary with the same bytes is fine', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    await d.roundTrip(OP.BINARY, Buffer.from([0x48, 0x69, 0xc3, 0x28, 0x20, 0x21]));
    await expectAlive(s.p);
    d.close();
  });
});

describe('server hostile: perMessageDeflate off', () => {
  const srv = serverFixture({ perMessageDeflate: false });
  test('RSV1 on a data frame -> 1002', T, async () => {
    const s = await openPmd(srv.port, offer);
    assert.deepEqual(s.answerValues, []);
    send(s.p, cf({ opcode: OP.TEXT, rsv1: true, payload: compressMessage(Buffer.from('hello')) }));
    await expectFail(s.p, 1002);
  });
});

describe('server hostile: Sec-WebSocket-Extensions header (maxHeaderSize 1 MiB)', () => {
  const srv = serverFixture({ maxHeaderSize: MIB, perMessageDeflate: true });

  const cases: Array<[string, string]> = [
    ['permessage-deflate followed by 100 KiB of ";"', PMD + ';'.repeat(100 * 1024)],
    ['100 KiB of ";"', ';'.repeat(100 * 1024)],
    ['100 KiB of ","', ','.repeat(100 * 1024)],
    ['5000 offers with an unknown parameter', Array(5000).fill(`${PMD}; foo`).join(', ')],
    ['10000 offers of server_max_window_bits=7', Array(10000).fill(`${PMD}; server_max_window_bits=7`).join(',')],
    ['one offer with 20000 parameters', PMD + '; a=1'.repeat(20000)],
    ['one offer with 20000 duplicate client_max_window_bits', PMD + '; client_max_window_bits'.repeat(20000)],
    ['an unterminated quoted value of 100 KiB', `${PMD}; server_max_window_bits="` + '9'.repeat(100 * 1024)],
    ['5000 acceptable offers', Array(5000).fill(PMD).join(', ')],
  ];
  for (const [name, value] of cases) {
    test(`${name}: answered within 500 ms (400, or 101 with at most one permessage-deflate)`, T, async () => {
      const p = await connectRaw(srv.port);
      const req = Buffer.from(upgradeRequest({ host: `127.0.0.1:${srv.port}`, extra: [`Sec-WebSocket-Extensions: ${value}`] }));
      await new Promise<void>((resolve) => p.socket.write(req, () => resolve()));
      const t0 = process.hrtime.bigint();
      const head = await p.head(5000);
      const ms = elapsedMs(t0);
      const { status, headers } = parseHead(head);
      assert.ok(status === 400 || status === 101, `status ${status}`);
      if (status === 101) {
        const ext = header(headers, 'sec-websocket-extensions').flatMap(parseExtensions);
        assert.ok(ext.length <= 1, `answer has ${ext.length} extensions`);
        if (ext.length) assert.equal(ext[0]!.name, PMD);
      }
      assert.ok(ms < 500, `answered after ${ms.toFixed(0)} ms`);
    });
  }

  test('5000 offers, the last one acceptable: 101 within 500 ms', T, async () => {
    const p = await connectRaw(srv.port);
    const value = Array(4999).fill(`${PMD}; x`).concat([`${PMD}; server_max_window_bits=12`]).join(', ');
    const t0 = process.hrtime.bigint();
    p.write(upgradeRequest({ host: `127.0.0.1:${srv.port}`, extra: [`Sec-WebSocket-Extensions: ${value}`] }));
    const { status } = parseHead(await p.head(5000));
    assert.ok(status === 400 || status === 101, `status ${status}`);
    assert.ok(elapsedMs(t0) < 500);
  });
});

