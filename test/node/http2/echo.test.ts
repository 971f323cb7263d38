// ws13 client ↔ ws13 server over HTTP/2 (RFC 8441), cleartext (h2c, prior knowledge) and TLS
// (ALPN h2): echo, close codes, permessage-deflate, many WebSockets on one session, and the
// server's SETTINGS_MAX_CONCURRENT_STREAMS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { WebSocket, WebSocketServer, http2Stats } from '../../../src/node/index.js';
import { assertPeers, skipWithout } from '../../support/peers-available.js';
import { next } from '../helpers.js';
import { closeServer, listen, selfSigned, trackSessions } from './fixtures.js';

const T = { timeout: 30_000 };

async function h2cServer(opts: { settings?: http2.Settings } = {}) {
  const srv = http2.createServer({ settings: opts.settings ?? {} });
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv, path: '/echo', perMessageDeflate: true, closeTimeout: 500 });
  wss.on('connection', (ws) => {
    ws.on('message', (d, binary) => {
      if (String(d).startsWith('close:')) ws.close(Number(String(d).slice(6)), 'asked');
      else ws.send(d as Buffer, { binary });
    });
  });
  const port = await listen(srv);
  return { srv, wss, port, close: async () => { await wss.close({ timeout: 500 }); await closeServer(srv, sessions); } };
}

test('h2c: echo of text and binary over an extended CONNECT stream; the server counted it', T, async () => {
  const s = await h2cServer();
  try {
    const ws = await WebSocket.connect(`ws://127.0.0.1:${s.port}/echo`, { http2: { require: true }, perMessageDeflate: false });
    assert.equal(ws.extensions, '');
    ws.send('hello h2');
    assert.deepEqual((await next<[unknown, boolean]>(ws, 'message')).map(String), ['hello h2', 'false']);
    const blob = Buffer.alloc(200_000, 7);
    ws.send(blob);
    const [back] = await next<[Buffer]>(ws, 'message', 10_000);
    assert.equal(Buffer.compare(back, blob), 0);
    const closed = next<[number, string, boolean]>(ws, 'close');
    ws.close(4001, 'bye');
    assert.deepEqual(await closed, [4001, 'bye', true]);
    assert.equal(http2Stats(s.srv)?.accepted, 1);
  } finally {
    await s.close();
  }
});

test('h2c: the server closes with a code of its choosing; the client sees it and a clean close', T, async () => {
  const s = await h2cServer();
  try {
    const ws = await WebSocket.connect(`ws://127.0.0.1:${s.port}/echo`, { http2: { require: true } });
    const closed = next<[number, string, boolean]>(ws, 'close');
    ws.send('close:4321');
    assert.deepEqual(await closed, [4321, 'asked', true]);
  } finally {
    await s.close();
  }
});

test('h2 over TLS (ALPN h2): permessage-deflate agreed and working, 20 WebSockets on one session', { ...T, ...skipWithout('openssl') }, async () => {
  assertPeers('openssl');
  const { key, cert } = selfSigned();
  const srv = http2.createSecureServer({ key, cert });
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv, perMessageDeflate: true });
  wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d as Buffer, { binary })));
  const port = await listen(srv);
  let sessionCount = 0;
  srv.on('session', () => sessionCount++);
  try {
    const opts = { http2: { require: true }, tls: { ca: cert } };
    const all = await Promise.all(Array.from({ length: 20 }, () => WebSocket.connect(`wss://localhost:${port}/x`, opts)));
    for (const ws of all) assert.match(ws.extensions, /^permessage-deflate/);
    const text = 'compressible '.repeat(500);
    const echoes = all.map((ws, i) => next<[unknown]>(ws, 'message', 10_000).then(([d]) => String(d)));
    all.forEach((ws, i) => ws.send(`${i}:${text}`));
    const got = await Promise.all(echoes);
    got.forEach((g, i) => assert.equal(g, `${i}:${text}`));
    assert.equal(sessionCount, 1, 'the 20 WebSockets shared one HTTP/2 session');
    assert.equal(wss.clients.size, 20);
    await Promise.all(all.map((ws) => { const c = next(ws, 'close'); ws.close(); return c; }));
  } finally {
    await wss.close({ timeout: 500 });
    await closeServer(srv, sessions);
  }
});

test('maxConcurrentStreams 2: the client opens a second session for the third WebSocket, none is refused', T, async () => {
  const s = await h2cServer({ settings: { maxConcurrentStreams: 2 } });
  let sessionCount = 0;
  s.srv.on('session', () => sessionCount++);
  try {
    const first = await WebSocket.connect(`ws://127.0.0.1:${s.port}/echo`, { http2: { require: true } });
    const rest = await Promise.all([1, 2, 3, 4].map(() => WebSocket.connect(`ws://127.0.0.1:${s.port}/echo`, { http2: { require: true } })));
    const all = [first, ...rest];
    const echoes = await Promise.all(all.map((ws, i) => { const p = next<[unknown]>(ws, 'message'); ws.send(`n${i}`); return p; }));
    assert.deepEqual(echoes.map(([d]) => String(d)), ['n0', 'n1', 'n2', 'n3', 'n4']);
    assert.equal(sessionCount, 3, 'five WebSockets at two per session need three sessions');
    await Promise.all(all.map((ws) => { const c = next(ws, 'close'); ws.close(); return c; }));
  } finally {
    await s.close();
  }
});
