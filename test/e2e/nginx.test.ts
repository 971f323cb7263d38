// ws13 behind a real nginx (Debian's), configured as a WebSocket needs it (HTTP/1.1 to the
// upstream, Upgrade and Connection passed on, proxy_read_timeout 3 s), in front of several
// `ws13 serve` processes, with clients from the `ws` package:
// - handshake, echo (text, binary, a large message) and permessage-deflate through nginx,
//   nginx spreading the connections over two processes;
// - an idle connection kept past proxy_read_timeout by ws13's heartbeat, and one cut by
//   nginx when the backend has none;
// - a broadcast from a client of one process reaching clients of another through nginx:
//   a --workers 2 cluster (the primary's broker), and two separate processes over Redis;
// - TLS terminated by nginx: wss:// to nginx (certificate checked), ws:// to ws13.
// Each ws13 process runs with --metrics, and its scrapes must count what the test did there:
// connections open, messages in and out, bytes (compressed), close codes, publishes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after } from 'node:test';
import { createClient } from 'redis';
import WsClient from 'ws';
import { peerTest } from '../support/peers-available.js';
import { freePort } from '../support/ports.js';
import { startNginx, websocketProxy, type Nginx } from '../support/nginx.js';
import { startRedis, stopRedis } from '../support/redis-server.js';
import { killServes, serve, sleep, until, warmUp } from '../support/ws13-serve.js';
import { metricsUrl, scrape, sum, value, type Family } from '../support/prometheus.js';
import { selfSigned } from '../cli/helpers.js';

const T = { timeout: 90_000 };
/** nginx closes an upgraded connection after this long without a read from the upstream. */
const READ_TIMEOUT_S = 3;
after(killServes);

interface Client {
  ws: WsClient;
  got: Array<string | Buffer>;
  closed: Promise<number>;
}

async function connect(url: string, options: WsClient.ClientOptions = {}): Promise<Client> {
  const ws = new WsClient(url, options);
  const got: Array<string | Buffer> = [];
  ws.on('message', (d, bin) => got.push(bin ? (d as Buffer) : String(d)));
  ws.on('error', () => {});
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return { ws, got, closed };
}

/** Scrapes `url` until `ready(metrics)` (a close is counted once the server's side of it is done). */
async function scrapeUntil(url: string, ready: (f: Map<string, Family>) => boolean): Promise<Map<string, Family>> {
  let f = await scrape(url);
  for (let i = 0; i < 200 && !ready(f); i++) {
    await sleep(25);
    f = await scrape(url);
  }
  return f;
}

async function roundTrip(c: Client, data: string | Buffer): Promise<string | Buffer> {
  const n = c.got.length;
  c.ws.send(data);
  await until(() => c.got.length > n, 10_000, 'an echo');
  return c.got[n]!;
}

