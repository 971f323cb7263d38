// A throwing 'message' listener closes its own connection with 1011 and reaches 'error';
// the process and the other connections carry on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, WebSocketServer, type WebSocketError } from '../../src/node/index.js';

test('a throwing message listener closes that connection with 1011 and reports the cause', async () => {
  const server = new WebSocketServer({ heartbeat: false });
  const { port } = await server.listen(0, '127.0.0.1');
  const serverErrors: WebSocketError[] = [];
  server.on('connection', (ws) => {
    ws.on('error', (e) => serverErrors.push(e));
    ws.on('message', (d) => {
      if (d === 'boom') throw new Error('handler bug');
      ws.send(d as string);
    });
  });
  const bad = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
  const good = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
  const closed = new Promise<[number, string]>((r) => bad.once('close', (c, reason) => r([c, reason])));
  bad.send('boom');
  const [code, reason] = await closed;
  assert.equal(code, 1011);
  assert.equal(reason, '', 'no internal detail reaches the peer');
  assert.equal(serverErrors.length, 1);
  assert.equal(serverErrors[0]!.code, 'WS_ERR_INTERNAL');
  assert.equal((serverErrors[0]!.cause as Error).message, 'handler bug');
  // The other connection is untouched.
  const echoed = new Promise<unknown>((r) => good.once('message', r));
  good.send('still here');
  assert.equal(await echoed, 'still here');
  good.close(1000);
  await server.close();
});
