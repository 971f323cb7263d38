// Client conformance: the closing handshake (RFC 6455 §5.5.1, §7) and close() validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, frame, closeBytes, sleep, OP, expectCloseFrame, closeBody, elapsedSince } from './harness.js';
import { CUT_NAME, describeError, errorClasses } from './cut.js';

const T = { timeout: 15_000 };

test(`[${CUT_NAME}] server close 1000: client echoes a masked 1000, waits for the server to drop TCP, then reports 1000`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open({ closeTimeout: 5000 });
  peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(1000, 'done here') }));
  const f = await expectCloseFrame(peer, 1000);
  // RFC 6455 §7.1.1: the server closes TCP first; the client waits.
  await sleep(300);
  assert.equal(peer.ended, false, 'client closed TCP before the server did');
  assert.equal(client.events.close, undefined, "'close' must not be emitted before TCP is closed");
  assert.equal(client.readyState, 2, 'readyState must be CLOSING while waiting for TCP close');
  assert.equal(peer.takeFrames().length, 0, 'nothing may follow the close frame');
  peer.socket.end();
  const closed = await client.waitClose(2000);
  assert.deepEqual(closed, { code: 1000, reason: 'done here' });
  assert.equal(client.readyState, 3);
  assert.equal(client.events.errors.length, 0);
  assert.ok(f.payload.length >= 2);
});

test(`[${CUT_NAME}] client close(4000, 'bye'): exact masked close frame; close event 4000 after the server echoes and drops TCP`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open({ closeTimeout: 5000 });
  client.close(4000, 'bye');
  assert.equal(client.readyState, 2);
  const f = await peer.nextFrame(2000);
  assert.equal(f.opcode, OP.CLOSE);
  assert.equal(f.fin, true);
  assert.equal(f.masked, true);
  assert.equal(f.lengthBits, 7);
  assert.deepEqual(f.payload, Buffer.from([0x0f, 0xa0, 0x62, 0x79, 0x65]), 'payload must be 0x0fa0 "bye"');
  // The client must not drop TCP while waiting for the echo.
  await sleep(100);
  assert.equal(peer.ended, false);
  peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(4000, 'bye') }));
  await sleep(50);
  peer.socket.end();
  const closed = await client.waitClose(2000);
  assert.deepEqual(closed, { code: 4000, reason: 'bye' });
  assert.equal(client.events.errors.length, 0);
  assert.equal(peer.takeFrames().length, 0, 'client must send exactly one close frame');
});

test(`[${CUT_NAME}] client close(): the close event reports the code the server sent back`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  client.close(4001, 'client reason');
  await expectCloseFrame(peer, 4001);
  peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(1000, 'server reason') }));
  peer.socket.end();
  const closed = await client.waitClose(2000);
  assert.deepEqual(closed, { code: 1000, reason: 'server reason' });
  assert.equal(peer.takeFrames().length, 0, 'the client must not send a second close frame');
});

test(`[${CUT_NAME}] simultaneous close: both sides send close at once; client sends exactly one close frame`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open({ closeTimeout: 5000 });
  peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(1001, 'server going') }));
  client.close(4002, 'client going');
  const f = await peer.nextFrame(2000);
  assert.equal(f.opcode, OP.CLOSE);
  assert.equal(f.masked, true);
  await sleep(100);
  assert.equal(peer.takeFrames().length, 0, 'only one close frame may be sent');
  peer.socket.end();
  const closed = await client.waitClose(2000);
  assert.deepEqual(closed, { code: 1001, reason: 'server going' });
});

test(`[${CUT_NAME}] a message followed at once by TCP FIN (no close frame) is delivered, then close 1006`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  peer.socket.end(frame({ opcode: OP.TEXT, payload: 'final words' }));
  const closed = await client.waitClose(2000);
  assert.equal(closed.code, 1006);
  assert.deepEqual(
    client.events.messages.map((m) => m.data.toString()),
    ['final words'],
  );
  assert.ok(client.events.order.indexOf('message') < client.events.order.indexOf('close'));
});