peerTest(['nginx'], 'through nginx: handshake, echo and permessage-deflate over two ws13 processes; the heartbeat keeps an idle connection past proxy_read_timeout, and without it nginx cuts it', T, async () => {
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  // Heartbeat every 500 ms: a ping at least every second, well inside the 3 s timeout.
  const a = await serve(['--deflate', '--heartbeat', '500', '--metrics', '0', '--port', String(p1)]);
  const b = await serve(['--deflate', '--heartbeat', '500', '--metrics', '0', '--port', String(p2)]);
  const c3 = await serve(['--deflate', '--heartbeat', '0', '--metrics', '0', '--port', String(p3)]);
  let nginx: Nginx | undefined;
  try {
    nginx = await startNginx(`
  upstream ws13 { server 127.0.0.1:${p1}; server 127.0.0.1:${p2}; }
  upstream silent { server 127.0.0.1:${p3}; }
  server {
    listen PORT;
    location / {${websocketProxy('ws13', `${READ_TIMEOUT_S}s`)}
    }
    location /no-heartbeat {${websocketProxy('silent', `${READ_TIMEOUT_S}s`)}
    }
  }`);
    const base = `ws://127.0.0.1:${nginx.port}`;

    // Four connections: nginx's round robin gives each process some.
    const clients: Client[] = [];
    for (let i = 0; i < 4; i++) clients.push(await connect(`${base}/echo`));
    const plusA = (): number => a.count(/\+ 127\.0\.0\.1:/g);
    const plusB = (): number => b.count(/\+ 127\.0\.0\.1:/g);
    await until(() => plusA() + plusB() === 4, 5000, 'four connections logged');
    assert.ok(plusA() > 0 && plusB() > 0, `nginx spread the connections (${plusA()} and ${plusB()})`);

    const big = Buffer.from('a compressible line of text\n'.repeat(20_000));
    for (const c of clients) {
      // permessage-deflate negotiated end to end through the proxy.
      assert.match(c.ws.extensions, /^permessage-deflate/);
      assert.equal(await roundTrip(c, 'héllo through nginx'), 'héllo through nginx');
      const bin = Buffer.from([0, 1, 2, 253, 254, 255]);
      assert.deepEqual(await roundTrip(c, bin), bin);
      assert.deepEqual(await roundTrip(c, big), big);
    }
    // The compressed frames crossed nginx (the server logs the agreement).
    assert.match(a.out() + b.out(), /permessage-deflate/);

    // Each process's scrape counts its own share: three messages each way per client.
    for (const [s, n] of [[a, plusA()], [b, plusB()]] as const) {
      const f = await scrape(metricsUrl(s));
      assert.equal(value(f, 'ws13_connections'), n);
      assert.equal(value(f, 'ws13_connections_opened_total'), n);
      assert.equal(value(f, 'ws13_messages_received_total'), 3 * n);
      assert.equal(value(f, 'ws13_messages_sent_total'), 3 * n);
      // Compressed on the wire both ways: far fewer bytes than the 560 kB message alone.
      assert.ok(value(f, 'ws13_received_bytes_total')! < (n * big.length) / 10, `received ${value(f, 'ws13_received_bytes_total')} bytes for ${n} clients`);
      assert.ok(value(f, 'ws13_sent_bytes_total')! < (n * big.length) / 10);
      assert.ok(value(f, 'ws13_received_bytes_total')! > 0);
      assert.equal(sum(f, 'ws13_connections_closed_total'), 0);
      assert.equal(sum(f, 'ws13_handshake_refusals_total'), 0);
    }

    // Idle for more than twice proxy_read_timeout: the heartbeat's pings keep it open.
    const idle = clients[0]!;
    const silent = await connect(`${base}/no-heartbeat`);
    const t0 = Date.now();
    const silentCode = await Promise.race([silent.closed, sleep(15_000).then(() => -1)]);
    const cutAfter = Date.now() - t0;
    assert.equal(silentCode, 1006, 'nginx cut the idle connection to the backend without a heartbeat');
    // Not at once (t0 is taken after the client saw the 101, which a loaded machine can delay
    // by hundreds of ms after nginx started its timer); why it was cut is in nginx's log below.
    assert.ok(cutAfter >= (READ_TIMEOUT_S * 1000) / 2, `cut after ${cutAfter} ms, not at once`);
    await sleep(Math.max(0, READ_TIMEOUT_S * 2500 - (Date.now() - t0)));
    assert.equal(idle.ws.readyState, WsClient.OPEN, 'the heartbeat kept it open');
    assert.equal(await roundTrip(idle, 'still here'), 'still here');
    assert.match(nginx.errorLog(), /upstream timed out/, "nginx's own account of the cut");
    // The process without a heartbeat saw its one connection end without a close frame.
    const cut = await scrapeUntil(metricsUrl(c3), (f) => value(f, 'ws13_connections') === 0);
    assert.equal(value(cut, 'ws13_connections'), 0);
    assert.equal(value(cut, 'ws13_connections_opened_total'), 1);
    assert.equal(value(cut, 'ws13_connections_closed_total', '{code="1006"}'), 1);
    assert.equal(sum(cut, 'ws13_connections_closed_total'), 1);

    // Clients leave with 1000 and 4000 (two each), through nginx to their processes.
    await Promise.all(clients.map((c, i) => (c.ws.close(i % 2 ? 4000 : 1000), c.closed)));
    const [fa, fb] = await Promise.all([a, b].map((s) => scrapeUntil(metricsUrl(s), (f) => value(f, 'ws13_connections') === 0)));
    const closed = (code: number): number => sum(fa!, 'ws13_connections_closed_total', undefined, `code="${code}"`) + sum(fb!, 'ws13_connections_closed_total', undefined, `code="${code}"`);
    assert.equal(value(fa!, 'ws13_connections')! + value(fb!, 'ws13_connections')!, 0);
    assert.equal(closed(1000), 2);
    assert.equal(closed(4000), 2);
    assert.equal(sum(fa!, 'ws13_connections_closed_total') + sum(fb!, 'ws13_connections_closed_total'), 4);
    // The idle client's last round trip: one more message each way, on its process.
    assert.equal(value(fa!, 'ws13_messages_received_total')! + value(fb!, 'ws13_messages_received_total')!, 13);
    assert.equal(value(fa!, 'ws13_messages_sent_total')! + value(fb!, 'ws13_messages_sent_total')!, 13);
  } finally {
    await nginx?.stop();
  }
});

