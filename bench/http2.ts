// WebSocket over HTTP/2 (RFC 8441) against HTTP/1.1, ws13 on both ends: the server runs in a
// child process (pinned to CPU 1 when taskset exists), the ws13 client here (CPU 0).
//   echo    100 WebSockets each echoing 32-byte messages one at a time: multiplexed on one
//           HTTP/2 connection, against 100 TCP connections (round trips/s, all WebSockets)
//   opens   whole cycles (open, one echo, close) with 10 at a time: on one HTTP/2 session
//           (extended CONNECT streams), against HTTP/1.1 (a TCP connection and handshake each)
//   idle    server memory per idle WebSocket (RSS and heap after GC), 2000 of them
// Rounds alternate h2 and HTTP/1.1 and report medians and same-round ratios, with the server's
// CPU per operation (user and system time from /proc/PID/stat). Run:
//   npx tsc -p tsconfig.json && node dist/bench/http2.js      (BENCH_ROUNDS, BENCH_DURATION_MS)
// `npm run bench` runs it after its own workloads when BENCH_WORKLOADS is unset or names http2.
// Profiling one workload in one mode, the server started with extra Node flags:
//   BENCH_HTTP2_SERVER_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/p' node dist/bench/http2.js only echo h2
// (the server exits normally at the end, so --cpu-prof writes its profile; --perf-basic-prof for perf).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from '../src/node/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 2000);
const IDLE = Number(process.env.BENCH_HTTP2_IDLE ?? 2000);
const MESSAGE = 'x'.repeat(32);

type Mode = 'h2' | 'h1';

// ---- the server (child process) ----

async function serve(): Promise<void> {
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: 100_000 } });
  const h1 = http.createServer();
  for (const server of [h2, h1]) {
    const wss = new WebSocketServer({ server, heartbeat: false });
    wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d as Buffer, { binary })));
  }
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  const port = (s: { address(): unknown }): number => (s.address() as { port: number }).port;
  console.log(JSON.stringify({ h2: port(h2), h1: port(h1) }));
  createInterface({ input: process.stdin }).on('line', (line) => {
    // A normal exit, so that --cpu-prof writes the profile.
    if (line === 'exit') process.exit(0);
    if (line !== 'mem') return;
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    console.log(JSON.stringify({ rss: m.rss, heap: m.heapUsed + m.external }));
  });
}

// ---- the client (this process) ----

interface Child {
  proc: ChildProcess;
  ports: { h2: number; h1: number };
  ask(line: string): Promise<{ rss: number; heap: number }>;
}

function taskset(cpu: number): string[] {
  try {
    execFileSync('taskset', ['-c', String(cpu), 'true'], { stdio: 'ignore' });
    return ['taskset', '-c', String(cpu)];
  } catch {
    return [];
  }
}

/**
 * The server's CPU time so far (user, system), in ms, from /proc/PID/stat (clock ticks of
 * 10 ms), and its read and write system calls (syscr + syscw in /proc/PID/io).
 */
function cpuOf(pid: number): { user: number; sys: number; calls: number } {
  try {
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const calls = Number(/syscr: (\d+)/.exec(io)?.[1]) + Number(/syscw: (\d+)/.exec(io)?.[1]);
    return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10, calls };
  } catch {
    return { user: NaN, sys: NaN, calls: NaN };
  }
}

