// Autobahn 6.x: UTF-8 handling. Valid texts are echoed byte-identical however they are
// cut (pieces, fragments at every byte position); invalid UTF-8 fails the connection
// with 1007, and as soon as the invalid byte arrives (fail-fast), not at message end.
import assert from 'node:assert/strict';
import {
  both, serverFixture, openWs, cf, send, writePieces, nextFrame, readMessage, expectFail, expectEcho, expectAlive, describe,
  closeCode, hex, OP, T,
} from './helpers.js';
import type { RawPeer } from '../../support/raw.js';

const srv = serverFixture({}, true);

const VALID: Array<[string, Buffer]> = [
  ['empty', Buffer.alloc(0)],
  ['multilingual', Buffer.from('Grüße — κόσμε, мир, 世界, שלום, مرحبا, नमस्ते, 🌍🚀 €£¥ ∑∞ ﬁ')],
  ['U+0000', hex('00')],
  ['U+007F', hex('7f')],
  ['U+0080', hex('c2 80')],
  ['U+07FF', hex('df bf')],
  ['U+0800', hex('e0 a0 80')],
  ['U+D7FF (last before surrogates)', hex('ed 9f bf')],
  ['U+E000 (first after surrogates)', hex('ee 80 80')],
  ['U+FFFD', hex('ef bf bd')],
  ['U+FFFE (noncharacter, valid UTF-8)', hex('ef bf be')],
  ['U+FFFF', hex('ef bf bf')],
  ['U+10000', hex('f0 90 80 80')],
  ['U+10FFFF', hex('f4 8f bf bf')],
  ['BOM U+FEFF then text', Buffer.concat([hex('ef bb bf'), Buffer.from('bom')])],
  ['all boundaries together', hex('7f c2 80 df bf e0 a0 80 ef bf bf f0 90 80 80 f4 8f bf bf')],
];

/** Pipelines one copy of `data` as two fragments for every split position, then reads all echoes. */
async function everySplit(p: RawPeer, data: Buffer): Promise<void> {
  const frames: Buffer[] = [];
  for (let i = 0; i <= data.length; i++) {
    frames.push(cf({ opcode: OP.TEXT, fin: false, payload: data.subarray(0, i) }), cf({ opcode: OP.CONT, payload: data.subarray(i) }));
  }
  send(p, ...frames);
  for (let i = 0; i <= data.length; i++) {
    const m = await readMessage(p);
    assert.equal(m.opcode, OP.TEXT, `split at ${i}: opcode`);
    assert.ok(m.data.equals(data), `split at ${i}: echo ${m.data.toString('hex')} != ${data.toString('hex')}`);
  }
}

for (const [name, data] of VALID) {
  both(`6.x valid UTF-8 (${name}) in one frame is echoed byte-identical`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, cf({ opcode: OP.TEXT, payload: data }));
    await expectEcho(p, OP.TEXT, data);
  });

  both(`6.x valid UTF-8 (${name}) in 1-byte pieces is echoed byte-identical`, T, async (via) => {
    const p = await openWs(srv.at(via));
    await writePieces(p, cf({ opcode: OP.TEXT, payload: data }), 1);
    await expectEcho(p, OP.TEXT, data);
  });

  both(`6.x valid UTF-8 (${name}) split into 2 fragments at every byte position is echoed`, T, async (via) => {
    const p = await openWs(srv.at(via));
    await everySplit(p, data);
  });

  if (data.length > 1) {
    both(`6.x valid UTF-8 (${name}) as 1-byte fragments is echoed`, T, async (via) => {
      const p = await openWs(srv.at(via));
      send(
        p,
        ...[...data].map((b, i) => cf({ opcode: i === 0 ? OP.TEXT : OP.CONT, fin: i === data.length - 1, payload: Buffer.from([b]) })),
      );
      await expectEcho(p, OP.TEXT, data);
    });
  }
}

both('6.x valid texts pipelined in one write, then the connection is still healthy', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, ...VALID.map(([, d]) => cf({ opcode: OP.TEXT, payload: d })));
  for (const [, d] of VALID) await expectEcho(p, OP.TEXT, d);
  await expectAlive(p);
});

