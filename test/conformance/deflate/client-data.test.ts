// permessage-deflate data transfer, client role: a raw server sends compressed messages
// (16 B .. 128 KiB, text and binary, compressible and random) to the client under test,
// which echoes them; its messages must inflate (per the agreed context mode and window).
import './env.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { frame } from '../client/harness.js';
import { writePieces } from '../server/helpers.js';
import { openClient, ServerDriver, pmdOptions } from './client-side.js';
import { compressMessage } from './codec.js';
import { OP, PMD, SIZES, KINDS, payloadOf, isText, prose, windowProbe, readWireMessage, assertSameData, describeFrame } from './common.js';

const T = { timeout: 60_000 };

interface Mode {
  name: string;
  options: Record<string, unknown>;
  answer: string;
}

const MODES: Mode[] = [
  { name: 'context takeover both ways', options: { threshold: 0 }, answer: PMD },
  { name: 'server_no_context_takeover', options: { threshold: 0 }, answer: `${PMD}; server_no_context_takeover` },
  { name: 'client_no_context_takeover', options: { threshold: 0 }, answer: `${PMD}; client_no_context_takeover` },
  {
    name: 'no context takeover either way',
    options: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    answer: `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  },
];

for (const mode of MODES) {
  describe(`client data: ${mode.name}`, () => {
    for (const kind of KINDS) {
      test(`${kind} messages of ${SIZES.join(', ')} bytes echo correctly`, T, async (t) => {
        const s = await openClient(t, pmdOptions(mode.options), mode.answer);
        const d = new ServerDriver(s);
        try {
          for (const n of SIZES) {
            const data = payloadOf(kind, n, n);
            const m = await d.roundTrip(isText(kind) ? OP.TEXT : OP.BINARY, data, `${kind} ${n} B`);
            if (!kind.endsWith('random') && n >= 64) assert.ok(m.compressed, `${kind} ${n} B with threshold 0 was sent uncompressed`);
          }
          for (const n of [1024, 16384]) await d.roundTrip(isText(kind) ? OP.TEXT : OP.BINARY, payloadOf(kind, n, n), `${kind} ${n} B again`);
          d.checkWindow();
        } finally {
          d.close();
        }
      });
    }
  });
}

describe('client data: window bits', () => {
  for (const bits of [8, 9, 12, 15]) {
    test(`server_max_window_bits=${bits} (offered and answered): the client inflates our ${bits}-bit stream`, T, async (t) => {
      const s = await openClient(t, pmdOptions({ serverMaxWindowBits: bits, threshold: 0 }), `${PMD}; server_max_window_bits=${bits}`);
      const d = new ServerDriver(s);
      for (let i = 0; i < 3; i++) {
        await d.roundTrip(OP.BINARY, windowProbe(bits, i + 1), `probe ${i}`);
        await d.roundTrip(OP.TEXT, prose(8000, i), `text ${i}`);
      }
      d.close();
    });

    test(`client_max_window_bits=${bits} answered: the client's stream keeps within 2^${bits}`, T, async (t) => {
      const s = await openClient(t, pmdOptions({ threshold: 0 }), `${PMD}; client_max_window_bits=${bits}`);
      const d = new ServerDriver(s);
      for (let i = 0; i < 3; i++) {
        await d.roundTrip(OP.BINARY, windowProbe(bits, i + 1), `probe ${i}`);
        await d.roundTrip(OP.TEXT, prose(8000, i), `text ${i}`);
      }
      d.checkWindow();
      d.close();
    });
  }
});

