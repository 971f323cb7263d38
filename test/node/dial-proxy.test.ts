// The client through a real HTTP proxy (tinyproxy from Debian, started here on loopback):
// CONNECT tunnels for ws: and wss:, proxy authentication, a proxy that refuses the tunnel,
// and the environment (HTTP_PROXY, NO_PROXY) read only when asked.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { HandshakeError, WebSocket, WebSocketServer } from '../../src/node/index.js';
import { noProxy, proxyFor } from '../../src/node/dial/proxy.js';
import { peerTest } from '../support/peers-available.js';
import { freePort } from '../support/ports.js';
import { startTinyproxy, type Tinyproxy } from '../support/tinyproxy.js';

const T = { timeout: 30_000 };
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.splice(0)) await c();
});

async function proxy(opts: Parameters<typeof startTinyproxy>[0] = {}): Promise<Tinyproxy> {
  const p = await startTinyproxy(opts);
  closers.push(() => p.stop());
  return p;
}

async function echo(server?: https.Server): Promise<number> {
  const wss = new WebSocketServer({ heartbeat: false, ...(server ? { server } : {}) });
  wss.on('connection', (ws) => ws.on('message', (m, bin) => ws.send(m as Buffer, { binary: bin })));
  closers.push(() => wss.close({ timeout: 200 }));
  if (server) {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    return (server.address() as { port: number }).port;
  }
  return (await wss.listen(0, '127.0.0.1')).port;
}

async function roundTrip(url: string, opts: ConstructorParameters<typeof WebSocket>[2]): Promise<string> {
  const ws = await WebSocket.connect(url, opts);
  const got = new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
  ws.send('through the tunnel');
  const m = await got;
  ws.close();
  return m;
}

async function refusal(url: string, opts: ConstructorParameters<typeof WebSocket>[2]): Promise<HandshakeError> {
  try {
    (await WebSocket.connect(url, opts)).terminate();
  } catch (err) {
    assert.ok(err instanceof HandshakeError, String(err));
    return err;
  }
  throw new Error('connected');
}

