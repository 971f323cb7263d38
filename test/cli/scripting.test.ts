// ws13 connect in scripts (-x, -w, -1, -q, binary and base64 stdin, --auth, client
// certificates, pings, -L, --proxy), ws13 serve --exec, and doctor with -L and --proxy.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { after, test } from 'node:test';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { CLI, accept, cleanup, httpServer, rawServer, run, selfSigned, serve } from './helpers.js';
import { peerTest } from '../support/peers-available.js';
import { startTinyproxy } from '../support/tinyproxy.js';

const T = { timeout: 90_000 }; // generous: each test starts several processes on a shared, loaded machine
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.splice(0)) await s();
  await cleanup();
});

/** Runs ws13 with binary stdin and stdout. */
function runBinary(args: string[], input: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => (c.kill('SIGKILL'), reject(new Error(`timed out: ${stderr}`))), 15_000);
    c.on('close', (code) => (clearTimeout(t), resolve({ code, stdout: Buffer.concat(out), stderr })));
    c.stdin.end(input);
  });
}

test('--version on the tool and on each command', T, async () => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const args of [['--version'], ['-V'], ['connect', '--version'], ['serve', '--version']]) {
    const r = await run(args);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `ws13 ${pkg.version}\n`);
  }
});

test('-x (repeatable) sends without reading stdin; -w waits for answers; -q leaves stderr empty; output pipes to a JSON parser', T, async () => {
  const { url } = await serve([]);
  const r = await run(['connect', url, '-q', '-x', '{"n":1}', '-x', '{"n":2}', '-w', '0.5'], { keepStdin: true });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), [{ n: 1 }, { n: 2 }]);
});

test('-1 prints the first message only, then closes (exit 0)', T, async () => {
  const wss = new WebSocketServer({ heartbeat: false });
  wss.on('connection', (ws) => {
    ws.send('first');
    ws.send('second');
  });
  const { port } = await wss.listen(0, '127.0.0.1');
  stops.push(() => wss.close({ timeout: 200 }));
  const r = await run(['connect', `ws://127.0.0.1:${port}/`, '-1'], { keepStdin: true });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'first\n');
});

test('--binary: stdin bytes go as binary messages, binary answers come out raw', T, async () => {
  const { url } = await serve([]);
  const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13, 0x80]);
  const r = await runBinary(['connect', url, '--binary', '-q'], bytes);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout, bytes);
});

test('--base64: one binary message a line, answers printed as base64; a bad line is refused', T, async () => {
  const { url } = await serve([]);
  const a = Buffer.from([0, 159, 146, 150]).toString('base64');
  const b = Buffer.from('plain').toString('base64');
  const r = await run(['connect', url, '--base64'], { input: `${a}\n${b}\nnot*base64\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split('\n'), [a, b]);
  assert.match(r.stderr, /not base64/);
});

test('--auth user:pass sends HTTP Basic credentials', T, async () => {
  let head = '';
  const port = await rawServer((h, _key, s) => {
    head = h;
    s.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
  });
  await run(['connect', `ws://127.0.0.1:${port}/`, '--auth', 'alice:open sesame']);
  assert.match(head, new RegExp(`^Authorization: Basic ${Buffer.from('alice:open sesame').toString('base64')}$`, 'm'));
});

peerTest(['openssl'], '--cert/--key: a server that requires a client certificate lets in only the one that has it', T, async () => {
  const { cert, key } = await selfSigned();
  const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), ca: fs.readFileSync(cert), requestCert: true, rejectUnauthorized: true });
  const wss = new WebSocketServer({ server, heartbeat: false });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(String(m))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stops.push(async () => {
    await wss.close({ timeout: 200 });
    server.closeAllConnections();
    server.close();
  });
  const url = `wss://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
  const without = await run(['connect', url, '--ca', cert]);
  assert.equal(without.code, 1);
  const r = await run(['connect', url, '--ca', cert, '--cert', cert, '--key', key], { input: 'certified\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'certified\n');
});

test('--ping-interval/--ping-timeout: a server that stops answering pings ends the connection (exit 3); -v shows the server\'s pings', T, async () => {
  const port = await rawServer((_h, key, s) => {
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`);
    // One ping from the server ("hb"); our pings are never answered.
    s.write(Buffer.from([0x89, 0x02, 0x68, 0x62]));
  });
  const t = Date.now();
  const r = await run(['connect', `ws://127.0.0.1:${port}/`, '--no-deflate', '-v', '--ping-interval', '0.2', '--ping-timeout', '0.6'], { keepStdin: true });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /ping from the server "hb" \(answered\)/);
  assert.match(r.stderr, /no pong within 0\.6 s/);
  assert.ok(Date.now() - t < 8000);
  // Against a server that answers, pings keep going and the connection ends normally.
  const { url } = await serve([]);
  const ok = await run(['connect', url, '--ping-interval', '0.1', '-x', 'kept', '-w', '0.5']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'kept\n');
});

