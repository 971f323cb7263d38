// Integration tests of WebSocketServer (src/node/server.ts): ws13 server, ws13 client, real
// sockets on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import WsClient from 'ws';
import { HandshakeError, WebSocket, WebSocketServer } from '../../src/node/index.js';
import type { Refusal, UpgradeRequest } from '../../src/node/index.js';
import { RawClient, expectedAccept, next, parseHead, sleep, within } from './helpers.js';
import { assertPeers, skipWithout } from '../support/peers-available.js';

const T = { timeout: 8000 };

// Every server and client made here, closed after the file's tests.
const servers: WebSocketServer[] = [];
const httpServers: Array<http.Server | https.Server> = [];
const clients: WebSocket[] = [];
const raws: RawClient[] = [];

after(async () => {
  for (const c of clients) c.terminate();
  for (const r of raws) r.destroy();
  await Promise.all(servers.map((s) => s.close({ timeout: 200 })));
  await Promise.all(
    httpServers.map(
      (h) =>
        new Promise<void>((r) => {
          h.closeAllConnections();
          h.close(() => r());
        }),
    ),
  );
});

async function standalone(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<{ server: WebSocketServer; port: number; url: string }> {
  const server = new WebSocketServer({ closeTimeout: 300, ...options });
  servers.push(server);
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port, url: `ws://127.0.0.1:${port}` };
}

async function client(url: string, options: Parameters<typeof WebSocket.connect>[1] = {}): Promise<WebSocket> {
  const ws = await within(WebSocket.connect(url, { closeTimeout: 300, ...options }), 3000, `connect ${url}`);
  clients.push(ws);
  return ws;
}

async function raw(port: number, opts: Parameters<typeof RawClient.connect>[1] = {}): Promise<RawClient> {
  const r = await RawClient.connect(port, opts);
  raws.push(r);
  return r;
}

/** Expects WebSocket.connect to reject with a HandshakeError; returns it. */
async function refused(url: string, options: Parameters<typeof WebSocket.connect>[1] = {}): Promise<HandshakeError> {
  let caught: unknown;
  try {
    const ws = await within(WebSocket.connect(url, options), 3000, `refusal of ${url}`);
    clients.push(ws);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError, got ${String(caught)}`);
  return caught;
}

function listenHttp(srv: http.Server | https.Server): Promise<number> {
  httpServers.push(srv);
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as AddressInfo).port));
  });
}

describe('standalone server', () => {
  test('listen(0) resolves the address; a client connects and echoes', T, async () => {
    const { server, port } = await standalone();
    assert.equal(typeof port, 'number');
    assert.ok(port > 0);
    assert.deepEqual(server.address(), { address: '127.0.0.1', family: 'IPv4', port });
    const conn = next<[WebSocket, UpgradeRequest]>(server, 'connection');
    const ws = await client(`ws://127.0.0.1:${port}/room/1?x=y`);
    const [sws, req] = await conn;
    assert.equal(req.url, '/room/1?x=y');
    assert.equal(req.method, 'GET');
    assert.equal(req.headers['sec-websocket-version'], '13');
    assert.equal(sws.url, '/room/1?x=y');
    assert.equal(sws.readyState, WebSocket.OPEN);
    sws.on('message', (data, isBinary) => sws.send(`echo:${String(data)}`, { binary: isBinary }));
    const got = next<[unknown, boolean]>(ws, 'message');
    ws.send('hi');
    assert.deepEqual(await got, ['echo:hi', false]);
  });
});

