// Deno's WebSocket client, a second RFC 8441 client nobody here wrote: against a TLS server
// that offers only h2 in ALPN, it opens the WebSocket as an extended CONNECT. Deno is the
// binary scripts/test-runtimes.sh caches (WS13_RUNTIME_CACHE, default /tmp/ws13-runtimes);
// without it the test is skipped (`scripts/test-runtimes.sh deno` fetches it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer, http2Stats } from '../../../src/node/index.js';
import { skipWithout } from '../../support/peers-available.js';
import { next } from '../helpers.js';
import { caSigned, closeServer, listen, trackSessions } from './fixtures.js';

const DENO = path.join(process.env.WS13_RUNTIME_CACHE ?? '/tmp/ws13-runtimes', 'deno-2.9.6/node_modules/@deno/linux-x64-glibc/deno');
const haveDeno = fs.existsSync(DENO);

test('Deno opens wss:// over HTTP/2 (RFC 8441) to an h2-only ws13 server: echo, two WebSockets, clean closes', {
  timeout: 90_000,
  // Without Deno: skipped, except under CI=true (.ci/run fetches it), where it fails.
  ...(haveDeno || process.env.CI === 'true' ? skipWithout('openssl') : { skip: `no Deno at ${DENO} (scripts/test-runtimes.sh deno fetches it)` }),
}, async () => {
  assert.ok(haveDeno, `no Deno at ${DENO}: scripts/test-runtimes.sh deno fetches it`);
  const { key, cert, caFile } = caSigned();
  const srv = http2.createSecureServer({ key, cert });
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv, path: '/deno' });
  const versions: string[] = [];
  const closes: Array<[number, string]> = [];
  wss.on('connection', (ws, req) => {
    versions.push(req.httpVersion);
    ws.on('message', (d) => ws.send(`echo:${String(d)}`));
    ws.on('close', (code, reason) => closes.push([code, String(reason)]));
  });
  const port = await listen(srv);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-deno-'));
  const script = path.join(dir, 'client.js');
  fs.writeFileSync(script, `
const open = (n) => new Promise((resolve, reject) => {
  const ws = new WebSocket('wss://localhost:${port}/deno');
  ws.onerror = (e) => reject(new Error(e.message));
  ws.onopen = () => ws.send('from deno ' + n);
  ws.onmessage = (e) => { ws.onclose = (c) => resolve([e.data, c.code, c.reason, c.wasClean]); ws.close(4000 + n, 'bye ' + n); };
});
console.log(JSON.stringify(await Promise.all([open(1), open(2)])));
`);
  try {
    const child = spawn(DENO, ['run', '--allow-net', '--cert', caFile, script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DENO_DIR: path.join(dir, 'cache'), NO_COLOR: '1' },
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const [status] = await next<[number]>(child, 'exit', 60_000);
    assert.equal(status, 0, err);
    assert.deepEqual(JSON.parse(out), [
      ['echo:from deno 1', 4001, 'bye 1', true],
      ['echo:from deno 2', 4002, 'bye 2', true],
    ]);
    assert.deepEqual(versions, ['2.0', '2.0'], 'both were extended CONNECTs');
    assert.equal(http2Stats(srv)?.accepted, 2);
    assert.deepEqual(closes.sort(), [[4001, 'bye 1'], [4002, 'bye 2']]);
  } finally {
    await wss.close({ timeout: 500 });
    await closeServer(srv, sessions);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
