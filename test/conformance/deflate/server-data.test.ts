// permessage-deflate data transfer, server role (Autobahn 12.x/13.x equivalents): a raw
// client sends compressed messages of 16 B .. 128 KiB, text and binary, compressible and
// random, in each context-takeover mode and with window bits 8, 9, 12, 15 either way; the
// echo must inflate (with a persistent inflater when the server keeps context) to the same data.
import './env.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverFixture, cf, send, writePieces, expectAlive, nextFrame } from '../server/helpers.js';
import { openPmd, EchoDriver } from './server-side.js';
import { compressMessage } from './codec.js';
import { OP, PMD, SIZES, KINDS, payloadOf, isText, prose, windowProbe, readWireMessage, assertSameData, describeFrame } from './common.js';
import type { SutOptions } from '../server/sut.js';

const T = { timeout: 60_000 };

interface Mode {
  name: string;
  config: SutOptions['perMessageDeflate'];
  offer: string;
  serverTakeover: boolean;
  clientTakeover: boolean;
}

const MODES: Mode[] = [
  {
    name: 'server and client context takeover',
    config: { serverNoContextTakeover: false, clientNoContextTakeover: false, threshold: 0 },
    offer: `${PMD}; client_max_window_bits`,
    serverTakeover: true,
    clientTakeover: true,
  },
  {
    name: 'server no context takeover (server default), client takeover (clientNoContextTakeover: false)',
    config: { clientNoContextTakeover: false, threshold: 0 },
    offer: `${PMD}; client_max_window_bits`,
    serverTakeover: false,
    clientTakeover: true,
  },
  {
    name: 'server defaults: no context takeover either way (shared compressor and decompressor)',
    config: { threshold: 0 },
    offer: `${PMD}; client_max_window_bits`,
    serverTakeover: false,
    clientTakeover: false,
  },
  {
    name: 'server takeover, client no context takeover (clientNoContextTakeover: true)',
    config: { serverNoContextTakeover: false, clientNoContextTakeover: true, threshold: 0 },
    offer: `${PMD}; client_max_window_bits`,
    serverTakeover: true,
    clientTakeover: false,
  },
  {
    name: 'no context takeover either way (offered by the client)',
    config: { threshold: 0 },
    offer: `${PMD}; server_no_context_takeover; client_no_context_takeover`,
    serverTakeover: false,
    clientTakeover: false,
  },
];

for (const mode of MODES) {
  describe(`server data: ${mode.name}`, () => {
    const srv = serverFixture({ perMessageDeflate: mode.config });
    for (const kind of KINDS) {
      test(`${kind} messages of ${SIZES.join(', ')} bytes echo correctly`, T, async () => {
        const s = await openPmd(srv.port, mode.offer, mode.offer);
        assert.equal(s.agreed!.serverNoContextTakeover, !mode.serverTakeover, 'server_no_context_takeover in the answer');
        assert.equal(s.agreed!.clientNoContextTakeover, !mode.clientTakeover, 'client_no_context_takeover in the answer');
        const d = new EchoDriver(s);
        try {
          for (const n of SIZES) {
            const data = payloadOf(kind, n, n);
            const m = await d.roundTrip(isText(kind) ? OP.TEXT : OP.BINARY, data, `${kind} ${n} B`);
            if (!kind.endsWith('random') && n >= 64) assert.ok(m.compressed, `${kind} ${n} B with threshold 0 was sent uncompressed`);
          }
          // The same data again: with context takeover it may refer back to the first copy.
          for (const n of [1024, 16384]) await d.roundTrip(isText(kind) ? OP.TEXT : OP.BINARY, payloadOf(kind, n, n), `${kind} ${n} B again`);
          d.checkWindow();
          await expectAlive(s.p);
        } finally {
          d.close();
        }
      });
    }
  });
}

