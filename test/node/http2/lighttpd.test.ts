// lighttpd (Debian, 1.4.65+), an RFC 8441 server nobody here wrote, for the ws13 client: it
// takes extended CONNECTs over h2c and passes them to a ws13 HTTP/1.1 server as upgrades
// (mod_proxy with upgrade enabled). It allows 8 streams per session, so 12 WebSockets need two.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocket, WebSocketServer } from '../../../src/node/index.js';
import { LIGHTTPD, assertPeers, skipWithout } from '../../support/peers-available.js';
import { freePort } from '../../support/ports.js';
import { next, sleep } from '../helpers.js';

const T = { timeout: 60_000 };

async function startLighttpd(backendPort: number): Promise<{ port: number; child: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-lighttpd-'));
  fs.writeFileSync(
    path.join(dir, 'lighttpd.conf'),
    [
      `server.document-root = "${dir}"`,
      `server.port = ${port}`,
      'server.bind = "127.0.0.1"',
      'server.modules = ("mod_proxy")',
      `server.errorlog = "${dir}/error.log"`,
      `proxy.server = ("/" => (("host" => "127.0.0.1", "port" => ${backendPort})))`,
      'proxy.header = ("upgrade" => "enable")',
      '',
    ].join('\n'),
  );
  const child = spawn(LIGHTTPD, ['-D', '-f', path.join(dir, 'lighttpd.conf')], { stdio: 'ignore' });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`lighttpd exited: ${fs.readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return { port, child, dir };
    if (Date.now() > deadline) throw new Error('lighttpd did not listen');
    await sleep(100);
  }
}

test('the ws13 client over RFC 8441 to lighttpd: 12 WebSockets over sessions of 8 streams, echo and close', { ...T, ...skipWithout('lighttpd') }, async () => {
  assertPeers('lighttpd');
  const h1 = http.createServer();
  const wss = new WebSocketServer({ server: h1 });
  const versions: string[] = [];
  wss.on('connection', (ws, req) => {
    versions.push(req.httpVersion);
    ws.on('message', (d, binary) => (String(d) === 'close' ? ws.close(4003, 'by backend') : ws.send(d as Buffer, { binary })));
  });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  const lt = await startLighttpd((h1.address() as net.AddressInfo).port);
  const session = http2.connect(`http://127.0.0.1:${lt.port}`);
  session.on('error', () => {});
  try {
    await next(session, 'remoteSettings', 10_000);
    assert.equal(session.remoteSettings.enableConnectProtocol, true, 'lighttpd advertises RFC 8441');
    assert.equal(session.remoteSettings.maxConcurrentStreams, 8);
    // One WebSocket on our own session: the extended CONNECT path, for certain.
    const mine = await WebSocket.connect(`ws://127.0.0.1:${lt.port}/a`, { http2: { require: true, connection: session } });
    mine.send('on my session');
    assert.equal(String((await next<[unknown]>(mine, 'message'))[0]), 'on my session');
    const closedByBackend = next<[number, string, boolean]>(mine, 'close', 10_000);
    mine.send('close');
    assert.deepEqual((await closedByBackend).slice(0, 2), [4003, 'by backend']);

    // Twelve through the client's own pool: more than one lighttpd session allows.
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => WebSocket.connect(`ws://127.0.0.1:${lt.port}/n${i}`, { http2: { require: true } })));
    const echoes = await Promise.all(all.map((ws, i) => { const p = next<[unknown]>(ws, 'message', 10_000); ws.send(`ws ${i}`); return p; }));
    echoes.forEach(([d], i) => assert.equal(String(d), `ws ${i}`));
    assert.equal(versions.length, 13);
    assert.ok(versions.every((v) => v === '1.1'));
    for (const ws of all) { const c = next<[number, string, boolean]>(ws, 'close', 10_000); ws.close(1000, 'done'); assert.deepEqual((await c).slice(0, 2), [1000, 'done']); }
  } finally {
    session.destroy();
    lt.child.kill('SIGTERM');
    await wss.close({ timeout: 500 });
    h1.close();
    fs.rmSync(lt.dir, { recursive: true, force: true });
  }
});
