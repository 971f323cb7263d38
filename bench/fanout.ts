// Fan-out across processes: one publisher, SUBS subscribers split over the server processes,
// 64-byte binary messages. Deliveries per second and publish→delivery latency (p50, p99) for:
//   ws13, one process             every subscriber on it (the reference)
//   ws13, 2 processes + Redis     ws13/redis; subscribers split evenly, publisher on the first
//   ws13, --workers 2             ws13/cluster, the primary relays (node:cluster, one port)
//   ws + Redis, 2 processes       what `ws` users write: each process subscribes to the Redis
//                                 channel and sends every message to each of its clients
// The driver (publisher and every subscriber) is the native load generator
// (bench/loadgen/loadgen.c, `--mode fanout`, built here with `cc -O2 … -lz`): real handshakes,
// every delivery compared byte for byte with the message of the subscriber's next sequence
// number, latency on its one clock. The publisher keeps WINDOW messages outstanding on average
// over the subscribers. Pinned (when taskset works): the driver on CPU 0, the servers and Redis
// on CPU 1. FANOUT_DRIVER=node runs the former driver written in Node inside this process
// instead (raw sockets, frames parsed to their headers, not compared). Printed as a Markdown
// section; `node dist/bench/fanout.js`, or through `npm run bench` (bench/run.ts).
// Environment: FANOUT_SUBS (1000), FANOUT_ROUNDS (3), FANOUT_DURATION_MS (3000),
// FANOUT_WINDOW (16), FANOUT_DRIVER (native | node), FANOUT_PIN (1; 0 runs unpinned),
// FANOUT_SETUPS (a comma list of ws13-1, ws13-workers, ws13-redis, ws-redis; default all).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
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
const SETTLE_MS = 500;
const DRIVER: 'native' | 'node' = process.env['FANOUT_DRIVER'] === 'node' ? 'node' : 'native';
const LOADGEN = join(ROOT, 'dist/bench/loadgen/loadgen');
/** What every message is (the native driver writes the sequence number over its first 8 bytes). */
const MESSAGE = Buffer.from('fan-out message: sequence number in the first 8 bytes, 64 B long', 'latin1');
if (MESSAGE.length !== 64) throw new Error(`fan-out message is ${MESSAGE.length} bytes`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function works(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}
const PINNED = process.env['FANOUT_PIN'] !== '0' && works('taskset', ['-c', '0', 'true']) && works('taskset', ['-c', '1', 'true']);
/** argv pinned to `cpu` when pinning. */
const on = (cpu: number, argv: string[]): string[] => (PINNED ? ['taskset', '-c', String(cpu), ...argv] : argv);

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

/** A server process (on CPU 1 when pinned) once it said `ready`; `pids` the processes to account. */
async function startProcess(args: string[], ready: string): Promise<{ child: ChildProcess; pids: number[] }> {
  const argv = on(1, [process.execPath, ...args]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const at = out.indexOf(ready);
      if (at >= 0 && out.indexOf('\n', at) > 0) resolve(out.slice(at, out.indexOf('\n', at)));
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
  // taskset execs the command: the child's pid is the server's. ws13-workers adds its workers'.
  const workers = line.slice(ready.length).trim();
  return { child, pids: [child.pid!, ...(workers ? workers.split(',').map(Number) : [])] };
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
  /** CPU shares over the measured window (1 = one core): the driver, the servers, Redis. */
  driverCpu: number;
  serverCpu: number;
  redisCpu: number;
  /** Deliveries per write system call of the servers (NaN: not measured). */
  perWrite: number;
  /** The machine's TCP retransmissions and input backlog drops in the measured window (native driver). */
  retransmits: number;
  drops: number;
  /** Share of CPU 1 (the servers' core when pinned) spent in interrupts and softirq (/proc/stat). */
  softirq1: number;
  /** Busy time of a core not explained by our processes there nor by interrupts (the larger of the two; pinned, native driver). */
  other: number;
  /** The longest time in the measured window with no delivery at all, ms (native driver). */
  gapMs: number;
  problems: string[];
}

/** utime + stime of a process, in seconds (/proc/PID/stat). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15, USER_HZ ticks
  } catch {
    return NaN;
  }
}

interface LoadgenOut {
  fatal?: string;
  opened: number;
  failed: number;
  rate: number;
  loadgenCpu: number;
  serverCpus: number[];
  serverWrites: number[];
  tcpRetransmits: number;
  backlogDrops: number;
  coreBusy: number[];
  coreIrq: number[];
  longestGapMs: number;
  seconds: number;
  checked: number;
  badFrames: number;
  mismatches: number;
  published: number;
  perSubscriberMin: number;
  perSubscriberMax: number;
  latencyP50Us: number;
  latencyP99Us: number;
  errorCount: number;
  errors: string[];
}

let TMP = '';

/** The native driver: the load generator in fan-out mode, on CPU 0 when pinned. */
async function measureNative(ports: number[], serverPids: number[], redisPid: number | undefined): Promise<Result> {
  const msgFile = join(TMP, 'message');
  writeFileSync(msgFile, MESSAGE);
  // Redis last: its CPU is reported apart, its writes (to the servers) not counted as theirs.
  const pids = redisPid === undefined ? serverPids : [...serverPids, redisPid];
  const argv = on(0, [
    LOADGEN, '--mode', 'fanout', '--ports', ports.join(','), '--path', '/sub', '--pub-path', '/pub',
    '--conns', String(SUBS), '--inflight', String(WINDOW), '--settle', String(SETTLE_MS),
    '--warmup', String(WARMUP_MS), '--duration', String(DURATION_MS), '--message-file', msgFile,
    '--expect-opcode', '2', '--expect-rsv1', '0', '--expect-len', String(MESSAGE.length), '--server-pids', pids.join(','),
  ]);
  // Its report is its last stdout line, also when it exits with a fatal error.
  const run = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: WARMUP_MS + DURATION_MS + 90_000 });
  if (run.stderr) process.stderr.write(run.stderr);
  const last = run.stdout?.trim().split('\n').pop();
  if (!last) throw new Error(`load generator: no report (${run.error?.message ?? `exit ${run.status}`}) ${run.stderr ?? ''}`);
  const r = JSON.parse(last) as LoadgenOut;
  if (r.fatal) throw new Error(`load generator: ${r.fatal}`);
  const problems = [...r.errors];
  if (r.errorCount > r.errors.length) problems.push(`… ${r.errorCount} problems in all`);
  if (r.failed > 0) problems.push(`${r.failed} connections failed`);
  if (r.badFrames > 0) problems.push(`${r.badFrames} deliveries had an unexpected opcode, RSV1 or length`);
  if (r.mismatches > 0) problems.push(`${r.mismatches} deliveries differed from the message due (lost, reordered or altered)`);
  if (r.checked === 0 || r.perSubscriberMin === 0) problems.push('a subscriber received nothing');
  const servers = r.serverCpus.slice(0, serverPids.length).reduce((a, b) => a + b, 0);
  return {
    rate: r.rate, p50: r.latencyP50Us / 1000, p99: r.latencyP99Us / 1000, driverCpu: r.loadgenCpu, serverCpu: servers,
    redisCpu: redisPid === undefined ? NaN : r.serverCpus[serverPids.length]!, perWrite: (r.rate * r.seconds) / r.serverWrites.slice(0, serverPids.length).reduce((a, b) => a + b, 0),
    retransmits: r.tcpRetransmits, drops: r.backlogDrops, softirq1: r.coreIrq[1] ?? NaN, gapMs: r.longestGapMs,
    other: PINNED ? Math.max(0, r.coreBusy[0]! - r.coreIrq[0]! - r.loadgenCpu, r.coreBusy[1]! - r.coreIrq[1]! - r.serverCpus.reduce((a, b) => a + b, 0)) : NaN,
    problems,
  };
}

