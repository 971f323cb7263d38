// `ws13 serve --workers N` as a user runs it: a real primary and real workers on one port,
// clients from the `ws` package. Which worker a client is on comes from the workers' logs
// ([pid P] + address:port). Broadcasts cross workers; a worker killed is replaced while the
// others serve; SIGHUP replaces the workers one by one (clients closed with 1012) without the
// port going dark; SIGTERM stops everything (1001). With --redis, a publish crosses from a
// cluster to a separate process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test, after } from 'node:test';
import { createClient } from 'redis';
import WsClient from 'ws';
import { peerTest } from '../support/peers-available.js';
import { freePort } from '../support/ports.js';
import { startRedis, stopRedis } from '../support/redis-server.js';
import { within } from '../node/helpers.js';
import { CLI, killServes, serve, sleep, until, warmUp, type Served } from '../support/ws13-serve.js';

const T = { timeout: 90_000 };
after(killServes);

interface Client {
  ws: WsClient;
  pid: number;
  got: string[];
  closed: Promise<number>;
}

/** A client, and the pid of the worker that took it (from that worker's log line). */
async function connect(s: Served, port: number): Promise<Client> {
  const ws = new WsClient(`ws://127.0.0.1:${port}/`);
  let localPort = 0;
  ws.once('upgrade', (res) => (localPort = res.socket.localPort!));
  const got: string[] = [];
  ws.on('message', (d, bin) => got.push(bin ? `bin:${(d as Buffer).toString('hex')}` : String(d)));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.on('error', () => {});
  await within(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 10_000, 'a connection');
  const re = new RegExp(`\\[pid (\\d+)\\] \\+ 127\\.0\\.0\\.1:${localPort}\\b`);
  await until(() => re.test(s.out()), 10_000, `the log line of port ${localPort}`);
  return { ws, pid: Number(re.exec(s.out())![1]), got, closed };
}

