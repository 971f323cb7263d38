// Spot checks against `ws` from npm: one message each way, in each role. (The full
// interop matrix lives in test/interop/.)
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { AddressInfo } from 'node:net';
import WsClient, { WebSocketServer as WsServer } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { next, within } from './helpers.js';

const T = { timeout: 8000 };
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups) await c();
});

test('a ws client and a ws13 server exchange one message each way', T, async () => {
  const server = new WebSocketServer({ closeTimeout: 300, protocols: ['chat'] });
  cleanups.push(() => server.close({ timeout: 200 }));
  const { port } = await server.listen(0, '127.0.0.1');
  const fromClient = new Promise<[unknown, boolean]>((resolve) =>
    server.on('connection', (ws) => {
      ws.once('message', (data, isBinary) => {
        resolve([data, isBinary]);
        ws.send('hello from ws13 ✓');
      });
    }),
  );
  const c = new WsClient(`ws://127.0.0.1:${port}/spot`, ['chat']);
  cleanups.push(() => c.terminate());
  await next(c, 'open');
  assert.equal(c.protocol, 'chat');
  const reply = next<[Buffer, boolean]>(c, 'message');
  c.send('hello from ws ✓');
  assert.deepEqual(await within(fromClient, 3000, 'the message at the server'), ['hello from ws ✓', false]);
  const [data, isBinary] = await reply;
  assert.equal(isBinary, false);
  assert.equal(data.toString('utf8'), 'hello from ws13 ✓');
  const closed = next<[number, Buffer]>(c, 'close');
  c.close(1000, 'done');
  const [code] = await closed;
  assert.equal(code, 1000);
});

test('a ws13 client and a ws server exchange one message each way', T, async () => {
  const wss = new WsServer({ host: '127.0.0.1', port: 0 });
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
  await next(wss, 'listening');
  const { port } = wss.address() as AddressInfo;
  const fromClient = new Promise<[Buffer, boolean]>((resolve) =>
    wss.on('connection', (ws) => {
      ws.once('message', (data: Buffer, isBinary: boolean) => {
        resolve([data, isBinary]);
        ws.send(Buffer.from([0, 1, 2, 255]));
      });
    }),
  );
  const ws = await within(WebSocket.connect(`ws://127.0.0.1:${port}/`, { closeTimeout: 300 }), 3000, 'connect');
  cleanups.push(() => ws.terminate());
  const reply = next<[unknown, boolean]>(ws, 'message');
  ws.send(Buffer.from('binary from ws13'));
  const [data, isBinary] = await within(fromClient, 3000, 'the message at the ws server');
  assert.equal(isBinary, true);
  assert.equal(data.toString(), 'binary from ws13');
  const [got, gotBinary] = await reply;
  assert.equal(gotBinary, true);
  assert.ok(Buffer.isBuffer(got));
  assert.deepEqual([...got], [0, 1, 2, 255]);
  const closed = next<[number, string]>(ws, 'close');
  ws.close(1000);
  assert.equal((await closed)[0], 1000);
});
