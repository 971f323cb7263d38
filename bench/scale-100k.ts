// 100,000 subscribed idle connections across workers, opened by several client processes,
// in one of two setups:
//   serve   `ws13 serve --workers W --broadcast`: every connection in the one broadcast
//           topic, publishes relayed by the primary (the default)
//   topics  a node:cluster app with ws13/cluster: every connection in a topic of its own and a
//           shared one, so the primary's relay holds a topic per connection too
// and and the whole server's memory per connection: the RSS of the
// primary and of every worker added up, after a warm-up of 200 connections (and one publish
// reaching them) and again after the N connections more, the growth divided by N. Then one
// client's message is published to all of them, and every client process counts what it got:
// the bench checks that the publish reached every connection, and how long the last one took.
//
// The limits it works within (docs/deploy.md, "Limits at scale"): a process may hold fewer
// than 20,000 descriptors here, so W workers each keep N/W connections and C client
// processes N/C each; and one source address reaches one server address:port through at
// most 28,232 ephemeral ports, so each client process connects from its own 127.0.0.x.
//
// `node dist/bench/scale-100k.js [connections=100000] [workers=8] [clientProcesses=8] [serve|topics]`
import cluster from 'node:cluster';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from '../src/node/index.js';
import { createClusterBroker, startClusterHub } from '../src/cluster/index.js';

const SELF = fileURLToPath(import.meta.url);
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const WARM_UP = 200;
/** Handshakes a client process keeps in flight (all of them together stay under the listen backlog, 511). */
const IN_FLIGHT = 48;
/** Descriptors a process may hold here (hard limit), less room for its own files and pipes. */
const FD_ROOM = 19_500;
/** Ephemeral ports from one source address to one address:port (32768–60999). */
const PORTS_PER_SOURCE = 28_000;

type ToClient = { op: 'open'; n: number; port: number; local: string } | { op: 'send'; text: string } | { op: 'count'; text: string } | { op: 'rss' };
type FromClient = { op: 'opened'; ok: number; failed: number; error?: string } | { op: 'sent' } | { op: 'count'; got: number } | { op: 'rss'; kib: number };

// ── A client process: opens connections from its own source address, counts messages ──

/** One connection: ws13's own client handshake cannot bind a source address, so the handshake is done here, then the socket is handed to WebSocket.fromStream. */
function dial(port: number, localAddress: string, got: Map<string, number>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.setNoDelay(true);
    let head = Buffer.alloc(0);
    const fail = (err: Error): void => {
      s.destroy();
      reject(err);
    };
    s.once('error', fail);
    s.on('data', function onData(chunk: Buffer) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      s.off('error', fail);
      const res = head.subarray(0, end).toString('latin1');
      if (!res.startsWith('HTTP/1.1 101') || !new RegExp(`^sec-websocket-accept: *${accept.replace(/[+/]/g, '\\$&')}\\s*$`, 'im').test(res)) {
        return fail(new Error(`not a WebSocket answer: ${res.split('\r\n')[0]}`));
      }
      const ws = WebSocket.fromStream(s, { role: 'client', head: head.subarray(end + 4) });
      ws.on('message', (data) => {
        const text = String(data);
        got.set(text, (got.get(text) ?? 0) + 1);
      });
      ws.on('error', () => {});
      resolve(ws);
    });
    s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

function client(): void {
  const sockets: WebSocket[] = [];
  const got = new Map<string, number>();
  const reply = (m: FromClient): void => void process.send!(m);
  process.on('message', async (m: ToClient) => {
    if (m.op === 'open') {
      let ok = 0;
      let failed = 0;
      let error: string | undefined;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < m.n) {
          next++;
          // A refused or reset connect is tried again (a burst can overflow the accept queue).
          for (let attempt = 1; ; attempt++) {
            try {
              sockets.push(await dial(m.port, m.local, got));
              ok++;
              break;
            } catch (err) {
              failed++;
              error ??= (err as Error).message;
              if (attempt === 5) break;
              await new Promise((r) => setTimeout(r, 100 * attempt));
            }
          }
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      reply({ op: 'opened', ok, failed, ...(error ? { error } : {}) });
    } else if (m.op === 'send') {
      sockets[0]!.send(m.text);
      reply({ op: 'sent' });
    } else if (m.op === 'count') {
      reply({ op: 'count', got: got.get(m.text) ?? 0 });
    } else {
      reply({ op: 'rss', kib: Math.round(process.memoryUsage.rss() / 1024) });
    }
  });
}

