// Every example in examples/ (the README shows them as they are) run for real on 127.0.0.1:
// started as its own process, as a reader would run it, then checked from outside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { freePort } from './support/ports.js';
import { fileURLToPath } from 'node:url';
import { HandshakeError, WebSocket } from 'ws13';
import { peerTest } from './support/peers-available.js';
import { startRedis, stopRedis } from './support/redis-server.js';

const dir = (name: string): string => fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));


interface Run {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code and everything printed. */
  exited: Promise<{ code: number | null; out: string }>;
}

function run(name: string, env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [dir(name)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; out: string }>((resolve) => child.once('close', (code) => resolve({ code, out })));
  return { child, output: () => out, exited };
}

/** Starts a long-running example and waits until it prints `ready`. */
async function start(name: string, env: Record<string, string>, ready: RegExp): Promise<Run> {
  const r = run(name, env);
  const deadline = Date.now() + 10_000;
  while (!ready.test(r.output())) {
    if (r.child.exitCode !== null) throw new Error(`${name} exited (${r.child.exitCode}) before ready:\n${r.output()}`);
    if (Date.now() > deadline) throw new Error(`${name} printed no ${ready} within 10 s:\n${r.output()}`);
    await new Promise((res) => setTimeout(res, 20));
  }
  return r;
}

async function stop(r: Run): Promise<void> {
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
  await r.exited;
}

const nextMessage = (ws: WebSocket): Promise<unknown> => new Promise((resolve) => ws.once('message', (data) => resolve(data)));

test('examples/server.ts echoes text and binary, offers chat, refuses a foreign Origin; examples/client.ts talks to it', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const server = await start('server', { PORT: String(port) }, /listening on ws:\/\/127\.0\.0\.1:\d+\//);
  try {
    const url = `ws://127.0.0.1:${port}/`;
    const client = await run('client', { URL: url }).exited;
    assert.deepEqual(client, { code: 0, out: 'hello\n' });

    const ws = await WebSocket.connect(url, { protocols: ['chat'] });
    assert.equal(ws.protocol, 'chat');
    ws.send('text');
    assert.equal(await nextMessage(ws), 'text');
    ws.send(Buffer.from([1, 2, 3]));
    assert.deepEqual(await nextMessage(ws), Buffer.from([1, 2, 3]));
    ws.close();

    await assert.rejects(WebSocket.connect(url, { origin: 'https://evil.example' }), (err: unknown) => err instanceof HandshakeError && err.status === 403);
    const ok = await WebSocket.connect(url, { origin: 'https://app.example.com' });
    ok.close();
  } finally {
    await stop(server);
  }
});

test('examples/attached.ts: plain HTTP, a chat on /chat, a price feed on /feed, 404 elsewhere', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const app = await start('attached', { PORT: String(port) }, /listening/);
  try {
    const body = await new Promise<string>((resolve, reject) => {
      http.get(`http://127.0.0.1:${port}/`, (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(s));
      }).on('error', reject);
    });
    assert.equal(body, 'hello');

    const a = await WebSocket.connect(`ws://127.0.0.1:${port}/chat`);
    const b = await WebSocket.connect(`ws://127.0.0.1:${port}/chat`);
    const got: unknown[] = [];
    a.on('message', (d) => got.push(d));
    const toB = nextMessage(b);
    a.send('hi all');
    assert.equal(await toB, 'hi all');

    const feed = await WebSocket.connect(`ws://127.0.0.1:${port}/feed`);
    assert.deepEqual(JSON.parse(String(await nextMessage(feed))), { price: 42 });
    assert.deepEqual(got, [], 'the sender is left out of its own broadcast');
    for (const ws of [a, b, feed]) ws.close();

    await assert.rejects(WebSocket.connect(`ws://127.0.0.1:${port}/other`), (err: unknown) => err instanceof HandshakeError && err.status === 404);
  } finally {
    await stop(app);
  }
});

