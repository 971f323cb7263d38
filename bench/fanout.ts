// Fan-out across processes: one publisher, SUBS subscribers split over the server processes,
// 64-byte binary messages. Deliveries per second and publish→delivery latency (p50, p99) for:
//   ws13, one process             every subscriber on it (the reference)
//   ws13, 2 processes + Redis     ws13/redis; subscribers split evenly, publisher on the first
//   ws13, --workers 2             ws13/cluster, the primary relays (node:cluster, one port)
//   ws + Redis, 2 processes       what `ws` users write: each process subscribes to the Redis
//                                 channel and sends every message to each of its clients
// The driver (this process) is the publisher and every subscriber: raw TCP sockets, real
// handshakes, frames parsed to their headers; a message carries its send time, so latency is
// measured on one clock. The publisher keeps WINDOW messages outstanding on average over the
// subscribers. Printed as a Markdown section; `node dist/bench/fanout.js`, or through
// `npm run bench` (bench/run.ts). Environment: FANOUT_SUBS (1000), FANOUT_ROUNDS (3),
// FANOUT_DURATION_MS (3000), FANOUT_WINDOW (16).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { cpus, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { acceptKey, maskedFrame } from './common.js';

const SUBS = Number(process.env['FANOUT_SUBS'] ?? 1000);
const ROUNDS = Number(process.env['FANOUT_ROUNDS'] ?? 3);
const DURATION_MS = Number(process.env['FANOUT_DURATION_MS'] ?? 3000);
const WARMUP_MS = 1000;
const WINDOW = Number(process.env['FANOUT_WINDOW'] ?? 16);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REDIS_SERVER = '/usr/bin/redis-server';
const MASK = Buffer.from([0x5a, 0x13, 0xc4, 0x7e]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Setup = 'ws13-1' | 'ws13-redis' | 'ws13-workers' | 'ws-redis';
const TITLES: Record<Setup, string> = {
  'ws13-1': 'ws13, one process',
  'ws13-redis': 'ws13, 2 processes + Redis',
  'ws13-workers': 'ws13, --workers 2 (cluster broker)',
  'ws-redis': 'ws + Redis, 2 processes',
};

const SERVER = fileURLToPath(new URL('./fanout-server.js', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function startProcess(args: string[], ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes(ready)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
  return child;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

/** A connected, upgraded raw socket; `onFrame(payload)` for each data frame from the server. */
function dial(port: number, path: string, onFrame?: (payload: Buffer) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    let head = Buffer.alloc(0);
    let upgraded = false;
    let pending: Buffer = Buffer.alloc(0);
    s.once('error', reject);
    s.on('connect', () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    const frames = (chunk: Buffer): void => {
      let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let off = 0;
      for (;;) {
        if (buf.length - off < 2) break;
        let len = buf[off + 1]! & 0x7f;
        let hdr = 2;
        if (len === 126) {
          if (buf.length - off < 4) break;
          len = buf.readUInt16BE(off + 2);
          hdr = 4;
        } else if (len === 127) {
          if (buf.length - off < 10) break;
          len = Number(buf.readBigUInt64BE(off + 2));
          hdr = 10;
        }
        if (buf.length - off < hdr + len) break;
        if ((buf[off]! & 0x0f) === 2 && onFrame) onFrame(buf.subarray(off + hdr, off + hdr + len));
        off += hdr + len;
      }
      pending = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
      buf = pending;
    };
    s.on('data', (chunk: Buffer) => {
      if (upgraded) return frames(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const text = head.subarray(0, end).toString('latin1');
      if (!text.startsWith('HTTP/1.1 101') || !text.includes(acceptKey(key))) return reject(new Error(`handshake refused: ${text}`));
      upgraded = true;
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
      if (head.length > end + 4) frames(head.subarray(end + 4));
    });
  });
}

interface Result {
  rate: number;
  p50: number;
  p99: number;
}

async function measure(ports: number[]): Promise<Result> {
  let delivered = 0;
  let measuring = false;
  const lat = new Float64Array(8_000_000);
  let nLat = 0;
  const onFrame = (p: Buffer): void => {
    delivered++;
    if (measuring && nLat < lat.length) lat[nLat++] = performance.now() - p.readDoubleLE(0);
  };
  const subs: net.Socket[] = [];
  for (let i = 0; i < SUBS; i += 50) {
    subs.push(...(await Promise.all(Array.from({ length: Math.min(50, SUBS - i) }, (_, j) => dial(ports[(i + j) % ports.length]!, '/sub', onFrame)))));
  }
  const pub = await dial(ports[0]!, '/pub');
  await sleep(500); // subscriptions reach the broker
  const payload = Buffer.alloc(64);
  let sent = 0;
  let running = true;
  // Keep WINDOW messages outstanding on average over the subscribers.
  const pump = (): void => {
    if (!running) return;
    let batch = 0;
    while (sent - delivered / SUBS < WINDOW && batch < WINDOW) {
      payload.writeDoubleLE(performance.now(), 0);
      payload.writeUInt32LE(sent, 8);
      pub.write(maskedFrame(0x82, payload, MASK));
      sent++;
      batch++;
    }
    setImmediate(pump);
  };
  pump();
  await sleep(WARMUP_MS);
  measuring = true;
  const d0 = delivered;
  const t0 = performance.now();
  await sleep(DURATION_MS);
  const rate = ((delivered - d0) * 1000) / (performance.now() - t0);
  measuring = false;
  running = false;
  for (const s of [...subs, pub]) s.destroy();
  const sorted = lat.subarray(0, nLat).sort();
  return { rate, p50: sorted[Math.floor(nLat * 0.5)] ?? NaN, p99: sorted[Math.floor(nLat * 0.99)] ?? NaN };
}

async function runSetup(setup: Setup, redisUrl: string): Promise<Result> {
  const children: ChildProcess[] = [];
  try {
    const script = [SERVER];
    if (setup === 'ws13-1') {
      const port = await freePort();
      children.push(await startProcess([...script, 'ws13', String(port), ''], 'ready'));
      return await measure([port]);
    }
    if (setup === 'ws13-workers') {
      const port = await freePort();
      children.push(await startProcess([...script, 'ws13-workers', String(port), ''], 'ready'));
      return await measure([port]);
    }
    const ports = [await freePort(), await freePort()];
    const kind = setup === 'ws-redis' ? 'ws-redis' : 'ws13';
    for (const p of ports) children.push(await startProcess([...script, kind, String(p), redisUrl], 'ready'));
    return await measure(ports);
  } finally {
    await Promise.all(children.map(stop));
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const haveRedis = spawnSync(REDIS_SERVER, ['--version']).status === 0;
  let redis: ChildProcess | undefined;
  let redisUrl = '';
  if (haveRedis) {
    const port = await freePort();
    redis = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    redisUrl = `redis://127.0.0.1:${port}`;
    await sleep(300);
  }
  const setups: Setup[] = ['ws13-1', 'ws13-workers', ...(haveRedis ? (['ws13-redis', 'ws-redis'] as const) : [])];
  const results = new Map<Setup, Result[]>(setups.map((s) => [s, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const setup of setups) {
        const r = await runSetup(setup, redisUrl);
        results.get(setup)!.push(r);
        console.error(`[fanout] round ${round} ${setup}: ${Math.round(r.rate)} deliveries/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
      }
    }
  } finally {
    redis?.kill('SIGTERM');
  }
  const one = median(results.get('ws13-1')!.map((r) => r.rate));
  const lines = [
    '## Fan-out across processes',
    '',
    `${SUBS} subscribers split over the server processes, one publisher keeping ${WINDOW} messages outstanding, 64-byte binary messages; ` +
      `${ROUNDS} interleaved rounds of ${WARMUP_MS} ms warm-up + ${DURATION_MS} ms measured; medians. Unpinned: the driver (publisher and every ` +
      `subscriber, in Node) shares the ${cpus().length} cores (${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}) with the servers${haveRedis ? ' and Redis' : ''}. ` +
      `Produced by \`node dist/bench/fanout.js\`.`,
    '',
    '| setup | deliveries/s (median) | min–max | vs one process | p50 latency | p99 latency |',
    '|---|---:|---|---:|---:|---:|',
    ...setups.map((s) => {
      const rs = results.get(s)!;
      const rates = rs.map((r) => r.rate);
      return `| ${TITLES[s]} | ${Math.round(median(rates)).toLocaleString('en-US')} | ${Math.round(Math.min(...rates)).toLocaleString('en-US')}–${Math.round(Math.max(...rates)).toLocaleString('en-US')} | ${(median(rates) / one).toFixed(2)} | ${median(rs.map((r) => r.p50)).toFixed(2)} ms | ${median(rs.map((r) => r.p99)).toFixed(2)} ms |`;
    }),
    ...(haveRedis ? [] : ['', `Redis (${REDIS_SERVER}) is not installed: the Redis setups were left out.`]),
  ];
  console.log(lines.join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
