// Regression tests for the command line, each named after what broke.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { WebSocketServer } from '../../src/node/index.js';
import { CLI, accept, cleanup, httpServer, rawServer, run, serve } from './helpers.js';

const T = { timeout: 90_000 }; // generous: each test starts several processes on a shared, loaded machine
after(cleanup);

interface Report {
  verdict: string;
  checks: Array<{ id: string; status: string; message: string; details?: string[] }>;
  response: { body: string } | null;
}
const doctorJson = async (args: string[]): Promise<{ code: number | null; report: Report; stderr: string }> => {
  const r = await run(['doctor', ...args, '--json']);
  return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
};
const check = (r: Report, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id} in ${JSON.stringify(r.checks)}`);
  return c;
};

/** A server that answers 101, then lets `then` act on the socket. */
function upgradeThen(then: (s: import('node:net').Socket) => void): Promise<number> {
  return rawServer((_h, key, s) => {
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`);
    then(s);
  });
}

test('regression: -H "Host: …" replaced the Host header instead of adding a second one (400)', T, async () => {
  const heads: string[] = [];
  const port = await rawServer((head, key, s) => {
    heads.push(head);
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`);
    s.on('data', () => s.end(Buffer.from([0x88, 0x02, 0x03, 0xe8])));
  });
  const r = await run(['connect', `ws://127.0.0.1:${port}/`, '--no-deflate', '-H', 'Host: example.test', '-H', 'Origin: https://page.example'], { input: '' });
  assert.equal(r.code, 0, r.stderr);
  const hosts = heads[0]!.split('\r\n').filter((l) => /^host:/i.test(l));
  assert.deepEqual(hosts, ['Host: example.test']);
  assert.equal(heads[0]!.split('\r\n').filter((l) => /^origin:/i.test(l)).length, 1);
  // The same against a real server: accepted (a second Host would get 400).
  const { url } = await serve([]);
  const ok = await run(['connect', url, '-H', 'Host: example.test'], { input: 'through\n' });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'through\n');
});

test('regression: -H "Sec-WebSocket-Key: …" (and the handshake\'s other own headers) is refused as a usage error, not sent to get 400', T, async () => {
  // The full list is checked on the library (test/node/dial-redirect.test.ts); here, both commands.
  for (const [cmd, h] of [['connect', 'Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=='], ['connect', 'connection: close'], ['doctor', 'Sec-WebSocket-Version: 8']]) {
    const r = await run([cmd!, 'ws://127.0.0.1:1/', '-H', h!]);
    assert.equal(r.code, 2, `${cmd} -H ${h}: ${r.stderr}`);
    assert.match(r.stderr, /header cannot be set/);
  }
  const twice = await run(['connect', 'ws://127.0.0.1:1/', '-H', 'Host: a', '-H', 'host: b']);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /given twice/);
});

test('regression: a reader that goes away (| head -1) no longer crashes connect with an EPIPE stack', T, async () => {
  const { url } = await serve([]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-epipe-'));
  const errFile = path.join(dir, 'stderr');
  const script = `set -o pipefail; (printf 'a\\nb\\n'; sleep 1) | "${process.execPath}" "${CLI}" connect ${url} 2>"${errFile}" | head -1`;
  const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const c = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.on('close', (code) => resolve({ code, stdout }));
  });
  const stderr = fs.readFileSync(errFile, 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(r.stdout, 'a\n');
  assert.doesNotMatch(stderr, /EPIPE|Error|at /);
  assert.equal(r.code, 0, stderr);
});

