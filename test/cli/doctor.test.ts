// ws13 doctor against servers built to fail the handshake in each way it diagnoses.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createHash } from 'node:crypto';
import { WebSocketServer } from '../../src/node/index.js';
import { accept, cleanup, httpServer, rawServer, run, selfSigned, serve } from './helpers.js';
import { peerTest } from '../support/peers-available.js';

const T = { timeout: 90_000 }; // generous: each test starts several processes on a shared, loaded machine
after(cleanup);

interface Report {
  verdict: string;
  summary: string;
  checks: Array<{ id: string; status: string; message: string; details?: string[] }>;
  timings: Record<string, number>;
  fixes: string[];
  retries: Array<{ origin: string | null; status: number | null }>;
  response: { status: number } | null;
}

async function doctorJson(args: string[]): Promise<{ code: number | null; report: Report }> {
  const r = await run(['doctor', ...args, '--json']);
  assert.equal(r.stderr, '');
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

const check = (r: Report, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id} in ${JSON.stringify(r.checks)}`);
  return c;
};

const NGINX = /proxy_http_version 1\.1;[\s\S]*proxy_set_header Upgrade \$http_upgrade;[\s\S]*proxy_set_header Connection "upgrade";/;

let healthy: string;
before(async () => {
  healthy = (await serve(['--deflate', '--protocols', 'chat'])).url;
});

test('a healthy ws13 server: every check ok, Accept recomputed, timings and ping, exit 0', T, async () => {
  const r = await run(['doctor', healthy, '--protocol', 'chat']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /< HTTP\/1\.1 101 Switching Protocols/);
  assert.match(r.stdout, /\[ ok \] Sec-WebSocket-Accept: \S+ matches/);
  assert.match(r.stdout, /key \+ GUID  \S+258EAFA5-E914-47DA-95CA-C5AB0DC85B11/);
  assert.match(r.stdout, /SHA-1       [0-9a-f]{40}/);
  assert.match(r.stdout, /\[ ok \] Sec-WebSocket-Protocol: chat/);
  assert.match(r.stdout, /\[ ok \] Sec-WebSocket-Extensions: permessage-deflate/);
  assert.match(r.stdout, /TCP connect [\d.]+ ms, handshake [\d.]+ ms, ping round trip [\d.]+ ms/);
  assert.match(r.stdout, /Verdict: OK/);
  assert.doesNotMatch(r.stdout, /\[FAIL\]|\[warn\]/);
  // The recomputed value is the one in the answer.
  const key = /Sec-WebSocket-Key: (\S+)/.exec(r.stdout)![1]!;
  assert.match(r.stdout, new RegExp(`< Sec-WebSocket-Accept: ${accept(key).replace(/[+/]/g, '\\$&')}`));
  assert.match(r.stdout, new RegExp(createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('hex')));

  const j = await doctorJson([healthy, '--protocol', 'chat']);
  assert.equal(j.code, 0);
  assert.equal(j.report.verdict, 'ok');
  // Every HTTP/1.1 check ok; HTTP/2 (h2c, not offered by an HTTP/1.1 server) is a fact, not a fault.
  assert.ok(j.report.checks.filter((c) => !c.id.startsWith('h2')).every((c) => c.status === 'ok'));
  assert.deepEqual(j.report.checks.filter((c) => c.id.startsWith('h2')).map((c) => `${c.id} ${c.status}`), ['h2 info']);
  for (const k of ['dnsMs', 'connectMs', 'handshakeMs', 'pingMs']) assert.equal(typeof j.report.timings[k], 'number', k);
});

test('plain HTTP 200 (a proxy dropped Upgrade): diagnosed with the nginx lines, exit 1', T, async () => {
  const port = await httpServer((_req, res) => res.end('<html>hello</html>'));
  const r = await run(['doctor', `ws://127.0.0.1:${port}/ws`]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /\[FAIL\] status line: HTTP\/1\.1 200 OK: answered as an ordinary HTTP request/);
  assert.match(r.stdout, /a proxy dropped Upgrade\/Connection/);
  assert.match(r.stdout, NGINX);
  assert.match(r.stdout, /Verdict: FAIL/);
  const j = await doctorJson([`ws://127.0.0.1:${port}/ws`]);
  assert.equal(j.code, 1);
  assert.equal(j.report.verdict, 'fail');
  assert.equal(j.report.response?.status, 200);
  assert.ok(j.report.fixes.some((f) => NGINX.test(f)));
});

