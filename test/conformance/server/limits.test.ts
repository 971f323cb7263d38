// Autobahn 10.x-style limits and other framing violations: maxPayload (1009, decided
// from the header, before the payload is sent), 64-bit lengths with the MSB set and
// unmasked client frames (1002).
import { both, serverFixture, openWs, cf, send, expectFail, expectEcho, expectAlive, bytes, asciiText, OP, T } from './helpers.js';
import { frame } from '../../support/raw.js';

const limited = serverFixture({ maxPayload: 1024 }, true);
const dflt = serverFixture({}, true);

/** The header (and mask key) of a masked frame announcing `len` bytes, without payload. */
function headerOnly(opcode: number, len: number | bigint, fin = true, lengthBits?: 7 | 16 | 64): Buffer {
  return frame({ opcode, fin, mask: Buffer.from([1, 2, 3, 4]), declaredLength: len, ...(lengthBits ? { lengthBits } : {}) });
}

for (const [name, opcode] of [
  ['text', OP.TEXT],
  ['binary', OP.BINARY],
] as const) {
  const data = (n: number): Buffer => (opcode === OP.TEXT ? asciiText(n) : bytes(n, 9));

  both(`10.x maxPayload 1024: ${name} message of exactly 1024 bytes is echoed`, T, async (via) => {
    const p = await openWs(limited.at(via));
    send(p, cf({ opcode, payload: data(1024) }));
    await expectEcho(p, opcode, data(1024));
  });

  both(`10.x maxPayload 1024: ${name} header announcing 1025 bytes -> close 1009 before any payload is sent`, T, async (via) => {
    const p = await openWs(limited.at(via));
    send(p, headerOnly(opcode, 1025));
    await expectFail(p, 1009);
  });

  both(`10.x maxPayload 1024: ${name} fragments 400+400+400 (all sent) -> close 1009, no echo`, T, async (via) => {
    const p = await openWs(limited.at(via));
    const d = data(1200);
    send(
      p,
      cf({ opcode, fin: false, payload: d.subarray(0, 400) }),
      cf({ opcode: OP.CONT, fin: false, payload: d.subarray(400, 800) }),
      cf({ opcode: OP.CONT, payload: d.subarray(800) }),
    );
    await expectFail(p, 1009);
  });

  both(`10.x maxPayload 1024: ${name} fragments 512+512 (exactly the limit) are echoed`, T, async (via) => {
    const p = await openWs(limited.at(via));
    const d = data(1024);
    send(p, cf({ opcode, fin: false, payload: d.subarray(0, 512) }), cf({ opcode: OP.CONT, payload: d.subarray(512) }));
    await expectEcho(p, opcode, d);
  });

  both(`10.x maxPayload 1024: ${name} fragment 600, then a continuation header announcing 600 -> close 1009 before its payload`, T, async (via) => {
    const p = await openWs(limited.at(via));
    send(p, cf({ opcode, fin: false, payload: data(600) }), headerOnly(OP.CONT, 600));
    await expectFail(p, 1009);
  });
}

both('10.x maxPayload 1024: header announcing 2^32 bytes (64-bit length) -> close 1009 before any payload', T, async (via) => {
  const p = await openWs(limited.at(via));
  send(p, headerOnly(OP.BINARY, 2n ** 32n));
  await expectFail(p, 1009);
});

both('10.x maxPayload 1024: header announcing 2^62 bytes -> close 1009', T, async (via) => {
  const p = await openWs(limited.at(via));
  send(p, headerOnly(OP.BINARY, 2n ** 62n));
  await expectFail(p, 1009);
});

both('10.x maxPayload 1024: an echo, then an oversized message -> echo, then close 1009', T, async (via) => {
  const p = await openWs(limited.at(via));
  send(p, cf({ opcode: OP.TEXT, payload: 'small' }), cf({ opcode: OP.TEXT, payload: asciiText(2000) }));
  await expectEcho(p, OP.TEXT, 'small');
  await expectFail(p, 1009);
});

both('10.x maxPayload does not limit control frames below 125 bytes: ping still answered', T, async (via) => {
  const p = await openWs(limited.at(via));
  await expectAlive(p, 'x'.repeat(125));
});

for (const [name, len] of [
  ['2^63', 2n ** 63n],
  ['2^64-1', 2n ** 64n - 1n],
  ['2^63+5', 2n ** 63n + 5n],
] as const) {
  both(`5.2 64-bit payload length ${name} (most significant bit set) -> close 1002`, T, async (via) => {
    const p = await openWs(dflt.at(via));
    send(p, headerOnly(OP.BINARY, len, true, 64));
    await expectFail(p, 1002);
  });
}

both('5.1 unmasked text frame from the client -> close 1002, no echo', T, async (via) => {
  const p = await openWs(dflt.at(via));
  send(p, frame({ opcode: OP.TEXT, payload: 'not masked' }));
  await expectFail(p, 1002);
});

both('5.1 unmasked binary frame after a masked one -> echo of the first, then close 1002', T, async (via) => {
  const p = await openWs(dflt.at(via));
  send(p, cf({ opcode: OP.BINARY, payload: 'masked' }), frame({ opcode: OP.BINARY, payload: 'not masked' }));
  await expectEcho(p, OP.BINARY, 'masked');
  await expectFail(p, 1002);
});

both('5.1 unmasked ping from the client -> close 1002, no pong', T, async (via) => {
  const p = await openWs(dflt.at(via));
  send(p, frame({ opcode: OP.PING, payload: 'not masked' }));
  await expectFail(p, 1002);
});

both('5.1 unmasked close from the client -> close 1002', T, async (via) => {
  const p = await openWs(dflt.at(via));
  send(p, frame({ opcode: OP.CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
  await expectFail(p, 1002);
});

both('5.1 unmasked continuation inside a fragmented message -> close 1002', T, async (via) => {
  const p = await openWs(dflt.at(via));
  send(p, cf({ opcode: OP.TEXT, fin: false, payload: 'masked' }), frame({ opcode: OP.CONT, payload: 'not masked' }));
  await expectFail(p, 1002);
});