async function startServer(): Promise<Child> {
  const pin = taskset(1);
  const flags = (process.env.BENCH_HTTP2_SERVER_FLAGS ?? '').split(' ').filter(Boolean);
  const args = [...pin.slice(1), process.execPath, '--expose-gc', ...flags, fileURLToPath(import.meta.url), 'serve'];
  const proc = spawn(pin[0] ?? args.shift()!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  const queue: Array<(l: string) => void> = [];
  lines.on('line', (l) => queue.shift()?.(l));
  const first = await new Promise<string>((r) => queue.push(r));
  return {
    proc,
    ports: JSON.parse(first) as { h2: number; h1: number },
    ask: (line) => new Promise((r) => { queue.push((l) => r(JSON.parse(l))); proc.stdin!.write(`${line}\n`); }),
  };
}

function url(c: Child, mode: Mode): string {
  return `ws://127.0.0.1:${mode === 'h2' ? c.ports.h2 : c.ports.h1}/`;
}

async function openMany(c: Child, mode: Mode, n: number, session?: http2.ClientHttp2Session): Promise<WebSocket[]> {
  const opts = mode === 'h2' ? { perMessageDeflate: false, http2: session ? { require: true, session } : { require: true } } : { perMessageDeflate: false };
  const out: WebSocket[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, () => WebSocket.connect(url(c, mode), opts));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

async function closeAll(all: WebSocket[]): Promise<void> {
  await Promise.all(all.map((ws) => new Promise<void>((r) => { ws.once('close', () => r()); ws.close(); })));
}

/** A rate, and the server's CPU per operation in µs (user, system). */
interface Result {
  rate: number;
  userUs: number;
  sysUs: number;
  /** This process's (the client's) CPU per operation, user+system µs. */
  clientUs: number;
  /** The server's read and write system calls per operation. */
  calls: number;
}

/** Round trips per second of 100 WebSockets echoing one message at a time. */
async function echo(c: Child, mode: Mode): Promise<Result> {
  const all = await openMany(c, mode, 100);
  let count = 0;
  let running = true;
  for (const ws of all) {
    ws.on('message', () => {
      count++;
      if (running) ws.send(MESSAGE);
    });
  }
  for (const ws of all) ws.send(MESSAGE);
  await new Promise((r) => setTimeout(r, 300));
  const start = count;
  const cpu0 = cpuOf(c.proc.pid!);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  const own = process.cpuUsage(own0);
  const ops = count - start;
  const rate = (ops * 1000) / (performance.now() - t0);
  const cpu1 = cpuOf(c.proc.pid!);
  running = false;
  await closeAll(all);
  return { rate, userUs: ((cpu1.user - cpu0.user) * 1000) / ops, sysUs: ((cpu1.sys - cpu0.sys) * 1000) / ops, clientUs: (own.user + own.system) / ops, calls: (cpu1.calls - cpu0.calls) / ops };
}

/** Whole cycles (open, echo, close) per second, 10 at a time. */
async function opens(c: Child, mode: Mode): Promise<Result> {
  const session = mode === 'h2' ? http2.connect(`http://127.0.0.1:${c.ports.h2}`) : undefined;
  const opts = mode === 'h2' ? { perMessageDeflate: false, http2: { require: true, session: session! } } : { perMessageDeflate: false };
  let cycles = 0;
  const end = performance.now() + DURATION_MS;
  const cpu0 = cpuOf(c.proc.pid!);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const ws = await WebSocket.connect(url(c, mode), opts);
      await new Promise<void>((r) => { ws.once('message', () => r()); ws.send(MESSAGE); });
      await new Promise<void>((r) => { ws.once('close', () => r()); ws.close(); });
      cycles++;
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  const rate = (cycles * 1000) / (performance.now() - t0);
  const cpu1 = cpuOf(c.proc.pid!);
  const own = process.cpuUsage(own0);
  session?.destroy();
  return { rate, userUs: ((cpu1.user - cpu0.user) * 1000) / cycles, sysUs: ((cpu1.sys - cpu0.sys) * 1000) / cycles, clientUs: (own.user + own.system) / cycles, calls: (cpu1.calls - cpu0.calls) / cycles };
}

/** Server bytes per idle WebSocket: RSS and heap (with external memory), after GC, in a fresh server. */
async function idle(mode: Mode): Promise<{ rss: number; heap: number }> {
  const c = await startServer();
  // A first WebSocket and its close warm the code paths up (and, for h2, nothing is left open).
  await closeAll(await openMany(c, mode, 1));
  const before = await c.ask('mem');
  const session = mode === 'h2' ? http2.connect(`http://127.0.0.1:${c.ports.h2}`) : undefined;
  const all = await openMany(c, mode, IDLE, session);
  await new Promise((r) => setTimeout(r, 500));
  const after = await c.ask('mem');
  await closeAll(all);
  session?.destroy();
  c.proc.kill();
  return { rss: (after.rss - before.rss) / IDLE, heap: (after.heap - before.heap) / IDLE };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2));
const cpuText = (r: Result): string => `${r.userUs.toFixed(1)}+${r.sysUs.toFixed(1)}`;

/** Runs every workload and returns the Markdown section. */
export async function runHttp2Bench(): Promise<string> {
  const c = await startServer();
  const pin = taskset(0);
  if (pin.length) {
    try {
      execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    } catch {
      // not fatal: unpinned
    }
  }
  const rows: string[] = [];
  try {
    for (const [name, fn, unit] of [
      ['echo, 100 WebSockets', echo, 'round trips/s'],
      ['open + echo + close, 10 at a time', opens, 'cycles/s'],
    ] as const) {
      const r: Record<Mode, Result[]> = { h2: [], h1: [] };
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const a = await fn(c, 'h2');
        const b = await fn(c, 'h1');
        r.h2.push(a);
        r.h1.push(b);
        ratios.push(a.rate / b.rate);
        cpuRatios.push((a.userUs + a.sysUs) / (b.userUs + b.sysUs));
        console.error(
          `[http2 ${name}] round ${i + 1}: h2 ${fmt(a.rate)}, HTTP/1.1 ${fmt(b.rate)} ${unit}; ` +
            `server CPU per op (user+sys µs): h2 ${cpuText(a)}, HTTP/1.1 ${cpuText(b)}; client CPU per op: h2 ${a.clientUs.toFixed(1)}, HTTP/1.1 ${b.clientUs.toFixed(1)} µs; server read+write calls per op: h2 ${a.calls.toFixed(2)}, HTTP/1.1 ${b.calls.toFixed(2)}`,
        );
      }
      const pick = (m: Mode, k: keyof Result): number => median(r[m].map((x) => x[k]));
      const med = (m: Mode): Result => ({ rate: pick(m, 'rate'), userUs: pick(m, 'userUs'), sysUs: pick(m, 'sysUs'), clientUs: pick(m, 'clientUs'), calls: pick(m, 'calls') });
      const clientRatios = r.h2.map((x, i) => x.clientUs / r.h1[i]!.clientUs);
      rows.push(
        `| ${name} (${unit}) | ${fmt(med('h2').rate)} | ${fmt(med('h1').rate)} | ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) |`,
        `| ${name}: server CPU per ${unit.split('/')[0]!.replace(/s$/, '')} (user+system µs) | ${cpuText(med('h2'))} | ${cpuText(med('h1'))} | ${median(cpuRatios).toFixed(2)} (${Math.min(...cpuRatios).toFixed(2)}–${Math.max(...cpuRatios).toFixed(2)}) |`,
        `| ${name}: server read+write system calls per ${unit.split('/')[0]!.replace(/s$/, '')} | ${med('h2').calls.toFixed(2)} | ${med('h1').calls.toFixed(2)} | ${(med('h2').calls / med('h1').calls).toFixed(2)} |`,
        `| ${name}: client CPU per ${unit.split('/')[0]!.replace(/s$/, '')} (µs) | ${med('h2').clientUs.toFixed(1)} | ${med('h1').clientUs.toFixed(1)} | ${median(clientRatios).toFixed(2)} (${Math.min(...clientRatios).toFixed(2)}–${Math.max(...clientRatios).toFixed(2)}) |`,
      );
    }
    const m2 = await idle('h2');
    const m1 = await idle('h1');
    console.error(`[http2 idle] h2 ${fmt(m2.rss)} B RSS, ${fmt(m2.heap)} B heap; HTTP/1.1 ${fmt(m1.rss)} B RSS, ${fmt(m1.heap)} B heap per WebSocket`);
    rows.push(`| server memory per idle WebSocket, ${IDLE} open: RSS / heap+external (bytes) | ${fmt(m2.rss)} / ${fmt(m2.heap)} | ${fmt(m1.rss)} / ${fmt(m1.heap)} | ${(m2.heap / m1.heap).toFixed(2)} (heap) |`);
  } finally {
    c.proc.kill();
  }
  return [
    '## WebSocket over HTTP/2 (RFC 8441) against HTTP/1.1',
    '',
    `ws13 client and server (\`bench/http2.ts\`), h2c on loopback, ${ROUNDS} alternating rounds of ${DURATION_MS} ms; medians; ratio h2/HTTP/1.1 of the same round (min–max). ` +
      'Server CPU per operation: user+system time of the server process over the measured window (/proc/PID/stat, 10 ms ticks), divided by the operations; system calls: syscr+syscw of /proc/PID/io; client CPU: this process (process.cpuUsage), which drives every WebSocket.',
    '',
    '| Workload | HTTP/2 | HTTP/1.1 | Ratio |',
    '|---|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
}

/** One workload in one mode, for profiling the server: prints the result, then lets the server exit normally. */
async function only(workload: string, mode: Mode): Promise<void> {
  const c = await startServer();
  const fn = workload === 'opens' ? opens : echo;
  const r = await fn(c, mode);
  console.log(`${workload} ${mode}: ${fmt(r.rate)}/s; server CPU per op ${cpuText(r)} µs (user+sys), client ${r.clientUs.toFixed(1)} µs, server read+write calls per op ${r.calls.toFixed(2)}; server pid ${c.proc.pid}`);
  c.proc.stdin!.write('exit\n');
  await new Promise((r) => c.proc.once('exit', r));
}

if (process.argv[2] === 'serve') {
  void serve();
} else if (process.argv[2] === 'only' && process.argv[1] === fileURLToPath(import.meta.url)) {
  void only(process.argv[3] ?? 'echo', (process.argv[4] ?? 'h2') as Mode);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runHttp2Bench().then(
    (md) => console.log(md),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