test(`[${CUT_NAME}] close frame between fragments: client answers the close, the partial message is dropped`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  peer.write(frame({ opcode: OP.TEXT, fin: false, payload: 'half a ' }));
  peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(1000, 'stop') }));
  await expectCloseFrame(peer, 1000);
  peer.socket.end();
  const closed = await client.waitClose(2000);
  assert.deepEqual(closed, { code: 1000, reason: 'stop' });
  assert.equal(client.events.messages.length, 0);
});

test(`[${CUT_NAME}] client close() with no code sends an empty close (or 1000); echo empty -> close event 1005`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  client.close();
  const f = await peer.nextFrame(2000);
  assert.equal(f.opcode, OP.CLOSE);
  assert.equal(f.masked, true);
  assert.ok(f.payload.length === 0 || (f.payload.length === 2 && f.payload.readUInt16BE(0) === 1000), f.payload.toString('hex'));
  peer.write(frame({ opcode: OP.CLOSE }));
  peer.socket.end();
  const closed = await client.waitClose(2000);
  assert.equal(closed.code, 1005);
});

test(`[${CUT_NAME}] server echoes the close but keeps TCP open: client drops TCP after closeTimeout (300 ms)`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open({ closeTimeout: 300 });
  const t0 = process.hrtime.bigint();
  client.close(4000, 'bye');
  await expectCloseFrame(peer, 4000);
  peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(4000, 'bye') }));
  await sleep(150);
  assert.equal(peer.ended, false, `client dropped TCP after ${elapsedSince(t0).toFixed(0)} ms, before closeTimeout`);
  await peer.waitEnd(2000);
  const ms = elapsedSince(t0);
  assert.ok(ms >= 250 && ms < 2000, `TCP dropped after ${ms.toFixed(0)} ms, closeTimeout is 300`);
  const closed = await client.waitClose(1000);
  assert.equal(closed.code, 4000);
  assert.equal(closed.reason, 'bye');
});

test(`[${CUT_NAME}] server never answers the client's close: TCP dropped after closeTimeout, close event 1006`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open({ closeTimeout: 300 });
  const t0 = process.hrtime.bigint();
  client.close(1000, 'done');
  await expectCloseFrame(peer, 1000);
  await peer.waitEnd(2000);
  const ms = elapsedSince(t0);
  assert.ok(ms >= 250, `TCP dropped after ${ms.toFixed(0)} ms, before closeTimeout 300`);
  const closed = await client.waitClose(1000);
  assert.equal(closed.code, 1006);
});

test(`[${CUT_NAME}] server close 1000 but the server never drops TCP: client drops it after closeTimeout`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open({ closeTimeout: 300 });
  const t0 = process.hrtime.bigint();
  peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(1000, 'x') }));
  await expectCloseFrame(peer, 1000);
  await peer.waitEnd(2000);
  const ms = elapsedSince(t0);
  assert.ok(ms >= 250 && ms < 2000, `TCP dropped after ${ms.toFixed(0)} ms, closeTimeout is 300`);
  const closed = await client.waitClose(1000);
  assert.deepEqual(closed, { code: 1000, reason: 'x' });
});

test(`[${CUT_NAME}] server drops TCP without a close frame -> close event 1006`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  peer.socket.end();
  const closed = await client.waitClose(2000);
  assert.equal(closed.code, 1006);
  assert.equal(client.readyState, 3);
});

test(`[${CUT_NAME}] server resets TCP mid-frame -> close event 1006, partial message not delivered`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  peer.write(frame({ opcode: OP.TEXT, payload: 'abcdefghij' }).subarray(0, 6));
  await sleep(30);
  peer.socket.resetAndDestroy();
  const closed = await client.waitClose(2000);
  assert.equal(closed.code, 1006);
  assert.equal(client.events.messages.length, 0);
});

