// The ws13 command-line tool, run as a child process.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HandshakeError, WebSocket } from '../../src/node/index.js';
import { next, within } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const T = { timeout: 10_000 };

const children: ChildProcess[] = [];
const sockets: WebSocket[] = [];
after(async () => {
  for (const s of sockets) s.terminate();
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => {
            c.kill('SIGKILL');
            resolve();
          }, 2000);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
});

/** Runs the CLI to completion. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return within(
    new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr }))),
    8000,
    `ws13 ${args.join(' ')}`,
  );
}

/** Starts `ws13 serve ...` and resolves the URL it prints. */
async function serve(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  const url = await within(
    new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (c) => {
        out += c;
        const m = /listening on (ws:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`ws13 serve exited with ${code}: ${out}`)));
    }),
    5000,
    'the serve URL',
  );
  return { child, url };
}

test('ws13 accept prints the RFC 6455 sample accept value', T, async () => {
  const r = await run(['accept', 'dGhlIHNhbXBsZSBub25jZQ==']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n');
  assert.equal(r.stderr, '');
});

test('ws13 key prints base64 of 16 random bytes', T, async () => {
  const [a, b] = await Promise.all([run(['key']), run(['key'])]);
  for (const r of [a, b]) {
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^[A-Za-z0-9+/]{22}==\n$/);
    assert.equal(Buffer.from(r.stdout.trim(), 'base64').length, 16);
  }
  assert.notEqual(a.stdout, b.stdout);
});

test('ws13 serve --port 0 --protocols chat: prints its URL and echoes with protocol chat', T, async () => {
  const { url } = await serve(['--port', '0', '--protocols', 'chat']);
  assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/$/);
  assert.notEqual(url, 'ws://127.0.0.1:0/');
  const ws = await within(WebSocket.connect(url, { protocols: ['chat'], closeTimeout: 300 }), 3000, 'connect');
  sockets.push(ws);
  assert.equal(ws.protocol, 'chat');
  const text = next<[unknown, boolean]>(ws, 'message');
  ws.send('echo me ✓');
  assert.deepEqual(await text, ['echo me ✓', false]);
  const bin = next<[unknown, boolean]>(ws, 'message');
  ws.send(Buffer.from([9, 8, 7]));
  const [data, isBinary] = await bin;
  assert.equal(isBinary, true);
  assert.deepEqual([...(data as Buffer)], [9, 8, 7]);
  const closed = next<[number]>(ws, 'close');
  ws.close(1000);
  assert.equal((await closed)[0], 1000);
});

test('ws13 serve --origins refuses another origin with 403', T, async () => {
  const { url } = await serve(['--port', '0', '--origins', 'https://a.example']);
  const err = await WebSocket.connect(url, { origin: 'https://b.example' }).then(
    () => assert.fail('connected'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof HandshakeError);
  assert.equal(err.status, 403);
  assert.equal(err.code, 'WS_ERR_HANDSHAKE_STATUS');
  const ok = await within(WebSocket.connect(url, { origin: 'https://a.example', closeTimeout: 300 }), 3000, 'connect');
  sockets.push(ok);
  assert.equal(ok.readyState, WebSocket.OPEN);
});

test('ws13 serve stops on SIGTERM, closing clients with 1001', T, async () => {
  const { child, url } = await serve(['--port', '0']);
  const ws = await within(WebSocket.connect(url, { closeTimeout: 300 }), 3000, 'connect');
  sockets.push(ws);
  const closed = next<[number]>(ws, 'close', 5000);
  const exited = within(new Promise<number | null>((r) => child.once('exit', (code) => r(code))), 5000, 'exit');
  child.kill('SIGTERM');
  assert.equal((await closed)[0], 1001);
  assert.equal(await exited, 0);
});

test('--help exits 0 with usage; an unknown command exits 2', T, async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: ws13 <command>/);
  assert.match(help.stdout, /serve/);
  const serveHelp = await run(['serve', '--help']);
  assert.equal(serveHelp.code, 0);
  assert.match(serveHelp.stdout, /--protocols/);
  const bad = await run(['frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command: frobnicate/);
  assert.equal(bad.stdout, '');
  const badOpt = await run(['serve', '--no-such-option']);
  assert.equal(badOpt.code, 2);
});
