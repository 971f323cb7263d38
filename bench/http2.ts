// WebSocket over HTTP/2 (RFC 8441) against HTTP/1.1, ws13 on both ends: the server runs in a
// child process (pinned to CPU 1 when taskset exists), the ws13 client here (CPU 0).
//   echo    100 WebSockets each echoing 32-byte messages one at a time: multiplexed on one
//           HTTP/2 connection, against 100 TCP connections (round trips/s, all WebSockets)
//   opens   whole cycles (open, one echo, close) with 10 at a time: on one HTTP/2 session
//           (extended CONNECT streams), against HTTP/1.1 (a TCP connection and handshake each)
//   idle    server memory per idle WebSocket (RSS and heap after GC), 2000 of them
// Rounds alternate h2 and HTTP/1.1 and report medians and same-round ratios. Run:
//   npx tsc -p tsconfig.json && node dist/bench/http2.js      (BENCH_ROUNDS, BENCH_DURATION_MS)
// `npm run bench` runs it after its own workloads when BENCH_WORKLOADS is unset or names http2.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
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

async function startServer(): Promise<Child> {
  const pin = taskset(1);
  const args = [...pin.slice(1), process.execPath, '--expose-gc', fileURLToPath(import.meta.url), 'serve'];
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

/** Round trips per second of 100 WebSockets echoing one message at a time. */
async function echo(c: Child, mode: Mode): Promise<number> {
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
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, DURATION_MS));
  const rate = ((count - start) * 1000) / (performance.now() - t0);
  running = false;
  await closeAll(all);
  return rate;
}

/** Whole cycles (open, echo, close) per second, 10 at a time. */
async function opens(c: Child, mode: Mode): Promise<number> {
  const session = mode === 'h2' ? http2.connect(`http://127.0.0.1:${c.ports.h2}`) : undefined;
  const opts = mode === 'h2' ? { perMessageDeflate: false, http2: { require: true, session: session! } } : { perMessageDeflate: false };
  let cycles = 0;
  const end = performance.now() + DURATION_MS;
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
  session?.destroy();
  return rate;
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
      const r: Record<Mode, number[]> = { h2: [], h1: [] };
      const ratios: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const a = await fn(c, 'h2');
        const b = await fn(c, 'h1');
        r.h2.push(a);
        r.h1.push(b);
        ratios.push(a / b);
        console.error(`[http2 ${name}] round ${i + 1}: h2 ${fmt(a)}, HTTP/1.1 ${fmt(b)} ${unit}`);
      }
      rows.push(`| ${name} (${unit}) | ${fmt(median(r.h2))} | ${fmt(median(r.h1))} | ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) |`);
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
    `ws13 client and server (\`bench/http2.ts\`), h2c on loopback, ${ROUNDS} alternating rounds of ${DURATION_MS} ms; medians; ratio h2/HTTP/1.1 of the same round (min–max).`,
    '',
    '| Workload | HTTP/2 | HTTP/1.1 | Ratio |',
    '|---|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[2] === 'serve') {
  void serve();
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runHttp2Bench().then(
    (md) => console.log(md),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
