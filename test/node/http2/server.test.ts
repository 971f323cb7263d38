// The ws13 server's HTTP/2 host (RFC 8441) against node:http2's own client sending what a
// browser would, and what it should not: refusals with the statuses and bodies of HTTP/1.1,
// 426 for another version, 501 for another :protocol, plain CONNECT left to the application,
// coexistence with 'request' and 'stream' handlers, allowHTTP1, reset streams (1006) and a
// graceful close (1001 on every stream, then GOAWAY). Each bad request leaves the session's
// other streams working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { WebSocket, WebSocketServer, http2Stats, type HandshakeError } from '../../../src/node/index.js';
import { assertPeers, skipWithout } from '../../support/peers-available.js';
import { next, sleep } from '../helpers.js';
import { closeServer, listen, selfSigned, trackSessions } from './fixtures.js';

const T = { timeout: 30_000 };

interface Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

/** Sends a request on `session` and reads the answer (status, headers, body to END_STREAM). */
function ask(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, data?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const s = session.request(headers, { endStream: false });
    if (data) s.write(data);
    s.on('error', reject);
    s.once('close', () => reject(Object.assign(new Error(`stream reset (${s.rstCode})`), { rstCode: s.rstCode })));
    s.once('response', (h) => {
      const parts: Buffer[] = [];
      s.on('data', (c: Buffer) => parts.push(c));
      s.once('end', () => resolve({ status: Number(h[':status']), headers: h, body: Buffer.concat(parts).toString() }));
    });
  });
}

function connectHeaders(port: number, extra: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders {
  return {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':path': '/ws',
    ':authority': `127.0.0.1:${port}`,
    'sec-websocket-version': '13',
    ...extra,
  };
}

async function setup(options: ConstructorParameters<typeof WebSocketServer>[0] = {}) {
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv, path: '/ws', closeTimeout: 500, ...options });
  wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d as Buffer, { binary })));
  const port = await listen(srv);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  await next(session, 'remoteSettings');
  return {
    srv, wss, port, session,
    close: async () => { session.destroy(); await wss.close({ timeout: 500 }); await closeServer(srv, sessions); },
  };
}

test('advertises SETTINGS_ENABLE_CONNECT_PROTOCOL only once a WebSocketServer is attached', T, async () => {
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const port = await listen(srv);
  try {
    const before = http2.connect(`http://127.0.0.1:${port}`);
    await next(before, 'remoteSettings');
    assert.equal(before.remoteSettings.enableConnectProtocol, false);
    before.destroy();
    const wss = new WebSocketServer({ server: srv });
    const after = http2.connect(`http://127.0.0.1:${port}`);
    await next(after, 'remoteSettings');
    assert.equal(after.remoteSettings.enableConnectProtocol, true);
    await wss.close();
    // RFC 8441 §3: never withdrawn, even with no endpoint left; a CONNECT now gets 404.
    const later = http2.connect(`http://127.0.0.1:${port}`);
    await next(later, 'remoteSettings');
    assert.equal(later.remoteSettings.enableConnectProtocol, true);
    const a = await ask(later, connectHeaders(port));
    assert.equal(a.status, 404);
    after.destroy();
    later.destroy();
  } finally {
    await closeServer(srv, sessions);
  }
});