const PREFIX = Buffer.from('κόσμε'); // valid, multi-byte
const INVALID: Array<[string, Buffer]> = [
  ['overlong NUL C0 80', hex('c0 80')],
  ['overlong C1 BF', hex('c1 bf')],
  ['overlong "/" C0 AF', hex('c0 af')],
  ['overlong 3-byte E0 80 80', hex('e0 80 80')],
  ['overlong 3-byte E0 9F BF', hex('e0 9f bf')],
  ['overlong 4-byte F0 80 80 80', hex('f0 80 80 80')],
  ['overlong 4-byte F0 8F BF BF', hex('f0 8f bf bf')],
  ['5-byte form F8 88 80 80 80', hex('f8 88 80 80 80')],
  ['6-byte form FC 84 80 80 80 80', hex('fc 84 80 80 80 80')],
  ['surrogate U+D800 ED A0 80', hex('ed a0 80')],
  ['surrogate U+DB7F ED AD BF', hex('ed ad bf')],
  ['surrogate U+DC00 ED B0 80', hex('ed b0 80')],
  ['surrogate U+DFFF ED BF BF', hex('ed bf bf')],
  ['surrogate pair ED A0 80 ED B0 80', hex('ed a0 80 ed b0 80')],
  ['above U+10FFFF F4 90 80 80', hex('f4 90 80 80')],
  ['above U+10FFFF F7 BF BF BF', hex('f7 bf bf bf')],
  ['lead byte F5', hex('f5 80 80 80')],
  ['lead byte F8', hex('f8')],
  ['lead byte FB', hex('fb')],
  ['lead byte FE', hex('fe')],
  ['lead byte FF', hex('ff')],
  ['FE FE FF FF', hex('fe fe ff ff')],
  ['lone continuation 80', hex('80')],
  ['lone continuation BF', hex('bf')],
  ['continuations 80 BF 80 BF', hex('80 bf 80 bf')],
  ['2-byte lead followed by ASCII C3 28', hex('c3 28')],
  ['3-byte sequence broken by ASCII E2 28 A1', hex('e2 28 a1')],
  ['3-byte sequence broken late E2 82 28', hex('e2 82 28')],
  ['4-byte sequence broken F0 90 28 BC', hex('f0 90 28 bc')],
  ['lead bytes without continuations C0 E0 80 F0 80 80', hex('c2 e0 80 f0 80 80')],
  ['truncated 2-byte at message end C2', hex('c2')],
  ['truncated 3-byte at message end E0 A0', hex('e0 a0')],
  ['truncated € at message end E2 82', hex('e2 82')],
  ['truncated 4-byte at message end F0 90 80', hex('f0 90 80')],
  ['truncated U+10FFFF at message end F4 8F BF', hex('f4 8f bf')],
];

function closeMessage(p: RawPeer): Promise<void> {
  return expectFail(p, 1007);
}

for (const [name, bad] of INVALID) {
  const truncated = name.startsWith('truncated');
  const data = truncated ? Buffer.concat([PREFIX, bad]) : Buffer.concat([PREFIX, bad, Buffer.from('edited')]);

  both(`6.x invalid UTF-8 (${name}) in one frame -> close 1007`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, cf({ opcode: OP.TEXT, payload: data }));
    await closeMessage(p);
  });

  both(`6.x invalid UTF-8 (${name}) alone as the whole message -> close 1007`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, cf({ opcode: OP.TEXT, payload: bad }));
    await closeMessage(p);
  });

  both(`6.x invalid UTF-8 (${name}) in 1-byte pieces -> close 1007`, T, async (via) => {
    const p = await openWs(srv.at(via));
    await writePieces(p, cf({ opcode: OP.TEXT, payload: data }), 1);
    await closeMessage(p);
  });

  both(`6.x invalid UTF-8 (${name}) split into 2 fragments, every split position -> close 1007`, T, async (via) => {
    for (let i = 0; i <= data.length; i++) {
      const p = await openWs(srv.at(via));
      send(p, cf({ opcode: OP.TEXT, fin: false, payload: data.subarray(0, i) }), cf({ opcode: OP.CONT, payload: data.subarray(i) }));
      try {
        await closeMessage(p);
      } catch (e) {
        throw new Error(`split at byte ${i} of ${data.toString('hex')}: ${(e as Error).message}`);
      } finally {
        p.destroy();
      }
    }
  });
}

both('6.x valid message, then an invalid one -> first echoed, then close 1007', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.TEXT, payload: PREFIX }), cf({ opcode: OP.TEXT, payload: hex('ed a0 80') }));
  await expectEcho(p, OP.TEXT, PREFIX);
  await closeMessage(p);
});

both('6.x invalid byte in the middle of a fragmented message (3 fragments) -> close 1007', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(
    p,
    cf({ opcode: OP.TEXT, fin: false, payload: PREFIX }),
    cf({ opcode: OP.CONT, fin: false, payload: Buffer.concat([Buffer.from('ab'), hex('ff'), Buffer.from('cd')]) }),
    cf({ opcode: OP.CONT, payload: 'end' }),
  );
  await closeMessage(p);
});