describe('attached to an http.Server', () => {
  test('two servers on one HTTP server, routed by path; other paths get 404', T, async () => {
    const hs = http.createServer((_req, res) => res.end('plain http'));
    const a = new WebSocketServer({ server: hs, path: '/a', closeTimeout: 300 });
    const b = new WebSocketServer({ server: hs, path: '/b', closeTimeout: 300 });
    servers.push(a, b);
    const port = await listenHttp(hs);
    const aReqs: string[] = [];
    const bReqs: string[] = [];
    a.on('connection', (ws, req) => {
      aReqs.push(req.url ?? '');
      ws.on('message', (d) => ws.send(`a:${String(d)}`));
    });
    b.on('connection', (ws, req) => {
      bReqs.push(req.url ?? '');
      ws.on('message', (d) => ws.send(`b:${String(d)}`));
    });

    const ca = await client(`ws://127.0.0.1:${port}/a`);
    const cb = await client(`ws://127.0.0.1:${port}/b?q=1`);
    const ca2 = await client(`ws://127.0.0.1:${port}/a`);
    const [ma, mb] = [next(ca, 'message'), next(cb, 'message')];
    ca.send('1');
    cb.send('2');
    assert.equal((await ma)[0], 'a:1');
    assert.equal((await mb)[0], 'b:2');
    assert.deepEqual(aReqs, ['/a', '/a']);
    assert.deepEqual(bReqs, ['/b?q=1']);
    assert.equal(a.clients.size, 2);
    assert.equal(b.clients.size, 1);
    assert.ok(ca2.readyState === WebSocket.OPEN);

    const err = await refused(`ws://127.0.0.1:${port}/c`);
    assert.equal(err.code, 'WS_ERR_HANDSHAKE_STATUS');
    assert.equal(err.status, 404);

    // Plain HTTP still reaches the request handler.
    const body = await within(
      new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/a' }, (res) => {
          let s = '';
          res.on('data', (c) => (s += c));
          res.on('end', () => resolve(s));
        }).on('error', reject);
      }),
      3000,
      'plain HTTP response',
    );
    assert.equal(body, 'plain http');
  });

  test('an https.Server with a self-signed certificate serves wss:// with tls.ca', { ...T, ...skipWithout('openssl') }, async () => {
    assertPeers('openssl');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-tls-'));
    try {
      const keyFile = path.join(dir, 'key.pem');
      const certFile = path.join(dir, 'cert.pem');
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
          '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
        { stdio: 'ignore', timeout: 20_000 },
      );
      const key = fs.readFileSync(keyFile);
      const cert = fs.readFileSync(certFile);
      const hs = https.createServer({ key, cert });
      const wss = new WebSocketServer({ server: hs, closeTimeout: 300 });
      servers.push(wss);
      const port = await listenHttp(hs);
      wss.on('connection', (ws) => ws.on('message', (d) => ws.send(`tls:${String(d)}`)));

      const ws = await client(`wss://127.0.0.1:${port}/secure`, { tls: { ca: cert } });
      assert.equal(ws.url, `wss://127.0.0.1:${port}/secure`);
      const m = next(ws, 'message');
      ws.send('x');
      assert.equal((await m)[0], 'tls:x');

      // Without the CA the certificate is not trusted.
      const err = await refused(`wss://127.0.0.1:${port}/secure`);
      assert.equal(err.code, 'WS_ERR_HANDSHAKE_NETWORK');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('handleUpgrade from an upgrade listener resolves the WebSocket, rejects a bad request', T, async () => {
    const wss = new WebSocketServer({ closeTimeout: 300 });
    servers.push(wss);
    let connections = 0;
    wss.on('connection', () => connections++);
    const results: Array<Promise<WebSocket>> = [];
    const hs = http.createServer();
    hs.on('upgrade', (req, socket, head) => {
      const p = wss.handleUpgrade(req, socket, head);
      p.catch(() => {});
      results.push(p);
    });
    const port = await listenHttp(hs);

    const ws = await client(`ws://127.0.0.1:${port}/hu`);
    assert.equal(results.length, 1);
    const sws = await within(results[0]!, 3000, 'handleUpgrade');
    assert.ok(sws instanceof WebSocket);
    assert.equal(sws.url, '/hu');
    assert.equal(sws.readyState, WebSocket.OPEN);
    assert.ok(wss.clients.has(sws));
    const m = next(ws, 'message');
    sws.send('from handleUpgrade');
    assert.equal((await m)[0], 'from handleUpgrade');
    const m2 = next(sws, 'message');
    ws.send('back');
    assert.equal((await m2)[0], 'back');

    // Upgrade: websocket but no Sec-WebSocket-Key: 400.
    const r = await raw(port, {
      request: `GET /bad HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    });
    const head = parseHead(await r.waitHead());
    assert.equal(head.status, 400);
    assert.equal(results.length, 2);
    await assert.rejects(within(results[1]!, 3000, 'handleUpgrade rejection'), (err: unknown) => {
      assert.ok(err instanceof HandshakeError);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'WS_ERR_INVALID_KEY');
      return true;
    });
    assert.equal(connections, 0, 'handleUpgrade emits no connection event');
  });
});

describe('clients and broadcast', () => {
  test('clients grows with connections and shrinks on close and terminate', T, async () => {
    const { server, url } = await standalone();
    const serverSide: WebSocket[] = [];
    server.on('connection', (ws) => serverSide.push(ws));
    assert.equal(server.clients.size, 0);
    const c1 = await client(url);
    const c2 = await client(url);
    const c3 = await client(url);
    await within((async () => { while (serverSide.length < 3) await sleep(5); })(), 2000, '3 connections');
    assert.equal(server.clients.size, 3);
    assert.deepEqual(new Set(serverSide), server.clients);

    const closed1 = next(serverSide[0]!, 'close');
    c1.close(1000);
    await closed1;
    assert.equal(server.clients.size, 2);
    assert.equal(server.clients.has(serverSide[0]!), false);

    const closed2 = next(serverSide[1]!, 'close');
    c2.terminate();
    assert.equal((await closed2)[0], 1006);
    assert.equal(server.clients.size, 1);
    assert.ok(server.clients.has(serverSide[2]!));
    assert.equal(c3.readyState, WebSocket.OPEN);
  });

  test('broadcast reaches every open client, except the one named', T, async () => {
    const { server, url } = await standalone();
    const serverSide: WebSocket[] = [];
    server.on('connection', (ws) => serverSide.push(ws));
    const cs = [await client(url), await client(url), await client(url)];
    await within((async () => { while (serverSide.length < 3) await sleep(5); })(), 2000, '3 connections');

    const texts = cs.map((c) => next<[unknown, boolean]>(c, 'message'));
    assert.equal(server.broadcast('to all'), 3);
    for (const p of texts) assert.deepEqual(await p, ['to all', false]);

    // Which server-side socket belongs to cs[0]? Each one sends its index.
    const idMsgs = cs.map((c) => next<[unknown, boolean]>(c, 'message'));
    for (const [i, s] of serverSide.entries()) s.send(`id:${i}`);
    const [[idMsg]] = await Promise.all(idMsgs);
    const index = Number(String(idMsg).slice(3));
    const except = serverSide[index]!;

    const got: unknown[][] = [[], [], []];
    cs.forEach((c, i) => c.on('message', (d, isBinary) => got[i]!.push([Buffer.isBuffer(d) ? [...d] : d, isBinary])));
    assert.equal(server.broadcast(Buffer.from([1, 2, 3]), { except }), 2);
    server.broadcast('text as binary', { binary: true });
    except.send('after');
    await within((async () => { while (got[0]!.length < 2 || got[1]!.length < 2 || got[2]!.length < 2) await sleep(5); })(), 2000, 'broadcasts');
    assert.deepEqual(got[0], [[[...Buffer.from('text as binary')], true], ['after', false]]);
    assert.deepEqual(got[1], [[[1, 2, 3], true], [[...Buffer.from('text as binary')], true]]);
    assert.deepEqual(got[2], [[[1, 2, 3], true], [[...Buffer.from('text as binary')], true]]);
  });
});

describe('handshake policy', () => {
  test('beforeUpgrade: async refusal with 401 and WWW-Authenticate; { headers } adds to the 101', T, async () => {
    const seen: Array<{ protocol: string | undefined; origin: string | undefined }> = [];
    const { port, url } = await standalone({
      protocols: ['chat'],
      beforeUpgrade: async (req, info): Promise<Refusal | { headers: Record<string, string> }> => {
        seen.push(info);
        await sleep(20);
        if (req.headers.authorization !== 'Bearer good') {
          return { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="ws13"' }, body: 'token required' };
        }
        return { headers: { 'X-Session': 'abc123' } };
      },
    });
    const err = await refused(url, { headers: { Authorization: 'Bearer bad' }, origin: 'https://o.example', protocols: ['chat'] });
    assert.equal(err.code, 'WS_ERR_HANDSHAKE_STATUS');
    assert.equal(err.status, 401);
    assert.equal(err.headers['www-authenticate'], 'Bearer realm="ws13"');
    assert.equal(err.body, 'token required');
    assert.deepEqual(seen[0], { protocol: 'chat', origin: 'https://o.example' });

    const ws = await client(url, { headers: { Authorization: 'Bearer good' } });
    assert.equal(ws.readyState, WebSocket.OPEN);

    const r = await raw(port, { headers: ['Authorization: Bearer good'] });
    const head = parseHead(await r.waitHead());
    assert.equal(head.status, 101);
    assert.deepEqual(head.headers['x-session'], ['abc123']);
  });

  test('headers option: Set-Cookie on the 101, seen raw and by the ws client', T, async () => {
    const { port } = await standalone({ headers: { 'Set-Cookie': ['a=b', 'c=d; HttpOnly'] } });
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const r = await raw(port, { key });
    const head = parseHead(await r.waitHead());
    assert.equal(head.status, 101);
    assert.deepEqual(head.headers['set-cookie'], ['a=b', 'c=d; HttpOnly']);
    assert.deepEqual(head.headers['sec-websocket-accept'], [expectedAccept(key)]);

    const fn = await standalone({ headers: (req) => ({ 'Set-Cookie': `path=${req.url}` }) });
    const wsc = new WsClient(`${fn.url}/p`);
    try {
      // 'open' follows 'upgrade' in the same tick: listen to both first.
      const [upgrade, open] = [next<[http.IncomingMessage]>(wsc, 'upgrade'), next(wsc, 'open')];
      const [res] = await upgrade;
      assert.deepEqual(res.headers['set-cookie'], ['path=/p']);
      await open;
      assert.equal(wsc.readyState, WsClient.OPEN);
    } finally {
      wsc.terminate();
    }
  });

  test('origins: list with strings (any case) and RegExp; absent Origin passes a list', T, async () => {
    const { url } = await standalone({ origins: ['https://a.example', /^https:\/\/[a-z]+\.b\.example$/] });
    for (const origin of ['https://a.example', 'HTTPS://A.Example', 'https://x.b.example']) {
      const ws = await client(url, { origin });
      assert.equal(ws.readyState, WebSocket.OPEN, origin);
    }
    const noOrigin = await client(url);
    assert.equal(noOrigin.readyState, WebSocket.OPEN);
    for (const origin of ['https://evil.example', 'https://x.y.b.example', 'http://a.example']) {
      const err = await refused(url, { origin });
      assert.equal(err.status, 403, origin);
      assert.equal(err.code, 'WS_ERR_HANDSHAKE_STATUS');
    }
  });

  test('origins: a function sees the origin and the request', T, async () => {
    const calls: Array<[string | undefined, string | undefined]> = [];
    const { url } = await standalone({
      origins: (origin, req) => {
        calls.push([origin, req.url]);
        return origin === 'https://fn.example' && req.url === '/ok';
      },
    });
    const ws = await client(`${url}/ok`, { origin: 'https://fn.example' });
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal((await refused(`${url}/no`, { origin: 'https://fn.example' })).status, 403);
    assert.equal((await refused(`${url}/ok`)).status, 403);
    assert.deepEqual(calls, [
      ['https://fn.example', '/ok'],
      ['https://fn.example', '/no'],
      [undefined, '/ok'],
    ]);
  });

  test('protocols: a list in server preference order', T, async () => {
    const { url } = await standalone({ protocols: ['superchat', 'chat'] });
    assert.equal((await client(url, { protocols: ['chat', 'superchat'] })).protocol, 'superchat');
    assert.equal((await client(url, { protocols: ['chat', 'other'] })).protocol, 'chat');
    assert.equal((await client(url, { protocols: ['other'] })).protocol, '');
    assert.equal((await client(url)).protocol, '');
  });

  test('protocols: a function chooses among the offered', T, async () => {
    const offeredSeen: string[][] = [];
    const { server, url } = await standalone({
      protocols: (offered) => {
        offeredSeen.push(offered);
        if (offered.includes('bad')) return 'not-offered';
        return offered.find((p) => p.startsWith('v')) ;
      },
    });
    const conn = next<[WebSocket]>(server, 'connection');
    const ws = await client(url, { protocols: ['x', 'v2', 'v1'] });
    assert.equal(ws.protocol, 'v2');
    assert.equal((await conn)[0].protocol, 'v2');
    assert.equal((await client(url, { protocols: ['x'] })).protocol, '');
    // Choosing a protocol the client did not offer is a server bug: 500.
    assert.equal((await refused(url, { protocols: ['bad'] })).status, 500);
    assert.deepEqual(offeredSeen, [['x', 'v2', 'v1'], ['x'], ['bad']]);
  });

  test('requireProtocol refuses with 400 a client offering none of ours', T, async () => {
    const { url } = await standalone({ protocols: ['chat'], requireProtocol: true });
    assert.equal((await client(url, { protocols: ['other', 'chat'] })).protocol, 'chat');
    const e1 = await refused(url, { protocols: ['other'] });
    assert.equal(e1.status, 400);
    const e2 = await refused(url);
    assert.equal(e2.status, 400);
  });

  test("'handshakeError' event reports the refusal and the request", T, async () => {
    const { server, url, port } = await standalone({ origins: ['https://a.example'] });
    const ev = next<[HandshakeError, UpgradeRequest | undefined]>(server, 'handshakeError');
    await refused(`${url}/h`, { origin: 'https://z.example' });
    const [err, req] = await ev;
    assert.ok(err instanceof HandshakeError);
    assert.equal(err.status, 403);
    assert.equal(err.code, 'WS_ERR_FORBIDDEN_ORIGIN');
    assert.equal(req?.url, '/h');
    assert.equal(req?.headers.origin, 'https://z.example');

    const ev2 = next<[HandshakeError, UpgradeRequest | undefined]>(server, 'handshakeError');
    const r = await raw(port, { request: `POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n` });
    assert.equal(parseHead(await r.waitHead()).status, 405);
    const [err2] = await ev2;
    assert.equal(err2.status, 405);
    assert.equal(err2.code, 'WS_ERR_METHOD_NOT_ALLOWED');
  });
});

describe('heartbeat', () => {
  test('a silent raw peer is dropped within ~2 intervals; a ws13 client that pongs stays', T, async () => {
    const interval = 200;
    const { server, port, url } = await standalone({ heartbeat: { interval } });
    const errors: string[] = [];
    server.on('connection', (ws) => ws.on('error', (e) => errors.push(e.code)));
    const r = await raw(port);
    assert.equal(parseHead(await r.waitHead()).status, 101);
    const start = Date.now();
    const ws = await client(url);
    let pings = 0;
    ws.on('ping', () => pings++);

    await r.until(() => r.frames.some((f) => f.opcode === 0x9), 4 * interval, 'a ping to the raw peer');
    const pingAt = Date.now() - start;
    await r.waitClosed(4 * interval);
    const droppedAt = Date.now() - start;
    // The peer is pinged after an idle interval and dropped one interval after the ping.
    assert.ok(droppedAt <= 3 * interval + 150, `dropped after ${droppedAt} ms`);
    assert.ok(droppedAt - pingAt >= interval - 50, `dropped ${droppedAt - pingAt} ms after the ping`);
    assert.ok(errors.includes('WS_ERR_HEARTBEAT_TIMEOUT'), `errors: ${errors.join(',')}`);

    await sleep(3 * interval);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.ok(pings >= 1, `the ws13 client was pinged ${pings} times`);
    assert.equal(server.clients.size, 1);
  });
});

describe('graceful close', () => {
  test('standalone close(): clients receive 1001, close() resolves and emits close', T, async () => {
    const { server, url } = await standalone({ closeTimeout: 300 });
    const c1 = await client(url);
    const c2 = await client(url);
    await within((async () => { while (server.clients.size < 2) await sleep(5); })(), 2000, '2 connections');
    const closes = [c1, c2].map((c) => next<[number, string, boolean]>(c, 'close'));
    let serverClosed = false;
    server.on('close', () => (serverClosed = true));
    const closing = server.close();
    assert.equal(server.close(), closing, 'a second close() returns the same promise');
    const results = await Promise.all(closes);
    await within(closing, 2000, 'server.close()');
    assert.deepEqual(results, [
      [1001, 'server shutting down', true],
      [1001, 'server shutting down', true],
    ]);
    assert.equal(serverClosed, true);
    assert.equal(server.clients.size, 0);
  });

  test('standalone close(): a raw peer that never answers the close is terminated after closeTimeout', T, async () => {
    const closeTimeout = 300;
    const { server, port } = await standalone({ closeTimeout });
    const r = await raw(port);
    assert.equal(parseHead(await r.waitHead()).status, 101);
    await within((async () => { while (server.clients.size < 1) await sleep(5); })(), 2000, 'the connection');
    const start = Date.now();
    const closing = server.close();
    await r.until(() => r.frames.some((f) => f.opcode === 0x8) || r.closed, 1000, 'a close frame');
    const cf = r.frames.find((f) => f.opcode === 0x8);
    assert.ok(cf, 'the peer received a close frame before the TCP close');
    assert.equal(cf.payload.readUInt16BE(0), 1001);
    assert.equal(r.closed, false, 'still connected while the close handshake may complete');
    await r.waitClosed(closeTimeout + 700);
    const droppedAfter = Date.now() - start;
    assert.ok(droppedAfter >= closeTimeout - 50, `dropped after ${droppedAfter} ms`);
    await within(closing, 2000, 'server.close()');
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= closeTimeout - 50 && elapsed < closeTimeout + 1000, `close() took ${elapsed} ms`);
  });

  test('standalone close(): new connections are refused', T, async () => {
    const { server, port, url } = await standalone();
    await within(server.close(), 2000, 'server.close()');
    const err = await refused(url);
    assert.equal(err.code, 'WS_ERR_HANDSHAKE_NETWORK');
    const outcome = await within(
      new Promise<string>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port });
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        s.once('connect', () => {
          s.destroy();
          resolve('connected');
        });
      }),
      3000,
      'TCP outcome',
    );
    assert.equal(outcome, 'ECONNREFUSED');
  });

  test('attached close(): 1001 to clients, silent peer dropped after closeTimeout, later upgrades get 404', T, async () => {
    const closeTimeout = 300;
    const hs = http.createServer();
    const wss = new WebSocketServer({ server: hs, path: '/x', closeTimeout });
    servers.push(wss);
    const port = await listenHttp(hs);
    const c = await client(`ws://127.0.0.1:${port}/x`);
    const r = await raw(port, { path: '/x' });
    assert.equal(parseHead(await r.waitHead()).status, 101);
    await within((async () => { while (wss.clients.size < 2) await sleep(5); })(), 2000, '2 connections');
    const closed = next<[number, string, boolean]>(c, 'close');
    const start = Date.now();
    const closing = wss.close();
    assert.deepEqual(await closed, [1001, 'server shutting down', true]);
    await r.until(() => r.frames.some((f) => f.opcode === 0x8) || r.closed, 1000, 'a close frame');
    assert.equal(r.frames.find((f) => f.opcode === 0x8)?.payload.readUInt16BE(0), 1001);
    assert.equal(r.closed, false);
    await r.waitClosed(closeTimeout + 700);
    assert.ok(Date.now() - start >= closeTimeout - 50, `dropped after ${Date.now() - start} ms`);
    await within(closing, 2000, 'close()');
    assert.equal(wss.clients.size, 0);
    const err = await refused(`ws://127.0.0.1:${port}/x`);
    assert.equal(err.status, 404);
  });
});