test('refusals carry the statuses and bodies of HTTP/1.1; each leaves the session working', T, async () => {
  const s = await setup({ origins: ['https://good.example'], protocols: ['chat'], requireProtocol: true });
  const errors: HandshakeError[] = [];
  s.wss.on('handshakeError', (e) => errors.push(e));
  try {
    const ok = { 'sec-websocket-protocol': 'chat' };
    const cases: Array<[string, http2.OutgoingHttpHeaders, number, RegExp]> = [
      ['version 8', connectHeaders(s.port, { ...ok, 'sec-websocket-version': '8' }), 426, /version/],
      ['no version', (() => { const h = connectHeaders(s.port, ok); delete h['sec-websocket-version']; return h; })(), 426, /version/],
      ['other :protocol', connectHeaders(s.port, { ...ok, ':protocol': 'connect-udp' }), 501, /:protocol/],
      ['forbidden origin', connectHeaders(s.port, { ...ok, origin: 'https://evil.example' }), 403, /origin/],
      ['no subprotocol', connectHeaders(s.port), 400, /subprotocol/],
      ['malformed extensions', connectHeaders(s.port, { ...ok, 'sec-websocket-extensions': 'permessage-deflate; =' }), 400, /Extensions/],
      ['other path', connectHeaders(s.port, { ...ok, ':path': '/nope' }), 404, /no WebSocket endpoint/],
    ];
    for (const [what, headers, status, body] of cases) {
      const a = await ask(s.session, headers);
      assert.equal(a.status, status, what);
      assert.match(a.body, body, what);
      assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8', what);
      if (status === 426) assert.equal(a.headers['sec-websocket-version'], '13', what);
    }
    // A :path that is not absolute never reaches us: nghttp2 resets the stream (RFC 9113 §8.3.1).
    await assert.rejects(ask(s.session, connectHeaders(s.port, { ...ok, ':path': 'ws' })), /NGHTTP2_PROTOCOL_ERROR|\(1\)/);
    // The same session still opens a WebSocket after all that.
    const a = await new Promise<number>((resolve) => {
      const st = s.session.request(connectHeaders(s.port, { ...ok, origin: 'https://good.example' }), { endStream: false });
      st.once('response', (h) => { resolve(Number(h[':status'])); st.close(); });
    });
    assert.equal(a, 200);
    assert.ok(errors.some((e) => e.code === 'WS_ERR_UNSUPPORTED_VERSION' && e.status === 426));
    assert.ok(errors.some((e) => e.code === 'WS_ERR_UNSUPPORTED_PROTOCOL' && e.status === 501));
  } finally {
    await s.close();
  }
});

test('beforeUpgrade decides for HTTP/2 as for HTTP/1.1: its refusal, its headers on the 200; exactly :status 200, no content-length', T, async () => {
  const s = await setup({
    beforeUpgrade: (req) => (req.headers['authorization'] === 'yes' ? { headers: { 'x-hook': 'h2' } } : { status: 401, body: 'who are you\n' }),
    headers: { 'x-policy': 'p', connection: 'dropped-in-h2' },
  });
  try {
    const no = await ask(s.session, connectHeaders(s.port));
    assert.deepEqual([no.status, no.body], [401, 'who are you\n']);
    const yes = await new Promise<http2.IncomingHttpHeaders>((resolve) => {
      const st = s.session.request(connectHeaders(s.port, { authorization: 'yes' }), { endStream: false });
      st.once('response', (h) => { resolve(h); st.close(); });
    });
    assert.equal(yes[':status'], 200);
    assert.equal(yes['content-length'], undefined);
    assert.equal(yes['x-hook'], 'h2');
    assert.equal(yes['x-policy'], 'p');
    assert.equal(yes['connection'], undefined);
  } finally {
    await s.close();
  }
});

test("coexists with the application's 'request' handler (no 405 for WebSockets) and leaves plain CONNECT to it", T, async () => {
  const srv = http2.createServer((req, res) => res.end(`page ${req.url}`));
  srv.on('connect', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => { res.writeHead(200); res.end('plain connect is mine'); });
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv });
  wss.on('connection', (ws) => ws.send('hi'));
  const port = await listen(srv);
  try {
    const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/any`, { http2: { require: true } });
    assert.equal(String((await next<[unknown]>(ws, 'message'))[0]), 'hi');
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const page = await ask(session, { ':path': '/index' });
    assert.deepEqual([page.status, page.body], [200, 'page /index']);
    const plain = await ask(session, { ':method': 'CONNECT', ':authority': 'example.com:443' });
    assert.deepEqual([plain.status, plain.body], [200, 'plain connect is mine']);
    assert.equal(http2Stats(srv)?.connectStreams, 1);
    session.destroy();
    ws.close();
    await next(ws, 'close');
  } finally {
    await wss.close();
    await closeServer(srv, sessions);
  }
});

test("coexists with a 'stream' handler: it never sees the WebSocket streams", T, async () => {
  const srv = http2.createServer();
  const seen: string[] = [];
  srv.on('stream', (st, h) => { seen.push(String(h[':method'])); st.respond({ ':status': 200 }); st.end('s'); });
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv });
  const port = await listen(srv);
  try {
    const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { http2: { require: true } });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    assert.equal((await ask(session, { ':path': '/' })).body, 's');
    assert.deepEqual(seen, ['GET']);
    session.destroy();
    ws.close();
    await next(ws, 'close');
  } finally {
    await wss.close();
    await closeServer(srv, sessions);
  }
});

test('allowHTTP1: one TLS server takes HTTP/1.1 upgrades and HTTP/2 extended CONNECTs', { ...T, ...skipWithout('openssl') }, async () => {
  assertPeers('openssl');
  const { key, cert } = selfSigned();
  const srv = http2.createSecureServer({ key, cert, allowHTTP1: true });
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv });
  wss.on('connection', (ws, req) => ws.send(`v${req.httpVersion}`));
  const port = await listen(srv);
  try {
    const h1 = await WebSocket.connect(`wss://localhost:${port}/`, { tls: { ca: cert } });
    assert.equal(String((await next<[unknown]>(h1, 'message'))[0]), 'v1.1');
    const h2 = await WebSocket.connect(`wss://localhost:${port}/`, { tls: { ca: cert }, http2: { require: true } });
    assert.equal(String((await next<[unknown]>(h2, 'message'))[0]), 'v2.0');
    assert.equal(http2Stats(srv)?.accepted, 1);
    for (const ws of [h1, h2]) { const c = next(ws, 'close'); ws.close(); await c; }
  } finally {
    await wss.close();
    await closeServer(srv, sessions);
  }
});

