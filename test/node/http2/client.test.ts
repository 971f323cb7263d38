// The ws13 client's HTTP/2 path (RFC 8441): it uses extended CONNECT only where the server
// advertised it (RFC 8441 §3), falls back to HTTP/1.1 unless HTTP/2 is required, reports an
// HTTP/2 refusal with its status and body, and fails every WebSocket of a session that dies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { ErrorCode, HandshakeError, WebSocket, WebSocketServer, http2Stats } from '../../../src/node/index.js';
import { assertPeers, skipWithout } from '../../support/peers-available.js';
import { next } from '../helpers.js';
import { closeServer, listen, selfSigned, trackSessions } from './fixtures.js';

const T = { timeout: 30_000 };

test('an h2c server without WebSockets (no SETTINGS_ENABLE_CONNECT_PROTOCOL): require fails with WS_ERR_HTTP2_UNAVAILABLE, no :protocol sent', T, async () => {
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const methods: string[] = [];
  srv.on('stream', (st, h) => { methods.push(String(h[':method'])); st.respond({ ':status': 404 }); st.end(); });
  const port = await listen(srv);
  try {
    await assert.rejects(WebSocket.connect(`ws://127.0.0.1:${port}/`, { http2: { require: true } }), (err: HandshakeError) => {
      assert.equal(err.code, ErrorCode.Http2Unavailable);
      assert.match(err.message, /SETTINGS_ENABLE_CONNECT_PROTOCOL/);
      return true;
    });
    assert.deepEqual(methods, [], 'no stream was opened');
  } finally {
    await closeServer(srv, sessions);
  }
});

test('falls back to HTTP/1.1 when the ws: server does not speak h2c, and when TLS offers only http/1.1', { ...T, ...skipWithout('openssl') }, async () => {
  assertPeers('openssl');
  const h1 = http.createServer();
  const wss1 = new WebSocketServer({ server: h1 });
  wss1.on('connection', (ws, req) => ws.send(`http/${req.httpVersion}`));
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  const { key, cert } = selfSigned();
  const tlsOnly1 = https.createServer({ key, cert });
  const wss2 = new WebSocketServer({ server: tlsOnly1 });
  wss2.on('connection', (ws, req) => ws.send(`https/${req.httpVersion}`));
  await new Promise<void>((r) => tlsOnly1.listen(0, '127.0.0.1', r));
  try {
    const a = await WebSocket.connect(`ws://127.0.0.1:${(h1.address() as { port: number }).port}/`, { http2: true });
    assert.equal(String((await next<[unknown]>(a, 'message'))[0]), 'http/1.1');
    const b = await WebSocket.connect(`wss://localhost:${(tlsOnly1.address() as { port: number }).port}/`, { http2: true, tls: { ca: cert } });
    assert.equal(String((await next<[unknown]>(b, 'message'))[0]), 'https/1.1');
    await assert.rejects(
      WebSocket.connect(`wss://localhost:${(tlsOnly1.address() as { port: number }).port}/`, { http2: { require: true }, tls: { ca: cert } }),
      { code: ErrorCode.Http2Unavailable },
    );
    for (const ws of [a, b]) { const c = next(ws, 'close'); ws.close(); await c; }
  } finally {
    await wss1.close();
    await wss2.close();
    h1.close();
    tlsOnly1.close();
  }
});

test('a refusal over HTTP/2 reaches the client as WS_ERR_HANDSHAKE_STATUS with its status, headers and body', T, async () => {
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv, beforeUpgrade: () => ({ status: 429, headers: { 'retry-after': '7' }, body: 'slow down\n' }) });
  const port = await listen(srv);
  try {
    await assert.rejects(WebSocket.connect(`ws://127.0.0.1:${port}/`, { http2: { require: true } }), (err: HandshakeError) => {
      assert.equal(err.code, ErrorCode.HandshakeStatus);
      assert.equal(err.status, 429);
      assert.equal(err.headers['retry-after'], '7');
      assert.equal(err.body, 'slow down\n');
      return true;
    });
    assert.equal(http2Stats(srv)?.connectStreams, 1);
  } finally {
    await wss.close();
    await closeServer(srv, sessions);
  }
});

test("the session's failure ends each of its WebSockets with 1006, and the next connect dials a new session", T, async () => {
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d as Buffer)));
  const port = await listen(srv);
  try {
    const url = `ws://127.0.0.1:${port}/`;
    const all = await Promise.all([1, 2, 3].map(() => WebSocket.connect(url, { http2: { require: true } })));
    assert.equal(sessions.size, 1);
    const closes = all.map((ws) => next<[number, string, boolean]>(ws, 'close'));
    for (const s of sessions) s.destroy();
    for (const c of await Promise.all(closes)) assert.deepEqual([c[0], c[2]], [1006, false]);
    const again = await WebSocket.connect(url, { http2: { require: true } });
    again.send('new session');
    assert.equal(String((await next<[unknown]>(again, 'message'))[0]), 'new session');
    again.close();
    await next(again, 'close');
  } finally {
    await wss.close();
    await closeServer(srv, sessions);
  }
});

test('a connect to a port nobody listens on fails once with WS_ERR_HANDSHAKE_NETWORK (no fallback dial)', T, async () => {
  const srv = http.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  await assert.rejects(WebSocket.connect(`ws://127.0.0.1:${port}/`, { http2: true }), { code: ErrorCode.HandshakeNetwork });
});
