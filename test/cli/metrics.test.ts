// ws13 serve --metrics: real traffic against the served process, then a scrape over HTTP,
// parsed as the Prometheus text exposition format (0.0.4) and checked value by value. With
// --workers, a real primary and real workers: the primary answers each scrape with every
// worker's numbers (labelled worker="N"), and reports a stopped worker instead of waiting.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, test } from 'node:test';
import WsClient from 'ws';
import { HandshakeError, WebSocket } from '../../src/node/index.js';
import { clusterPrometheusText, prometheusText } from '../../src/cli/metrics.js';
import { WORKER_STATS_TIMEOUT_MS } from '../../src/cli/serve-cluster.js';
import { freePort } from '../support/ports.js';
import { killServes, serve as serveN, until, warmUp, type Served } from '../support/ws13-serve.js';
import { CLI, cleanup, run, serve } from './helpers.js';
import { get, metricsUrl, parse, scrape, sum, value, type Family } from '../support/prometheus.js';

const T = { timeout: 30_000 };
after(cleanup);
after(killServes);

test('--metrics PORT: the scrape parses as the Prometheus text format and counts the traffic', T, async () => {
  const { url, output } = await serve(['--metrics', '0', '--origins', 'https://good.example']);
  const m = /Metrics \(Prometheus\) at (http:\/\/\S+)/.exec(output());
  assert.ok(m, output());
  const metricsUrl = m[1]!;

  const before = parse((await get(metricsUrl)).body);
  assert.equal(value(before, 'ws13_connections'), 0);
  assert.equal(value(before, 'ws13_messages_received_total'), 0);

  const a = await WebSocket.connect(url);
  const b = await WebSocket.connect(url);
  for (const ws of [a, b]) {
    const echo = new Promise((r) => ws.once('message', r));
    ws.send('ping me');
    await echo;
  }
  const refused = await WebSocket.connect(url, { origin: 'https://evil.example' }).catch((e: unknown) => e);
  assert.equal((refused as HandshakeError).status, 403);
  const closed = new Promise((r) => b.once('close', r));
  b.close(1000);
  await closed;

  // b's close is counted once the server's side of it is done too: scrape until it is.
  let res = await get(metricsUrl);
  for (let i = 0; i < 100 && value(parse(res.body), 'ws13_connections') !== 1; i++) {
    await new Promise((r) => setTimeout(r, 20));
    res = await get(metricsUrl);
  }
  assert.equal(res.status, 200);
  assert.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8');
  const f = parse(res.body);
  assert.equal(f.get('ws13_connections')!.type, 'gauge');
  assert.equal(value(f, 'ws13_connections'), 1);
  assert.equal(value(f, 'ws13_connections_opened_total'), 2);
  assert.equal(value(f, 'ws13_connections_closed_total', '{code="1000"}'), 1);
  assert.equal(value(f, 'ws13_handshake_refusals_total', '{status="403"}'), 1);
  assert.equal(value(f, 'ws13_messages_received_total'), 2);
  assert.equal(value(f, 'ws13_messages_sent_total'), 2);
  assert.ok(value(f, 'ws13_received_bytes_total')! >= 2 * (2 + 4 + 7), 'two masked 7-byte frames at least');
  assert.ok(value(f, 'ws13_sent_bytes_total')! >= 2 * (2 + 7));
  assert.equal(value(f, 'ws13_backpressure_total', '{kind="read-paused"}'), 0);
  assert.equal(value(f, 'ws13_broker_errors_total'), 0);

  assert.equal((await get(metricsUrl.replace('/metrics', '/other'))).status, 404);
  assert.equal((await get(metricsUrl, 'POST')).status, 405);
  a.terminate();
});

test('-q with --metrics: stdout holds the URL alone; the metrics address goes to stderr', T, async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '-q', '--metrics', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    for (let i = 0; i < 500 && !(out.includes('\n') && err.includes('/metrics\n')); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, /^ws:\/\/127\.0\.0\.1:\d+\/\n$/);
    const m = /^Metrics \(Prometheus\) at (http:\/\/\S+)\n$/.exec(err);
    assert.ok(m, err);
    const res = await get(m[1]!);
    assert.equal(res.status, 200);
    assert.equal(value(parse(res.body), 'ws13_connections'), 0);
  } finally {
    child.kill();
  }
});

test('--metrics takes a port number', T, async () => {
  const r = await run(['serve', '--metrics', 'x']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid --metrics/);
});

function prometheusStatsFixture(): Parameters<typeof prometheusText>[0] {
  return {
    connections: 0, connectionsTotal: 0, topics: 0, subscribers: 0, subscriptions: 0, messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0,
    closeCodes: {}, refusals: {},
    backpressure: { 'read-paused': 0, 'broadcast-skip': 0, 'broadcast-close': 0 },
    publish: { calls: 0, unheard: 0, framesBuilt: 0 }, broker: { errors: 0, ignored: 0, dropped: 0 },
  };
}

