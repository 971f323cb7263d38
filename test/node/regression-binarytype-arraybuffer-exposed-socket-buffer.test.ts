// Regression: binaryType 'arraybuffer' handed out the whole ArrayBuffer behind the socket's
// read (HTTP head and frame headers included) instead of a copy of the message.
// Regression too: frames read after the 101 but before `await WebSocket.connect()` returned
// were dispatched before the caller could listen (the client socket was still flowing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';

test('arraybuffer messages hold exactly the message bytes, from small to large', async () => {
  const server = new WebSocketServer({ heartbeat: false });
  const { port } = await server.listen(0, '127.0.0.1');
  const sizes = [0, 3, 125, 126, 70000];
  server.on('connection', (ws) => {
    for (const n of sizes) ws.send(Buffer.alloc(n, n & 0xff));
  });
  const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
  ws.binaryType = 'arraybuffer';
  const got: ArrayBuffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), 5000);
    ws.on('message', (d) => {
      got.push(d as ArrayBuffer);
      if (got.length === sizes.length) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  for (let i = 0; i < sizes.length; i++) {
    assert.ok(got[i] instanceof ArrayBuffer);
    assert.equal(got[i]!.byteLength, sizes[i]);
    assert.ok(new Uint8Array(got[i]!).every((b) => b === (sizes[i]! & 0xff)));
  }
  ws.close();
  await server.close();
});