describe('server data: window bits', () => {
  const srv = serverFixture({ perMessageDeflate: { serverNoContextTakeover: false, threshold: 0 } });
  for (const bits of [8, 9, 12, 15]) {
    test(`server_max_window_bits=${bits} offered: the server's stream keeps within 2^${bits}`, T, async () => {
      const offer = `${PMD}; server_max_window_bits=${bits}`;
      const s = await openPmd(srv.port, offer, offer);
      const d = new EchoDriver(s);
      for (let i = 0; i < 3; i++) {
        await d.roundTrip(OP.BINARY, windowProbe(bits, i + 1), `probe ${i}`);
        await d.roundTrip(OP.TEXT, prose(8000, i), `text ${i}`);
      }
      d.checkWindow();
      assert.ok(d.theirs.maxDistance <= 1 << bits, `server used distance ${d.theirs.maxDistance}`);
      d.close();
    });

    test(`client_max_window_bits=${bits} offered: our ${bits}-bit stream is inflated`, T, async () => {
      const offer = `${PMD}; client_max_window_bits=${bits}`;
      const s = await openPmd(srv.port, offer, offer);
      const d = new EchoDriver(s, { windowBits: bits });
      for (let i = 0; i < 3; i++) {
        await d.roundTrip(OP.BINARY, windowProbe(bits, i + 1), `probe ${i}`);
        await d.roundTrip(OP.TEXT, prose(8000, i), `text ${i}`);
      }
      d.close();
    });
  }
  for (const bits of [8, 9, 12]) {
    describe(`clientMaxWindowBits: ${bits} configured`, () => {
      const srv2 = serverFixture({ perMessageDeflate: { clientMaxWindowBits: bits, threshold: 0 } });
      test(`the answer asks for ${bits} bits and our ${bits}-bit stream is inflated`, T, async () => {
        const offer = `${PMD}; client_max_window_bits`;
        const s = await openPmd(srv2.port, offer, offer);
        assert.equal(s.agreed!.clientMaxWindowBits, bits);
        const d = new EchoDriver(s);
        for (let i = 0; i < 4; i++) await d.roundTrip(OP.BINARY, windowProbe(bits, i + 1), `probe ${i}`);
        d.close();
      });
    });
  }
});

describe('server data: long sequences, fragments, empty messages', () => {
  const srv = serverFixture({ perMessageDeflate: { serverNoContextTakeover: false, threshold: 0 } });
  const offer = `${PMD}; client_max_window_bits`;

  test('120 messages with context takeover both ways decode with persistent inflaters', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    assert.equal(s.agreed!.serverNoContextTakeover, false);
    const d = new EchoDriver(s);
    for (let i = 0; i < 120; i++) {
      const data = Buffer.from(`message ${i}: ` + prose(200 + ((i * 37) % 900), i % 5).toString());
      await d.roundTrip(i % 3 === 0 ? OP.BINARY : OP.TEXT, data, `message ${i}`);
    }
    d.checkWindow();
    d.close();
  });

  test('120 messages pipelined (all sent before reading) with context takeover', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    const sent: Buffer[] = [];
    const wire: Buffer[] = [];
    for (let i = 0; i < 120; i++) {
      const data = prose(100 + i * 13, i % 3);
      sent.push(data);
      wire.push(await d.frames(OP.TEXT, data));
    }
    send(s.p, Buffer.concat(wire));
    for (let i = 0; i < 120; i++) await d.expectEcho(OP.TEXT, sent[i]!, `message ${i}`);
    d.close();
  });

  test('fragmented compressed messages (RSV1 on the first frame only) in 1-byte TCP pieces', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    for (const [n, parts] of [
      [3000, 4],
      [300, 2],
      [20000, 7],
    ] as const) {
      const data = prose(n, n);
      const c = await d.ours.compress(data);
      const cuts = Array.from({ length: parts - 1 }, (_, i) => Math.floor(((i + 1) * c.length) / parts));
      const frames: Buffer[] = [];
      const bounds = [0, ...cuts, c.length];
      for (let i = 0; i + 1 < bounds.length; i++) {
        frames.push(cf({ opcode: i === 0 ? OP.TEXT : OP.CONT, rsv1: i === 0, fin: i + 2 === bounds.length, payload: c.subarray(bounds[i], bounds[i + 1]) }));
      }
      await writePieces(s.p, Buffer.concat(frames), n > 5000 ? 7 : 1);
      await d.expectEcho(OP.TEXT, data, `${n} B in ${parts} fragments`);
    }
    d.close();
  });

  test('a ping between compressed fragments is answered, then the message completes', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    const data = prose(2000);
    const c = await d.ours.compress(data);
    send(s.p, cf({ opcode: OP.TEXT, rsv1: true, fin: false, payload: c.subarray(0, 10) }));
    send(s.p, cf({ opcode: OP.PING, payload: 'mid' }));
    const pong = await nextFrame(s.p, 3000, 'the pong');
    assert.equal(pong.opcode, OP.PONG, describeFrame(pong));
    send(s.p, cf({ opcode: OP.CONT, payload: c.subarray(10) }));
    await d.expectEcho(OP.TEXT, data);
    d.close();
  });

  test('a short compressed message split across two fragments at every position', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    const data = Buffer.from('Hello, permessage-deflate! \u00c4\u00d6\u00dc \u20ac \u{1F600} hello hello hello');
    const c = compressMessage(data); // no context: valid whatever the agreement
    for (let k = 0; k <= c.length; k++) {
      send(
        s.p,
        cf({ opcode: OP.TEXT, rsv1: true, fin: false, payload: c.subarray(0, k) }),
        cf({ opcode: OP.CONT, payload: c.subarray(k) }),
      );
      await d.expectEcho(OP.TEXT, data, `split at ${k}/${c.length}`);
    }
    d.close();
  });

  test('empty compressed messages: payload 0x00, zlib-compressed empty, empty first fragment', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    send(s.p, cf({ opcode: OP.TEXT, rsv1: true, payload: Buffer.from([0x00]) }));
    await d.expectEcho(OP.TEXT, Buffer.alloc(0), 'text 0x00');
    send(s.p, cf({ opcode: OP.BINARY, rsv1: true, payload: Buffer.from([0x00]) }));
    await d.expectEcho(OP.BINARY, Buffer.alloc(0), 'binary 0x00');
    send(s.p, cf({ opcode: OP.BINARY, rsv1: true, payload: compressMessage(Buffer.alloc(0)) }));
    await d.expectEcho(OP.BINARY, Buffer.alloc(0), 'zlib empty');
    send(s.p, cf({ opcode: OP.TEXT, rsv1: true, fin: false, payload: Buffer.alloc(0) }), cf({ opcode: OP.CONT, payload: Buffer.from([0x00]) }));
    await d.expectEcho(OP.TEXT, Buffer.alloc(0), 'empty first fragment');
    await d.roundTrip(OP.TEXT, prose(500), 'a message after the empty ones');
    d.close();
  });

  test('uncompressed messages (RSV1 clear) are still accepted after the negotiation', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    const plain = prose(3000, 9);
    send(s.p, cf({ opcode: OP.TEXT, payload: plain }));
    await d.expectEcho(OP.TEXT, plain, 'uncompressed text');
    await d.roundTrip(OP.TEXT, prose(3000, 10), 'compressed after uncompressed');
    send(s.p, cf({ opcode: OP.BINARY, fin: false, payload: plain.subarray(0, 100) }), cf({ opcode: OP.CONT, payload: plain.subarray(100) }));
    await d.expectEcho(OP.BINARY, plain, 'uncompressed fragmented');
    d.close();
  });
});