test('label values are escaped as the format requires', () => {
  const text = prometheusText({ ...prometheusStatsFixture(), refusals: { 'a"b\\c': 1 } });
  assert.match(text, /^ws13_handshake_refusals_total\{status="a\\"b\\\\c"\} 1$/m);
  parse(text);
});

/** The slot ("1"…) of each worker pid, from ws13_worker_info{worker,pid}. */
function slots(f: Map<string, Family>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [labels, v] of f.get('ws13_worker_info')!.samples) {
    const m = /^\{worker="(\d+)",pid="(\d+)"\}$/.exec(labels);
    assert.ok(m && v === 1, labels);
    out.set(Number(m[2]), m[1]!);
  }
  return out;
}

interface Client {
  ws: WsClient;
  pid: number;
  got: string[];
  closed: Promise<number>;
}

/** A client, and the pid of the worker that took it (from that worker's log line). */
async function connect(s: Served, port: number, origin = 'https://good.example'): Promise<Client> {
  const ws = new WsClient(`ws://127.0.0.1:${port}/`, { origin });
  let localPort = 0;
  ws.once('upgrade', (res) => (localPort = res.socket.localPort!));
  const got: string[] = [];
  ws.on('message', (d) => got.push(String(d)));
  ws.on('error', () => {});
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const re = new RegExp(`\\[pid (\\d+)\\] \\+ 127\\.0\\.0\\.1:${localPort}\\b`);
  await until(() => re.test(s.out()), 10_000, `the log line of port ${localPort}`);
  return { ws, pid: Number(re.exec(s.out())![1]), got, closed };
}

test('--workers 2 --metrics: the primary answers each scrape with both workers\' numbers, labelled worker="N", and the relay\'s', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const s = await serveN(['--workers', '2', '--broadcast', '--metrics', '0', '--origins', 'https://good.example', '--port', String(port)], 2);
  const url = metricsUrl(s);
  const empty = await scrape(url);
  assert.equal(value(empty, 'ws13_workers'), 2);
  assert.equal(value(empty, 'ws13_worker_up', '{worker="1"}'), 1);
  assert.equal(value(empty, 'ws13_worker_up', '{worker="2"}'), 1);
  assert.equal(value(empty, 'ws13_worker_restarts_total'), 0);
  const slotOf = slots(empty);
  assert.equal(slotOf.size, 2);

  // Clients until both workers have some (the primary deals connections out in turn).
  const clients: Client[] = [];
  while (new Set(clients.map((c) => c.pid)).size < 2 || clients.length < 4) {
    if (clients.length >= 20) assert.fail('20 clients, all on one worker');
    clients.push(await connect(s, port));
  }
  const on = (pid: number): Client[] => clients.filter((c) => c.pid === pid);
  const [pidA, pidB] = [...slotOf.keys()] as [number, number];
  await warmUp((m) => clients[0]!.ws.send(m), clients);
  const refused = await connect(s, port, 'https://evil.example').catch((e: Error) => e);
  assert.match(String(refused), /403/);

  const before = await scrape(url);
  for (const pid of [pidA, pidB]) {
    const slot = slotOf.get(pid)!;
    assert.equal(value(before, 'ws13_connections', `{worker="${slot}"}`), on(pid).length, `worker ${slot} (pid ${pid})`);
    assert.equal(value(before, 'ws13_subscribers', `{worker="${slot}"}`), on(pid).length, 'each client in the broadcast topic');
    assert.equal(value(before, 'ws13_topics', `{worker="${slot}"}`), 1);
  }
  assert.equal(sum(before, 'ws13_connections'), clients.length, 'sum() over the workers is the total');
  assert.equal(sum(before, 'ws13_handshake_refusals_total', undefined, 'status="403"'), 1, 'the refusal, on one worker');
  assert.equal(value(before, 'ws13_relay_topics'), 1, 'one topic across the workers');

  // One broadcast from a client of worker A: one message in and one publish there, a delivery
  // to every client, one relay to worker B.
  const sender = on(pidA)[0]!;
  sender.ws.send('to everyone');
  await until(() => clients.every((c) => c.got.length === 1), 10_000, 'the broadcast on every client');
  // Two clients leave (of worker B where it has two), with 1000 and 4001.
  const [b1, b2] = on(pidB).length >= 2 ? on(pidB) : [on(pidB)[0]!, on(pidA)[1]!];
  b1!.ws.close(1000);
  b2!.ws.close(4001, 'bye');
  await Promise.all([b1!.closed, b2!.closed]);
  let after = await scrape(url);
  for (let i = 0; i < 100 && sum(after, 'ws13_connections') !== clients.length - 2; i++) {
    await new Promise((r) => setTimeout(r, 20));
    after = await scrape(url);
  }
  const delta = (name: string, pid?: number, extra = ''): number => {
    const slot = pid === undefined ? undefined : slotOf.get(pid)!;
    return sum(after, name, slot, extra) - sum(before, name, slot, extra);
  };
  assert.equal(delta('ws13_messages_received_total', pidA), 1);
  assert.equal(delta('ws13_messages_received_total', pidB), 0);
  assert.equal(delta('ws13_publishes_total', pidA), 1);
  assert.equal(delta('ws13_publishes_total', pidB), 0);
  assert.equal(delta('ws13_messages_sent_total', pidA), on(pidA).length);
  assert.equal(delta('ws13_messages_sent_total', pidB), on(pidB).length);
  assert.equal(value(after, 'ws13_relay_forwarded_total')! - value(before, 'ws13_relay_forwarded_total')!, 1, 'relayed to the one other worker');
  assert.equal(delta('ws13_connections'), -2);
  assert.equal(delta('ws13_connections_closed_total', undefined, 'code="1000"'), 1);
  assert.equal(delta('ws13_connections_closed_total', undefined, 'code="4001"'), 1);
  assert.equal(value(after, 'ws13_relay_dropped_total'), 0);
  for (const c of clients) c.ws.terminate();
});