// ── The `topics` server: a cluster of W workers, each connection in two topics ──────────

async function topicsServer(workers: number): Promise<void> {
  if (cluster.isPrimary) {
    cluster.setupPrimary({ serialization: 'advanced' });
    startClusterHub();
    for (let i = 0; i < workers; i++) cluster.fork();
    process.on('SIGTERM', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(0);
    });
    return;
  }
  const server = new WebSocketServer({ broker: createClusterBroker() });
  let n = 0;
  server.on('connection', (ws) => {
    ws.subscribe(`user:${process.pid}:${n++}`);
    ws.subscribe('all');
    ws.on('message', (data) => server.publish('all', data as string));
  });
  const { port } = await server.listen(0, '127.0.0.1');
  console.log(`ws://127.0.0.1:${port}/`);
}

// ── The run ─────────────────────────────────────────────────────────────────────────────

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Asks a client process and waits for its answer of the same op. */
function ask<T extends FromClient['op']>(c: ChildProcess, m: ToClient, op: T): Promise<Extract<FromClient, { op: T }>> {
  return new Promise((resolve) => {
    const on = (r: FromClient): void => {
      if (r.op !== op) return;
      c.off('message', on);
      resolve(r as Extract<FromClient, { op: T }>);
    };
    c.on('message', on);
    c.send(m);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens `n` connections spread over the client processes, from their own source addresses. */
async function openAll(clients: ChildProcess[], n: number, port: number): Promise<{ ok: number; failed: number; errors: string[] }> {
  const share = (i: number): number => Math.floor(n / clients.length) + (i < n % clients.length ? 1 : 0);
  const r = await Promise.all(clients.map((c, i) => ask(c, { op: 'open', n: share(i), port, local: `127.0.0.${11 + i}` }, 'opened')));
  return { ok: r.reduce((s, x) => s + x.ok, 0), failed: r.reduce((s, x) => s + x.failed, 0), errors: r.flatMap((x) => (x.error ? [x.error] : [])) };
}

async function countAll(clients: ChildProcess[], text: string): Promise<number> {
  return (await Promise.all(clients.map((c) => ask(c, { op: 'count', text }, 'count')))).reduce((s, x) => s + x.got, 0);
}

/** Publishes `text` from client 0's first connection; resolves when `expect` deliveries are counted (or 60 s pass). */
async function publish(clients: ChildProcess[], text: string, expect: number): Promise<{ got: number; ms: number }> {
  const t0 = Date.now();
  await ask(clients[0]!, { op: 'send', text }, 'sent');
  let got = 0;
  while ((got = await countAll(clients, text)) < expect && Date.now() - t0 < 60_000) await sleep(50);
  return { got, ms: Date.now() - t0 };
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

/** The samples of a family, by their labels. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) out.set(m[1] ?? '', Number(m[2]));
  return out;
}
const total = (text: string, name: string): number => [...samples(text, name).values()].reduce((s, v) => s + v, 0);

async function main(): Promise<void> {
  const N = Number(process.argv[2] ?? 100_000);
  const W = Number(process.argv[3] ?? 8);
  const C = Number(process.argv[4] ?? 8);
  const setup = process.argv[5] ?? 'serve';
  if (setup !== 'serve' && setup !== 'topics') throw new Error(`setup: serve or topics, not ${setup}`);
  const all = N + WARM_UP;
  if (Math.ceil(all / W) > FD_ROOM || Math.ceil(all / C) > Math.min(FD_ROOM, PORTS_PER_SOURCE) || C > 200) {
    throw new Error(`${all} connections need more workers or client processes: each holds at most ${FD_ROOM} here`);
  }
  console.log(`${setup}: ${N.toLocaleString('en')} connections (+${WARM_UP} warm-up), ${W} workers, ${C} client processes; ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GB; Linux ${release()}; Node ${process.version}`);

  const args = setup === 'serve' ? [CLI, 'serve', '--workers', String(W), '--broadcast', '--port', '0', '-q', '--metrics', '0'] : [SELF, '--server', String(W)];
  const server = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  server.stdout!.on('data', (d: Buffer) => (out += d));
  server.stderr!.on('data', (d: Buffer) => (err += d));
  const clients = Array.from({ length: C }, () => fork(SELF, ['--client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  try {
    // Every worker prints the URL it listens on (-q): the same port for all.
    for (let i = 0; (out.match(/^ws:\/\//gm)?.length ?? 0) < W; i++) {
      if (i > 600 || server.exitCode !== null) throw new Error(`the server did not start: ${out}${err}`);
      await sleep(100);
    }
    const port = Number(/^ws:\/\/127\.0\.0\.1:(\d+)\//m.exec(out)![1]);
    // The serve setup's --metrics: what the workers count, beside what the clients count.
    const metrics = /Metrics \(Prometheus\) at (\S+)/.exec(err)?.[1];
    await sleep(1000);
    const idle = childrenOf(server.pid!).reduce((s, p) => s + rssKiB(p), rssKiB(server.pid!));

    const warm = await openAll(clients, WARM_UP, port);
    if (warm.ok !== WARM_UP) throw new Error(`warm-up: ${warm.ok} of ${WARM_UP} opened (${warm.errors.join('; ')})`);
    // The subscriptions reach the primary shortly after the 101s: publish until all hear it.
    for (let i = 0; ; i++) {
      const p = await publish(clients, `warm-up ${i}`, WARM_UP);
      if (p.got === WARM_UP) break;
      if (i === 20) throw new Error(`warm-up publish reached ${p.got} of ${WARM_UP}`);
    }
    await sleep(2000);
    const workerPids = childrenOf(server.pid!);
    const before = workerPids.reduce((s, p) => s + rssKiB(p), rssKiB(server.pid!));

    const t0 = Date.now();
    const opened = await openAll(clients, N, port);
    const openS = (Date.now() - t0) / 1000;
    if (opened.ok !== N) console.log(`opened ${opened.ok} of ${N}: ${opened.errors.join('; ')}`);
    await sleep(5000);
    const primaryAfter = rssKiB(server.pid!);
    const workersAfter = workerPids.map(rssKiB);
    const after = primaryAfter + workersAfter.reduce((s, x) => s + x, 0);
    const clientKiB = (await Promise.all(clients.map((c) => ask(c, { op: 'rss' }, 'rss')))).reduce((s, x) => s + x.kib, 0);

    const scraped = metrics ? await scrape(metrics) : '';
    const perWorker = [...samples(scraped, 'ws13_connections').values()];
    const subscribers = total(scraped, 'ws13_subscriptions');
    const sentBefore = total(scraped, 'ws13_messages_sent_total');

    const open = WARM_UP + opened.ok;
    const p = await publish(clients, 'to all of them', open);
    const sentAfter = metrics ? total(await scrape(metrics), 'ws13_messages_sent_total') : NaN;

    const kib = (after - before) / opened.ok;
    console.log(`\nopened ${opened.ok.toLocaleString('en')} in ${openS.toFixed(1)} s (${(opened.ok / openS).toFixed(0)}/s; ${opened.failed} connect attempts retried)`);
    console.log(`server RSS (primary + ${workerPids.length} workers): ${idle} KiB idle, ${before} KiB after the warm-up, ${after} KiB with all open`);
    console.log(`  primary ${primaryAfter} KiB; workers ${workersAfter.join(', ')} KiB`);
    if (metrics) console.log(`connections per worker (ws13_connections{worker}): ${perWorker.join(', ')}; subscriptions ${subscribers}`);
    console.log(`client processes: ${clientKiB} KiB together (${(clientKiB / open).toFixed(1)} KiB per connection)`);
    console.log(`one publish: ${p.got.toLocaleString('en')} of ${open.toLocaleString('en')} connections got it, the last after ${p.ms} ms${metrics ? `; the workers counted ${sentAfter - sentBefore} deliveries` : ''}`);
    console.log(`\n| setup | connections | workers | server RSS after warm-up → all open | RSS per connection | time to open | publish reached | last delivery |\n|---|---:|---:|---|---:|---:|---:|---:|`);
    console.log(`| ${setup} | ${opened.ok.toLocaleString('en')} | ${W} | ${(before / 1024).toFixed(0)} → ${(after / 1024).toFixed(0)} MiB | ${kib.toFixed(1)} KiB | ${openS.toFixed(0)} s | ${p.got.toLocaleString('en')} / ${open.toLocaleString('en')} | ${(p.ms / 1000).toFixed(1)} s |`);
    if (p.got !== open) process.exitCode = 1;
  } finally {
    for (const c of clients) c.kill('SIGKILL');
    const pids = childrenOf(server.pid!);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
        server.kill('SIGKILL');
      }, 20_000);
      server.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      server.kill('SIGTERM');
    });
  }
}

if (process.argv[2] === '--client') client();
else if (process.argv[2] === '--server') await topicsServer(Number(process.argv[3]));
else await main();
