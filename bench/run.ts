// Benchmark driver (`npm run bench`): the project's performance suite. Servers (ws13, `ws`
// without and with its native addons, a bare node:net baseline) each run in a child process
// pinned to CPU 1; the native load generator (bench/loadgen/loadgen.c, built here with
// `cc -O2 … -lz`) runs pinned to CPU 0. The client workload swaps the roles: the load
// generator serves echo on CPU 0 and a Node client process runs on CPU 1. Every workload runs
// in interleaved rounds (ws13, ws, …, ws13, …) and is reported as medians, min–max and
// same-round ratios, because the machine is shared and noisy. Every reply is checked against
// what was sent. Writes bench/RESULTS.md (keeping its "Where the time goes" section). Not a
// test: `npm test` never runs it.
//
// Environment (all optional):
//   BENCH_WORKLOADS    comma list of small,large,broadcast,handshake,idle,deflate,client,http2 (default: all)
//   BENCH_BUN          a Bun binary: adds Bun's server (uWebSockets) to the server workloads, e.g.
//                      /tmp/ws13-runtimes/bun-1.4.5/node_modules/@oven/bun-linux-x64/bin/bun
//   BENCH_BASE         a second ws13 checkout (built: its dist/src/node/index.js) run as "ws13-base"
//                      in the same rounds, for A/B comparisons of a change
//   BENCH_ROUNDS       rounds per workload (5)
//   BENCH_DURATION_MS  measured time per run (2000)
//   BENCH_WARMUP_MS    warm-up per run, not measured (500)
//   BENCH_IDLE_CONNECTIONS  connections of the idle-memory workload (10000)
//   BENCH_BROADCAST_INFLIGHT  messages the broadcast publisher keeps outstanding (32)
//   BENCH_RESULTS      where to write the Markdown (bench/RESULTS.md; "-" for stdout only)
//   BENCH_FANOUT       0 leaves out the fan-out across processes (bench/fanout.ts, FANOUT_* there)

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { jsonPool, SMALL_MESSAGE, maskedFrame } from './common.js';
import { runHttp2Bench } from './http2.js';

/** `ws` runs without its native addons (the reference of every ratio) and with them ("ws+addons"). */
type ServerName = 'ws13' | 'ws13-base' | 'ws' | 'ws+addons' | 'baseline' | 'undici' | 'bun';
type WorkloadName = 'small' | 'large' | 'broadcast' | 'handshake' | 'idle' | 'deflate' | 'client';
const ALL: WorkloadName[] = ['small', 'large', 'broadcast', 'handshake', 'idle', 'deflate', 'client'];

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ROOT = here('../../');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 2000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 500);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 10_000);
const BROADCAST_INFLIGHT = Number(process.env.BENCH_BROADCAST_INFLIGHT ?? 32);
const WORKLOADS = (process.env.BENCH_WORKLOADS ? process.env.BENCH_WORKLOADS.split(',').map((s) => s.trim()).filter((s) => s !== 'http2') : ALL) as WorkloadName[];
/** bench/http2.ts (WebSocket over HTTP/2 against HTTP/1.1): with every workload, or when named. */
const HTTP2 = !process.env.BENCH_WORKLOADS || process.env.BENCH_WORKLOADS.split(',').some((s) => s.trim() === 'http2');
for (const w of WORKLOADS) if (!ALL.includes(w)) throw new Error(`unknown workload ${w} (known: ${ALL.join(', ')})`);
const RESULTS = process.env.BENCH_RESULTS ?? join(ROOT, 'bench/RESULTS.md');
const BASE = process.env.BENCH_BASE ? join(process.env.BENCH_BASE, 'dist/src/node/index.js') : undefined;
if (BASE && !existsSync(BASE)) throw new Error(`BENCH_BASE: ${BASE} does not exist (build that checkout first)`);
const BUN = process.env.BENCH_BUN || undefined;
if (BUN && !existsSync(BUN)) throw new Error(`BENCH_BUN: ${BUN} does not exist`);
const IDLE_WARM = 200;
const POOL = jsonPool(256);

/** 64 KiB of binary data (workload "large"). */
const LARGE_MESSAGE = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 2654435761) >>> 24));
/** A 64-byte text message (workload "broadcast"). */
const BROADCAST_MESSAGE = Buffer.from('{"type":"tick","symbol":"WS13","price":4242.42,"seq":1234567890}', 'utf8');
if (BROADCAST_MESSAGE.length !== 64) throw new Error(`broadcast message is ${BROADCAST_MESSAGE.length} bytes`);
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const DEFLATE_OFFER = 'permessage-deflate; client_max_window_bits';

// ---- workloads ----------------------------------------------------------------------------

interface Spec {
  name: WorkloadName;
  title: string;
  servers: ServerName[];
  /** Unit of the rate (or of the memory figure for "idle"). */
  unit: string;
  /** Target for ws13/ws (≥ unless `lowerIsBetter`). */
  target: number;
  lowerIsBetter?: boolean;
  describe: () => string;
  mode: 'echo' | 'broadcast' | 'handshake' | 'idle' | 'client';
  serverArgs: string[];
  conns: number;
  inFlight: number;
  /** The request frame (masked) and what each response must look like. */
  frame?: Buffer;
  message?: Buffer;
  expect?: { opcode: number; rsv1: number; len: number };
  extensions?: string;
  /** Deflate: the documents sent (compressed by the load generator, one fresh stream each). */
  pool?: Buffer[];
}

