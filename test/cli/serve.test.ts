// ws13 serve modes and options, checked with the library's client and raw sockets.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HandshakeError, WebSocket } from '../../src/node/index.js';
import { cleanup, serve } from './helpers.js';

const T = { timeout: 90_000 }; // generous: each test starts several processes on a shared, loaded machine
const sockets: WebSocket[] = [];
after(async () => {
  for (const s of sockets) s.terminate();
  await cleanup();
});

async function open(url: string, opts: Parameters<typeof WebSocket.connect>[1] = {}): Promise<WebSocket> {
  const ws = await WebSocket.connect(url, { closeTimeout: 300, ...opts });
  sockets.push(ws);
  return ws;
}

const nextMessage = (ws: WebSocket): Promise<string> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no message')), 3000);
    ws.once('message', (d) => {
      clearTimeout(t);
      resolve(String(d));
    });
  });

const status = async (url: string, opts: Parameters<typeof WebSocket.connect>[1] = {}): Promise<number | undefined> =>
  WebSocket.connect(url, opts).then(
    (ws) => {
      ws.terminate();
      return 101;
    },
    (e: unknown) => (e instanceof HandshakeError ? e.status : undefined),
  );

function rawGet(port: number, target: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: target, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}

test('--broadcast: a message from one client reaches every client', T, async () => {
  const { url, output } = await serve(['--broadcast']);
  assert.match(output(), /ws13 broadcast server listening on/);
  const [a, b] = await Promise.all([open(url), open(url)]);
  const got = Promise.all([nextMessage(a), nextMessage(b)]);
  a.send('to all');
  assert.deepEqual(await got, ['to all', 'to all']);
});

test('--static DIR: files over HTTP and WebSocket upgrades on the same port; no escape from DIR', T, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-static-'));
  try {
    fs.writeFileSync(path.join(dir, 'index.html'), '<h1>hi</h1>');
    fs.writeFileSync(path.join(dir, 'app.js'), 'console.log(1)');
    const { url, output } = await serve(['--static', dir]);
    const port = Number(new URL(url).port);
    assert.match(output(), /Serving files from/);
    const index = await rawGet(port, '/');
    assert.equal(index.status, 200);
    assert.equal(index.body, '<h1>hi</h1>');
    assert.match(String(index.headers['content-type']), /text\/html/);
    const js = await rawGet(port, '/app.js');
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.equal((await rawGet(port, '/missing.txt')).status, 404);
    assert.notEqual((await rawGet(port, '/..%2f..%2fetc%2fpasswd')).status, 200);
    const ws = await open(url);
    const m = nextMessage(ws);
    ws.send('echo over static');
    assert.equal(await m, 'echo over static');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--path, --require-protocol, --protocols: 404 elsewhere, 400 without a protocol', T, async () => {
  const { url } = await serve(['--path', '/ws', '--protocols', 'chat', '--require-protocol']);
  assert.match(url, /\/ws$/);
  assert.equal(await status(url.replace(/\/ws$/, '/other'), { protocols: ['chat'] }), 404);
  assert.equal(await status(url), 400);
  const ws = await open(url, { protocols: ['chat'] });
  assert.equal(ws.protocol, 'chat');
});

test('--max-payload closes with 1009; --deflate negotiates compression', T, async () => {
  const { url } = await serve(['--max-payload', '10', '--deflate']);
  const ws = await open(url);
  assert.match(ws.extensions, /permessage-deflate/);
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.send('x'.repeat(11));
  assert.equal(await closed, 1009);
});

test('--handshake-timeout answers 408; --max-header-size answers 431', T, async () => {
  const { url } = await serve(['--handshake-timeout', '300', '--max-header-size', '1024', '--heartbeat', '0']);
  const port = Number(new URL(url).port);
  const s = net.connect(port, '127.0.0.1');
  let data = '';
  s.on('data', (c) => (data += c));
  await new Promise((r) => s.once('close', r));
  assert.match(data, /^HTTP\/1\.1 408 /);
  assert.equal(await status(url, { headers: { 'X-Big': 'a'.repeat(2000) } }), 431);
});

test('--tls-cert without --tls-key, a bad port, a missing --static dir: exit 2', T, async () => {
  const { run } = await import('./helpers.js');
  for (const args of [['serve', '--tls-cert', 'x.pem'], ['serve', '--port', '70000'], ['serve', '--static', '/no/such/dir'], ['serve', '--heartbeat', 'soon']]) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^ws13: /);
  }
});