test('connect -L follows a redirect (noted on stderr); without it, the 3xx is the failure', T, async () => {
  const { url } = await serve([]);
  const port = await httpServer((_req, res) => (res.writeHead(302, { Location: url.replace(/^ws/, 'http') }), res.end()));
  // node:http hands upgrade requests to 'upgrade': httpServer has none, so use a raw one.
  const raw = await rawServer((_h, _k, s) => s.end(`HTTP/1.1 307 Temporary Redirect\r\nLocation: ${url}\r\nContent-Length: 0\r\n\r\n`));
  void port;
  const no = await run(['connect', `ws://127.0.0.1:${raw}/`]);
  assert.equal(no.code, 1);
  assert.match(no.stderr, /307/);
  const r = await run(['connect', `ws://127.0.0.1:${raw}/`, '-L'], { input: 'redirected\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'redirected\n');
  assert.match(r.stderr, new RegExp(`redirected \\(307\\) to ${url.replace(/[.]/g, '\\.')}`));
});

test('serve --exec (lines): each connection gets its own process; the connection closes with it', T, async () => {
  const { url, output } = await serve(['--exec', 'while read l; do echo "got $l from $WS13_PEER"; done']);
  const ws = await WebSocket.connect(url);
  const got: string[] = [];
  const two = new Promise<void>((r) => ws.on('message', (m) => (got.push(String(m)), got.length === 2 && r())));
  ws.send('one');
  ws.send('two');
  await two;
  assert.match(got[0]!, /^got one from 127\.0\.0\.1:\d+$/);
  assert.match(got[1]!, /^got two from/);
  ws.close();
  // A command that exits ends the connection: 1000 for exit 0, 1011 otherwise.
  const { url: once } = await serve(['--exec', 'head -n 1; exit 3']);
  const c = await run(['connect', once], { input: 'only line\n' });
  assert.equal(c.stdout, 'only line\n');
  assert.match(c.stderr, /closed 1011 "the command exited with 3"/);
  assert.equal(c.code, 3);
  assert.match(output(), /each connection runs: while read/);
});

test('serve --exec --exec-mode raw: bytes both ways; --max-procs refuses the next client with 503; the process is killed on close', T, async () => {
  const { url } = await serve(['--exec', 'cat', '--exec-mode', 'raw', '--max-procs', '1']);
  const ws = await WebSocket.connect(url);
  const bytes = Buffer.from([0, 255, 10, 1]);
  const echoed = new Promise<Buffer>((r) => ws.once('message', (m) => r(m as Buffer)));
  ws.send(bytes);
  assert.deepEqual(await echoed, bytes);
  await assert.rejects(WebSocket.connect(url), (e: { status?: number }) => e.status === 503);
  ws.close();
  await new Promise((r) => ws.once('close', r));
  // The slot is free again once the process is gone.
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      (await WebSocket.connect(url)).terminate();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

test('serve --exec: a process that ignores its stdin closing is killed when the client goes', T, async () => {
  const dir = fs.mkdtempSync('/tmp/ws13-exec-');
  const pidFile = `${dir}/pid`;
  const { url } = await serve(['--exec', `echo $$ > ${pidFile}; exec sleep 60`]);
  const ws = await WebSocket.connect(url);
  const deadline = Date.now() + 5000;
  while (!fs.existsSync(pidFile) || fs.readFileSync(pidFile, 'utf8').trim() === '') {
    if (Date.now() > deadline) throw new Error('the command did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  ws.terminate();
  const gone = Date.now() + 6000;
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  while (alive() && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(alive(), false, `process ${pid} outlived its connection`);
});

test('serve usage errors for --exec', T, async () => {
  for (const args of [['serve', '--exec-mode', 'raw'], ['serve', '--exec', 'cat', '--exec-mode', 'lines?'], ['serve', '--exec', 'cat', '--broadcast'], ['serve', '--exec', 'cat', '--max-procs', '0']]) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
  }
});

test('doctor -L follows redirects and reports each one; without -L it names the URL to use', T, async () => {
  const { url } = await serve(['--deflate']);
  const hop2 = await rawServer((_h, _k, s) => s.end(`HTTP/1.1 308 Permanent Redirect\r\nLocation: ${url.replace(/^ws/, 'http')}\r\nContent-Length: 0\r\n\r\n`));
  const hop1 = await rawServer((_h, _k, s) => s.end(`HTTP/1.1 301 Moved Permanently\r\nLocation: ws://127.0.0.1:${hop2}/\r\nContent-Length: 0\r\n\r\n`));
  const r = await run(['doctor', `ws://127.0.0.1:${hop1}/`, '-L', '--json']);
  const report = JSON.parse(r.stdout) as { verdict: string; finalUrl: string; redirects: Array<{ status: number; to: string }>; checks: Array<{ id: string; status: string }> };
  assert.equal(r.code, 0, r.stdout);
  assert.equal(report.verdict, 'warn');
  assert.equal(report.finalUrl, url);
  assert.deepEqual(report.redirects.map((x) => [x.status, x.to]), [[301, `ws://127.0.0.1:${hop2}/`], [308, url]]);
  assert.equal(report.checks.find((c) => c.id === 'ping')?.status, 'ok');
  // A loop stops at --max-redirects.
  const loop = await rawServer((_h, _k, s) => s.end('HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n'));
  const l = await run(['doctor', `ws://127.0.0.1:${loop}/`, '-L', '--max-redirects', '2']);
  assert.equal(l.code, 1);
  assert.match(l.stdout, /too many redirects/);
  void http;
});

peerTest(['tinyproxy'], 'connect --proxy goes through a real proxy; doctor --proxy explains a proxy that refuses CONNECT', T, async () => {
  const { url } = await serve([]);
  const open = await startTinyproxy();
  stops.push(() => open.stop());
  const r = await run(['connect', url, '--proxy', open.url], { input: 'proxied\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'proxied\n');
  const d = await run(['doctor', url, '--proxy', open.url, '--no-deflate']);
  assert.equal(d.code, 0, d.stdout);
  assert.match(d.stdout, /\[ ok \] proxy: 127\.0\.0\.1:\d+ opened a tunnel/);
  const strict = await startTinyproxy({ connectPorts: [443] });
  stops.push(() => strict.stop());
  const refused = await run(['connect', url, '--proxy', strict.url]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the proxy refused the tunnel/);
  const dr = await run(['doctor', url, '--proxy', strict.url, '--json']);
  assert.equal(dr.code, 1);
  const rep = JSON.parse(dr.stdout) as { checks: Array<{ id: string; status: string; message: string; details?: string[] }>; fixes: string[] };
  const p = rep.checks.find((c) => c.id === 'proxy')!;
  assert.equal(p.status, 'fail');
  assert.match(p.message, /refused the CONNECT tunnel \(403/);
  assert.ok(rep.fixes.some((f) => /ConnectPort/.test(f)));
});
