// Hostile and buggy peers around the edges of a connection: listeners that throw, close
// frames that must survive a peer that keeps sending, a stateful origin pattern, and a
// server that does not speak HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { WebSocket, WebSocketServer, type WebSocketError } from '../../src/node/index.js';
import { RawPeer, closePayload, frame, parseFrames, upgradeRequest } from '../support/raw.js';
import { sleep } from './helpers.js';

test("a 'connection' listener that throws: the 101 is followed by a close frame 1011, never an HTTP 500; other connections carry on", async () => {
  const server = new WebSocketServer({ heartbeat: false });
  const warnings: Error[] = [];
  const errors: WebSocketError[] = [];
  let n = 0;
  server.on('connection', (ws) => {
    ws.on('error', (e) => errors.push(e));
    ws.on('message', (d) => ws.send(d as string));
    if (n++ === 0) throw new Error('application bug');
  });
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  const { port } = await server.listen(0, '127.0.0.1');
  const peer = await RawPeer.connect(port);
  try {
    peer.write(upgradeRequest());
    const head = await peer.head();
    assert.match(head, /^HTTP\/1\.1 101 /);
    const close = await peer.nextFrame();
    assert.equal(close.opcode, 0x8);
    assert.equal(close.payload.readUInt16BE(0), 1011);
    assert.equal(close.payload.length, 2, 'no internal detail reaches the peer');
    assert.ok(!peer.rawBytes().toString('latin1').includes('HTTP/1.1 500'), 'no HTTP response after the 101');
    assert.equal(errors[0]?.code, 'WS_ERR_INTERNAL');
    assert.equal((errors[0]?.cause as Error).message, 'application bug');
    // The next connection is served.
    const ok = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
    const echo = new Promise((r) => ok.once('message', r));
    ok.send('still serving');
    assert.equal(await echo, 'still serving');
    ok.close(1000);
  } finally {
    process.off('warning', onWarning);
    peer.destroy();
    await server.close();
  }
});

test("client 'open' and 'close' listeners that throw do not crash the process: open fails the connection with 1011, close becomes a warning", async () => {
  const server = new WebSocketServer({ heartbeat: false });
  const serverSaw = new Promise<number>((r) => server.once('connection', (ws) => ws.once('close', (code) => r(code))));
  const { port } = await server.listen(0, '127.0.0.1');
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const errors: string[] = [];
    ws.on('error', (e) => errors.push(e.code));
    ws.on('open', () => {
      throw new Error('open handler bug');
    });
    const closed = new Promise<void>((r) =>
      ws.on('close', () => {
        r();
        throw new Error('close handler bug');
      }),
    );
    assert.equal(await serverSaw, 1011);
    await closed;
    await sleep(20);
    assert.deepEqual(errors, ['WS_ERR_INTERNAL']);
    const w = warnings.find((x) => (x as Error & { code?: string }).code === 'WS13_LISTENER_ERROR');
    assert.ok(w, 'the close listener’s error is reported as a process warning');
    assert.match(w.message, /'close' listener threw: close handler bug/);
  } finally {
    process.off('warning', onWarning);
    await server.close();
  }
});

/**
 * A peer that sends its close frame and keeps sending data frames after it (which §5.5.1
 * forbids), while reading: it must still get the server's close frame, every time.
 */
async function closeUnderFire(port: number, path = '/'): Promise<boolean> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  let received = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(upgradeRequest({ path }));
  while (!received.includes('\r\n\r\n')) await sleep(2);
  const junk = Buffer.concat(Array.from({ length: 64 }, () => frame({ opcode: 0x2, payload: Buffer.alloc(1000, 1), mask: true })));
  sock.write(Buffer.concat([frame({ opcode: 0x8, payload: closePayload(1000), mask: true }), junk]));
  const until = Date.now() + 150;
  while (Date.now() < until && !sock.destroyed) {
    sock.write(junk);
    await sleep(1);
  }
  await new Promise<void>((r) => (sock.closed ? r() : sock.once('close', () => r())));
  const body = received.subarray(received.indexOf('\r\n\r\n') + 4);
  const { frames } = parseFrames(body);
  return frames.some((f) => f.opcode === 0x8 && f.payload.readUInt16BE(0) === 1000);
}

test('the close frame reaches a peer that keeps sending after its own close frame (no TCP reset), standalone and attached', { timeout: 60_000 }, async () => {
  const standalone = new WebSocketServer({ heartbeat: false, closeTimeout: 1000 });
  const { port } = await standalone.listen(0, '127.0.0.1');
  const app = http.createServer((_req, res) => res.end('x'));
  const attached = new WebSocketServer({ server: app, path: '/ws', heartbeat: false, closeTimeout: 1000 });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  const appPort = (app.address() as net.AddressInfo).port;
  let lostStandalone = 0;
  let lostAttached = 0;
  for (let i = 0; i < 20; i++) {
    if (!(await closeUnderFire(port))) lostStandalone++;
    if (!(await closeUnderFire(appPort, '/ws'))) lostAttached++;
  }
  assert.equal(lostStandalone, 0, `standalone: the close frame was lost in ${lostStandalone} of 20`);
  assert.equal(lostAttached, 0, `attached: the close frame was lost in ${lostAttached} of 20`);
  await standalone.close();
  await attached.close();
  await new Promise<void>((r) => app.close(() => r()));
});

test('origins: a RegExp with the g flag allows the same origin every time (no lastIndex state)', async () => {
  const server = new WebSocketServer({ heartbeat: false, origins: [/^https:\/\/app\.example$/g] });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    for (let i = 0; i < 4; i++) {
      const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { origin: 'https://app.example' });
      ws.close(1000);
    }
    await assert.rejects(WebSocket.connect(`ws://127.0.0.1:${port}/`, { origin: 'https://evil.example' }), { status: 403 });
  } finally {
    await server.close();
  }
});

test('client: a server that answers with an SSH banner fails the handshake at once (WS_ERR_HANDSHAKE_MALFORMED), not after the timeout', async () => {
  const banner = net.createServer((s) => {
    s.on('error', () => {});
    s.resume(); // reads (and ignores) the request, as an SSH server would wait for its peer's banner
    s.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
  });
  await new Promise<void>((r) => banner.listen(0, '127.0.0.1', () => r()));
  const port = (banner.address() as net.AddressInfo).port;
  const t0 = Date.now();
  await assert.rejects(WebSocket.connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 10_000 }), { code: 'WS_ERR_HANDSHAKE_MALFORMED' });
  assert.ok(Date.now() - t0 < 1000, `failed after ${Date.now() - t0} ms`);
  await new Promise<void>((r) => banner.close(() => r()));
});

test('client: a status line that arrives a byte at a time is still accepted', async () => {
  const server = new WebSocketServer({ heartbeat: false });
  const { port } = await server.listen(0, '127.0.0.1');
  // A proxy in front that forwards the server's answer one byte per write.
  const proxy = net.createServer((c) => {
    const up = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    up.on('error', () => {});
    c.pipe(up);
    up.on('data', (d: Buffer) => {
      for (const b of d) c.write(Buffer.of(b));
    });
    up.on('close', () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  const pport = (proxy.address() as net.AddressInfo).port;
  const ws = await WebSocket.connect(`ws://127.0.0.1:${pport}/`, { perMessageDeflate: false });
  assert.equal(ws.readyState, WebSocket.OPEN);
  ws.terminate();
  await new Promise<void>((r) => proxy.close(() => r()));
  await server.close();
});
