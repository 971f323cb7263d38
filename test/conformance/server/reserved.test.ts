// Autobahn 3.x (reserved bits) and 4.x (reserved opcodes): each fails the connection
// with 1002; data sent before the bad frame is still echoed first, and nothing sent
// after it (here: a ping) is answered.
import { both, serverFixture, openWs, cf, send, writePieces, expectFail, expectEcho, OP, T } from './helpers.js';
import { closePayload } from '../../support/raw.js';

const srv = serverFixture({}, true);

const rsvFlags = (rsv: number): { rsv1: boolean; rsv2: boolean; rsv3: boolean } => ({
  rsv1: (rsv & 4) !== 0,
  rsv2: (rsv & 2) !== 0,
  rsv3: (rsv & 1) !== 0,
});

const OPCODE_CASES: Array<[string, number, Buffer]> = [
  ['text', OP.TEXT, Buffer.from('reserved')],
  ['binary', OP.BINARY, Buffer.from([0, 1, 2, 0xff])],
  ['ping', OP.PING, Buffer.from('ping')],
  ['pong', OP.PONG, Buffer.from('pong')],
  ['close', OP.CLOSE, closePayload(1000)],
];

for (const rsv of [1, 2, 3, 4, 5, 6, 7]) {
  const bits = `RSV=${rsv} (${['RSV1', 'RSV2', 'RSV3'].filter((_, i) => rsv & (4 >> i)).join('+')})`;
  for (const [name, opcode, payload] of OPCODE_CASES) {
    both(`3.x ${name} frame with ${bits} -> close 1002`, T, async (via) => {
      const p = await openWs(srv.at(via));
      send(p, cf({ opcode, payload, ...rsvFlags(rsv) }));
      await expectFail(p, 1002);
    });
  }
}

for (const rsv of [4, 2, 1]) {
  both(`3.x echo, then text with RSV=${rsv}, then ping, in one write -> echo, close 1002, no pong`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(
      p,
      cf({ opcode: OP.TEXT, payload: 'before' }),
      cf({ opcode: OP.TEXT, payload: 'bad', ...rsvFlags(rsv) }),
      cf({ opcode: OP.PING, payload: 'after' }),
    );
    await expectEcho(p, OP.TEXT, 'before');
    await expectFail(p, 1002);
  });

  both(`3.x same with RSV=${rsv}, delivered in 1-byte pieces`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const bytes = Buffer.concat([
      cf({ opcode: OP.TEXT, payload: 'before' }),
      cf({ opcode: OP.BINARY, payload: 'bad', ...rsvFlags(rsv) }),
      cf({ opcode: OP.PING, payload: 'after' }),
    ]);
    await writePieces(p, bytes, 1);
    await expectEcho(p, OP.TEXT, 'before');
    await expectFail(p, 1002);
  });
}

both('3.x RSV bit on a continuation frame -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.TEXT, fin: false, payload: 'frag' }), cf({ opcode: OP.CONT, payload: 'ment', rsv1: true }));
  await expectFail(p, 1002);
});

both('3.x close frame with RSV bits is not honoured as a close (close 1002, not 1000)', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000), rsv2: true }));
  await expectFail(p, 1002);
});

for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
  const kind = opcode < 8 ? 'non-control' : 'control';
  both(`4.x reserved ${kind} opcode ${opcode}, empty -> close 1002`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, cf({ opcode }));
    await expectFail(p, 1002);
  });

  both(`4.x reserved ${kind} opcode ${opcode} with payload after an echo, then ping -> echo, close 1002, no pong`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(
      p,
      cf({ opcode: OP.TEXT, payload: 'before' }),
      cf({ opcode, payload: 'reserved opcode payload' }),
      cf({ opcode: OP.PING, payload: 'after' }),
    );
    await expectEcho(p, OP.TEXT, 'before');
    await expectFail(p, 1002);
  });
}

both('4.x reserved opcode inside a fragmented message -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.TEXT, fin: false, payload: 'frag' }), cf({ opcode: 3, payload: 'x' }));
  await expectFail(p, 1002);
});

both('4.x reserved opcode in 1-byte pieces after an echo -> echo, close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  await writePieces(p, Buffer.concat([cf({ opcode: OP.BINARY, payload: 'before' }), cf({ opcode: 13, payload: 'x' })]), 1);
  await expectEcho(p, OP.BINARY, 'before');
  await expectFail(p, 1002);
});