peerTest(['nginx'], 'through nginx to a --workers 2 cluster: a broadcast from one client reaches the clients on both workers', T, async () => {
  const port = await freePort();
  const s = await serve(['--workers', '2', '--broadcast', '--metrics', '0', '--port', String(port)], 2);
  let nginx: Nginx | undefined;
  try {
    nginx = await startNginx(`
  upstream ws13 { server 127.0.0.1:${port}; }
  server {
    listen PORT;
    location / {${websocketProxy('ws13', '60s')}
    }
  }`);
    const clients: Client[] = [];
    const pids = (): Set<string> => new Set([...s.out().matchAll(/\[pid (\d+)\] \+ /g)].map((m) => m[1]!));
    // The primary hands connections to its workers in turn: a few clients land on both.
    while (pids().size < 2) {
      if (clients.length >= 20) assert.fail('20 clients, all on one worker');
      clients.push(await connect(`ws://127.0.0.1:${nginx.port}/`));
      await until(() => s.count(/\[pid \d+\] \+ /) === clients.length, 5000, 'the connection logged');
    }
    await warmUp((m) => clients[0]!.ws.send(m), clients);
    // The primary's scrape: both workers, their connections adding up to the clients.
    const url = metricsUrl(s);
    const before = await scrape(url);
    assert.equal(value(before, 'ws13_worker_up', '{worker="1"}'), 1);
    assert.equal(value(before, 'ws13_worker_up', '{worker="2"}'), 1);
    assert.equal(sum(before, 'ws13_connections'), clients.length);
    assert.equal(sum(before, 'ws13_subscribers'), clients.length);
    assert.ok(value(before, 'ws13_connections', '{worker="1"}')! > 0 && value(before, 'ws13_connections', '{worker="2"}')! > 0);
    clients[0]!.ws.send('to everyone');
    await until(() => clients.every((c) => c.got.length === 1), 10_000, 'the broadcast on every client');
    for (const c of clients) assert.equal(c.got[0], 'to everyone');
    // One message in, one publish, a delivery per client, one relay to the other worker.
    const f = await scrapeUntil(url, (f) => sum(f, 'ws13_messages_sent_total') - sum(before, 'ws13_messages_sent_total') >= clients.length);
    const delta = (name: string): number => sum(f, name) - sum(before, name);
    assert.equal(delta('ws13_messages_received_total'), 1);
    assert.equal(delta('ws13_publishes_total'), 1);
    assert.equal(delta('ws13_messages_sent_total'), clients.length);
    assert.equal(value(f, 'ws13_relay_forwarded_total')! - value(before, 'ws13_relay_forwarded_total')!, 1);
    assert.equal(sum(f, 'ws13_connections_closed_total'), 0);
    s.child.kill('SIGTERM');
    for (const c of clients) assert.equal(await c.closed, 1001, 'closed through nginx with the server’s code');
    assert.equal(await s.exited, 0);
  } finally {
    await nginx?.stop();
  }
});