/** The servers (or clients) a workload runs, in round order. */
function lineup(...names: ServerName[]): ServerName[] {
  const all: ServerName[] = BASE ? [names[0]!, 'ws13-base', ...names.slice(1)] : [...names];
  if (BUN && !names.includes('undici')) all.push('bun');
  return all;
}

const SPECS: Record<WorkloadName, Spec> = {
  small: {
    name: 'small', title: 'Echo, 32 B text', servers: lineup('ws13', 'ws', 'ws+addons', 'baseline'), unit: 'messages/s', target: 9,
    describe: () => `Echo of a ${SMALL_MESSAGE.length}-byte text message: 100 connections × 16 messages in flight.`,
    mode: 'echo', serverArgs: ['--mode', 'echo'], conns: 100, inFlight: 16,
    frame: maskedFrame(0x81, SMALL_MESSAGE, MASK), message: SMALL_MESSAGE, expect: { opcode: 1, rsv1: 0, len: SMALL_MESSAGE.length },
  },
  large: {
    name: 'large', title: 'Echo, 64 KiB binary', servers: lineup('ws13', 'ws', 'ws+addons', 'baseline'), unit: 'messages/s', target: 3.2,
    describe: () => 'Echo of a 65,536-byte binary message: 16 connections × 4 messages in flight.',
    mode: 'echo', serverArgs: ['--mode', 'echo'], conns: 16, inFlight: 4,
    frame: maskedFrame(0x82, LARGE_MESSAGE, MASK), message: LARGE_MESSAGE, expect: { opcode: 2, rsv1: 0, len: LARGE_MESSAGE.length },
  },
  broadcast: {
    name: 'broadcast', title: 'Broadcast to 1,000', servers: lineup('ws13', 'ws', 'ws+addons', 'baseline'), unit: 'deliveries/s', target: 20,
    describe: () =>
      `Broadcast of a ${BROADCAST_MESSAGE.length}-byte text message: 1,000 subscriber connections and one publisher ` +
      'connection; the server sends each published message to every other client (ws13: `server.broadcast(data, { except })`; ' +
      'ws: a loop over `wss.clients` calling `send`; baseline: frame once, `write` the same buffer to every socket). ' +
      `The publisher keeps ${BROADCAST_INFLIGHT} messages in flight end to end: a message counts as outstanding until every ` +
      'subscriber has it, so latency as well as CPU bounds the rate. Rate: messages delivered at the subscribers, each ' +
      'compared with the one published; latency: publish (the load generator\'s write) to delivery (its read), p50 and p99 ' +
      'over every delivery of the measured window.',
    mode: 'broadcast', serverArgs: ['--mode', 'broadcast'], conns: 1000, inFlight: BROADCAST_INFLIGHT,
    frame: maskedFrame(0x81, BROADCAST_MESSAGE, MASK), message: BROADCAST_MESSAGE, expect: { opcode: 1, rsv1: 0, len: BROADCAST_MESSAGE.length },
  },
  handshake: {
    name: 'handshake', title: 'Handshakes/s (full cycle)', servers: lineup('ws13', 'ws', 'ws+addons', 'baseline'), unit: 'handshakes/s', target: 1.5,
    describe: () =>
      '50 concurrent slots, each looping: TCP connect, upgrade request with a fresh random key, check the 101 and its ' +
      '`Sec-WebSocket-Accept`, send a masked close frame (1000), read the server\'s close frame (it must echo 1000), close ' +
      'the socket. Rate: completed cycles. The server\'s work after its close frame (closing TCP, freeing the connection) ' +
      'runs beside the next cycles and is paid in its CPU.',
    mode: 'handshake', serverArgs: ['--mode', 'echo'], conns: 50, inFlight: 0,
  },
  idle: {
    name: 'idle', title: 'Idle memory per connection', servers: lineup('ws13', 'ws', 'ws+addons', 'baseline'), unit: 'KiB/connection', target: 0.8, lowerIsBetter: true,
    describe: () =>
      `Total RSS growth per connection: ${IDLE_WARM} connections warm the server up (each completes one echo of a 32-byte ` +
      'message), 2 s to settle, server VmRSS (/proc/PID/status) read; then ' +
      `${IDLE_CONNECTIONS.toLocaleString('en-US')} more connections (opened 256 at a time, each handshake checked, each ` +
      'completing one echo), 2 s to settle, VmRSS read again. The figure is the growth divided by ' +
      `${IDLE_CONNECTIONS.toLocaleString('en-US')}: what the process costs, V8's young generation and everything else a burst ` +
      'of connections leaves behind included (no forced GC).',
    mode: 'idle', serverArgs: ['--mode', 'echo'], conns: IDLE_CONNECTIONS, inFlight: 0,
    frame: maskedFrame(0x81, SMALL_MESSAGE, MASK), message: SMALL_MESSAGE, expect: { opcode: 1, rsv1: 0, len: SMALL_MESSAGE.length },
  },
  deflate: {
    name: 'deflate', title: 'Echo, ~1 KiB JSON, permessage-deflate', servers: lineup('ws13', 'ws', 'ws+addons'), unit: 'messages/s', target: 10,
    describe: () => {
      const sizes = POOL.map((d) => d.length);
      return `Echo with permessage-deflate of ${POOL.length} different JSON documents (${Math.min(...sizes)}–${Math.max(...sizes)} bytes), ` +
        'sent in turn: 100 connections × 16 in flight. The client offers ' +
        `\`${DEFLATE_OFFER}\` as browsers do; servers \`perMessageDeflate: true\`. The load generator compresses each document ` +
        'on its own (fresh raw deflate stream, the window the server allowed, sync flush, tail removed, RSV1), inflates every ' +
        'reply with one stream per connection and compares it with the document it answers. Compressed sizes: payload bytes ' +
        'over plain bytes, for requests and replies. No baseline (it has no permessage-deflate).';
    },
    mode: 'echo', serverArgs: ['--mode', 'echo', '--deflate'], conns: 100, inFlight: 16,
    pool: POOL, expect: { opcode: 1, rsv1: 1, len: -1 }, extensions: DEFLATE_OFFER,
  },
  client: {
    name: 'client', title: 'Client, echo 32 B text', servers: lineup('ws13', 'ws', 'ws+addons', 'undici'), unit: 'messages/s', target: 5,
    describe: () =>
      'The client side: one Node process (pinned to CPU 1) opens 100 connections to a native echo server (the load ' +
      'generator in `--mode serve`, pinned to CPU 0) and keeps 16 messages of 32 bytes in flight on each, sending a ' +
      'string and comparing each echo with it. Clients: ws13\'s `WebSocket`, `ws`\'s `WebSocket` (without and with its ' +
      'addons), undici\'s (Node\'s global `WebSocket`; `--experimental-websocket` on Node 20). Rate: echoes received. ' +
      'Server CPU column: the client process\'s CPU.',
    mode: 'client', serverArgs: [], conns: 100, inFlight: 16,
  },
};