test('a stream reset mid-message ends that WebSocket with 1006; the others on the session go on', T, async () => {
  const s = await setup();
  try {
    const closes: Array<[number, boolean]> = [];
    const gotOne = new Promise<void>((resolve) => s.wss.on('connection', (ws) => ws.on('close', (c, _r, clean) => { closes.push([c, clean]); resolve(); })));
    const victim = s.session.request(connectHeaders(s.port), { endStream: false });
    await next(victim, 'response');
    // A masked binary frame announcing 1000 bytes, of which 10 are sent; then RST_STREAM CANCEL.
    victim.write(Buffer.from([0x82, 0x80 | 126, 0x03, 0xe8, 1, 2, 3, 4, ...Buffer.alloc(10)]));
    const other = await WebSocket.connect(`ws://127.0.0.1:${s.port}/ws`, { http2: { require: true } });
    await sleep(50);
    victim.close(http2.constants.NGHTTP2_CANCEL);
    await gotOne;
    assert.deepEqual(closes[0], [1006, false]);
    other.send('still here');
    assert.equal(String((await next<[unknown]>(other, 'message'))[0]), 'still here');
    other.close();
    await next(other, 'close');
  } finally {
    await s.close();
  }
});

test('DATA before the 200 is held until the hook accepts, then read as frames', T, async () => {
  const s = await setup({ beforeUpgrade: async () => { await sleep(100); } });
  try {
    const got = new Promise<string>((resolve) => s.wss.on('connection', (ws) => ws.once('message', (d) => resolve(String(d)))));
    const st = s.session.request(connectHeaders(s.port), { endStream: false });
    // A masked text frame "early", sent at once, before any answer.
    const mask = [9, 8, 7, 6];
    st.write(Buffer.from([0x81, 0x80 | 5, ...mask, ...Buffer.from('early').map((b, i) => b ^ mask[i & 3]!)]));
    assert.equal(await got, 'early');
    st.close();
  } finally {
    await s.close();
  }
});

test('graceful close: 1001 on every stream, then GOAWAY to the session', T, async () => {
  const s = await setup();
  try {
    // Our own session, passed in, so that the test sees its GOAWAY.
    const opts = { http2: { require: true, connection: s.session } };
    const a = await WebSocket.connect(`ws://127.0.0.1:${s.port}/ws`, opts);
    const b = await WebSocket.connect(`ws://127.0.0.1:${s.port}/ws`, opts);
    const order: string[] = [];
    const goaway = new Promise<number>((resolve) => s.session.once('goaway', (code: number) => { order.push('goaway'); resolve(code); }));
    const ca = next<[number, string, boolean]>(a, 'close').then((c) => { order.push('a'); return c; });
    const cb = next<[number, string, boolean]>(b, 'close').then((c) => { order.push('b'); return c; });
    await s.wss.close();
    assert.deepEqual((await ca).slice(0, 3), [1001, 'server shutting down', true]);
    assert.deepEqual((await cb).slice(0, 3), [1001, 'server shutting down', true]);
    assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
    assert.equal(order[2], 'goaway', 'GOAWAY comes after both closing handshakes');
  } finally {
    await s.close();
  }
});
