// `ws13 connect --http2`: the command-line client opens its WebSocket as an extended CONNECT
// (RFC 8441), and fails when the server does not offer it instead of falling back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { WebSocketServer, http2Stats } from '../../../src/node/index.js';
import { run } from '../../cli/helpers.js';
import { closeServer, listen, trackSessions } from './fixtures.js';

const T = { timeout: 30_000 };

test('ws13 connect --http2: echo over an h2c stream, closed with 1000; an HTTP/1.1-only server is an error (exit 1)', T, async () => {
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(String(d))));
  const port = await listen(srv);
  const h1 = http.createServer();
  const wss1 = new WebSocketServer({ server: h1 });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  try {
    const r = await run(['connect', '--http2', `ws://127.0.0.1:${port}/`], { input: 'over h2\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^over h2$/m);
    assert.match(r.stderr, /closed 1000/);
    assert.equal(http2Stats(srv)?.accepted, 1);
    const no = await run(['connect', '--http2', `ws://127.0.0.1:${(h1.address() as { port: number }).port}/`], { input: 'x\n' });
    assert.equal(no.code, 1);
    assert.match(no.stderr, /HTTP\/2 WebSocket unavailable/);
  } finally {
    await wss.close({ timeout: 500 });
    await wss1.close();
    h1.close();
    await closeServer(srv, sessions);
  }
});

test('ws13 serve --http2: h2c with prior knowledge; with TLS, HTTP/2 and HTTP/1.1 WebSockets on one port', T, async () => {
  const { WebSocket } = await import('../../../src/node/index.js');
  const { serve, selfSigned, cleanup } = await import('../../cli/helpers.js');
  try {
    // Cleartext: h2c only, and the banner suggests a client that speaks it.
    const plain = await serve(['--host', '127.0.0.1', '--http2']);
    assert.match(plain.output(), /HTTP\/2 cleartext \(h2c\) only/);
    assert.match(plain.output(), /ws13 connect ws:\/\/\S+ --http2/);
    const r = await run(['connect', '--http2', plain.url], { input: 'via h2c\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^via h2c$/m);

    // TLS: ALPN offers h2 and http/1.1; both kinds of client get an echo.
    const { cert, key } = await selfSigned();
    const secure = await serve(['--host', '127.0.0.1', '--http2', '--tls-cert', cert, '--tls-key', key]);
    assert.match(secure.url, /^wss:/);
    for (const http2Option of [{ require: true }, false] as const) {
      const ws = await WebSocket.connect(secure.url, { http2: http2Option, tls: { rejectUnauthorized: false } });
      const echo = new Promise<string>((res) => ws.once('message', (d) => res(String(d))));
      ws.send(`over ${http2Option ? 'h2' : 'http/1.1'}`);
      assert.equal(await echo, `over ${http2Option ? 'h2' : 'http/1.1'}`);
      const closed = new Promise<number>((res) => ws.once('close', (code) => res(code)));
      ws.close(1000);
      assert.equal(await closed, 1000);
    }
    // A plain HTTP/2 GET gets the 426 without the HTTP/1.1-only fields.
    const session = http2.connect(secure.url.replace('wss:', 'https:'), { rejectUnauthorized: false });
    const head = await new Promise<http2.IncomingHttpHeaders>((res, rej) => {
      const s = session.request({ ':path': '/' });
      s.once('response', res);
      s.once('error', rej);
      s.resume();
    });
    session.close();
    assert.equal(head[':status'], 426);
    assert.equal(head['sec-websocket-version'], '13');
    assert.equal(head['upgrade'], undefined);
  } finally {
    await cleanup();
  }
});