test('--workers 2 --metrics: a stopped worker is reported down within the timeout, not waited on; a killed one is replaced in its slot', { timeout: 90_000 }, async () => {
  const s = await serveN(['--workers', '2', '--metrics', '0', '--port', String(await freePort())], 2);
  const url = metricsUrl(s);
  const slotOf = slots(await scrape(url));
  const [pidA, pidB] = [...slotOf.keys()] as [number, number];
  const [slotA, slotB] = [slotOf.get(pidA)!, slotOf.get(pidB)!];

  process.kill(pidA, 'SIGSTOP');
  try {
    const t0 = Date.now();
    const f = await scrape(url);
    const took = Date.now() - t0;
    assert.ok(took >= WORKER_STATS_TIMEOUT_MS - 50 && took < WORKER_STATS_TIMEOUT_MS + 5000, `answered after ${took} ms`);
    assert.equal(value(f, 'ws13_worker_up', `{worker="${slotA}"}`), 0);
    assert.equal(value(f, 'ws13_worker_up', `{worker="${slotB}"}`), 1);
    assert.equal(value(f, 'ws13_connections', `{worker="${slotA}"}`), undefined, 'no numbers for the stopped worker');
    assert.equal(value(f, 'ws13_connections', `{worker="${slotB}"}`), 0);
  } finally {
    process.kill(pidA, 'SIGCONT');
  }
  const back = await scrape(url);
  assert.equal(value(back, 'ws13_worker_up', `{worker="${slotA}"}`), 1, 'answers again once resumed');

  process.kill(pidB, 'SIGKILL');
  await until(() => s.count(/listening on/) === 3, 30_000, 'the replacement to listen');
  let f = await scrape(url);
  for (let i = 0; i < 100 && value(f, 'ws13_worker_up', `{worker="${slotB}"}`) !== 1; i++) {
    await new Promise((r) => setTimeout(r, 50));
    f = await scrape(url);
  }
  assert.equal(value(f, 'ws13_worker_restarts_total'), 1);
  assert.equal(value(f, 'ws13_worker_up', `{worker="${slotB}"}`), 1);
  const now = slots(f);
  assert.equal(now.get(pidA), slotA);
  assert.ok(!now.has(pidB));
  assert.equal([...now.values()].filter((v) => v === slotB).length, 1, 'the replacement took the slot');
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});

test('--workers with a --metrics port already taken: exit 1 naming it, before any worker starts', T, async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  try {
    const port = (taken.address() as net.AddressInfo).port;
    const r = await run(['serve', '--workers', '2', '--port', '0', '--metrics', String(port)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot listen for --metrics on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    assert.doesNotMatch(r.stdout, /listening on/);
  } finally {
    taken.close();
  }
});

test('a cluster scrape renders every worker with its label, a silent one as down, and parses', () => {
  const stats = prometheusStatsFixture();
  const text = clusterPrometheusText({
    workers: [{ worker: 1, pid: 100, stats: { ...stats, connections: 3, closeCodes: { 1000: 2 } } }, { worker: 2, pid: 101, stats: undefined }, { worker: 3, stats: undefined }],
    restarts: 2,
  });
  const f = parse(text);
  assert.equal(value(f, 'ws13_workers'), 3);
  assert.equal(value(f, 'ws13_worker_up', '{worker="1"}'), 1);
  assert.equal(value(f, 'ws13_worker_up', '{worker="2"}'), 0);
  assert.equal(value(f, 'ws13_worker_up', '{worker="3"}'), 0);
  assert.equal(f.get('ws13_worker_info')!.samples.size, 2, 'no process in slot 3');
  assert.equal(value(f, 'ws13_connections', '{worker="1"}'), 3);
  assert.equal(f.get('ws13_connections')!.samples.size, 1);
  assert.equal(value(f, 'ws13_connections_closed_total', '{worker="1",code="1000"}'), 2);
  assert.equal(value(f, 'ws13_worker_restarts_total'), 2);
  assert.equal(f.get('ws13_relay_forwarded_total'), undefined, 'no relay with --redis');
});