describe('client data: sequences, fragments, empty messages, compress: false, threshold', () => {
  test('120 messages with context takeover both ways', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }), PMD);
    const d = new ServerDriver(s);
    for (let i = 0; i < 120; i++) {
      const data = Buffer.from(`message ${i}: ` + prose(200 + ((i * 37) % 900), i % 5).toString());
      await d.roundTrip(i % 3 === 0 ? OP.BINARY : OP.TEXT, data, `message ${i}`);
    }
    d.checkWindow();
    d.close();
  });

  test('120 messages sent back to back with context takeover', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }), PMD);
    const d = new ServerDriver(s);
    const sent: Buffer[] = [];
    const wire: Buffer[] = [];
    for (let i = 0; i < 120; i++) {
      sent.push(prose(100 + i * 13, i % 3));
      wire.push(await d.frames(OP.TEXT, sent[i]!));
    }
    s.peer.write(Buffer.concat(wire));
    for (let i = 0; i < 120; i++) await d.expectMessage(OP.TEXT, sent[i]!, `message ${i}`);
    d.close();
  });

  test('fragmented compressed messages in 1-byte TCP pieces', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }), PMD);
    const d = new ServerDriver(s);
    for (const [n, parts] of [
      [3000, 4],
      [300, 2],
      [20000, 7],
    ] as const) {
      const data = prose(n, n);
      const c = await d.ours.compress(data);
      const bounds = [0, ...Array.from({ length: parts - 1 }, (_, i) => Math.floor(((i + 1) * c.length) / parts)), c.length];
      const frames: Buffer[] = [];
      for (let i = 0; i + 1 < bounds.length; i++) {
        frames.push(frame({ opcode: i === 0 ? OP.TEXT : OP.CONT, rsv1: i === 0, fin: i + 2 === bounds.length, payload: c.subarray(bounds[i], bounds[i + 1]) }));
      }
      await writePieces(s.peer, Buffer.concat(frames), n > 5000 ? 7 : 1);
      await d.expectMessage(OP.TEXT, data, `${n} B in ${parts} fragments`);
    }
    d.close();
  });

  test('a short compressed message split across two fragments at every position', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }), PMD);
    const d = new ServerDriver(s);
    const data = Buffer.from('Hello, permessage-deflate! \u00c4\u00d6\u00dc \u20ac \u{1F600} hello hello hello');
    const c = compressMessage(data);
    for (let k = 0; k <= c.length; k++) {
      s.peer.write(Buffer.concat([frame({ opcode: OP.TEXT, rsv1: true, fin: false, payload: c.subarray(0, k) }), frame({ opcode: OP.CONT, payload: c.subarray(k) })]));
      await d.expectMessage(OP.TEXT, data, `split at ${k}/${c.length}`);
    }
    d.close();
  });

  test('empty compressed messages (0x00, zlib empty, empty first fragment)', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }), PMD);
    const d = new ServerDriver(s);
    s.peer.write(frame({ opcode: OP.TEXT, rsv1: true, payload: Buffer.from([0]) }));
    await d.expectMessage(OP.TEXT, Buffer.alloc(0), 'text 0x00');
    s.peer.write(frame({ opcode: OP.BINARY, rsv1: true, payload: Buffer.from([0]) }));
    await d.expectMessage(OP.BINARY, Buffer.alloc(0), 'binary 0x00');
    s.peer.write(frame({ opcode: OP.BINARY, rsv1: true, payload: compressMessage(Buffer.alloc(0)) }));
    await d.expectMessage(OP.BINARY, Buffer.alloc(0), 'zlib empty');
    s.peer.write(Buffer.concat([frame({ opcode: OP.TEXT, rsv1: true, fin: false, payload: Buffer.alloc(0) }), frame({ opcode: OP.CONT, payload: Buffer.from([0]) })]));
    await d.expectMessage(OP.TEXT, Buffer.alloc(0), 'empty first fragment');
    await d.roundTrip(OP.TEXT, prose(500), 'after the empty ones');
    d.close();
  });

  test('send(data, { compress: false }) arrives with RSV1 clear; without it, compressed', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }), PMD, false);
    const d = new ServerDriver(s);
    const data = prose(5000);
    s.client.send(data, { binary: true, compress: false });
    const m = await readWireMessage(s.peer, 'client');
    assert.equal(m.compressed, false, 'RSV1 set on a message sent with { compress: false }');
    assertSameData(m.payload, data);
    s.client.send(data, { binary: true });
    await d.expectMessage(OP.BINARY, data, 'the same without compress: false');
    d.close();
  });

  test('threshold 100: 99 bytes uncompressed, 100 and 1000 bytes compressed', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 100 }), PMD, false);
    const d = new ServerDriver(s);
    for (const [n, compressed] of [
      [10, false],
      [99, false],
      [100, true],
      [1000, true],
    ] as const) {
      const data = Buffer.from('ab'.repeat(n).slice(0, n));
      s.client.send(data.toString());
      const m = await d.expectMessage(OP.TEXT, data, `${n} B`);
      assert.equal(m.compressed, compressed, `${n}-byte message: RSV1 ${m.compressed ? 'set' : 'clear'} with threshold 100`);
    }
    d.close();
  });

  test('a ping between compressed fragments is answered, then the message completes', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }), PMD);
    const d = new ServerDriver(s);
    const data = prose(2000);
    const c = await d.ours.compress(data);
    s.peer.write(frame({ opcode: OP.TEXT, rsv1: true, fin: false, payload: c.subarray(0, 10) }));
    s.peer.write(frame({ opcode: OP.PING, payload: 'mid' }));
    const pong = await s.peer.nextFrame(3000);
    assert.equal(pong.opcode, OP.PONG, describeFrame(pong));
    assert.equal(pong.rsv, 0);
    s.peer.write(frame({ opcode: OP.CONT, payload: c.subarray(10) }));
    await d.expectMessage(OP.TEXT, data);
    d.close();
  });

  test('uncompressed messages from the server are accepted after the negotiation', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }), PMD);
    const d = new ServerDriver(s);
    const plain = prose(3000, 4);
    s.peer.write(frame({ opcode: OP.TEXT, payload: plain }));
    await d.expectMessage(OP.TEXT, plain, 'uncompressed text');
    await d.roundTrip(OP.TEXT, prose(3000, 5), 'compressed after it');
    d.close();
  });
});
