// The client's `localAddress`: the TCP source address it dials from, over HTTP/1.1 and over
// HTTP/2, against real servers on loopback (Linux answers on all of 127.0.0.0/8).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type net from 'node:net';
import { after, test } from 'node:test';
import { ErrorCode, HandshakeError, WebSocket, WebSocketServer } from '../../src/node/index.js';

const T = { timeout: 20_000 };
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.splice(0)) await c();
});

/** The address each accepted connection came from. */
function recordPeers(wss: WebSocketServer): string[] {
  const peers: string[] = [];
  wss.on('connection', (ws, req) => {
    peers.push((req.socket as net.Socket).remoteAddress ?? '?');
    ws.on('message', (m) => ws.send(m as Buffer));
  });
  return peers;
}

test('localAddress: HTTP/1.1 connections come from the address asked for, and still echo', T, async () => {
  const wss = new WebSocketServer({ heartbeat: false });
  const peers = recordPeers(wss);
  const { port } = await wss.listen(0, '127.0.0.1');
  closers.push(() => wss.close({ timeout: 200 }));
  for (const from of ['127.0.0.2', '127.0.0.3']) {
    const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { localAddress: from });
    const echo = new Promise((r) => ws.once('message', r));
    ws.send('hi');
    assert.equal(String(await echo), 'hi');
    ws.close();
  }
  const plain = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
  plain.close();
  assert.deepEqual(peers, ['127.0.0.2', '127.0.0.3', '127.0.0.1']);
});

test('localAddress: HTTP/2 sessions are dialed from it, and not shared with another local address', T, async () => {
  const h2 = http2.createServer();
  const wss = new WebSocketServer({ server: h2, heartbeat: false });
  const sessions: string[] = [];
  h2.on('session', (s) => sessions.push(s.socket.remoteAddress ?? '?'));
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m as Buffer)));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  const port = (h2.address() as net.AddressInfo).port;
  closers.push(async () => {
    await wss.close({ timeout: 200 });
    await new Promise((r) => h2.close(r));
  });
  const url = `ws://127.0.0.1:${port}/`;
  const a = await WebSocket.connect(url, { http2: { require: true }, localAddress: '127.0.0.4' });
  const b = await WebSocket.connect(url, { http2: { require: true }, localAddress: '127.0.0.4' });
  const c = await WebSocket.connect(url, { http2: { require: true }, localAddress: '127.0.0.5' });
  for (const ws of [a, b, c]) {
    const echo = new Promise((r) => ws.once('message', r));
    ws.send('over h2');
    assert.equal(String(await echo), 'over h2');
  }
  assert.deepEqual(sessions.sort(), ['127.0.0.4', '127.0.0.5'], 'one session per local address');
  for (const ws of [a, b, c]) ws.close();
});

test('localAddress: an address this machine does not have fails the handshake as a network error', T, async () => {
  const wss = new WebSocketServer({ heartbeat: false });
  const { port } = await wss.listen(0, '127.0.0.1');
  closers.push(() => wss.close({ timeout: 200 }));
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a local address.
  await assert.rejects(WebSocket.connect(`ws://127.0.0.1:${port}/`, { localAddress: '192.0.2.1' }), (err: unknown) => {
    assert.ok(err instanceof HandshakeError);
    assert.equal(err.code, ErrorCode.HandshakeNetwork);
    assert.match(err.message, /EADDRNOTAVAIL|EINVAL/);
    return true;
  });
});
