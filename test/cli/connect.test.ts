// ws13 connect driven through stdin, against ws13 serve and raw servers.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { accept, cleanup, rawServer, run, selfSigned, serve } from './helpers.js';
import { peerTest } from '../support/peers-available.js';

const T = { timeout: 90_000 }; // generous: each test starts several processes on a shared, loaded machine
after(cleanup);

test('lines become messages, echoes printed alone on stdout, notes on stderr, stdin end closes with 1000: exit 0', T, async () => {
  const { url } = await serve([]);
  const r = await run(['connect', url], { input: 'hello\nsecond line ✓\n/binary 01 02 ff\n//slash\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trimEnd().split('\n'), ['hello', 'second line ✓', '[binary 3 bytes] 0102ff', '/slash']);
  assert.deepEqual(r.stderr.trimEnd().split('\n'), [`* connected to ${url}`, '* closed 1000']);
});

test('-v prints the handshake request and response headers on stderr; /ping prints the round trip', T, async () => {
  const { url } = await serve(['--protocols', 'chat']);
  const r = await run(['connect', url, '-v', '--protocol', 'chat', '-H', 'X-Trace: abc', '--origin', 'http://page.example'], {
    input: '/ping\n/ping hello\n',
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^> GET \/ HTTP\/1\.1\n/);
  assert.match(r.stderr, /^> Sec-WebSocket-Protocol: chat$/m);
  assert.match(r.stderr, /^> X-Trace: abc$/m);
  assert.match(r.stderr, /^> Origin: http:\/\/page\.example$/m);
  assert.match(r.stderr, /^< HTTP\/1\.1 101 Switching Protocols$/m);
  assert.match(r.stderr, /^< Sec-WebSocket-Protocol: chat$/m);
  const key = /^> Sec-WebSocket-Key: (\S+)$/m.exec(r.stderr)![1]!;
  assert.ok(r.stderr.includes(`< Sec-WebSocket-Accept: ${accept(key)}`));
  assert.match(r.stderr, /^\* connected to \S+ \(protocol chat\)$/m);
  assert.match(r.stderr, /^\* pong "ws13-1": round trip \d+\.\d+ ms$/m);
  assert.match(r.stderr, /^\* pong "hello": round trip \d+\.\d+ ms$/m);
  assert.match(r.stderr, /\* closed 1000\n$/);
});

test('regression: a clean close with an application code (4000) exits 0, not 3; --no-deflate offers no extension', T, async () => {
  const { url } = await serve(['--deflate']);
  const r = await run(['connect', url, '-v', '--no-deflate'], { input: '/close 4000 bye now\nnot sent\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Sec-WebSocket-Extensions/);
  assert.match(r.stderr, /\* closed 4000 "bye now"\n$/);
  assert.doesNotMatch(r.stdout, /not sent/);
  const deflate = await run(['connect', url], { input: 'x\n' });
  assert.match(deflate.stderr, /extensions permessage-deflate/);
});

test('a close with an error code (1011) exits 3', T, async () => {
  const port = await rawServer((_h, key, s) => {
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`);
    // Close 1011 (0x03f3), then the server ends TCP after the client's answer.
    s.write(Buffer.from([0x88, 0x02, 0x03, 0xf3]));
    s.on('data', () => s.end());
  });
  const r = await run(['connect', `ws://127.0.0.1:${port}/`, '--no-deflate'], { keepStdin: true });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /\* closed 1011/);
});

test('handshake failure exits 1 with the status and the doctor hint', T, async () => {
  const { url } = await serve(['--origins', 'https://a.example']);
  const r = await run(['connect', url, '--origin', 'https://b.example', '-v']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /handshake failed: server answered 403 Forbidden/);
  assert.match(r.stderr, /ws13 doctor/);
  assert.match(r.stderr, /^< HTTP\/1\.1 403 Forbidden$/m);
  const refused = await run(['connect', 'ws://127.0.0.1:1/']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /ECONNREFUSED/);
});

test('a connection dropped without a closing handshake exits 3', T, async () => {
  const port = await rawServer((_h, key, s) => {
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`);
    // One text frame, then the TCP connection is dropped.
    s.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    setTimeout(() => s.destroy(), 100);
  });
  const r = await run(['connect', `ws://127.0.0.1:${port}/`, '--no-deflate'], { keepStdin: true });
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'hi\n');
  assert.match(r.stderr, /\* closed 1006 \(abnormally, no closing handshake\)/);
});

peerTest(['openssl'], 'wss: refused without trust (exit 1), works with --ca and with --insecure', T, async () => {
  const { cert, key } = await selfSigned();
  const { url } = await serve(['--tls-cert', cert, '--tls-key', key]);
  const bad = await run(['connect', url]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /self-signed|DEPTH_ZERO/i);
  for (const opt of [['--ca', cert], ['--insecure']]) {
    const r = await run(['connect', url, ...opt, '-v'], { input: 'over tls\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^< HTTP\/1\.1 101/m);
    assert.equal(r.stdout, 'over tls\n');
  }
});

test('connect usage errors exit 2', T, async () => {
  for (const args of [
    ['connect'],
    ['connect', 'ftp://x/'],
    ['connect', 'ws://x/', '--bogus'],
    ['connect', 'ws://x/', '-H', 'no colon'],
    ['connect', 'ws://x/', '--auth', 'nocolon'],
    ['connect', 'ws://x/', '--binary', '--base64'],
    ['connect', 'ws://x/', '--cert', 'c.pem'],
    ['connect', 'ws://x/', '--wait', 'soon'],
    ['connect', 'ws://x/', '--proxy', 'socks5://127.0.0.1:1'],
  ]) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^ws13: /);
  }
});
