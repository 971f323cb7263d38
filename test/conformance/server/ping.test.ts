// Autobahn 2.x: pings and pongs.
import assert from 'node:assert/strict';
import {
  both, serverFixture, openWs, cf, send, nextFrame, writePieces, expectFail, expectSilence, expectEcho, expectAlive,
  bytesAfterHead, bytes, describe, OP, T,
} from './helpers.js';
import { frame } from '../../support/raw.js';

const srv = serverFixture({}, true);

async function expectPong(p: Parameters<typeof expectAlive>[0], payload: Buffer): Promise<void> {
  const f = await nextFrame(p, 3000, 'a pong');
  assert.equal(f.opcode, OP.PONG, `expected pong, got ${describe(f)}`);
  assert.ok(f.payload.equals(payload), `pong payload ${f.payload.toString('hex')} != ping payload ${payload.toString('hex')}`);
}

both('2.1 empty ping -> exactly one empty pong (bytes 8a 00)', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.PING }));
  await expectPong(p, Buffer.alloc(0));
  assert.deepEqual(bytesAfterHead(p), Buffer.from([0x8a, 0x00]));
  await expectSilence(p, 100);
});

both('2.2 ping with a text payload -> pong with identical payload', T, async (via) => {
  const p = await openWs(srv.at(via));
  const payload = Buffer.from('Hello, ping');
  send(p, cf({ opcode: OP.PING, payload }));
  await expectPong(p, payload);
  assert.deepEqual(bytesAfterHead(p), frame({ opcode: OP.PONG, payload }));
});

both('2.3 ping with a binary payload (all byte values) -> identical pong', T, async (via) => {
  const p = await openWs(srv.at(via));
  const payload = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x7f, 0x01, 0xc0, 0xed, 0xa0, 0x80]);
  send(p, cf({ opcode: OP.PING, payload }));
  await expectPong(p, payload);
});

both('2.4 ping with 125-byte payload -> identical 125-byte pong (bytes 8a 7d ...)', T, async (via) => {
  const p = await openWs(srv.at(via));
  const payload = bytes(125, 2);
  send(p, cf({ opcode: OP.PING, payload }));
  await expectPong(p, payload);
  assert.deepEqual(bytesAfterHead(p), Buffer.concat([Buffer.from([0x8a, 0x7d]), payload]));
});

both('2.5 ping with 126-byte payload -> close 1002, no pong', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.PING, payload: bytes(126, 3) }));
  await expectFail(p, 1002);
});

both('2.5b ping declaring 126 bytes via 64-bit length -> close 1002', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.PING, payload: bytes(126, 3), lengthBits: 64 }));
  await expectFail(p, 1002);
});

both('2.6 125-byte ping delivered in 1-byte pieces -> identical pong', T, async (via) => {
  const p = await openWs(srv.at(via));
  const payload = bytes(125, 4);
  await writePieces(p, cf({ opcode: OP.PING, payload }), 1);
  await expectPong(p, payload);
});

both('2.7 unsolicited empty pong is ignored', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.PONG }));
  await expectSilence(p);
  await expectAlive(p);
});

both('2.8 unsolicited pong with payload is ignored', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.PONG, payload: 'unsolicited' }));
  await expectSilence(p);
  await expectAlive(p);
});

both('2.9 unsolicited pong then ping -> only the pong for the ping', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(p, cf({ opcode: OP.PONG, payload: 'unsolicited' }), cf({ opcode: OP.PING, payload: 'solicited' }));
  await expectPong(p, Buffer.from('solicited'));
  await expectSilence(p, 200);
});

both('2.10 ten pings in a row -> ten pongs in order', T, async (via) => {
  const p = await openWs(srv.at(via));
  const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`payload-${i}`));
  send(p, ...payloads.map((payload) => cf({ opcode: OP.PING, payload })));
  for (const payload of payloads) await expectPong(p, payload);
  await expectSilence(p, 200);
});

both('2.11 ten pings in 1-byte pieces -> ten pongs in order', T, async (via) => {
  const p = await openWs(srv.at(via));
  const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`payload-${i}`));
  await writePieces(p, Buffer.concat(payloads.map((payload) => cf({ opcode: OP.PING, payload }))), 1);
  for (const payload of payloads) await expectPong(p, payload);
});

both('2.x pings between data messages are answered in order with the echoes', T, async (via) => {
  const p = await openWs(srv.at(via));
  send(
    p,
    cf({ opcode: OP.TEXT, payload: 'one' }),
    cf({ opcode: OP.PING, payload: 'p1' }),
    cf({ opcode: OP.BINARY, payload: Buffer.from([1, 2, 3]) }),
    cf({ opcode: OP.PING, payload: 'p2' }),
  );
  await expectEcho(p, OP.TEXT, 'one');
  await expectPong(p, Buffer.from('p1'));
  await expectEcho(p, OP.BINARY, Buffer.from([1, 2, 3]));
  await expectPong(p, Buffer.from('p2'));
});