describe('server data: { compress: false } and threshold', () => {
  // Messages starting "plain:" are echoed (rest only) with { compress: false }.
  const srv = serverFixture({
    perMessageDeflate: { threshold: 100 },
    onMessage: (sendBack, data, isBinary) => {
      const b = Buffer.isBuffer(data) ? data : Buffer.from(String(data));
      if (b.subarray(0, 6).toString() === 'plain:') sendBack(b.subarray(6), { binary: isBinary, compress: false });
      else sendBack(b, { binary: isBinary });
    },
  });
  const offer = PMD;

  test('send(data, { compress: false }) arrives with RSV1 clear', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    const data = prose(5000);
    await d.send(OP.BINARY, Buffer.concat([Buffer.from('plain:'), data]));
    const m = await readWireMessage(s.p, 'server');
    assert.equal(m.compressed, false, 'sent with { compress: false } but RSV1 is set');
    assertSameData(m.payload, data);
    const m2 = await d.roundTrip(OP.BINARY, data, 'the same data without the marker');
    assert.equal(m2.compressed, true, 'a compressible 5000-byte message above the threshold went uncompressed');
    d.close();
  });

  test('threshold 100: 99 bytes uncompressed, 100 and 1000 bytes compressed', T, async () => {
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s);
    for (const [n, compressed] of [
      [10, false],
      [99, false],
      [100, true],
      [1000, true],
    ] as const) {
      const m = await d.roundTrip(OP.TEXT, Buffer.from('ab'.repeat(n).slice(0, n)), `${n} B`);
      assert.equal(m.compressed, compressed, `${n}-byte message: RSV1 ${m.compressed ? 'set' : 'clear'} with threshold 100`);
    }
    d.close();
  });
});