test('101 without Upgrade: the proxy stripped it, exit 1', T, async () => {
  const port = await rawServer((_h, key, s) =>
    s.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`),
  );
  const { code, report } = await doctorJson([`ws://127.0.0.1:${port}/`]);
  assert.equal(code, 1);
  assert.equal(check(report, 'status').status, 'ok');
  assert.equal(check(report, 'upgrade').status, 'fail');
  assert.match(check(report, 'upgrade').message, /missing/);
  assert.equal(check(report, 'accept').status, 'ok');
  assert.ok(report.fixes.some((f) => NGINX.test(f)));
});

test('426 with Sec-WebSocket-Version: 8, 7: names the versions, exit 1', T, async () => {
  const port = await rawServer((_h, _k, s) =>
    s.end('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 8, 7\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
  );
  const r = await run(['doctor', `ws://127.0.0.1:${port}/`]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /426 Upgrade Required: the server speaks WebSocket versions 8, 7, not 13/);
  assert.doesNotMatch(r.stdout, /proxy_http_version/);
});

test('426 asking for the Upgrade we sent (ws13 behind a proxy that dropped it): nginx lines', T, async () => {
  const port = await rawServer((_h, _k, s) =>
    s.end('HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n'),
  );
  const { code, report } = await doctorJson([`ws://127.0.0.1:${port}/`]);
  assert.equal(code, 1);
  assert.match(check(report, 'status').message, /Upgrade header we sent never reached it/);
  assert.ok(report.fixes.some((f) => NGINX.test(f)));
});

test('a wrong Sec-WebSocket-Accept: recomputed, compared, and the mistake named', T, async () => {
  const port = await rawServer((_h, key, s) =>
    s.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${createHash('sha1').update(key).digest('base64')}\r\n\r\n`,
    ),
  );
  const r = await run(['doctor', `ws://127.0.0.1:${port}/`]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /\[FAIL\] Sec-WebSocket-Accept: \S+ is wrong: expected \S+/);
  assert.match(r.stdout, /received    \S+/);
  assert.match(r.stdout, /the server computed SHA-1 of the key without the GUID/);
});

test('a server ignoring the offered subprotocol: not taken, exit 1', T, async () => {
  const wss = new WebSocketServer({ heartbeat: false });
  const { port } = await wss.listen(0, '127.0.0.1');
  try {
    const { code, report } = await doctorJson([`ws://127.0.0.1:${port}/`, '--protocol', 'chat,superchat']);
    assert.equal(code, 1);
    const p = check(report, 'protocol');
    assert.equal(p.status, 'fail');
    assert.match(p.message, /took none of chat, superchat/);
    assert.equal(check(report, 'accept').status, 'ok');
    // Regression: an extension offered and not taken was a warning with a hint to run
    // `ws13 serve --deflate` against any server; it is a fact (info), and the verdict is OK.
    assert.equal(check(report, 'extensions').status, 'info');
    assert.doesNotMatch(JSON.stringify(check(report, 'extensions')), /ws13 serve/);
    const ok = await doctorJson([`ws://127.0.0.1:${port}/`]);
    assert.equal(ok.code, 0);
    assert.equal(ok.report.verdict, 'ok');
    const none = await doctorJson([`ws://127.0.0.1:${port}/`, '--no-deflate']);
    assert.equal(none.report.verdict, 'ok');
  } finally {
    await wss.close({ timeout: 200 });
  }
});

test('403 for one Origin: retried without Origin and with another, the Origin named as the cause', T, async () => {
  const wss = new WebSocketServer({ heartbeat: false, origins: ['https://good.example'] });
  const { port } = await wss.listen(0, '127.0.0.1');
  try {
    const r = await run(['doctor', `ws://127.0.0.1:${port}/`, '--origin', 'https://evil.example']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[FAIL\] Origin: the server refuses Origin https:\/\/evil\.example/);
    assert.match(r.stdout, /without Origin: 101/);
    assert.match(r.stdout, /with Origin http:\/\/127\.0\.0\.1:\d+: 403/);
    assert.match(r.stdout, /ws13 serve --origins https:\/\/evil\.example/);
    const j = await doctorJson([`ws://127.0.0.1:${port}/`, '--origin', 'https://evil.example']);
    assert.deepEqual(
      j.report.retries.map((x) => [x.origin, x.status]),
      [
        [null, 101],
        [`http://127.0.0.1:${port}`, 403],
      ],
    );
    // The allowed Origin passes.
    const good = await doctorJson([`ws://127.0.0.1:${port}/`, '--origin', 'https://good.example', '--no-deflate']);
    assert.equal(good.code, 0);
  } finally {
    await wss.close({ timeout: 200 });
  }
});

test('403 whatever the Origin: the Origin is not the cause', T, async () => {
  const port = await httpServer((_req, res) => {
    res.writeHead(403);
    res.end('go away');
  });
  const { code, report } = await doctorJson([`ws://127.0.0.1:${port}/`, '--origin', 'https://a.example']);
  assert.equal(code, 1);
  assert.equal(check(report, 'origin').status, 'ok');
  assert.match(check(report, 'origin').message, /not the cause/);
  assert.equal(report.retries.length, 2);
});

test('a 301 redirect: where to, and the ws:// URL to use', T, async () => {
  const port = await httpServer((_req, res) => {
    res.writeHead(301, { Location: '/v2/socket' });
    res.end();
  });
  const r = await run(['doctor', `ws://127.0.0.1:${port}/socket`]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /301 Moved Permanently: a redirect to \/v2\/socket/);
  assert.match(r.stdout, /browsers never follow redirects/);
  assert.match(r.stdout, new RegExp(`ws13 doctor ws://127\\.0\\.0\\.1:${port}/v2/socket`));
});

peerTest(['openssl'], 'TLS with a self-signed certificate: explained; trusted with --ca; a warning with --insecure', T, async () => {
  const { cert, key } = await selfSigned();
  const { url } = await serve(['--tls-cert', cert, '--tls-key', key, '--deflate']);
  assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+\/$/);
  const r = await run(['doctor', url]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /\[FAIL\] TLS certificate: .*NOT trusted: DEPTH_ZERO_SELF_SIGNED_CERT/);
  assert.match(r.stdout, /self-signed: no certificate authority vouches for it/);
  assert.match(r.stdout, /subject: CN=localhost/);
  // The handshake behind it is still checked.
  assert.match(r.stdout, /\[ ok \] Sec-WebSocket-Accept/);
  const trusted = await doctorJson([url, '--ca', cert]);
  assert.equal(trusted.code, 0, JSON.stringify(trusted.report.checks));
  assert.equal(trusted.report.verdict, 'ok');
  assert.equal(typeof trusted.report.timings['tlsMs'], 'number');
  const insecure = await doctorJson([url, '--insecure']);
  assert.equal(insecure.code, 0);
  assert.equal(check(insecure.report, 'tls-certificate').status, 'warn');
  // wss:// to a plain port: TLS fails and ws:// is suggested.
  const plain = await doctorJson([healthy.replace('ws://', 'wss://')]);
  assert.equal(plain.code, 1);
  assert.equal(check(plain.report, 'tls').status, 'fail');
});

test('nothing listening: TCP connect fails, exit 1', T, async () => {
  const port = await rawServer(() => {});
  await cleanup();
  const { code, report } = await doctorJson([`ws://127.0.0.1:${port}/`]);
  assert.equal(code, 1);
  assert.match(check(report, 'tcp').message, /ECONNREFUSED/);
  // The healthy server is gone with cleanup(): start it again for later tests.
  healthy = (await serve(['--deflate', '--protocols', 'chat'])).url;
});

test('doctor usage errors exit 2', T, async () => {
  for (const args of [['doctor'], ['doctor', 'ftp://x/'], ['doctor', 'ws://x/', '--bogus'], ['doctor', 'not a url']]) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^ws13: /);
    assert.equal(r.stdout, '');
  }
});