// ---- processes ----------------------------------------------------------------------------

function works(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const PINNED = works('taskset', ['-c', '0', 'true']) && works('taskset', ['-c', '1', 'true']);

/** Descriptor limits: what we have, and what prlimit could raise children to. */
function nofileLimits(): { soft: number; hard: number; raisedTo: number | undefined; how: string } {
  const m = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  const num = (s: string | undefined) => (s === 'unlimited' ? Infinity : Number(s));
  const soft = num(m?.[1]);
  const hard = num(m?.[2]);
  const want = Math.max(IDLE_CONNECTIONS * 2 + 1024, 65_536);
  if (soft >= want) return { soft, hard, raisedTo: undefined, how: `soft limit ${soft} already enough` };
  if (works('prlimit', [`--nofile=${want}:${Math.max(want, hard)}`, 'true'])) {
    return { soft, hard, raisedTo: want, how: `raised to ${want} for the benchmark processes with \`prlimit --nofile\`` };
  }
  if (hard > soft && works('prlimit', [`--nofile=${hard}:${hard}`, 'true'])) {
    return { soft, hard, raisedTo: hard, how: `prlimit could not go past the hard limit (no CAP_SYS_RESOURCE); soft raised to ${hard}` };
  }
  if (soft >= IDLE_CONNECTIONS + 1024) {
    return { soft, hard, raisedTo: undefined, how: `prlimit could not raise it to ${want} (no CAP_SYS_RESOURCE); ${soft} is enough for ${IDLE_CONNECTIONS} connections` };
  }
  return { soft, hard, raisedTo: undefined, how: 'prlimit could not raise it; processes raise their soft limit to the hard limit themselves' };
}
const NOFILE = nofileLimits();

function pinned(cpu: number, argv: string[]): [string, string[]] {
  let out = argv;
  if (PINNED) out = ['taskset', '-c', String(cpu), ...out];
  if (NOFILE.raisedTo !== undefined) {
    const hard = NOFILE.hard === Infinity ? NOFILE.raisedTo : Math.max(NOFILE.hard, NOFILE.raisedTo);
    out = ['prlimit', `--nofile=${NOFILE.raisedTo}:${hard}`, ...out];
  }
  return [out[0]!, out.slice(1)];
}

/** A child process with its stdout read line by line. */
class Child {
  readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  private waiter: ((line: string | undefined) => void) | undefined;
  private stderr = '';
  private closed = false;
  private readonly rl: Interface;

  constructor(cpu: number, argv: string[], stdin: 'ignore' | 'pipe' = 'ignore', env: NodeJS.ProcessEnv = process.env) {
    const [cmd, args] = pinned(cpu, argv);
    this.proc = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'], env });
    this.proc.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 4000) this.stderr += d.toString();
    });
    this.rl = createInterface({ input: this.proc.stdout! });
    this.rl.on('line', (line) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(line);
      } else this.lines.push(line);
    });
    this.rl.on('close', () => {
      this.closed = true;
      this.waiter?.(undefined);
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** The next stdout line. */
  line(what: string, timeoutMs: number): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(new Error(`${what}: exited ${this.stderr}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`${what}: no output within ${timeoutMs} ms ${this.stderr}`));
      }, timeoutMs);
      this.waiter = (line) => {
        clearTimeout(timer);
        if (line === undefined) reject(new Error(`${what}: exited (${this.proc.exitCode}) ${this.stderr}`));
        else resolve(line);
      };
    });
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const hard = setTimeout(() => p.kill('SIGKILL'), 3000);
      p.once('exit', () => {
        clearTimeout(hard);
        resolve();
      });
      p.kill('SIGTERM');
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

// ---- one run ------------------------------------------------------------------------------

interface LoadgenOut {
  fatal?: string;
  opened: number;
  failed: number;
  answer: string | null;
  setupSeconds: number;
  seconds: number;
  messages: number;
  rate: number;
  loadgenCpu: number;
  serverCpu: number;
  coreBusy: number[];
  coreIrq: number[];
  checked: number;
  badFrames: number;
  mismatches: number;
  resets: number;
  perSubscriberMin?: number;
  perSubscriberMax?: number;
  latencyP50Us?: number;
  latencyP99Us?: number;
  requestPlain?: number;
  requestCompressed?: number;
  replyPlain?: number;
  replyCompressed?: number;
  repliesUncompressed?: number;
  clientWindowBits?: number;
  nofile: [number, number];
  errorCount: number;
  errors: string[];
}

interface Run {
  /** messages/s, deliveries/s, handshakes/s; or KiB per connection for "idle". */
  value: number;
  loadgenCpu: number;
  serverCpu: number;
  /** Busy share of core 0 / core 1 not explained by our process there nor interrupts. */
  other: number;
  answer: string | null;
  problems: string[];
  extra: string;
  /** Broadcast: publish→delivery latency p50 and p99, ms. */
  latency?: [number, number];
  /** Deflate: compressed/plain, requests and replies. */
  compression?: [number, number];
  /** `ws` servers: the native addons it loaded. */
  addons?: string;
}

const LOADGEN = join(ROOT, 'dist/bench/loadgen/loadgen');
let TMP = '';

function buildLoadgen(): string {
  mkdirSync(join(ROOT, 'dist/bench/loadgen'), { recursive: true });
  const src = join(ROOT, 'bench/loadgen/loadgen.c');
  execFileSync('cc', ['-O2', '-Wall', '-o', LOADGEN, src, '-lz'], { stdio: 'inherit' });
  return execFileSync('cc', ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
}

/** argv of a server process. */
function serverArgv(spec: Spec, server: ServerName, idle: boolean): { argv: string[]; env: NodeJS.ProcessEnv } {
  const file = server === 'ws13-base' ? 'ws13' : server === 'ws+addons' ? 'ws' : server;
  const argv = [server === 'bun' ? BUN! : process.execPath, here(`./servers/${file}.js`), ...spec.serverArgs];
  if (server === 'ws13-base') argv.push('--entry', BASE!);
  void idle;
  const env = { ...process.env };
  if (server === 'ws') {
    env.WS_NO_BUFFER_UTIL = '1';
    env.WS_NO_UTF_8_VALIDATE = '1';
  }
  return { argv, env };
}

function fileOnce(name: string, data: Buffer): string {
  const path = join(TMP, name);
  if (!existsSync(path)) writeFileSync(path, data);
  return path;
}

function poolFile(pool: Buffer[]): Buffer {
  return Buffer.concat(pool.flatMap((d) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(d.length);
    return [len, d];
  }));
}

function problemsOf(out: LoadgenOut): string[] {
  const problems = [...out.errors];
  if (out.errorCount > out.errors.length) problems.push(`… ${out.errorCount} problems in all`);
  if (out.badFrames > 0) problems.push(`${out.badFrames} responses had an unexpected opcode, RSV1 or length`);
  if (out.mismatches > 0) problems.push(`${out.mismatches} responses differed from what was sent`);
  return problems;
}

async function runClient(spec: Spec, client: ServerName): Promise<Run> {
  const srv = new Child(0, [LOADGEN, '--mode', 'serve', '--port', '0']);
  try {
    const listening = JSON.parse(await srv.line('native echo server', 10_000)) as { port?: number; fatal?: string };
    if (!listening.port) throw new Error(`native echo server: ${listening.fatal ?? 'no port'}`);
    const kind = client === 'ws13-base' ? 'ws13' : client === 'ws+addons' ? 'ws' : client;
    const argv = [process.execPath];
    if (client === 'undici' && Number(process.versions.node.split('.')[0]) < 22) argv.push('--experimental-websocket', '--no-warnings');
    argv.push(here('./clients/client.js'), kind, String(listening.port), String(spec.conns), String(spec.inFlight), String(WARMUP_MS), String(DURATION_MS));
    if (client === 'ws13-base') argv.push(BASE!);
    const env = { ...process.env };
    if (client === 'ws') {
      env.WS_NO_BUFFER_UTIL = '1';
      env.WS_NO_UTF_8_VALIDATE = '1';
    }
    const cl = new Child(1, argv, 'ignore', env);
    let out: { rate: number; cpu: number; mismatches: number; errors: string[] };
    try {
      out = JSON.parse(await cl.line(`${client} client`, WARMUP_MS + DURATION_MS + 60_000)) as typeof out;
    } finally {
      await cl.stop();
    }
    const problems = [...out.errors];
    if (out.mismatches > 0) problems.push(`${out.mismatches} echoes differed from what was sent`);
    return { value: out.rate, loadgenCpu: NaN, serverCpu: out.cpu, other: NaN, answer: null, problems, extra: '' };
  } finally {
    await srv.stop();
  }
}

async function runOnce(spec: Spec, server: ServerName, round: number): Promise<Run> {
  if (spec.mode === 'client') return runClient(spec, server);
  void round;
  const idle = spec.mode === 'idle';
  const { argv, env } = serverArgv(spec, server, idle);
  const srv = new Child(1, argv, 'ignore', env);
  try {
    const line = await srv.line(`${server} server`, 10_000);
    const m = /^listening (\d+)(?: addons:(\S+))?$/.exec(line);
    if (!m) throw new Error(`${server} server said: ${line}`);
    const port = m[1]!;
    const addons = m[2];
    const args = [
      LOADGEN, '--mode', spec.mode, '--port', port, '--conns', String(spec.conns), '--inflight', String(spec.inFlight),
      '--warmup', String(WARMUP_MS), '--duration', String(DURATION_MS), '--server-pid', String(srv.pid),
    ];
    if (spec.frame) args.push('--frame-file', fileOnce(`frame-${spec.name}`, spec.frame));
    if (spec.message) args.push('--message-file', fileOnce(`message-${spec.name}`, spec.message));
    if (spec.pool) args.push('--pool-file', fileOnce(`pool-${spec.name}`, poolFile(spec.pool)));
    if (spec.expect) args.push('--expect-opcode', String(spec.expect.opcode), '--expect-rsv1', String(spec.expect.rsv1), '--expect-len', String(spec.expect.len));
    if (spec.extensions) args.push('--extensions', spec.extensions);

    let out: LoadgenOut;
    let warmOut: LoadgenOut | undefined;
    let before = 0;
    let after = 0;
    if (idle) {
      // Warm-up connections, settle, RSS; then the measured connections, settle, RSS.
      const genArgs = (conns: number): string[] => args.map((a, i) => (i > 0 && args[i - 1] === '--conns' ? String(conns) : a));
      const warm = new Child(0, genArgs(IDLE_WARM), 'pipe');
      let gen: Child | undefined;
      try {
        const awaitOpen = async (g: Child): Promise<void> => {
          const open = JSON.parse(await g.line('load generator', 90_000)) as { event?: string; fatal?: string };
          if (open.fatal) throw new Error(`load generator: ${open.fatal}`);
          await sleep(2000);
        };
        await awaitOpen(warm);
        before = rssKiB(srv.pid);
        gen = new Child(0, genArgs(spec.conns), 'pipe');
        await awaitOpen(gen);
        after = rssKiB(srv.pid);
        warm.proc.stdin!.end();
        gen.proc.stdin!.end();
        warmOut = JSON.parse(await warm.line('load generator', 90_000)) as LoadgenOut;
        out = JSON.parse(await gen.line('load generator', 90_000)) as LoadgenOut;
        if (warmOut.fatal) throw new Error(`load generator: ${warmOut.fatal}`);
      } finally {
        await warm.stop();
        await gen?.stop();
      }
    } else {
      const gen = new Child(0, args, 'ignore');
      try {
        out = JSON.parse(await gen.line('load generator', WARMUP_MS + DURATION_MS + 90_000)) as LoadgenOut;
      } finally {
        await gen.stop();
      }
    }
    if (out.fatal) throw new Error(`load generator: ${out.fatal}`);
    const problems = problemsOf(out);
    if (warmOut) problems.push(...problemsOf(warmOut));
    if (spec.extensions && !/permessage-deflate/i.test(out.answer ?? '')) problems.push(`permessage-deflate not negotiated (answer ${JSON.stringify(out.answer)})`);
    if (spec.mode !== 'idle' && spec.mode !== 'handshake' && out.checked === 0) problems.push('no response was checked');
    // "ws+addons" without them would be a second "ws" under a false name.
    if (server === 'ws+addons' && (addons === undefined || addons === 'none')) problems.push('ws ran without its native addons: install bufferutil and utf-8-validate (npm ci)');
    const own = [out.loadgenCpu, out.serverCpu];
    const other = Math.max(0, ...[0, 1].map((c) => (out.coreBusy[c] ?? 0) - (out.coreIrq[c] ?? 0) - own[c]!));
    let extra = '';
    let latency: [number, number] | undefined;
    let compression: [number, number] | undefined;
    if (spec.mode === 'broadcast') {
      const max = out.perSubscriberMax ?? 0;
      extra = `${(((max - (out.perSubscriberMin ?? 0)) / Math.max(1, max)) * 100).toFixed(1)}%`;
      latency = [(out.latencyP50Us ?? NaN) / 1000, (out.latencyP99Us ?? NaN) / 1000];
    }
    if (spec.pool) {
      compression = [(out.requestCompressed ?? NaN) / (out.requestPlain ?? NaN), (out.replyCompressed ?? NaN) / (out.replyPlain ?? NaN)];
      if (out.repliesUncompressed) extra = `${out.repliesUncompressed} replies uncompressed`;
    }
    if (spec.mode === 'handshake') extra = `${out.failed}`;
    if (idle) {
      extra = `${before}→${after} KiB, ${out.setupSeconds.toFixed(1)} s to open`;
      if (out.opened < spec.conns) problems.push(`only ${out.opened} of ${spec.conns} connections opened`);
    }
    return {
      value: idle ? (after - before) / spec.conns : out.rate,
      loadgenCpu: out.loadgenCpu,
      serverCpu: out.serverCpu,
      other,
      answer: out.answer,
      problems,
      extra,
      latency,
      compression,
      addons,
    };
  } finally {
    await srv.stop();
  }
}

// ---- statistics and report ------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtRate = (x: number) => Math.round(x).toLocaleString('en-US');
const fmtKiB = (x: number) => x.toFixed(1);
const fmtPct = (x: number) => `${Math.round(x * 100)}%`;
const fmtRatio = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
const range = (xs: number[], f: (x: number) => string) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;

interface Outcome {
  spec: Spec;
  runs: Map<ServerName, Run[]>;
}

function ratios(o: Outcome, a: ServerName, b: ServerName, perCpu = false): number[] | undefined {
  const ra = o.runs.get(a);
  const rb = o.runs.get(b);
  if (!ra || !rb || ra.length === 0) return undefined;
  const v = (r: Run) => (perCpu ? r.value / r.serverCpu : r.value);
  return ra.map((r, i) => v(r) / v(rb[i]!));
}

/** Rate per CPU-second of the measured process: steadier than the rate on a loaded machine. */
const perCpuOf = (o: Outcome) => o.spec.mode !== 'idle';

const fmtMs = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(1));
const fmtShare = (x: number) => `${(x * 100).toFixed(1)} %`;

function section(o: Outcome): string {
  const { spec } = o;
  const f = spec.mode === 'idle' ? fmtKiB : fmtRate;
  const client = spec.mode === 'client';
  const extraCols = spec.mode === 'broadcast' ? ' latency p50 / p99 (ms) |' : spec.pool ? ' compressed size, requests / replies |' : '';
  const lines = [
    `### ${spec.title} (\`${spec.name}\`)`,
    '',
    spec.describe(),
    '',
    `| ${client ? 'client' : 'server'} | ${spec.unit} (median) | min–max |${extraCols} ${client ? 'client CPU (core 1)' : 'server CPU (core 1)'} | ` +
      `per CPU-second (median) | ${client ? '—' : 'load generator CPU (core 0)'} | other load on the cores | notes |`,
    `|---|---:|---:|${extraCols ? '---:|' : ''}---:|---:|---:|---:|---|`,
  ];
  const label: Partial<Record<Spec['mode'], string>> = {
    broadcast: 'spread of messages received between subscribers, per round',
    handshake: 'failed cycles per round',
    idle: 'RSS after warm-up→after all, time to open, per round',
  };
  for (const [s, rs] of o.runs) {
    const extras = rs.map((r) => r.extra).filter(Boolean);
    const note = [
      rs[0]?.addons ? `addons: ${rs[0].addons}` : '',
      rs[0]?.answer ? `negotiated \`${rs[0].answer}\`` : '',
      extras.length ? `${label[spec.mode] ?? ''}${label[spec.mode] ? ': ' : ''}${extras.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    const idle = spec.mode === 'idle';
    let extraCell = '';
    if (spec.mode === 'broadcast') {
      extraCell = ` ${fmtMs(median(rs.map((r) => r.latency?.[0] ?? NaN)))} / ${fmtMs(median(rs.map((r) => r.latency?.[1] ?? NaN)))} |`;
    } else if (spec.pool) {
      extraCell = ` ${fmtShare(median(rs.map((r) => r.compression?.[0] ?? NaN)))} / ${fmtShare(median(rs.map((r) => r.compression?.[1] ?? NaN)))} |`;
    }
    lines.push(
      `| ${s} | ${f(median(rs.map((r) => r.value)))} | ${range(rs.map((r) => r.value), f)} |${extraCell} ` +
        `${idle ? '—' : fmtPct(median(rs.map((r) => r.serverCpu)))} | ${idle ? '—' : fmtRate(median(rs.map((r) => r.value / r.serverCpu)))} | ` +
        `${idle || client ? '—' : fmtPct(median(rs.map((r) => r.loadgenCpu)))} | ` +
        `${idle || client ? '—' : fmtPct(median(rs.map((r) => r.other)))} | ${note} |`,
    );
  }
  lines.push('');
  for (const [a, b] of [['ws13', 'ws'], ['ws13', 'ws+addons'], ['ws13', 'baseline'], ['ws13', 'ws13-base'], ['ws13', 'undici'], ['ws13', 'bun']] as const) {
    const r = ratios(o, a, b);
    if (!r) continue;
    const main = a === 'ws13' && b === 'ws';
    const rc = perCpuOf(o) ? ratios(o, a, b, true) : undefined;
    lines.push(
      `${a}/${b}, same round: median ${main ? '**' : ''}${fmtRatio(median(r))}${main ? '**' : ''} (rounds: ${r.map(fmtRatio).join(', ')})` +
        (rc ? `; per CPU-second ${fmtRatio(median(rc))} (${rc.map(fmtRatio).join(', ')})` : '') +
        (main ? `; target ${spec.lowerIsBetter ? '≤' : '≥'} ${spec.target}.` : '.'),
    );
  }
  if (spec.mode !== 'idle' && !client) {
    const lg = Math.max(...[...o.runs.values()].flat().map((r) => r.loadgenCpu));
    const ws13Server = median(o.runs.get('ws13')!.map((r) => r.serverCpu));
    lines.push(
      `Load generator: at most ${fmtPct(lg)} of its core in any run, against ${fmtPct(ws13Server)} for the ws13 server (median)` +
        (lg > 0.85 ? ': **the load generator was near saturation; treat these rates as a floor**.' : ': not the bottleneck.'),
    );
  }
  return lines.join('\n');
}

function summary(outcomes: Outcome[]): string {
  const lines = [
    '| workload | target ws13/ws | ws13/ws (median of same-round ratios) | rounds | met | ws13/ws per CPU-second | ws13/ws+addons | ws13/baseline | ws13 | ws | baseline | load generator CPU (max) / ws13 CPU |',
    '|---|---:|---:|---|:---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const o of outcomes) {
    const { spec } = o;
    const rw = ratios(o, 'ws13', 'ws');
    const ra = ratios(o, 'ws13', 'ws+addons');
    const rb = ratios(o, 'ws13', spec.mode === 'client' ? 'undici' : 'baseline');
    const f = spec.mode === 'idle' ? (x: number) => `${fmtKiB(x)} KiB` : fmtRate;
    const med = (s: ServerName) => {
      const rs = o.runs.get(s);
      return rs ? f(median(rs.map((r) => r.value))) : '—';
    };
    const m = rw ? median(rw) : NaN;
    const all = [...o.runs.values()].flat();
    const cpu =
      spec.mode === 'idle'
        ? '—'
        : `${spec.mode === 'client' ? '—' : fmtPct(Math.max(...all.map((r) => r.loadgenCpu)))} / ${fmtPct(median((o.runs.get('ws13') ?? []).map((r) => r.serverCpu)))}`;
    const met = rw ? (spec.lowerIsBetter ? m <= spec.target : m >= spec.target) : false;
    lines.push(
      `| ${spec.title} | ${spec.lowerIsBetter ? '≤' : '≥'} ${spec.target}× | ${rw ? `**${fmtRatio(m)}**` : '—'} | ${rw ? rw.map(fmtRatio).join(', ') : ''} | ` +
        `${rw ? (met ? 'yes' : 'no') : ''} | ${perCpuOf(o) && rw ? fmtRatio(median(ratios(o, 'ws13', 'ws', true)!)) : '—'} | ${ra ? fmtRatio(median(ra)) : '—'} | ${rb ? `${fmtRatio(median(rb))}${spec.mode === 'client' ? ' (vs undici)' : ''}` : '—'} | ` +
        `${med('ws13')} | ${med('ws')} | ${med(spec.mode === 'client' ? 'undici' : 'baseline')} | ${cpu} |`,
    );
  }
  return lines.join('\n');
}

/** A section of the old RESULTS.md kept as it is (written by hand, or by a script run by hand), or undefined. */
function keptSection(heading: string): string | undefined {
  try {
    const old = readFileSync(join(ROOT, 'bench/RESULTS.md'), 'utf8');
    const at = old.indexOf(`\n${heading}\n`);
    if (at < 0) return undefined;
    const rest = old.slice(at + 1);
    const next = rest.indexOf('\n## ', heading.length);
    return (next < 0 ? rest : rest.slice(0, next + 1)).trimEnd() + '\n';
  } catch {
    return undefined;
  }
}

/** Too long for every run (minutes, 100,000 connections): `node dist/bench/scale-100k.js`, its figures kept here. */
const SCALE_HEADING = '## 100,000 connections across workers';

const WHERE_HEADING = '## Where the time goes';
function keptWhereSection(): string {
  const placeholder = `${WHERE_HEADING}\n\n_To be written by the lead developer: profiles of the ws13 server in each workload._\n`;
  try {
    const old = readFileSync(join(ROOT, 'bench/RESULTS.md'), 'utf8');
    const at = old.indexOf(WHERE_HEADING);
    if (at < 0) return placeholder;
    const rest = old.slice(at);
    const next = rest.indexOf('\n## ', WHERE_HEADING.length);
    return (next < 0 ? rest : rest.slice(0, next + 1)).trimEnd() + '\n';
  } catch {
    return placeholder;
  }
}

/** The git revision of BENCH_BASE, when it is a checkout. */
function baseRevision(): string {
  try {
    return ` (commit ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: process.env.BENCH_BASE, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()})`;
  } catch {
    return '';
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  TMP = mkdtempSync(join(tmpdir(), 'ws13-bench-'));
  const ccVersion = buildLoadgen();
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const wsVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules/ws/package.json'), 'utf8')) as { version: string }).version;
  let source = 'source revision unknown';
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    source = `ws13 at commit ${rev}${dirty ? ' with uncommitted changes in src/' : ''}`;
  } catch {
    // not a git checkout
  }
  const notes: string[] = [];
  if (!PINNED) notes.push('taskset is not available: servers and load generator ran unpinned.');

  const outcomes: Outcome[] = [];
  try {
    for (const name of WORKLOADS) {
      const spec = SPECS[name];
      const o: Outcome = { spec, runs: new Map(spec.servers.map((s) => [s, []])) };
      for (let round = 1; round <= ROUNDS; round++) {
        for (const server of spec.servers) {
          let run: Run;
          try {
            run = await runOnce(spec, server, round);
          } catch (err) {
            run = { value: NaN, loadgenCpu: NaN, serverCpu: NaN, other: NaN, answer: null, problems: [String(err)], extra: '' };
          }
          o.runs.get(server)!.push(run);
          const value = spec.mode === 'idle'
            ? `${fmtKiB(run.value)} KiB/connection`
            : `${fmtRate(run.value)} ${spec.unit} (${fmtRate(run.value / run.serverCpu)} per CPU-second)` +
              (run.latency ? `, latency p50 ${fmtMs(run.latency[0])} ms p99 ${fmtMs(run.latency[1])} ms` : '') +
              (run.compression ? `, compressed ${fmtShare(run.compression[0])} / ${fmtShare(run.compression[1])}` : '');
          console.error(
            `[${name}] round ${round} ${server}: ${value}, server CPU ${fmtPct(run.serverCpu)}, load generator CPU ${fmtPct(run.loadgenCpu)}, ` +
              `other load ${fmtPct(run.other)}${run.extra ? `, ${run.extra}` : ''}${run.problems.length ? `, PROBLEMS: ${run.problems.join('; ')}` : ''}`,
          );
          if (run.problems.length) notes.push(`${name}, round ${round}, ${server}: ${run.problems.join('; ')}`);
        }
      }
      outcomes.push(o);
    }
  } finally {
    rmSync(TMP, { recursive: true, force: true });
  }

  // Fan-out across processes: its own driver and servers (bench/fanout.ts), a section of its own.
  const fanout = process.env.BENCH_FANOUT === '0' ? '' : execFileSync(process.execPath, [join(ROOT, 'dist/bench/fanout.js')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

  const loadRuns = outcomes.filter((o) => o.spec.mode !== 'idle' && o.spec.mode !== 'client').flatMap((o) => [...o.runs.values()].flat());
  const noisy = loadRuns.filter((r) => r.other > 0.25).length;
  const total = loadRuns.length;
  if (noisy) notes.push(`${noisy} of ${total} runs had a core more than 25% busy with work other than ours (other processes on this shared machine): compare same-round ratios, not absolute rates.`);

  const md = [
    '# ws13 benchmark results',
    '',
    `Machine: ${nproc} CPUs, ${cpuModel}; Linux ${release()}; Node ${process.version}; ws ${wsVersion}; ${source}; load generator built with ${ccVersion}.`,
    PINNED
      ? 'Servers pinned to CPU 1 (`taskset -c 1`), the native load generator (bench/loadgen/loadgen.c, epoll) to CPU 0 (`taskset -c 0`).'
      : 'Unpinned.',
    '`ws` runs twice: as installed from npm without its optional native addons (`WS_NO_BUFFER_UTIL`, `WS_NO_UTF_8_VALIDATE`), ' +
      'the reference of every ratio, and with them (`ws+addons`: bufferutil, utf-8-validate).' +
      (BUN ? ` \`bun\`: Bun ${execFileSync(BUN, ['--version'], { encoding: 'utf8' }).trim()} (\`Bun.serve\`, uWebSockets), same rounds.` : '') +
      (BASE ? ` \`ws13-base\`: the build at ${process.env.BENCH_BASE}${baseRevision()}, in the same rounds.` : ''),
    `Open files: soft ${NOFILE.soft}, hard ${NOFILE.hard}; ${NOFILE.how}.`,
    `Generated by \`npm run bench\` on ${new Date().toISOString()} in ${Math.round((Date.now() - started) / 1000)} s: ${ROUNDS} interleaved rounds per workload ` +
      `(${WARMUP_MS} ms warm-up + ${DURATION_MS} ms measured per run); medians, min–max, and ratios of the same round.`,
    '',
    'CPU columns: share of one core over the measured window (server: utime+stime from /proc/PID/stat; load generator: its own ' +
      'getrusage). "Other load": the larger, over both cores, of busy time in /proc/stat not accounted for by our process pinned ' +
      'there nor by interrupt work (loopback TCP): other tenants of this shared machine.',
    '',
    '## Summary',
    '',
    summary(outcomes),
    '',
    '## Workloads',
    '',
    ...outcomes.flatMap((o) => [section(o), '']),
    ...(fanout ? [fanout.trim(), ''] : []),
    ...(HTTP2 ? [await runHttp2Bench()] : []),
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
    ...(keptSection(SCALE_HEADING) ? [keptSection(SCALE_HEADING)!] : []),
    keptWhereSection(),
  ].join('\n');
  console.log(md);
  if (RESULTS !== '-') writeFileSync(RESULTS, md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