/** The driver in Node (FANOUT_DRIVER=node): this process; frames parsed to their headers only. */
async function measureNode(ports: number[], serverPids: number[], redisPid: number | undefined): Promise<Result> {
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
  await sleep(SETTLE_MS); // subscriptions reach the broker
  const payload = Buffer.from(MESSAGE);
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
  const cpu = (): number[] => [process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6, ...serverPids.map(cpuSeconds), redisPid === undefined ? NaN : cpuSeconds(redisPid)];
  const c0 = cpu();
  const d0 = delivered;
  const t0 = performance.now();
  await sleep(DURATION_MS);
  const secs = (performance.now() - t0) / 1000;
  const rate = (delivered - d0) / secs;
  const c1 = cpu();
  measuring = false;
  running = false;
  for (const s of [...subs, pub]) s.destroy();
  const share = c1.map((v, i) => (v - c0[i]!) / secs);
  const sorted = lat.subarray(0, nLat).sort();
  return {
    rate, p50: sorted[Math.floor(nLat * 0.5)] ?? NaN, p99: sorted[Math.floor(nLat * 0.99)] ?? NaN,
    driverCpu: share[0]!, serverCpu: share.slice(1, 1 + serverPids.length).reduce((a, b) => a + b, 0), redisCpu: share[share.length - 1]!,
    perWrite: NaN, retransmits: 0, drops: 0, softirq1: NaN, gapMs: NaN, other: NaN, problems: [],
  };
}

