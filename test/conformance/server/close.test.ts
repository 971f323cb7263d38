// Autobahn 7.x: the closing handshake. The server answers our close with a close frame
// and then closes TCP first (we read EOF without ever closing our side); whatever we
// send after our close is ignored; invalid close frames fail the connection.
import assert from 'node:assert/strict';
import {
  both, serverFixture, openWs, cf, send, writePieces, nextFrame, expectFail, expectEcho, expectTcpClosedByServer, closeCode,
  bytesAfterHead, describe, hex, OP, T,
} from './helpers.js';
import { closePayload, type RawPeer } from '../../support/raw.js';

const srv = serverFixture({}, true);

/** The server's reply to our close: a close frame (with `code`, or empty/1000 when undefined). */
async function expectCloseReply(p: RawPeer, code: number | 'empty-or-1000'): Promise<void> {
  const f = await nextFrame(p, 3000, 'the close reply');
  assert.equal(f.opcode, OP.CLOSE, `expected a close reply, got ${describe(f)}`);
  if (code === 'empty-or-1000') {
    assert.ok(f.payload.length === 0 || closeCode(f) === 1000, `expected an empty close or 1000, got ${describe(f)}`);
  } else {
    assert.equal(closeCode(f), code, `expected close reply with code ${code}, got ${describe(f)}`);
  }
  if (f.payload.length > 2) assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(f.payload.subarray(2)));
  await expectTcpClosedByServer(p);
}

both('7.1.1 echo, then close 1000 -> echo, close reply 1000, server closes TCP', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.TEXT, payload: 'Hello World!' }));
  await expectEcho(p, OP.TEXT, 'Hello World!');
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000) }));
  await expectCloseReply(p, 1000);
});

both('7.1.x close with no payload -> close reply (empty or 1000), then the server closes TCP first', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE }));
  await expectCloseReply(p, 'empty-or-1000');
  const wire = bytesAfterHead(p);
  assert.ok(wire.equals(hex('88 00')) || wire.equals(hex('88 02 03 e8')), `close reply bytes: ${wire.toString('hex')}`);
});

both('7.1.x close 1000 with a reason -> close reply with code 1000', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000, 'bye now') }));
  await expectCloseReply(p, 1000);
});

both('7.1.x close sent in 1-byte pieces -> close reply 1000', T, async (via) => {
  const p = await openWs(srv.at(via));
  await writePieces(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000, 'pieces') }), 1);
  await expectCloseReply(p, 1000);
});

both('7.1.2 two close frames in a row -> exactly one close reply', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000) }), cf({ opcode: OP.CLOSE, payload: closePayload(1000) }));
  await expectCloseReply(p, 1000);
});

both('7.1.3 ping after close -> no pong', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000) }), cf({ opcode: OP.PING, payload: 'after close' }));
  await expectCloseReply(p, 1000);
});

both('7.1.4 text after close -> no echo', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000) }), cf({ opcode: OP.TEXT, payload: 'after close' }));
  await expectCloseReply(p, 1000);
});

both('7.1.4b text after close, sent after a pause -> no echo', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000) }));
  await new Promise((r) => setTimeout(r, 5));
  send(p, cf({ opcode: OP.TEXT, payload: 'after close' }), cf({ opcode: OP.BINARY, payload: 'again' }));
  await expectCloseReply(p, 1000);
});

both('7.1.5 first fragment, close, last fragment -> close reply, no echo', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(
    p,
    cf({ opcode: OP.TEXT, fin: false, payload: 'fragment1' }),
    cf({ opcode: OP.CLOSE, payload: closePayload(1000) }),
    cf({ opcode: OP.CONT, payload: 'fragment2' }),
  );
  await expectCloseReply(p, 1000);
});

both('7.1.6 large message, ping, close in one write -> echo, pong, close reply', { timeout: 30_000 }, async (via) => {
  const p = await openWs(srv.at(via));
  const big = Buffer.alloc(256 * 1024, 'BAsd7&jh23');
  send(p, cf({ opcode: OP.TEXT, payload: big }), cf({ opcode: OP.PING, payload: 'ping' }), cf({ opcode: OP.CLOSE, payload: closePayload(1000) }));
  await expectEcho(p, OP.TEXT, big, 10_000);
  const pong = await nextFrame(p, 3000, 'the pong');
  assert.equal(pong.opcode, OP.PONG, `expected pong, got ${describe(pong)}`);
  await expectCloseReply(p, 1000);
});

both('7.3.2 close with a 1-byte payload -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: hex('03') }));
  await expectFail(p, 1002);
});

both('7.3.5 close with a 123-byte reason (125-byte payload) -> close reply 1000', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000, 'r'.repeat(123)) }));
  await expectCloseReply(p, 1000);
});

both('7.3.6 close with a 124-byte reason (126-byte payload) -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000, 'r'.repeat(124)) }));
  await expectFail(p, 1002);
});

for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
  both(`7.7 close with valid code ${code} -> close reply with the same code ${code}`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, cf({ opcode: OP.CLOSE, payload: closePayload(code, 'code test') }));
    await expectCloseReply(p, code);
  });
}

for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
  both(`7.9 close with invalid code ${code} -> close 1002`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, cf({ opcode: OP.CLOSE, payload: closePayload(code) }));
    await expectFail(p, 1002);
  });
}

for (const [name, reason] of [
  ['lone FF', hex('61 62 ff')],
  ['surrogate ED A0 80', hex('ed a0 80')],
  ['overlong C0 80', hex('c0 80')],
  ['truncated CE at end', Buffer.concat([Buffer.from('κόσμ'), hex('ce')])],
] as const) {
  both(`7.5.1 close 1000 whose reason is invalid UTF-8 (${name}) -> close 1007`, T, async (via) => {
    const p = await openWs(srv.at(via));
    send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000, reason) }));
    await expectFail(p, 1007);
  });
}

both('7.x close reason with valid multi-byte UTF-8 -> close reply 1000', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.CLOSE, payload: closePayload(1000, 'κόσμε 🌍') }));
  await expectCloseReply(p, 1000);
});