/** Clients until at least one sits on each of `n` distinct workers (round robin spreads them). */
async function spread(s: Served, port: number, n: number): Promise<Client[]> {
  const all: Client[] = [];
  while (new Set(all.map((c) => c.pid)).size < n) {
    if (all.length >= 20) assert.fail(`20 clients all on ${[...new Set(all.map((c) => c.pid))]}`);
    all.push(await connect(s, port));
  }
  return all;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('--workers 2 --broadcast: a message reaches the clients of both workers; a killed worker is replaced while the other serves', T, async () => {
  const port = await freePort();
  const s = await serve(['--workers', '2', '--broadcast', '--port', String(port)], 2);
  const clients = await spread(s, port, 2);
  const [p1, p2] = [...new Set(clients.map((c) => c.pid))] as [number, number];
  const from = clients.find((c) => c.pid === p1)!;
  await warmUp((m) => from.ws.send(m), clients);
  from.ws.send('héllo');
  from.ws.send(Buffer.from([0, 1, 254, 255]));
  await until(() => clients.every((c) => c.got.length === 2), 10_000, 'both messages on every client');
  for (const c of clients) assert.deepEqual(c.got, ['héllo', 'bin:0001feff'], `client on pid ${c.pid}`);

  // SIGKILL one worker: its clients are cut (1006), the other worker's stay and still hear.
  process.kill(p1, 'SIGKILL');
  const cut = clients.filter((c) => c.pid === p1);
  const kept = clients.filter((c) => c.pid === p2);
  for (const c of cut) assert.equal(await c.closed, 1006);
  await until(() => s.count(new RegExp(`worker ${p1} exited \\(SIGKILL\\): starting another`)) === 1, 10_000, 'the primary to notice');
  await until(() => s.count(/listening on/) === 3, 30_000, 'the replacement to listen');
  // The replacement takes clients, and a broadcast from the survivor reaches them.
  const fresh = await spread(s, port, 2);
  assert.ok(fresh.some((c) => c.pid !== p2 && c.pid !== p1), 'a client on the replacement');
  const everyone = [...kept, ...fresh];
  await warmUp((m) => kept[0]!.ws.send(m), everyone);
  kept[0]!.ws.send('after');
  await until(() => everyone.every((c) => c.got.at(-1) === 'after'), 10_000, "the survivor's broadcast everywhere");
  for (const c of kept) assert.equal(c.ws.readyState, WsClient.OPEN);

  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  for (const c of everyone) assert.equal(await c.closed, 1001);
});

test('SIGHUP restarts the workers one by one: clients closed with 1012, connections taken throughout; SIGTERM stops all with 1001', T, async () => {
  const port = await freePort();
  const s = await serve(['--workers', '2', '--port', String(port)], 2);
  const before = await spread(s, port, 2);
  const oldPids = new Set(before.map((c) => c.pid));

  // Keep connecting (echo round trips) while the primary rolls the workers.
  let rolling = true;
  let dialed = 0;
  const failures: string[] = [];
  const dialer = (async () => {
    while (rolling) {
      try {
        const c = await connect(s, port);
        c.ws.send('ping');
        await until(() => c.got.length === 1 || c.ws.readyState !== WsClient.OPEN, 10_000, 'an echo');
        // A client that landed on a worker as it was retired is closed with 1012, not lost.
        if (c.got[0] !== 'ping' && (await c.closed) !== 1012) failures.push(`no echo, closed ${await c.closed}`);
        c.ws.close();
        dialed++;
      } catch (err) {
        failures.push((err as Error).message);
      }
      await sleep(20);
    }
  })();
  s.child.kill('SIGHUP');
  for (const c of before) assert.equal(await c.closed, 1012, `client on pid ${c.pid}`);
  await until(() => s.out().includes('rolling restart done'), 30_000, 'the rolling restart');
  rolling = false;
  await dialer;
  assert.deepEqual(failures, [], 'every connection during the roll was served');
  assert.ok(dialed >= 1, `connections during the roll: ${dialed}`);
  for (const pid of oldPids) await until(() => !alive(pid), 10_000, `old worker ${pid} to exit`);

  const now = await spread(s, port, 2);
  for (const c of now) assert.ok(!oldPids.has(c.pid), 'served by a new worker');
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  for (const c of now) assert.equal(await c.closed, 1001);
  for (const pid of new Set(now.map((c) => c.pid))) await until(() => !alive(pid), 10_000, `worker ${pid} to exit`);
});

peerTest(['redis'], '--workers 2 --redis: a broadcast crosses from a cluster to a separate process through Redis', T, async () => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  const url = `redis://127.0.0.1:${redisPort}`;
  try {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await serve(['--workers', '2', '--broadcast', '--redis', url, '--port', String(pa)], 2);
    const b = await serve(['--broadcast', '--redis', url, '--port', String(pb), '--heartbeat', '0'], 1);
    const onA = await spread(a, pa, 2);
    const onB = await new Promise<Client>((resolve, reject) => {
      // b is not a worker: no [pid] in its log, so connect without looking for one.
      const ws = new WsClient(`ws://127.0.0.1:${pb}/`);
      const got: string[] = [];
      ws.on('message', (d) => got.push(String(d)));
      ws.once('open', () => resolve({ ws, pid: 0, got, closed: new Promise((r) => ws.once('close', r)) }));
      ws.once('error', reject);
    });
    // Every process's subscription has reached Redis: the two workers and b.
    const admin = createClient({ url });
    await admin.connect();
    const subscribed = async (): Promise<void> => {
      for (;;) {
        const [, n] = (await admin.sendCommand(['PUBSUB', 'NUMSUB', 'ws13:broadcast'])) as [string, number];
        if (Number(n) === 3) return;
        await sleep(20);
      }
    };
    await within(subscribed(), 10_000, 'three subscribers of ws13:broadcast in Redis');
    await admin.close();
    onB.ws.send('from b');
    onA[0]!.ws.send('from a');
    const everyone = [...onA, onB];
    await until(() => everyone.every((c) => c.got.length === 2), 10_000, 'both messages everywhere');
    for (const c of everyone) assert.deepEqual([...c.got].sort(), ['from a', 'from b']);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
    assert.equal(await b.exited, 0);
  } finally {
    await stopRedis(redis);
  }
});

test('bad scale options: usage errors (2); Redis unreachable at start: 1, with --workers too', T, async () => {
  const run = async (args: string[]) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c) => (err += c));
    const code = await within(new Promise<number | null>((r) => child.once('exit', r)), 20_000, `ws13 serve ${args.join(' ')}`);
    return { code, err };
  };
  for (const [bad, why] of [
    [['--workers', '0'], /invalid --workers/],
    [['--workers', 'two'], /invalid --workers/],
    [['--redis-sharded'], /--redis-sharded needs --redis/],
    [['--redis-cluster'], /--redis-cluster needs --redis/],
  ] as const) {
    const r = await run([...bad]);
    assert.equal(r.code, 2, bad.join(' '));
    assert.match(r.err, why);
  }
  const closed = await freePort();
  const r = await run(['--redis', `redis://127.0.0.1:${closed}`]);
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot use Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  // With --workers, a worker that cannot start ends the service (no restart loop).
  const w = await run(['--workers', '2', '--redis', `redis://127.0.0.1:${closed}`]);
  assert.equal(w.code, 1);
  assert.match(w.err, /cannot use Redis at .*ECONNREFUSED/);
  assert.match(w.err, /a worker failed to start \(exit code 1\): stopping/);
});
