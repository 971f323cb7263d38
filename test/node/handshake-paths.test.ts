// Frames a client sends right behind its request head reach the application on every
// server path: standalone and attached, with no hook, a hook that answers at once, and a
// hook that answers later (the transport is paused meanwhile, so nothing is dropped).
// Frames come in the same TCP segment as the head, and in a later write (during the hook).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer, type WebSocket } from '../../src/node/index.js';
import { maskedFrame, within } from './helpers.js';

const REQUEST =
  'GET /p HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

type Hook = 'none' | 'sync' | 'async';
type Mode = 'standalone' | 'attached';

function options(hook: Hook): ConstructorParameters<typeof WebSocketServer>[0] {
  if (hook === 'sync') return { beforeUpgrade: () => ({ headers: { 'X-Hook': 'sync' } }) };
  if (hook === 'async') {
    return { beforeUpgrade: () => new Promise((r) => setTimeout(() => r({ headers: { 'X-Hook': 'async' } }), 150)) };
  }
  return {};
}

async function serve(mode: Mode, hook: Hook): Promise<{ wss: WebSocketServer; port: number; close: () => Promise<void> }> {
  if (mode === 'standalone') {
    const wss = new WebSocketServer(options(hook));
    const { port } = await wss.listen(0, '127.0.0.1');
    return { wss, port, close: () => wss.close() };
  }
  const hs = http.createServer((_req, res) => res.end('plain'));
  const wss = new WebSocketServer({ ...options(hook), server: hs });
  await new Promise<void>((r) => hs.listen(0, '127.0.0.1', r));
  const { port } = hs.address() as net.AddressInfo;
  return {
    wss,
    port,
    close: async () => {
      await wss.close();
      await new Promise<void>((r) => hs.close(() => r()));
    },
  };
}

/**
 * Sends the head with `early` frames in the same write, then `later` frames 50 ms on: while an
 * async hook (150 ms) still decides, or after the 101 otherwise.
 */
function pipelined(port: number, early: Buffer[], later: Buffer[]): Promise<{ response: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(Buffer.concat([Buffer.from(REQUEST, 'latin1'), ...early]));
      if (later.length > 0) setTimeout(() => s.write(Buffer.concat(later)), 50);
    });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end >= 0) {
        s.removeAllListeners('data');
        resolve({ response: got.slice(0, end), socket: s });
      }
    });
    s.on('error', reject);
  });
}

for (const mode of ['standalone', 'attached'] as const) {
  for (const hook of ['none', 'sync', 'async'] as const) {
    test(`${mode}, hook ${hook}: frames behind the request head all arrive, in order`, async () => {
      const { wss, port, close } = await serve(mode, hook);
      try {
        const got: string[] = [];
        const all = new Promise<void>((resolve) => {
          wss.on('connection', (ws: WebSocket) => {
            ws.on('message', (data) => {
              got.push(String(data));
              if (got.length === 4) resolve();
            });
          });
        });
        const { response, socket } = await pipelined(
          port,
          [maskedFrame(1, 'one'), maskedFrame(1, 'two')],
          [maskedFrame(1, 'three'), maskedFrame(1, 'four')],
        );
        assert.match(response, /^HTTP\/1\.1 101 /);
        if (hook !== 'none') assert.match(response, new RegExp(`\\r\\nX-Hook: ${hook}(\\r\\n|$)`, 'i'));
        await within(all, 3000, 'four messages');
        assert.deepEqual(got, ['one', 'two', 'three', 'four']);
        socket.destroy();
      } finally {
        await close();
      }
    });
  }
}

test('standalone: a hook that throws at once answers 500 in the same turn, and the socket closes', async () => {
  const wss = new WebSocketServer({
    beforeUpgrade: () => {
      throw new Error('no');
    },
  });
  const { port } = await wss.listen(0, '127.0.0.1');
  try {
    const { response, socket } = await pipelined(port, [maskedFrame(1, 'x')], []);
    assert.match(response, /^HTTP\/1\.1 500 /);
    await within(new Promise((r) => socket.on('close', r)), 3000, 'the refused socket to close');
  } finally {
    await wss.close();
  }
});

test("attached: the HTTP server's idle timeout (server.timeout) does not end an upgraded connection", async () => {
  const hs = http.createServer((_req, res) => res.end('plain'));
  hs.timeout = 200;
  const wss = new WebSocketServer({ server: hs });
  await new Promise<void>((r) => hs.listen(0, '127.0.0.1', r));
  const { port } = hs.address() as net.AddressInfo;
  try {
    const opened = new Promise<WebSocket>((r) => wss.on('connection', r));
    const { response, socket } = await pipelined(port, [], []);
    assert.match(response, /^HTTP\/1\.1 101 /);
    const ws = await within(opened, 3000, 'the connection');
    let closed = false;
    socket.on('close', () => (closed = true));
    // Quiet for three times the HTTP server's timeout; then a message still gets through.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(closed, false, 'the upgraded socket was closed by the HTTP server');
    const got = new Promise((r) => ws.once('message', (d) => r(String(d))));
    socket.write(maskedFrame(1, 'still here'));
    assert.equal(await within(got, 3000, 'the message'), 'still here');
    socket.destroy();
  } finally {
    await wss.close();
    await new Promise<void>((r) => hs.close(() => r()));
  }
});