both('6.x truncated sequence in the last fragment -> close 1007', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.TEXT, fin: false, payload: PREFIX }), cf({ opcode: OP.CONT, payload: Buffer.concat([Buffer.from('x'), hex('e2 82')]) }));
  await closeMessage(p);
});

both('6.x binary messages are not UTF-8 checked (invalid bytes echoed)', T, async (via) => {
  const p = await openWs(srv.at(via));
  const data = hex('c0 80 ed a0 80 ff fe f4 90 80 80 e2 82');
  send(p, cf({ opcode: OP.BINARY, payload: data }));
  await expectEcho(p, OP.BINARY, data);
});

// ---- fail-fast: the close must come while the rest of the message is still withheld.

const FAST: Array<[string, Buffer]> = [
  ['F4 90 80 80 (above U+10FFFF)', hex('f4 90 80 80')],
  ['ED A0 80 (surrogate)', hex('ed a0 80')],
  ['C0 80 (overlong)', hex('c0 80')],
  ['E0 80 80 (overlong)', hex('e0 80 80')],
  ['F5 (invalid lead byte)', hex('f5')],
  ['FF (invalid byte)', hex('ff')],
  ['80 (lone continuation)', hex('80')],
  ['C3 28 (broken sequence)', hex('c3 28')],
];

async function expectFastClose(p: RawPeer, what: string): Promise<void> {
  let f;
  try {
    f = await nextFrame(p, 2000, 'a close 1007 while the rest of the message is withheld');
  } catch (e) {
    throw new Error(`${what}: no fail-fast: ${(e as Error).message}`);
  }
  assert.equal(f.opcode, OP.CLOSE, `${what}: expected close 1007, got ${describe(f)}`);
  assert.equal(closeCode(f), 1007, `${what}: expected close 1007, got ${describe(f)}`);
}

for (const [name, bad] of FAST) {
  both(`6.4 fail-fast: text frame announcing more bytes, partial payload with ${name} -> close 1007 before the rest`, T, async (via) => {
    const p = await openWs(srv.at(via));
    const full = Buffer.concat([PREFIX, bad, Buffer.from('x'.repeat(100))]);
    const wire = cf({ opcode: OP.TEXT, payload: full });
    const headerLen = wire.length - full.length;
    const sentPart = headerLen + PREFIX.length + bad.length;
    send(p, wire.subarray(0, sentPart));
    await expectFastClose(p, `sent ${wire.subarray(0, headerLen).toString('hex')} + ${PREFIX.length + bad.length} of ${full.length} payload bytes`);
    send(p, wire.subarray(sentPart));
    await expectTcpClosed(p);
  });

  both(`6.4 fail-fast: non-final fragment containing ${name} -> close 1007 before the next fragment`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, cf({ opcode: OP.TEXT, fin: false, payload: Buffer.concat([PREFIX, bad, Buffer.from('more')]) }));
    await expectFastClose(p, 'first fragment FIN=0 sent, no continuation');
    send(p, cf({ opcode: OP.CONT, payload: 'rest' }));
    await expectTcpClosed(p);
  });
}

both('6.4 fail-fast: invalid byte in a second, non-final fragment -> close 1007 before the final one', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.TEXT, fin: false, payload: PREFIX }), cf({ opcode: OP.CONT, fin: false, payload: hex('61 ed a0 80 62') }));
  await expectFastClose(p, 'two fragments sent (FIN=0), invalid in the second');
  send(p, cf({ opcode: OP.CONT, payload: 'rest' }));
  await expectTcpClosed(p);
});

both('6.4 fail-fast: partial continuation frame whose first bytes are invalid -> close 1007', T, async (via) => {
  const p = await openWs(srv.at(via));
  const cont = cf({ opcode: OP.CONT, payload: Buffer.concat([hex('80'), Buffer.from('y'.repeat(50))]) });
  send(p, cf({ opcode: OP.TEXT, fin: false, payload: 'ok' }), cont.subarray(0, cont.length - 50));
  await expectFastClose(p, 'continuation header + first byte 80 of 51');
  send(p, cont.subarray(cont.length - 50));
  await expectTcpClosed(p);
});

async function expectTcpClosed(p: RawPeer): Promise<void> {
  try {
    await p.waitEnd(2000);
  } catch {
    assert.fail('server did not close TCP within 2 s after its close 1007');
  }
}