test('regression: stdin ending no longer closes before a slow answer arrives (echo question | ws13 connect)', T, async () => {
  const wss = new WebSocketServer({ heartbeat: false });
  wss.on('connection', (ws) => ws.on('message', (m) => setTimeout(() => ws.send(`answer to ${String(m)}`), 50)));
  const { port } = await wss.listen(0, '127.0.0.1');
  try {
    const r = await run(['connect', `ws://127.0.0.1:${port}/`], { input: 'question\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'answer to question\n');
    // -w 0 closes as soon as the input is sent, so the slow answer is lost: the wait is what helps.
    const quick = await run(['connect', `ws://127.0.0.1:${port}/`, '-w', '0'], { input: 'question\n' });
    assert.equal(quick.stdout, '');
  } finally {
    await wss.close({ timeout: 200 });
  }
});

test('regression: doctor showed chunked bodies undecoded (13\\r\\n<html>…\\r\\n0), in text and --json', T, async () => {
  const port = await httpServer((_req, res) => {
    res.writeHead(404, { 'Content-Type': 'text/html' });
    res.write('<html>not here</html>');
    res.end();
  });
  const { report } = await doctorJson([`ws://127.0.0.1:${port}/`]);
  assert.equal(report.response!.body, '<html>not here</html>');
  const text = await run(['doctor', `ws://127.0.0.1:${port}/`]);
  assert.match(text.stdout, /\(body\) <html>not here<\/html>/);
  assert.doesNotMatch(text.stdout, /\b15\r?\n|\r\n0/);
  // The library's HandshakeError (and so connect) gets the decoded body too.
  const c = await run(['connect', `ws://127.0.0.1:${port}/`]);
  assert.match(c.stderr, /body: <html>not here<\/html>\n/);
});

test('regression: doctor said "Origin: not the cause" for a 403 whose body names the origin', T, async () => {
  // As `ws`' verifyClient refusing with (false, 403, 'Origin not allowed') answers.
  const port = await rawServer((_h, _k, s) =>
    s.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 18\r\n\r\nOrigin not allowed'),
  );
  const { code, report } = await doctorJson([`ws://127.0.0.1:${port}/`, '--origin', 'https://other.example']);
  assert.equal(code, 1);
  const o = check(report, 'origin');
  assert.equal(o.status, 'fail');
  assert.match(o.message, /names the Origin/);
  // A 401 that names the origin is looked at the same way.
  const p401 = await rawServer((_h, _k, s) => s.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 19\r\n\r\nbad origin for you\n'));
  const r401 = await doctorJson([`ws://127.0.0.1:${p401}/`]);
  assert.equal(check(r401.report, 'origin').status, 'fail');
  // A 403 that names no origin still clears it.
  const plain = await rawServer((_h, _k, s) => s.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 6\r\n\r\nnope\r\n'));
  assert.equal(check((await doctorJson([`ws://127.0.0.1:${plain}/`])).report, 'origin').status, 'ok');
});

test('regression: doctor passed (WARN, exit 0) a server that answers 101 but never a ping nor a close', T, async () => {
  const port = await upgradeThen(() => {});
  const { code, report } = await doctorJson([`ws://127.0.0.1:${port}/`, '--no-deflate', '--timeout', '400']);
  assert.equal(code, 1);
  assert.equal(check(report, 'ping').status, 'fail');
  assert.equal(check(report, 'close').status, 'fail');
});

test('regression: after a wrong Accept doctor no longer waits 3 s for a pong', T, async () => {
  const port = await rawServer((_h, _k, s) =>
    s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n'),
  );
  const t = Date.now();
  const { code, report } = await doctorJson([`ws://127.0.0.1:${port}/`, '--no-deflate']);
  assert.equal(code, 1);
  assert.equal(check(report, 'accept').status, 'fail');
  assert.equal(check(report, 'ping').status, 'info');
  assert.ok(Date.now() - t < 2500, `took ${Date.now() - t} ms`);
});

test('regression: the serve banner suggested commands that fail (node -e on Node 20; connect without the required protocol)', T, async () => {
  const { url, output } = await serve(['--protocols', 'chat', '--require-protocol']);
  const line = /^ {2}ws13 connect .*$/m.exec(output())![0].trim();
  assert.match(line, /--protocol chat/);
  const r = await run([...line.split(/\s+/).slice(1)], { input: 'from the banner\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'from the banner\n');
  const node = /^ {2}node(.*) -e "(.*)"$/m.exec(output());
  assert.ok(node, output());
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) assert.match(node[1]!, /--experimental-websocket/);
  assert.match(node[2]!, /new WebSocket\('[^']+', 'chat'\)/);
  assert.doesNotMatch(output(), /python3 -m websockets/);
  // The suggested node line runs on this Node.
  const n = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const args = [...node[1]!.trim().split(/\s+/).filter(Boolean), '-e', node[2]!.replace(/\\"/g, '"')];
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code, out }));
  });
  assert.equal(n.code, 0, n.out);
  assert.match(n.out, /^hello$/m);
});

test('regression: serve -q still printed the banner; now the URL alone', T, async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const out = await new Promise<string>((resolve, reject) => {
      let s = '';
      const t = setTimeout(() => reject(new Error(`no URL: ${s}`)), 5000);
      child.stdout.on('data', (d) => {
        s += d;
        if (s.includes('\n')) {
          clearTimeout(t);
          resolve(s);
        }
      });
    });
    assert.match(out, /^ws:\/\/127\.0\.0\.1:\d+\/\n$/);
    const r = await run(['connect', out.trim(), '-q'], { input: 'quiet\n' });
    assert.equal(r.stdout, 'quiet\n');
    assert.equal(r.stderr, '');
  } finally {
    child.kill();
  }
});

test('regression: serve -H meant host (connect -H a header); now a response header, --host the address', T, async () => {
  const { url } = await serve(['-H', 'X-Served-By: ws13-test', '--host', '127.0.0.1']);
  const r = await run(['connect', url, '-v'], { input: '' });
  assert.match(r.stderr, /^< X-Served-By: ws13-test$/m);
  const old = await run(['serve', '-H', '0.0.0.0']);
  assert.equal(old.code, 2);
  assert.match(old.stderr, /--host/);
});

test('regression: an unknown option printed a message with a stray quote', T, async () => {
  for (const cmd of ['connect', 'serve', 'doctor']) {
    const r = await run([cmd, '--frobnicate']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.split('\n')[0], 'ws13: unknown option --frobnicate');
  }
});

test('regression: "ws13 doctor localhost:8081/" said "not localhost:"; a URL without a scheme means ws://', T, async () => {
  const { url } = await serve([]);
  const bare = url.replace(/^ws:\/\/127\.0\.0\.1/, 'localhost');
  const d = await run(['doctor', bare, '--no-deflate']);
  assert.match(d.stderr, /no scheme given: using ws:\/\/localhost:\d+\//);
  assert.equal(d.code, 0, d.stdout);
  const c = await run(['connect', url.replace(/^ws:\/\//, '')], { input: 'bare\n' });
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, 'bare\n');
  assert.match(c.stderr, /no scheme given/);
});

test('regression: a connection the server closed with 1009 was logged as 1006', T, async () => {
  const { url, output } = await serve(['--max-payload', '10']);
  const r = await run(['connect', url], { input: 'far more than ten bytes\n' });
  assert.equal(r.code, 3);
  const deadline = Date.now() + 5000;
  while (!/closed 1009/.test(output()) && Date.now() < deadline) await new Promise((x) => setTimeout(x, 50));
  assert.match(output(), /closed 1009 \(message over 10 bytes|closed 1009/);
  assert.doesNotMatch(output(), /closed 1006/);
});
