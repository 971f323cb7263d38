// nghttpx (Debian nghttp2-proxy), an HTTP/2 proxy nobody here wrote, in both directions of
// RFC 8441: HTTP/1.1 WebSocket clients (`ws` from npm, Python `websockets`) through nghttpx,
// which turns their upgrades into extended CONNECTs to the ws13 HTTP/2 server; and the ws13
// client speaking RFC 8441 to nghttpx, which turns it into an HTTP/1.1 upgrade to a ws13
// HTTP/1.1 server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import NodeWs from 'ws';
import { WebSocket, WebSocketServer, http2Stats } from '../../../src/node/index.js';
import { PYTHON, assertPeers, skipWithout } from '../../support/peers-available.js';
import { startNghttpx, stop } from '../../support/nghttpx.js';
import { next, sleep } from '../helpers.js';
import { closeServer, listen, trackSessions } from './fixtures.js';

const T = { timeout: 60_000 };

test('HTTP/1.1 clients (ws, Python websockets) through nghttpx reach the ws13 h2c server as extended CONNECTs', { ...T, ...skipWithout('nghttpx', 'python') }, async () => {
  assertPeers('nghttpx', 'python');
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv, path: '/ws', perMessageDeflate: true });
  const versions: string[] = [];
  wss.on('connection', (ws, req) => {
    versions.push(req.httpVersion);
    ws.on('message', (d, binary) => (String(d) === 'bye' ? ws.close(4002, 'bye') : ws.send(d as Buffer, { binary })));
  });
  const backend = await listen(srv);
  const proxy = await startNghttpx(backend, 'h2');
  try {
    // ws (npm), HTTP/1.1 upgrade to nghttpx.
    const c = new NodeWs(`ws://127.0.0.1:${proxy.port}/ws`, { perMessageDeflate: true });
    await next(c, 'open', 10_000);
    assert.match(c.extensions, /permessage-deflate/);
    c.send('through nghttpx');
    assert.equal(String((await next<[Buffer]>(c, 'message'))[0]), 'through nghttpx');
    const big = Buffer.alloc(300_000, 3);
    c.send(big);
    assert.equal((await next<[Buffer]>(c, 'message', 10_000))[0].length, 300_000);
    const closed = next<[number, Buffer]>(c, 'close');
    c.send('bye');
    const [code, reason] = await closed;
    assert.deepEqual([code, String(reason)], [4002, 'bye']);

    // Python websockets 10.4, HTTP/1.1 upgrade to nghttpx.
    const script = [
      'import asyncio, sys, websockets',
      'async def main():',
      '    async with websockets.connect(sys.argv[1]) as ws:',
      "        await ws.send('from python')",
      '        print(await ws.recv(), flush=True)',
      'asyncio.run(main())',
    ].join('\n');
    // Asynchronously: the server it talks to runs in this process.
    const py = spawn(PYTHON, ['-c', script, `ws://127.0.0.1:${proxy.port}/ws`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    py.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    py.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const [status] = await next<[number]>(py, 'exit', 20_000);
    assert.equal(status, 0, err);
    assert.equal(out.trim(), 'from python');

    assert.deepEqual(versions, ['2.0', '2.0'], 'nghttpx spoke RFC 8441 to the backend for both');
    assert.equal(http2Stats(srv)?.accepted, 2);
  } finally {
    await stop(proxy.child);
    await wss.close({ timeout: 500 });
    await closeServer(srv, sessions);
  }
});

test('the ws13 client over RFC 8441 to nghttpx, which upgrades over HTTP/1.1 to a ws13 server', { ...T, ...skipWithout('nghttpx') }, async () => {
  assertPeers('nghttpx');
  const h1 = http.createServer();
  const wss = new WebSocketServer({ server: h1, perMessageDeflate: true });
  const versions: string[] = [];
  wss.on('connection', (ws, req) => {
    versions.push(req.httpVersion);
    ws.on('message', (d, binary) => ws.send(d as Buffer, { binary }));
  });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  const proxy = await startNghttpx((h1.address() as net.AddressInfo).port, 'http/1.1');
  const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
  session.on('error', () => {});
  try {
    await next(session, 'remoteSettings', 10_000);
    assert.equal(session.remoteSettings.enableConnectProtocol, true, 'nghttpx advertises RFC 8441');
    const opts = { http2: { require: true, session } };
    const all = await Promise.all([1, 2, 3].map(() => WebSocket.connect(`ws://127.0.0.1:${proxy.port}/chat`, opts)));
    for (const ws of all) assert.match(ws.extensions, /^permessage-deflate/);
    const echoes = await Promise.all(all.map((ws, i) => { const p = next<[unknown]>(ws, 'message', 10_000); ws.send(`m${i}`.repeat(2000)); return p; }));
    echoes.forEach(([d], i) => assert.equal(String(d), `m${i}`.repeat(2000)));
    assert.deepEqual(versions, ['1.1', '1.1', '1.1']);
    for (const ws of all) { const c = next<[number, string, boolean]>(ws, 'close'); ws.close(1000, 'done'); assert.deepEqual((await c).slice(0, 2), [1000, 'done']); }
  } finally {
    session.destroy();
    await stop(proxy.child);
    await wss.close({ timeout: 500 });
    h1.close();
  }
});
