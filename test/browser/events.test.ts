// The WHATWG side of ws13's Node-style WebSocket, without a browser: event classes, typed
// listeners (this file compiles only if they need no cast), listener order and exceptions,
// Blob sends in order, binaryType, and the warning for an 'error' nobody hears of.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { CloseEvent, WebSocket, WsErrorEvent, type MessageData } from '../../src/node/index.js';
import { startServer, type TestServer } from './server.js';

let server: TestServer;

function warnings(): { list: Error[]; stop: () => void } {
  const list: Error[] = [];
  const on = (w: Error): void => void list.push(w);
  process.on('warning', on);
  return { list, stop: () => process.off('warning', on) };
}

describe('WebSocket events as the platform has them', () => {
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test('Event, MessageEvent and CloseEvent instances, typed without a cast', async () => {
    const ws = new WebSocket(`${server.urls.base}/echo`);
    const seen: string[] = [];
    ws.addEventListener('open', (ev) => seen.push(`${ev.type} ${ev instanceof Event}`));
    ws.addEventListener('message', (ev) => {
      const data: MessageData = ev.data;
      seen.push(`message ${ev instanceof MessageEvent} ${String(data)} ${ev.origin === server.urls.base}`);
      ws.close(4000, 'done');
    });
    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', (ev) => resolve(ev)));
    ws.onopen = () => ws.send('hi');
    const ev = await closed;
    const code: number = ev.code;
    assert.equal(code, 4000);
    assert.equal(ev.reason, 'done');
    assert.equal(ev.wasClean, true);
    assert.ok(ev instanceof CloseEvent && ev instanceof Event);
    assert.equal(ev.target, ws);
    if ((globalThis as { CloseEvent?: unknown }).CloseEvent) assert.equal(CloseEvent, (globalThis as { CloseEvent?: unknown }).CloseEvent);
    assert.deepEqual(seen, ['open true', `message true hi true`]);
  });

  test('a throwing listener does not stop the next ones; dispatchEvent reaches listeners and handlers', async () => {
    const ws = new WebSocket(`${server.urls.base}/echo`);
    const order: string[] = [];
    ws.addEventListener('custom', () => {
      order.push('first');
      throw new Error('listener bug');
    });
    ws.addEventListener('custom', (ev) => {
      order.push('second');
      ev.preventDefault();
    });
    assert.throws(() => ws.dispatchEvent(new Event('custom', { cancelable: true })), /listener bug/);
    assert.deepEqual(order, ['first', 'second']);
    const ev = new Event('other', { cancelable: true });
    ws.addEventListener('other', (e) => e.preventDefault());
    assert.equal(ws.dispatchEvent(ev), false);
    ws.close(); // while connecting: 'error' and 'close' follow
    await new Promise((resolve) => ws.once('close', resolve));
  });

  test("binaryType: unknown values are ignored", () => {
    const ws = new WebSocket(`${server.urls.base}/echo`);
    ws.on('error', () => {});
    ws.binaryType = 'arraybuffer';
    (ws as { binaryType: string }).binaryType = 'foo';
    assert.equal(ws.binaryType, 'arraybuffer');
    ws.terminate();
  });

  test('a Blob is sent in order with what follows it, and counts in bufferedAmount at once', async () => {
    const ws = new WebSocket(`${server.urls.base}/echo`);
    await once(ws, 'open');
    const got: string[] = [];
    ws.on('message', (data, isBinary) => got.push(`${isBinary ? 'binary' : 'text'}:${Buffer.isBuffer(data) ? data.toString('hex') : String(data)}`));
    ws.send(new Blob([new Uint8Array([1, 2, 3])]));
    ws.send('after');
    ws.send(Buffer.from([4]));
    assert.equal(ws.bufferedAmount, 3 + 5 + 1);
    const sent = ws.sendAsync(new Blob(['as text']), { binary: false });
    await sent;
    while (got.length < 4) await once(ws, 'message');
    assert.deepEqual(got, ['binary:010203', 'text:after', 'binary:04', 'text:as text']);
    // The echo server (ws13) answered with the same: the message data goes back without a cast.
    ws.close();
    await once(ws, 'close');
  });

  test("an 'error' nobody hears of is a process warning on a client; a 'close' listener counts as hearing", async () => {
    const w = warnings();
    try {
      const ws = new WebSocket(server.urls.refused);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(ws.readyState, WebSocket.CLOSED);
      await new Promise((r) => setImmediate(r));
      assert.equal(w.list.filter((x) => (x as { code?: string }).code === 'WS13_UNHANDLED_ERROR').length, 1);
      const ws2 = new WebSocket(server.urls.refused);
      const ev = await new Promise<Event>((resolve) => (ws2.onclose = resolve));
      assert.ok(ev instanceof CloseEvent);
      await new Promise((r) => setImmediate(r));
      assert.equal(w.list.filter((x) => (x as { code?: string }).code === 'WS13_UNHANDLED_ERROR').length, 1);
      const ws3 = new WebSocket(server.urls.refused);
      const err = await new Promise<WsErrorEvent>((resolve) => ws3.addEventListener('error', resolve));
      assert.ok(err instanceof Event && err.error instanceof Error);
    } finally {
      w.stop();
    }
  });
});
