// Refusals that only time and shutdown produce: a beforeUpgrade hook slower than
// handshakeTimeout gets 503 (the head arrived; 408 is for a head that did not), and a
// handshake still in its hook when the server closes gets 503 too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { WebSocketServer } from '../../src/node/index.js';

const REQUEST =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

function exchange(port: number, onSent?: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(REQUEST);
      onSent?.();
    });
    let got = '';
    const timer = setTimeout(() => reject(new Error(`no answer; got ${JSON.stringify(got)}`)), 5000);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('error', () => {});
  });
}

test('a beforeUpgrade hook slower than handshakeTimeout is answered 503 and closed', async () => {
  let release: (() => void) | undefined;
  const server = new WebSocketServer({
    heartbeat: false,
    handshakeTimeout: 200,
    beforeUpgrade: () => new Promise<void>((r) => (release = r)),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const answer = await exchange(port);
  assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(answer, /\r\n\r\nthe handshake took too long\n$/);
  release?.();
  await server.close();
});

test('a handshake still in its hook when the server closes is answered 503', async () => {
  let release: (() => void) | undefined;
  let entered: () => void;
  const inHook = new Promise<void>((r) => (entered = r));
  const server = new WebSocketServer({
    heartbeat: false,
    beforeUpgrade: () =>
      new Promise<void>((r) => {
        release = r;
        entered();
      }),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const answered = exchange(port);
  await inHook;
  const closed = server.close();
  release!();
  const answer = await answered;
  assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(answer, /shutting down/);
  await closed;
});