const measure = DRIVER === 'native' ? measureNative : measureNode;

async function runSetup(setup: Setup, redisUrl: string, redisPid: number | undefined): Promise<Result> {
  const children: ChildProcess[] = [];
  const pids: number[] = [];
  const start = async (args: string[]): Promise<void> => {
    const p = await startProcess(args, 'ready');
    children.push(p.child);
    pids.push(...p.pids);
  };
  try {
    if (setup === 'ws13-1' || setup === 'ws13-workers') {
      const port = await freePort();
      await start([SERVER, setup === 'ws13-1' ? 'ws13' : 'ws13-workers', String(port), '']);
      return await measure([port], pids, undefined);
    }
    const ports = [await freePort(), await freePort()];
    const kind = setup === 'ws-redis' ? 'ws-redis' : 'ws13';
    for (const p of ports) await start([SERVER, kind, String(p), redisUrl]);
    return await measure(ports, pids, redisPid);
  } finally {
    await Promise.all(children.map(stop));
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const pct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)} %` : '—');
const int = (x: number): string => Math.round(x).toLocaleString('en-US');

function buildLoadgen(): void {
  mkdirSync(join(ROOT, 'dist/bench/loadgen'), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-o', LOADGEN, join(ROOT, 'bench/loadgen/loadgen.c'), '-lz'], { stdio: 'inherit' });
}

async function main(): Promise<void> {
  const load = loadavg()[0]!;
  if (DRIVER === 'native') buildLoadgen();
  else if (PINNED) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  TMP = mkdtempSync(join(tmpdir(), 'ws13-fanout-'));
  const haveRedis = spawnSync(REDIS_SERVER, ['--version']).status === 0;
  let redis: ChildProcess | undefined;
  let redisUrl = '';
  if (haveRedis) {
    const port = await freePort();
    const argv = on(1, [REDIS_SERVER, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    redis = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    redisUrl = `redis://127.0.0.1:${port}`;
    await sleep(300);
  }
  const only = process.env['FANOUT_SETUPS']?.split(',').map((x) => x.trim());
  const setups = (['ws13-1', 'ws13-workers', ...(haveRedis ? (['ws13-redis', 'ws-redis'] as const) : [])] as Setup[]).filter((s) => !only || only.includes(s));
  const results = new Map<Setup, Result[]>(setups.map((s) => [s, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const setup of setups) {
        const r = await runSetup(setup, redisUrl, setup === 'ws13-redis' || setup === 'ws-redis' ? redis?.pid : undefined);
        results.get(setup)!.push(r);
        console.error(
          `[fanout] round ${round} ${setup}: ${Math.round(r.rate)} deliveries/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
            `CPU driver ${pct(r.driverCpu)} servers ${pct(r.serverCpu)} Redis ${pct(r.redisCpu)} CPU 1 softirq ${pct(r.softirq1)} other load ${pct(r.other)}, ${r.perWrite.toFixed(1)} per write, ` +
            `${r.retransmits} retransmitted, ${r.drops} dropped, longest gap ${r.gapMs.toFixed(0)} ms${r.problems.length ? ` PROBLEMS: ${r.problems.join('; ')}` : ''}`,
        );
      }
    }
  } finally {
    redis?.kill('SIGTERM');
    rmSync(TMP, { recursive: true, force: true });
  }
  const rateOf = (s: Setup): number => median(results.get(s)?.map((r) => r.rate) ?? [NaN]);
  const one = rateOf('ws13-1');
  /** The median ratio a/b and its same-round range. */
  const ratio = (a: Setup, b: Setup): string => {
    const rs = (results.get(a) ?? []).map((r, i) => r.rate / (results.get(b)?.[i]?.rate ?? NaN));
    return `${(rateOf(a) / rateOf(b)).toFixed(2)} (rounds ${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`;
  };
  let rev = '';
  try {
    rev = ` at commit ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}`;
  } catch {
    // not a git checkout
  }
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}; 1-minute load average ${load.toFixed(2)} at the start)`;
  const driver =
    DRIVER === 'native'
      ? 'The driver is the native load generator (`bench/loadgen/loadgen.c --mode fanout`, C, one thread, epoll): the publisher and every ' +
        'subscriber, each with a real opening handshake. Each message carries its sequence number in its first 8 bytes, and every delivery ' +
        'is compared byte for byte with the message that subscriber is due next, so a lost, repeated, reordered or altered message counts as ' +
        'a mismatch; latency is publish (the driver\'s write) to delivery (its read), on its one clock. '
      : 'The driver is written in Node, in the benchmark process (`FANOUT_DRIVER=node`): the publisher and every subscriber over raw ' +
        'sockets with real handshakes; frames parsed to their headers, payloads not compared; latency from a send time carried in the message. ';
  const placement = PINNED
    ? 'Pinned with taskset: the driver on CPU 0, the server processes and Redis together on CPU 1. Every setup so gets the same one core ' +
      'for its server side, whatever its number of processes: the ratios compare what each setup makes of one core, and the driver ' +
      'neither starves the servers nor is starved by them. (Unpinned, the two-process setups could also take what the driver leaves of ' +
      'CPU 0, which one process cannot, and the comparison would measure the scheduler as much as the setups.) '
    : `Unpinned: the driver shares the ${cpus().length} cores with the servers${haveRedis ? ' and Redis' : ''}. `;
  const lines = [
    '## Fan-out across processes',
    '',
    `${SUBS} subscribers split evenly over the server processes, one publisher (on the first) keeping ${WINDOW} messages outstanding on average ` +
      `over the subscribers (sent − delivered / ${SUBS} < ${WINDOW}; not end to end as in "Broadcast to 1,000" above), ` +
      `${MESSAGE.length}-byte binary messages, the same for every setup; ${ROUNDS} interleaved rounds of ${WARMUP_MS} ms warm-up + ` +
      `${DURATION_MS} ms measured; medians. ${driver}${placement}CPU columns: share of one core over the measured window ` +
      '(/proc/PID/stat; "servers" sums the server processes, with `--workers 2` the primary and both workers); "CPU 1 softirq": ' +
      'interrupt and softirq time on the servers\' core (/proc/stat), where loopback TCP does much of its work; "other load": the larger, ' +
      'over both cores, of busy time not accounted for by our processes pinned there nor by interrupts (other tenants of this shared ' +
      'machine). Servers and Redis near 100 % mean CPU 1 was the bound (softirq work done while a server runs counts in its time as well); ' +
      '"deliveries per server write": deliveries over the servers\' write system calls (/proc/PID/io), how many messages one write ' +
      `carries to a subscriber. Machine: ${machine}. Produced by \`node dist/bench/fanout.js\` on ${new Date().toISOString()}, ws13${rev}.`,
    '',
    '| setup | deliveries/s (median) | min–max | vs one process | p50 latency | p99 latency | CPU: driver | servers | Redis | CPU 1 softirq | other load | deliveries per server write |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...setups.map((s) => {
      const rs = results.get(s)!;
      const rates = rs.map((r) => r.rate);
      const m = (f: (r: Result) => number): number => median(rs.map(f));
      return (
        `| ${TITLES[s]} | ${int(median(rates))} | ${int(Math.min(...rates))}–${int(Math.max(...rates))} | ${(median(rates) / one).toFixed(2)} | ` +
        `${m((r) => r.p50).toFixed(2)} ms | ${m((r) => r.p99).toFixed(2)} ms | ${pct(m((r) => r.driverCpu))} | ${pct(m((r) => r.serverCpu))} | ${pct(m((r) => r.redisCpu))} | ${pct(m((r) => r.softirq1))} | ${pct(m((r) => r.other))} | ${Number.isFinite(m((r) => r.perWrite)) ? m((r) => r.perWrite).toFixed(1) : '—'} |`
      );
    }),
  ];
  if (haveRedis && results.has('ws13-redis') && results.has('ws-redis') && results.has('ws13-1')) {
    const vsWs = rateOf('ws13-redis') / rateOf('ws-redis');
    const vsOne = rateOf('ws13-redis') / one;
    lines.push(
      '',
      `ws13 + Redis / ws + Redis: ${ratio('ws13-redis', 'ws-redis')}, target ≥ 5: ${vsWs >= 5 ? 'met' : 'missed'}. ` +
        `ws13 + Redis / one process: ${ratio('ws13-redis', 'ws13-1')}, target ≥ 0.75 (the Redis hop costing at most a quarter): ${vsOne >= 0.75 ? 'met' : 'missed'}.`,
    );
  } else if (!haveRedis) lines.push('', `Redis (${REDIS_SERVER}) is not installed: the Redis setups were left out.`);
  const lossy = setups.flatMap((s) =>
    results.get(s)!.flatMap((r, i) => (r.retransmits || r.drops ? [`${TITLES[s]} round ${i + 1}: ${r.retransmits} retransmitted, ${r.drops} dropped`] : [])),
  );
  if (lossy.length) {
    lines.push('', `TCP segments retransmitted and packets dropped by a full input backlog on the machine (any process) during measured windows: ${lossy.join('; ')}. Here mostly tail-loss probes that the peer reports as duplicates (nstat: TCPLossProbes, TCPDSACKRecv): a segment whose acknowledgement came late, not a loss.`);
  }
  const stalls = setups.flatMap((s) => results.get(s)!.flatMap((r, i) => (r.gapMs > 100 ? [`${TITLES[s]} round ${i + 1}: ${Math.round(r.gapMs)} ms`] : [])));
  if (stalls.length) lines.push('', `Stalls, the longest time with no delivery at all during a measured window, over 100 ms: ${stalls.join('; ')}.`);
  const problems = setups.flatMap((s) => results.get(s)!.flatMap((r, i) => r.problems.map((p) => `${TITLES[s]}, round ${i + 1}: ${p}`)));
  if (problems.length) lines.push('', 'Problems:', '', ...problems.map((p) => `- ${p}`));
  console.log(lines.join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
