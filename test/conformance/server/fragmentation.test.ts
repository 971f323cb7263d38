// Autobahn 5.x: fragmentation. Fragmented messages are echoed as one message (any
// framing back is accepted: we reassemble); control frames may be interleaved; broken
// fragment sequences fail the connection with 1002.
import assert from 'node:assert/strict';
import {
  both, serverFixture, openWs, cf, send, writePieces, nextFrame, expectFail, expectEcho, expectSilence, expectTcpClosedByServer,
  closeCode, describe, bytes, asciiText, OP, T,
} from './helpers.js';
import { closePayload, type RawPeer } from '../../support/raw.js';

const srv = serverFixture({}, true);

async function expectPong(p: RawPeer, payload: string): Promise<void> {
  const f = await nextFrame(p, 3000, 'a pong');
  assert.equal(f.opcode, OP.PONG, `expected pong "${payload}", got ${describe(f)}`);
  assert.equal(f.payload.toString(), payload);
}

/** Splits `data` into fragments of the given sizes (the last takes the rest). */
function fragments(opcode: number, data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; i <= sizes.length; i++) {
    const end = i < sizes.length ? off + sizes[i]! : data.length;
    out.push(cf({ opcode: i === 0 ? opcode : OP.CONT, fin: i === sizes.length, payload: data.subarray(off, end) }));
    off = end;
  }
  return out;
}

both('5.1 ping with FIN=0 (fragmented ping) -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.PING, fin: false, payload: 'frag' }), cf({ opcode: OP.CONT, payload: 'ment' }));
  await expectFail(p, 1002);
});

both('5.2 pong with FIN=0 (fragmented pong) -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.PONG, fin: false, payload: 'frag' }), cf({ opcode: OP.CONT, payload: 'ment' }));
  await expectFail(p, 1002);
});

both('5.x close with FIN=0 (fragmented close) -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, fin: false, payload: closePayload(1000) }));
  await expectFail(p, 1002);
});

for (const [name, opcode] of [
  ['text', OP.TEXT],
  ['binary', OP.BINARY],
] as const) {
  const data = opcode === OP.TEXT ? asciiText(200) : bytes(200, 5);

  both(`5.3 ${name} message in 2 fragments, one write -> one echo`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, ...fragments(opcode, data, [100]));
    await expectEcho(p, opcode, data);
  });

  both(`5.4 ${name} message in 2 fragments, separate writes with a pause -> one echo`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const [a, b] = fragments(opcode, data, [50]);
    send(p, a!);
    await expectSilence(p, 150);
    send(p, b!);
    await expectEcho(p, opcode, data);
  });

  both(`5.5 ${name} message in 4 fragments, 1-byte pieces -> one echo`, T, async (via) => {
    const p = await openWs(srv.at(via));
    await writePieces(p, Buffer.concat(fragments(opcode, data, [10, 60, 1])), 1);
    await expectEcho(p, opcode, data);
  });

  both(`5.6 ${name} fragments with a ping between them -> pong, then the echo`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const [a, b] = fragments(opcode, data, [100]);
    send(p, a!, cf({ opcode: OP.PING, payload: 'between' }), b!);
    await expectPong(p, 'between');
    await expectEcho(p, opcode, data);
  });

  both(`5.7 ${name} fragments with a ping between, pong awaited before the last fragment`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const [a, b] = fragments(opcode, data, [100]);
    send(p, a!, cf({ opcode: OP.PING, payload: 'between' }));
    await expectPong(p, 'between');
    send(p, b!);
    await expectEcho(p, opcode, data);
  });

  both(`5.8 ${name} fragments with a ping between, all in 1-byte pieces -> pong, echo`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const [a, b] = fragments(opcode, data, [100]);
    await writePieces(p, Buffer.concat([a!, cf({ opcode: OP.PING, payload: 'between' }), b!]), 1);
    await expectPong(p, 'between');
    await expectEcho(p, opcode, data);
  });

  both(`5.19 ${name} in 5 fragments with 2 pings interleaved, with pauses -> 2 pongs, then the echo`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const fr = fragments(opcode, data, [10, 20, 30, 40]);
    send(p, fr[0]!, fr[1]!, cf({ opcode: OP.PING, payload: 'pong-1' }));
    await expectPong(p, 'pong-1');
    send(p, fr[2]!, fr[3]!);
    await expectSilence(p, 100);
    send(p, cf({ opcode: OP.PING, payload: 'pong-2' }), fr[4]!);
    await expectPong(p, 'pong-2');
    await expectEcho(p, opcode, data);
  });

  both(`5.x ${name} message with empty fragments (first, middle, last) -> one echo`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(
      p,
      cf({ opcode, fin: false }),
      cf({ opcode: OP.CONT, fin: false, payload: data.subarray(0, 7) }),
      cf({ opcode: OP.CONT, fin: false }),
      cf({ opcode: OP.CONT, fin: false, payload: data.subarray(7) }),
      cf({ opcode: OP.CONT, fin: true }),
    );
    await expectEcho(p, opcode, data);
  });

  both(`5.x empty ${name} message as 3 empty fragments -> one empty echo`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, cf({ opcode, fin: false }), cf({ opcode: OP.CONT, fin: false }), cf({ opcode: OP.CONT }));
    await expectEcho(p, opcode, Buffer.alloc(0));
  });

  both(`5.x ${name} of 1000 bytes as 1000 one-byte fragments -> one echo`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const big = opcode === OP.TEXT ? asciiText(1000) : bytes(1000, 6);
    send(p, ...fragments(opcode, big, Array.from({ length: 999 }, () => 1)));
    await expectEcho(p, opcode, big);
  });

  both(`5.x ${name}: two fragmented messages back to back -> two echoes in order`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const d2 = Buffer.from('second message');
    send(p, ...fragments(opcode, data, [3, 3]), ...fragments(opcode, d2, [5]));
    await expectEcho(p, opcode, data);
    await expectEcho(p, opcode, d2);
  });
}

