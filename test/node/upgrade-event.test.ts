// The client's 'upgrade' event: the handshake's heads as they went over the wire, for tools
// such as `ws13 connect -v`; also when the server refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';

test("'upgrade' gives the request and the 101 exactly as exchanged", async () => {
  const server = new WebSocketServer({ heartbeat: false, protocols: ['chat'] });
  const { port } = await server.listen(0, '127.0.0.1');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/x?y=1`, ['chat']);
  // Both listeners first: 'open' follows 'upgrade' in the same turn.
  const upgraded = new Promise<{ request: string; response: string | undefined }>((r) => ws.once('upgrade', r));
  const opened = new Promise((r) => ws.once('open', r));
  const seen = await upgraded;
  await opened;
  const lines = seen.request.split('\r\n');
  assert.equal(lines[0], 'GET /x?y=1 HTTP/1.1');
  const key = /^Sec-WebSocket-Key: (.+)$/m.exec(seen.request)![1]!;
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  assert.match(seen.response!, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.ok(seen.response!.includes(`Sec-WebSocket-Accept: ${accept}`));
  assert.ok(seen.response!.includes('Sec-WebSocket-Protocol: chat'));
  assert.ok(!seen.request.endsWith('\r\n'), 'heads come without the blank line');
  ws.close(1000);
  await server.close();
});

test("'upgrade' also comes with a refusal, before 'close'", async () => {
  const server = new WebSocketServer({ heartbeat: false, origins: ['https://ok.example'] });
  const { port } = await server.listen(0, '127.0.0.1');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, [], { origin: 'https://evil.example' });
  const order: string[] = [];
  let response: string | undefined;
  ws.on('upgrade', (h) => {
    order.push('upgrade');
    response = h.response;
  });
  ws.on('error', () => order.push('error'));
  await new Promise((r) => ws.once('close', () => r(order.push('close'))));
  assert.deepEqual(order, ['upgrade', 'error', 'close']);
  assert.match(response!, /^HTTP\/1\.1 403 Forbidden\r\n/);
  await server.close();
});