test(`[${CUT_NAME}] after a protocol error the client sends 1002 and closes TCP at once, without waiting closeTimeout (5 s)`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open({ closeTimeout: 5000 });
  const t0 = process.hrtime.bigint();
  peer.write(frame({ opcode: OP.TEXT, rsv2: true, payload: 'x' }));
  await expectCloseFrame(peer, 1002);
  await peer.waitEnd(2000);
  const ms = elapsedSince(t0);
  assert.ok(ms < 1000, `TCP dropped after ${ms.toFixed(0)} ms; a failed connection does not wait for the server`);
  const closed = await client.waitClose(1000);
  assert.ok([1002, 1006].includes(closed.code), `close event ${closed.code}`);
});

test(`[${CUT_NAME}] after a protocol error, when the server answers with its close and drops TCP, close is prompt`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open({ closeTimeout: 5000 });
  peer.write(frame({ opcode: 0x3, payload: 'x' }));
  await expectCloseFrame(peer, 1002);
  const t0 = process.hrtime.bigint();
  peer.write(frame({ opcode: OP.CLOSE, payload: closeBytes(1002) }));
  peer.socket.end();
  await client.waitClose(1000);
  assert.ok(elapsedSince(t0) < 1000);
});

for (const [code, reason, expected] of [
  [999, undefined, 'WS_ERR_INVALID_CLOSE_CODE'],
  [1005, undefined, 'WS_ERR_INVALID_CLOSE_CODE'],
  [1006, undefined, 'WS_ERR_INVALID_CLOSE_CODE'],
  [1015, undefined, 'WS_ERR_INVALID_CLOSE_CODE'],
  [5000, undefined, 'WS_ERR_INVALID_CLOSE_CODE'],
  [0, undefined, 'WS_ERR_INVALID_CLOSE_CODE'],
  [1000, 'r'.repeat(124), 'WS_ERR_INVALID_CLOSE_REASON'],
  [1000, '\u20ac'.repeat(42), 'WS_ERR_INVALID_CLOSE_REASON'], // 42 chars but 126 UTF-8 bytes
] as Array<[number, string | undefined, string]>) {
  const label = reason === undefined ? `close(${code})` : `close(${code}, <${Buffer.byteLength(reason)}-byte reason>)`;
  test(`[${CUT_NAME}] ${label} throws WebSocketError ${expected} and sends nothing`, T, async (t) => {
    const s = await scope(t);
    const { client, peer } = await s.open();
    let thrown: unknown;
    try {
      client.close(code, reason);
    } catch (e) {
      thrown = e;
    }
    assert.ok(thrown instanceof Error, `${label} must throw`);
    assert.equal(describeError(thrown).code, expected, (thrown as Error).message);
    const { WebSocketError } = await errorClasses();
    if (WebSocketError) assert.ok(thrown instanceof WebSocketError, 'must be a WebSocketError');
    await sleep(50);
    assert.equal(peer.takeFrames().length, 0, 'no frame may be sent');
    assert.equal(client.readyState, 1, 'connection stays open');
    // Still usable.
    client.send('still here');
    const f = await peer.nextFrame(2000);
    assert.equal(f.payload.toString(), 'still here');
  });
}

test(`[${CUT_NAME}] close(1000, <123-byte UTF-8 reason>) is allowed and sent exactly`, T, async (t) => {
  const s = await scope(t);
  const { client, peer } = await s.open();
  const reason = '\u20ac'.repeat(41); // 123 bytes
  client.close(1000, reason);
  const f = await expectCloseFrame(peer, 1000);
  assert.equal(f.payload.length, 125);
  assert.equal(closeBody(f).reason.toString('utf8'), reason);
});

test(`[${CUT_NAME}] close(3000) and close(4999) are valid application codes`, T, async (t) => {
  for (const code of [3000, 4999]) {
    const s = await scope(t);
    const { client, peer } = await s.open();
    client.close(code);
    const f = await expectCloseFrame(peer, code);
    assert.equal(f.payload.length, 2);
  }
});