peerTest(['nginx', 'redis'], 'through nginx to two ws13 processes sharing Redis: a publish on one reaches the clients of the other', T, async () => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  const url = `redis://127.0.0.1:${redisPort}`;
  let nginx: Nginx | undefined;
  try {
    const [p1, p2] = [await freePort(), await freePort()];
    const one = await serve(['--broadcast', '--redis', url, '--metrics', '0', '--port', String(p1)]);
    const two = await serve(['--broadcast', '--redis', url, '--metrics', '0', '--port', String(p2)]);
    nginx = await startNginx(`
  upstream one { server 127.0.0.1:${p1}; }
  upstream two { server 127.0.0.1:${p2}; }
  server {
    listen PORT;
    location /one {${websocketProxy('one', '60s')}
    }
    location /two {${websocketProxy('two', '60s')}
    }
  }`);
    const a = await connect(`ws://127.0.0.1:${nginx.port}/one`);
    const b = await connect(`ws://127.0.0.1:${nginx.port}/two`);
    // Each process took its client (each logs it).
    await until(() => one.count(/\+ 127\.0\.0\.1:/) === 1 && two.count(/\+ 127\.0\.0\.1:/) === 1, 5000, 'one client on each process');
    const admin = createClient({ url });
    await admin.connect();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [, n] = (await admin.sendCommand(['PUBSUB', 'NUMSUB', 'ws13:broadcast'])) as [string, number];
      if (Number(n) === 2) break;
      assert.ok(Date.now() < deadline, 'both processes subscribed in Redis');
      await sleep(20);
    }
    await admin.close();
    a.ws.send('from one');
    b.ws.send(Buffer.from([0xff, 0x00, 0x13]));
    await until(() => a.got.length === 2 && b.got.length === 2, 10_000, 'both messages on both clients');
    for (const c of [a, b]) {
      assert.ok(c.got.includes('from one'));
      assert.ok(c.got.some((m) => Buffer.isBuffer(m) && m.equals(Buffer.from([0xff, 0x00, 0x13]))));
    }
    a.ws.close(1000);
    b.ws.close(4001);
    // Each process: its one client's message in and published, both messages out to it, its
    // close code; nothing lost in the broker.
    for (const [s, code] of [[one, 1000], [two, 4001]] as const) {
      const f = await scrapeUntil(metricsUrl(s), (f) => value(f, 'ws13_connections') === 0);
      assert.equal(value(f, 'ws13_connections'), 0);
      assert.equal(value(f, 'ws13_connections_opened_total'), 1);
      assert.equal(value(f, 'ws13_messages_received_total'), 1);
      assert.equal(value(f, 'ws13_publishes_total'), 1);
      assert.equal(value(f, 'ws13_messages_sent_total'), 2);
      assert.equal(value(f, 'ws13_connections_closed_total', `{code="${code}"}`), 1);
      assert.equal(sum(f, 'ws13_connections_closed_total'), 1);
      assert.equal(value(f, 'ws13_broker_errors_total'), 0);
      assert.equal(value(f, 'ws13_broker_dropped_total'), 0);
    }
  } finally {
    await nginx?.stop();
    await stopRedis(redis);
  }
});

peerTest(['nginx', 'openssl'], 'TLS terminated by nginx: wss:// to nginx with its certificate checked, ws:// behind it; echo and compression', T, async () => {
  const port = await freePort();
  const backend = await serve(['--deflate', '--port', String(port)]);
  const tls = await selfSigned();
  let nginx: Nginx | undefined;
  try {
    nginx = await startNginx(`
  upstream ws13 { server 127.0.0.1:${port}; }
  server {
    listen PORT ssl;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    location / {${websocketProxy('ws13', '60s')}
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }`);
    const c = await connect(`wss://localhost:${nginx.port}/secure`, { ca: fs.readFileSync(tls.cert) });
    assert.match(c.ws.extensions, /^permessage-deflate/);
    assert.equal(await roundTrip(c, 'over TLS, then plain'), 'over TLS, then plain');
    const big = Buffer.from('x'.repeat(200_000));
    assert.deepEqual(await roundTrip(c, big), big);
    // The backend saw a plain connection from nginx.
    assert.match(backend.out(), /\+ 127\.0\.0\.1:\d+ \/secure/);
    c.ws.close();
    assert.equal(await c.closed, 1005);
  } finally {
    await nginx?.stop();
    fs.rmSync(tls.dir, { recursive: true, force: true });
  }
});