peerTest(['tinyproxy'], 'ws: through a CONNECT tunnel (the proxy logs the CONNECT)', T, async () => {
  const port = await echo();
  const p = await proxy();
  assert.equal(await roundTrip(`ws://127.0.0.1:${port}/`, { proxy: p.url }), 'through the tunnel');
  assert.match(p.log(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${port}`));
});

peerTest(['tinyproxy'], 'proxy authentication: refused without credentials (WS_ERR_PROXY_REFUSED), through with user:pass in the URL', T, async () => {
  const port = await echo();
  const p = await proxy({ auth: ['alice', 'p4ss.w0rd'] });
  const err = await refusal(`ws://127.0.0.1:${port}/`, { proxy: p.url });
  assert.equal(err.code, 'WS_ERR_PROXY_REFUSED');
  // 407 is the standard answer; tinyproxy answers 401.
  assert.ok(err.status === 407 || err.status === 401, String(err.status));
  assert.match(err.message, /proxy authentication required/);
  const wrong = await refusal(`ws://127.0.0.1:${port}/`, { proxy: `http://alice:nope@127.0.0.1:${p.port}` });
  assert.equal(wrong.code, 'WS_ERR_PROXY_REFUSED');
  assert.equal(await roundTrip(`ws://127.0.0.1:${port}/`, { proxy: `http://alice:p4ss.w0rd@127.0.0.1:${p.port}` }), 'through the tunnel');
});

peerTest(['tinyproxy'], 'a proxy that refuses CONNECT to the port: WS_ERR_PROXY_REFUSED with its status', T, async () => {
  const port = await echo();
  const p = await proxy({ connectPorts: [443] });
  const err = await refusal(`ws://127.0.0.1:${port}/`, { proxy: p.url });
  assert.equal(err.code, 'WS_ERR_PROXY_REFUSED');
  assert.equal(err.status, 403);
  // A proxy that is not there: a network error naming the proxy.
  const dead = await freePort();
  const down = await refusal(`ws://127.0.0.1:${port}/`, { proxy: `http://127.0.0.1:${dead}` });
  assert.equal(down.code, 'WS_ERR_HANDSHAKE_NETWORK');
  assert.match(down.message, /cannot reach the proxy/);
});

peerTest(['tinyproxy'], 'the environment is read only when asked: HTTP_PROXY, then NO_PROXY', T, async () => {
  const port = await echo();
  const p = await proxy();
  const saved = { HTTP_PROXY: process.env['HTTP_PROXY'], NO_PROXY: process.env['NO_PROXY'] };
  const dead = await freePort();
  try {
    // Not asked: an HTTP_PROXY (even a live one) changes nothing.
    process.env['HTTP_PROXY'] = p.url;
    assert.equal(await roundTrip(`ws://127.0.0.1:${port}/`, {}), 'through the tunnel');
    assert.doesNotMatch(p.log(), /CONNECT 127\.0\.0\.1:\d+/);
    // Asked: the proxy from the environment is used.
    process.env['HTTP_PROXY'] = `127.0.0.1:${p.port}`;
    const before = (p.log().match(/CONNECT 127\.0\.0\.1:\d+/g) ?? []).length;
    assert.equal(await roundTrip(`ws://127.0.0.1:${port}/`, { proxyFromEnvironment: true }), 'through the tunnel');
    assert.ok((p.log().match(/CONNECT 127\.0\.0\.1:\d+/g) ?? []).length > before, 'the proxy saw no CONNECT');
    // NO_PROXY exempts the host: a dead proxy is never tried.
    process.env['HTTP_PROXY'] = `http://127.0.0.1:${dead}`;
    process.env['NO_PROXY'] = 'example.com, 127.0.0.1';
    assert.equal(await roundTrip(`ws://127.0.0.1:${port}/`, { proxyFromEnvironment: true }), 'through the tunnel');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

peerTest(['tinyproxy', 'openssl'], 'wss: TLS to the server inside the tunnel (certificate checked against --ca as usual)', T, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-proxy-tls-'));
  closers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await new Promise<void>((resolve, reject) =>
    execFile('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { timeout: 20_000 }, (e) => (e ? reject(e) : resolve())),
  );
  const port = await echo(https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }));
  const p = await proxy();
  assert.equal(await roundTrip(`wss://localhost:${port}/`, { proxy: p.url, tls: { ca: fs.readFileSync(cert) } }), 'through the tunnel');
  const untrusted = await refusal(`wss://localhost:${port}/`, { proxy: p.url });
  assert.equal(untrusted.code, 'WS_ERR_HANDSHAKE_NETWORK');
  assert.match(untrusted.message, /self-signed/);
});

test('NO_PROXY matching and the choice of proxy (pure)', () => {
  assert.equal(noProxy('api.example.com', 443, 'example.com'), true);
  assert.equal(noProxy('example.com', 443, '.example.com'), true);
  assert.equal(noProxy('badexample.com', 443, 'example.com'), false);
  assert.equal(noProxy('a.example.com', 8080, 'example.com:443'), false);
  assert.equal(noProxy('a.example.com', 443, 'example.com:443'), true);
  assert.equal(noProxy('anything', 1, '*'), true);
  assert.equal(noProxy('::1', 80, '[::1]'), true);
  assert.equal(noProxy('host', 80, ''), false);
  const env = { HTTPS_PROXY: 'http://secure-proxy:3128', HTTP_PROXY: 'http://plain-proxy:3128', NO_PROXY: 'internal.test' };
  const t = (host: string, secure: boolean) => ({ host, port: secure ? 443 : 80, secure });
  assert.equal(proxyFor(t('a.test', true), { proxyFromEnvironment: true }, env)?.host, 'secure-proxy:3128');
  assert.equal(proxyFor(t('a.test', false), { proxyFromEnvironment: true }, env)?.host, 'plain-proxy:3128');
  assert.equal(proxyFor(t('x.internal.test', false), { proxyFromEnvironment: true }, env), undefined);
  assert.equal(proxyFor(t('a.test', false), {}, env), undefined);
  // The option wins over the environment, and NO_PROXY does not apply to it.
  assert.equal(proxyFor(t('x.internal.test', false), { proxy: 'http://mine:8080', proxyFromEnvironment: true }, env)?.host, 'mine:8080');
  assert.throws(() => proxyFor(t('a.test', false), { proxy: 'socks5://127.0.0.1:1080' }), { code: 'WS_ERR_INVALID_ARGUMENT' });
});
