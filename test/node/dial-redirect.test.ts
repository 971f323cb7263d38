// The client's request headers (which a user may set) and redirects (followRedirects), against
// real servers on 127.0.0.1: a ws13 WebSocketServer behind node:http servers that redirect.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, test } from 'node:test';
import { HandshakeError, WebSocket, WebSocketError, WebSocketServer } from '../../src/node/index.js';
import { nextHop } from '../../src/node/dial/redirect.js';
import { parseResponseHead } from '../../src/protocol/handshake/http1.js';

const T = { timeout: 20_000 };
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A ws13 server that records each accepted request's headers. */
async function target(): Promise<{ port: number; seen: Array<Record<string, string | string[] | undefined>> }> {
  const seen: Array<Record<string, string | string[] | undefined>> = [];
  const wss = new WebSocketServer({ heartbeat: false });
  wss.on('connection', (ws, req) => {
    seen.push((req as unknown as http.IncomingMessage).headers);
    ws.on('message', (m) => ws.send(m as Buffer));
  });
  const { port } = await wss.listen(0, '127.0.0.1');
  closers.push(() => wss.close({ timeout: 200 }));
  return { port, seen };
}

/** An HTTP server answering every request with `status` and Location `to(req)`. */
async function redirector(status: number, to: (req: http.IncomingMessage, port: number) => string): Promise<{ port: number; hits: () => number }> {
  let hits = 0;
  let port = 0;
  const server = http.createServer((req, res) => {
    hits++;
    res.writeHead(status, { Location: to(req, port) });
    res.end('moved\n');
  });
  // Upgrade requests arrive as 'upgrade' on node:http: answered the same way.
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    hits++;
    socket.end(`HTTP/1.1 ${status} Moved\r\nLocation: ${to(req, port)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
  closers.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return { port, hits: () => hits };
}

const fails = async (url: string, opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<HandshakeError> => {
  try {
    const ws = await WebSocket.connect(url, opts);
    ws.terminate();
  } catch (err) {
    assert.ok(err instanceof HandshakeError, String(err));
    return err;
  }
  throw new Error('the handshake succeeded');
};

test('headers: Host and Origin replace the handshake\'s own; Authorization, Cookie, User-Agent are sent', T, async () => {
  const t = await target();
  const ws = await WebSocket.connect(`ws://127.0.0.1:${t.port}/`, {
    origin: 'https://ignored.example',
    headers: { Host: 'example.test', Origin: 'https://page.example', Authorization: 'Bearer x', Cookie: 'a=1', 'User-Agent': 'probe/1' },
  });
  ws.terminate();
  const h = t.seen[0]!;
  assert.equal(h['host'], 'example.test');
  assert.equal(h['origin'], 'https://page.example');
  assert.equal(h['authorization'], 'Bearer x');
  assert.equal(h['cookie'], 'a=1');
  assert.equal(h['user-agent'], 'probe/1');
});