both('5.9 continuation (FIN=1) with no message started -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CONT, payload: 'fragment' }), cf({ opcode: OP.TEXT, payload: 'after' }));
  await expectFail(p, 1002);
});

both('5.10 same, in 1-byte pieces -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  await writePieces(p, Buffer.concat([cf({ opcode: OP.CONT, payload: 'fragment' }), cf({ opcode: OP.TEXT, payload: 'after' })]), 1);
  await expectFail(p, 1002);
});

both('5.12 continuation (FIN=0) with no message started -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CONT, fin: false, payload: 'fragment' }));
  await expectFail(p, 1002);
});

both('5.x empty continuation with no message started -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CONT }));
  await expectFail(p, 1002);
});

both('5.15 complete fragmented message, then a stray continuation -> echo, then close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(
    p,
    cf({ opcode: OP.TEXT, fin: false, payload: 'frag1' }),
    cf({ opcode: OP.CONT, payload: 'frag2' }),
    cf({ opcode: OP.CONT, fin: false, payload: 'frag3' }),
    cf({ opcode: OP.CONT, payload: 'frag4' }),
  );
  await expectEcho(p, OP.TEXT, 'frag1frag2');
  await expectFail(p, 1002);
});

both('5.18 text frame while a fragmented text message is open -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.TEXT, fin: false, payload: 'frag1' }), cf({ opcode: OP.TEXT, payload: 'frag2' }));
  await expectFail(p, 1002);
});

both('5.18b binary frame (FIN=0) while a fragmented binary message is open -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.BINARY, fin: false, payload: 'frag1' }), cf({ opcode: OP.BINARY, fin: false, payload: 'frag2' }));
  await expectFail(p, 1002);
});

both('5.18c text frame while a fragmented binary message is open -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.BINARY, fin: false, payload: 'frag1' }), cf({ opcode: OP.TEXT, payload: 'frag2' }));
  await expectFail(p, 1002);
});

both('5.x close between fragments -> close reply 1000, no echo of the partial message', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.TEXT, fin: false, payload: 'partial' }), cf({ opcode: OP.CLOSE, payload: closePayload(1000) }));
  const f = await nextFrame(p, 3000, 'the close reply');
  assert.equal(f.opcode, OP.CLOSE, `expected close 1000, got ${describe(f)}`);
  assert.equal(closeCode(f), 1000, `expected close 1000, got ${describe(f)}`);
  await expectTcpClosedByServer(p);
});