test('examples/handle-upgrade.ts: 401 without the token, a welcome with it', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const app = await start('handle-upgrade', { PORT: String(port) }, /listening/);
  try {
    const url = `ws://127.0.0.1:${port}/room/1`;
    await assert.rejects(
      WebSocket.connect(url),
      (err: unknown) => err instanceof HandshakeError && err.status === 401 && err.body === 'log in first',
    );
    const ws = new WebSocket(url, [], { headers: { Authorization: 'Bearer let-me-in' } });
    assert.equal(await nextMessage(ws), 'welcome to /room/1');
    ws.close();
  } finally {
    await stop(app);
  }
});

test('examples/compression.ts negotiates permessage-deflate and exits cleanly', { timeout: 30_000 }, async () => {
  const { code, out } = await run('compression').exited;
  assert.equal(code, 0, out);
  assert.equal(out, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover\ngot 2101 characters\ngot 7 characters\n');
});

test('examples/protocol-core.ts drives the core with bytes: a message and the written frames', { timeout: 30_000 }, async () => {
  const { code, out } = await run('protocol-core').exited;
  assert.equal(code, 0, out);
  assert.equal(
    out,
    [
      'message (text): Hello',
      'written: 81 05 | 48 65 6c 6c 6f',
      'shutdown: the host closes the transport now',
      'written: 88 02 | 03 e8',
      'state: closed',
      '',
    ].join('\n'),
  );
});

peerTest(['redis'], 'examples/topics.ts: two processes on one Redis; a message reaches its room on both, not the sender nor other rooms', { timeout: 30_000 }, async () => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  const env = { REDIS_URL: `redis://127.0.0.1:${redisPort}` };
  const [p1, p2] = [await freePort(), await freePort()];
  const apps = [await start('topics', { ...env, PORT: String(p1) }, /listening/), await start('topics', { ...env, PORT: String(p2) }, /listening/)];
  try {
    const a = await WebSocket.connect(`ws://127.0.0.1:${p1}/?room=blue`);
    const b = await WebSocket.connect(`ws://127.0.0.1:${p2}/?room=blue`);
    const c = await WebSocket.connect(`ws://127.0.0.1:${p2}/?room=red`);
    const got: unknown[] = [];
    for (const ws of [a, c]) ws.on('message', (d) => got.push(d));
    // The subscription reaches Redis asynchronously: send until the other process relays.
    let heard: unknown;
    const toB = nextMessage(b).then((d) => (heard = d));
    for (let i = 0; heard === undefined && i < 100; i++) {
      a.send('hello blue');
      await Promise.race([toB, new Promise((r) => setTimeout(r, 50))]);
    }
    assert.equal(heard, 'hello blue');
    b.send(Buffer.from([1, 2, 3]));
    assert.deepEqual(await nextMessage(a), Buffer.from([1, 2, 3]));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, [Buffer.from([1, 2, 3])], "a got b's message and not its own; c (red) got nothing");
    for (const ws of [a, b, c]) ws.close();
  } finally {
    await Promise.all(apps.map(stop));
    await stopRedis(redis);
  }
});

test('README.md and docs/API.md show the examples exactly as they are in examples/', async () => {
  const { readFile, readdir } = await import('node:fs/promises');
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const readme = await readFile(`${root}README.md`, 'utf8');
  const api = await readFile(`${root}docs/API.md`, 'utf8');
  const names = (await readdir(`${root}examples`)).filter((f) => f.endsWith('.ts'));
  assert.ok(names.length >= 6, names.join(', '));
  for (const name of names) {
    const block = '```ts\n' + (await readFile(`${root}examples/${name}`, 'utf8')) + '```';
    const doc = name === 'protocol-core.ts' ? api : readme;
    assert.ok(doc.includes(block), `${name === 'protocol-core.ts' ? 'docs/API.md' : 'README.md'} lacks examples/${name} as it is`);
  }
});