test('headers the handshake owns throw WS_ERR_RESERVED_HEADER synchronously', T, () => {
  for (const name of ['Sec-WebSocket-Key', 'sec-websocket-version', 'Upgrade', 'Connection', 'Sec-WebSocket-Extensions', 'Sec-WebSocket-Protocol', 'Content-Length']) {
    assert.throws(
      () => new WebSocket('ws://127.0.0.1:1/', { headers: { [name]: 'x' } }),
      (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_RESERVED_HEADER' && e.message.includes(name),
      name,
    );
  }
  assert.throws(() => new WebSocket('ws://127.0.0.1:1/', { headers: [['Host', 'a'], ['host', 'b']] }), { code: 'WS_ERR_RESERVED_HEADER' });
});

test('redirects are not followed by default: the 3xx is the failure (as in browsers)', T, async () => {
  const t = await target();
  const r = await redirector(301, () => `ws://127.0.0.1:${t.port}/`);
  const err = await fails(`ws://127.0.0.1:${r.port}/`);
  assert.equal(err.code, 'WS_ERR_HANDSHAKE_STATUS');
  assert.equal(err.status, 301);
  assert.equal(t.seen.length, 0);
});

for (const status of [301, 302, 303, 307, 308]) {
  test(`followRedirects follows ${status} (relative Location, http: mapped to ws:) and emits 'redirect'`, T, async () => {
    const t = await target();
    // A relative Location on a second hop, an absolute http: one on the first.
    const second = await redirector(status, () => `http://127.0.0.1:${t.port}/final?x=1`);
    const first = await redirector(status, () => `http://127.0.0.1:${second.port}/next`);
    const ws = new WebSocket(`ws://127.0.0.1:${first.port}/start`, { followRedirects: true });
    const hops: Array<[string, number]> = [];
    ws.on('redirect', (url: string, st: number) => hops.push([url, st]));
    await new Promise<void>((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    ws.send('after redirects');
    const [m] = await new Promise<[Buffer]>((r) => ws.once('message', (d) => r([d as Buffer])));
    assert.equal(String(m), 'after redirects');
    ws.terminate();
    assert.deepEqual(hops, [
      [`ws://127.0.0.1:${second.port}/next`, status],
      [`ws://127.0.0.1:${t.port}/final?x=1`, status],
    ]);
  });
}

test('credentials stay on their origin: Authorization and Cookie dropped across origins, kept on the same', T, async () => {
  const t = await target();
  const other = await redirector(302, () => `ws://127.0.0.1:${t.port}/`);
  const headers = { Authorization: 'Bearer secret', Cookie: 'session=1', 'X-Keep': 'yes' };
  const ws = await WebSocket.connect(`ws://127.0.0.1:${other.port}/`, { followRedirects: true, headers });
  ws.terminate();
  assert.equal(t.seen[0]!['authorization'], undefined);
  assert.equal(t.seen[0]!['cookie'], undefined);
  assert.equal(t.seen[0]!['x-keep'], 'yes');
  // Same origin (a path change on one server): kept.
  const same = new WebSocketServer({ heartbeat: false, path: '/here' });
  const seen: Array<string | undefined> = [];
  same.on('connection', (_ws, req) => seen.push((req as unknown as http.IncomingMessage).headers['authorization']));
  const { port } = await same.listen(0, '127.0.0.1');
  closers.push(() => same.close({ timeout: 200 }));
  // The ws13 server answers 404 off its path; a redirecting hop in front on the same port is
  // not possible, so the rule is checked on the pure function with a same-origin Location.
  const res = parseResponseHead('HTTP/1.1 307 Temporary Redirect\r\nLocation: /here');
  const hop = nextHop(new URL(`ws://127.0.0.1:${port}/there`), res, 5, headers);
  assert.equal(hop!.crossOrigin, false);
  assert.deepEqual(hop!.headers.map(([n]) => n), ['Authorization', 'Cookie', 'X-Keep']);
  const ws2 = await WebSocket.connect(hop!.url, { headers: hop!.headers });
  ws2.terminate();
  assert.deepEqual(seen, ['Bearer secret']);
});

test('a redirect loop ends with WS_ERR_TOO_MANY_REDIRECTS after maxRedirects', T, async () => {
  const loop = await redirector(302, (req) => req.url ?? '/');
  const err = await fails(`ws://127.0.0.1:${loop.port}/again`, { followRedirects: true, maxRedirects: 3 });
  assert.equal(err.code, 'WS_ERR_TOO_MANY_REDIRECTS');
  assert.equal(loop.hits(), 4);
  const none = await fails(`ws://127.0.0.1:${loop.port}/again`, { followRedirects: true, maxRedirects: 0 });
  assert.equal(none.code, 'WS_ERR_TOO_MANY_REDIRECTS');
});

test('a redirect to another scheme, or from wss: to ws:, is refused with WS_ERR_REDIRECT_REFUSED', T, async () => {
  const ftp = await redirector(301, () => 'ftp://127.0.0.1/file');
  assert.equal((await fails(`ws://127.0.0.1:${ftp.port}/`, { followRedirects: true })).code, 'WS_ERR_REDIRECT_REFUSED');
  const res = parseResponseHead('HTTP/1.1 301 Moved Permanently\r\nLocation: ws://plain.example/');
  assert.throws(() => nextHop(new URL('wss://secure.example/'), res, 5, undefined), { code: 'WS_ERR_REDIRECT_REFUSED' });
  // A 3xx without a Location is a plain refusal.
  const bare = parseResponseHead('HTTP/1.1 302 Found');
  assert.equal(nextHop(new URL('ws://a.example/'), bare, 5, undefined), undefined);
});

test('the whole redirect chain shares one handshakeTimeout', T, async () => {
  // A hop that never answers: the chain fails at the first timeout, not one per hop.
  const silent = http.createServer();
  // Never answers; ends its side once the client gives up (node:http sockets are half-open).
  silent.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => socket.on('end', () => socket.destroy()));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const sp = (silent.address() as net.AddressInfo).port;
  closers.push(() => new Promise<void>((r) => (silent.closeAllConnections(), silent.close(() => r()))));
  const r = await redirector(307, () => `ws://127.0.0.1:${sp}/`);
  const t0 = Date.now();
  const err = await fails(`ws://127.0.0.1:${r.port}/`, { followRedirects: true, handshakeTimeout: 600 });
  assert.equal(err.code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
});

test('close() and the signal reach the attempt at the redirect target', T, async () => {
  // The target accepts the upgrade request and never answers; it sees the client leave.
  let left = 0;
  const silent = http.createServer();
  // (node:http leaves such sockets half-open: the client's leaving is its 'end'.)
  silent.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) =>
    socket.on('end', () => {
      left++;
      socket.destroy();
    }),
  );
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const sp = (silent.address() as net.AddressInfo).port;
  closers.push(() => new Promise<void>((r) => (silent.closeAllConnections(), silent.close(() => r()))));
  const r = await redirector(302, () => `ws://127.0.0.1:${sp}/`);

  const ws = new WebSocket(`ws://127.0.0.1:${r.port}/`, { followRedirects: true, handshakeTimeout: 10_000 });
  const errors: WebSocketError[] = [];
  ws.on('error', (err) => errors.push(err));
  await new Promise((res) => ws.once('redirect', res));
  // Let the request reach the silent target before giving up.
  await new Promise((res) => setTimeout(res, 200));
  const closed = new Promise<number>((res) => ws.once('close', (code) => res(code)));
  ws.close();
  assert.equal(await closed, 1006);
  assert.deepEqual(errors.map((e) => e.code), ['WS_ERR_HANDSHAKE_ABORTED']);

  const ac = new AbortController();
  const err = WebSocket.connect(`ws://127.0.0.1:${r.port}/`, { followRedirects: true, signal: ac.signal }).catch((e: unknown) => e);
  setTimeout(() => ac.abort(), 300);
  assert.equal(((await err) as WebSocketError).code, 'WS_ERR_HANDSHAKE_ABORTED');
  for (let i = 0; i < 100 && left < 2; i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(left, 2, 'both attempts at the target were closed');
});
