// Autobahn 1.x (framing) and 9.x (limits/performance): text and binary echo at the
// length-encoding boundaries, delivered in one write, in 1-byte pieces and in odd pieces.
import { both, serverFixture, openWs, cf, send, writePieces, expectEcho, readMessage, expectAlive, bytes, asciiText, OP, T } from './helpers.js';
import assert from 'node:assert/strict';

const MiB = 1024 * 1024;
const srv = serverFixture({ maxPayload: 32 * MiB }, true);

const SIZES = [0, 125, 126, 127, 128, 65535, 65536, MiB];
const ODD = [1, 2, 3, 5, 7, 127, 128, 129, 1021, 4093, 65537];

function payloadFor(opcode: number, n: number): Buffer {
  return opcode === OP.TEXT ? asciiText(n) : bytes(n, n + 1);
}

for (const [name, opcode] of [
  ['text', OP.TEXT],
  ['binary', OP.BINARY],
] as const) {
  for (const n of SIZES) {
    both(`1.x ${name} message of ${n} bytes, one write, is echoed`, T, async (via) => {
      const p = await openWs(srv.at(via));
      const data = payloadFor(opcode, n);
      send(p, cf({ opcode, payload: data }));
      await expectEcho(p, opcode, data, 10_000);
      await expectAlive(p);
    });
  }

  for (const n of [0, 1, 125, 126, 127, 128, 300]) {
    both(`1.x ${name} message of ${n} bytes delivered in 1-byte pieces is echoed`, T, async (via) => {
      const p = await openWs(srv.at(via));
      const data = payloadFor(opcode, n);
      await writePieces(p, cf({ opcode, payload: data }), 1);
      await expectEcho(p, opcode, data);
    });
  }

  for (const n of [127, 65535, 65536, MiB]) {
    both(`1.x ${name} message of ${n} bytes delivered in odd pieces is echoed`, T, async (via) => {
      const p = await openWs(srv.at(via));
      const data = payloadFor(opcode, n);
      await writePieces(p, cf({ opcode, payload: data }), ODD);
      await expectEcho(p, opcode, data, 10_000);
    });
  }

  both(`9.x ${name} message of 16 MiB is echoed (maxPayload 32 MiB)`, { timeout: 90_000 }, async (via) => {
    const p = await openWs(srv.at(via));
    const data = payloadFor(opcode, 16 * MiB);
    send(p, cf({ opcode, payload: data }));
    await expectEcho(p, opcode, data, 60_000);
  });

  both(`9.x ${name} message of 4 MiB sent as 64 KiB fragments is echoed as one message`, { timeout: 60_000 }, async (via) => {
    const p = await openWs(srv.at(via));
    const data = payloadFor(opcode, 4 * MiB);
    const frames: Buffer[] = [];
    const step = 64 * 1024;
    for (let off = 0; off < data.length; off += step) {
      frames.push(
        cf({ opcode: off === 0 ? opcode : OP.CONT, fin: off + step >= data.length, payload: data.subarray(off, off + step) }),
      );
    }
    send(p, ...frames);
    await expectEcho(p, opcode, data, 30_000);
  });

  both(`9.x ${name} message of 1 MiB sent as 4096 fragments of 256 bytes is echoed as one message`, { timeout: 60_000 }, async (via) => {
    const p = await openWs(srv.at(via));
    const data = payloadFor(opcode, MiB);
    const frames: Buffer[] = [];
    for (let off = 0; off < data.length; off += 256) {
      frames.push(cf({ opcode: off === 0 ? opcode : OP.CONT, fin: off + 256 >= data.length, payload: data.subarray(off, off + 256) }));
    }
    send(p, ...frames);
    await expectEcho(p, opcode, data, 30_000);
  });

  both(`1.x ${name}: the 16- and 64-bit length boundaries in one write, in order`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const list = [0, 125, 126, 127, 65535, 65536, 3].map((n) => payloadFor(opcode, n));
    send(p, ...list.map((d) => cf({ opcode, payload: d })));
    for (const d of list) await expectEcho(p, opcode, d);
  });
}

both('1.x masked with an all-zero mask key is still a masked frame (echoed)', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.TEXT, payload: 'zero mask', mask: Buffer.alloc(4) }));
  await expectEcho(p, OP.TEXT, 'zero mask');
});

both('9.x 1000 small messages pipelined in one write are echoed in order', { timeout: 30_000 }, async (via) => {
  const p = await openWs(srv.at(via));
  const msgs: Buffer[] = [];
  for (let i = 0; i < 1000; i++) msgs.push(Buffer.from(`message #${i} ` + 'x'.repeat(i % 97)));
  send(p, ...msgs.map((m, i) => cf({ opcode: i % 2 ? OP.BINARY : OP.TEXT, payload: m })));
  for (let i = 0; i < msgs.length; i++) {
    const m = await readMessage(p, 10_000);
    assert.equal(m.opcode, i % 2 ? OP.BINARY : OP.TEXT, `message ${i} opcode`);
    assert.ok(m.data.equals(msgs[i]!), `message ${i} differs`);
  }
});

both('9.x 200 messages sent one at a time (wait for each echo)', { timeout: 30_000 }, async (via) => {
  const p = await openWs(srv.at(via));
  for (let i = 0; i < 200; i++) {
    const d = bytes(1 + ((i * 37) % 1500), i + 7);
    send(p, cf({ opcode: OP.BINARY, payload: d }));
    await expectEcho(p, OP.BINARY, d);
  }
});
