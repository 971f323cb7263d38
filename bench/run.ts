// Benchmark driver (`npm run bench`): the project's performance suite. Servers (ws13, ws, a
// bare node:net baseline) each run in a child process pinned to CPU 1; the native load
// generator (bench/loadgen/loadgen.c, built here with `cc -O2`) runs pinned to CPU 0. Every
// workload runs in interleaved rounds (ws13, ws, baseline, ws13, …) and is reported as
// medians, min–max and same-round ratios, because the machine is shared and noisy. Writes
// bench/RESULTS.md (keeping its "Where the time goes" section). Not a test: `npm test`
// never runs it.
//
// Environment (all optional):
//   BENCH_WORKLOADS    comma list of small,large,broadcast,handshake,idle,deflate,http2 (default: all)
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
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { JSON_MESSAGE, SMALL_MESSAGE, maskedFrame } from './common.js';
import { runHttp2Bench } from './http2.js';

type ServerName = 'ws13' | 'ws' | 'baseline';
type WorkloadName = 'small' | 'large' | 'broadcast' | 'handshake' | 'idle' | 'deflate';
const ALL: WorkloadName[] = ['small', 'large', 'broadcast', 'handshake', 'idle', 'deflate'];

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
  mode: 'echo' | 'broadcast' | 'handshake' | 'idle';
  serverArgs: string[];
  conns: number;
  inFlight: number;
  /** The request frame (masked) and what each response must look like. */
  frame?: Buffer;
  message?: Buffer;
  expect?: { opcode: number; rsv1: number; len: number };
  extensions?: string;
}

function deflateFrame(): Buffer {
  // A fresh raw deflate stream per message, sync-flushed, tail removed (RFC 7692 §7.2.1):
  // valid whether or not the server keeps its inflate context between messages.
  const z = deflateRawSync(JSON_MESSAGE, { finishFlush: constants.Z_SYNC_FLUSH });
  if (!z.subarray(z.length - 4).equals(Buffer.from([0, 0, 0xff, 0xff]))) throw new Error('unexpected deflate tail');
  return maskedFrame(0xc1, z.subarray(0, z.length - 4), MASK);
}

const SPECS: Record<WorkloadName, Spec> = {
  small: {
    name: 'small', title: 'Echo, 32 B text', servers: ['ws13', 'ws', 'baseline'], unit: 'messages/s', target: 5,
    describe: () => `Echo of a ${SMALL_MESSAGE.length}-byte text message: 100 connections × 16 messages in flight.`,
    mode: 'echo', serverArgs: ['--mode', 'echo'], conns: 100, inFlight: 16,
    frame: maskedFrame(0x81, SMALL_MESSAGE, MASK), message: SMALL_MESSAGE, expect: { opcode: 1, rsv1: 0, len: SMALL_MESSAGE.length },
  },
  large: {
    name: 'large', title: 'Echo, 64 KiB binary', servers: ['ws13', 'ws', 'baseline'], unit: 'messages/s', target: 3.2,
    describe: () => 'Echo of a 65,536-byte binary message: 16 connections × 4 messages in flight.',
    mode: 'echo', serverArgs: ['--mode', 'echo'], conns: 16, inFlight: 4,
    frame: maskedFrame(0x82, LARGE_MESSAGE, MASK), message: LARGE_MESSAGE, expect: { opcode: 2, rsv1: 0, len: LARGE_MESSAGE.length },
  },
  broadcast: {
    name: 'broadcast', title: 'Broadcast to 1,000', servers: ['ws13', 'ws', 'baseline'], unit: 'deliveries/s', target: 10,
    describe: () =>
      `Broadcast of a ${BROADCAST_MESSAGE.length}-byte text message: 1,000 subscriber connections and one publisher ` +
      'connection; the server sends each published message to every other client (ws13: `server.broadcast(data, { except })`; ' +
      'ws: a loop over `wss.clients` calling `send`; baseline: frame once, `write` the same buffer to every socket). ' +
      `The publisher keeps ${BROADCAST_INFLIGHT} messages outstanding on average over the subscribers, so the server always has ` +
      'work queued (with fewer, ws13 coalesces fewer broadcasts per socket write and its rate drops; ws does not coalesce). ' +
      'Rate: messages delivered at the subscribers.',
    mode: 'broadcast', serverArgs: ['--mode', 'broadcast'], conns: 1000, inFlight: BROADCAST_INFLIGHT,
    frame: maskedFrame(0x81, BROADCAST_MESSAGE, MASK), message: BROADCAST_MESSAGE, expect: { opcode: 1, rsv1: 0, len: BROADCAST_MESSAGE.length },
  },
  handshake: {
    name: 'handshake', title: 'Handshakes/s', servers: ['ws13', 'ws', 'baseline'], unit: 'handshakes/s', target: 1.5,
    describe: () =>
      '64 concurrent clients, each looping: TCP connect, upgrade request, check the 101 and its `Sec-WebSocket-Accept`, ' +
      'send a masked close frame (1000), read until the server closes TCP. Rate: completed cycles.',
    mode: 'handshake', serverArgs: ['--mode', 'echo'], conns: 64, inFlight: 0,
  },
  idle: {
    name: 'idle', title: 'Idle memory per connection', servers: ['ws13', 'ws', 'baseline'], unit: 'KiB/connection', target: 0.8, lowerIsBetter: true,
    describe: () =>
      `${IDLE_CONNECTIONS.toLocaleString('en-US')} open, idle connections (opened 256 at a time, each handshake checked), in two ` +
      'halves by two load generators. Server VmRSS (/proc/PID/status) after the second half minus after the first, each reading ' +
      'after `gc()` (servers run with --expose-gc) and 1 s of settling, divided by the connections of the second half: what one more ' +
      'idle connection costs. The average over all connections (in the notes) also carries what a burst of handshakes leaves ' +
      'behind for the whole process, chiefly V8\'s young generation grown to its maximum (about 24 MB here), which V8 gives back ' +
      'only after some 20 s of idleness.',
    mode: 'idle', serverArgs: ['--mode', 'echo'], conns: IDLE_CONNECTIONS, inFlight: 0,
  },
  deflate: {
    name: 'deflate', title: 'Echo, 1 KiB JSON, permessage-deflate', servers: ['ws13', 'ws'], unit: 'messages/s', target: 10,
    describe: () =>
      `Echo of a ${JSON_MESSAGE.length}-byte JSON text message with permessage-deflate: 100 connections × 16 in flight. ` +
      `Client offer \`${DEFLATE_OFFER}\`; servers \`perMessageDeflate: true\`. Request frames pre-compressed once (fresh ` +
      'stream, sync flush, RSV1); responses must carry RSV1; the first response of each run is inflated and compared. ' +
      'No baseline (it has no permessage-deflate).',
    mode: 'echo', serverArgs: ['--mode', 'echo', '--deflate'], conns: 100, inFlight: 16,
    frame: deflateFrame(), message: JSON_MESSAGE, expect: { opcode: 1, rsv1: 1, len: -1 }, extensions: DEFLATE_OFFER,
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

  constructor(cpu: number, argv: string[], stdin: 'ignore' | 'pipe' = 'ignore') {
    const [cmd, args] = pinned(cpu, argv);
    this.proc = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'] });
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
  resets: number;
  perSubscriberMin?: number;
  perSubscriberMax?: number;
  dumpOpcode: number;
  dumpRsv1: number;
  dumpBytes: number;
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
}

const LOADGEN = join(ROOT, 'dist/bench/loadgen/loadgen');
let TMP = '';

function buildLoadgen(): string {
  mkdirSync(join(ROOT, 'dist/bench/loadgen'), { recursive: true });
  const src = join(ROOT, 'bench/loadgen/loadgen.c');
  execFileSync('cc', ['-O2', '-Wall', '-o', LOADGEN, src], { stdio: 'inherit' });
  return execFileSync('cc', ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
}

function checkDump(spec: Spec, out: LoadgenOut, dumpPath: string, problems: string[]): void {
  if (!spec.message) return;
  if (!existsSync(dumpPath)) {
    problems.push('no response payload was captured for checking');
    return;
  }
  let payload = readFileSync(dumpPath);
  rmSync(dumpPath);
  try {
    if (out.dumpRsv1 === 1) {
      payload = inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH });
    }
    if (!payload.equals(spec.message)) problems.push(`the first response differs from the message (${payload.length} bytes)`);
  } catch (err) {
    problems.push(`the first response does not inflate: ${String(err)}`);
  }
}

async function runOnce(spec: Spec, server: ServerName, round: number): Promise<Run> {
  const idle = spec.mode === 'idle';
  const nodeArgs = idle ? ['--expose-gc'] : [];
  const srv = new Child(1, [process.execPath, ...nodeArgs, here(`./servers/${server}.js`), ...spec.serverArgs]);
  try {
    const line = await srv.line(`${server} server`, 10_000);
    const port = /^listening (\d+)$/.exec(line)?.[1];
    if (!port) throw new Error(`${server} server said: ${line}`);
    const dumpPath = join(TMP, `dump-${spec.name}-${server}-${round}`);
    const args = [
      LOADGEN, '--mode', spec.mode, '--port', port, '--conns', String(spec.conns), '--inflight', String(spec.inFlight),
      '--warmup', String(WARMUP_MS), '--duration', String(DURATION_MS), '--server-pid', String(srv.pid),
    ];
    if (spec.frame) {
      const framePath = join(TMP, `frame-${spec.name}`);
      if (!existsSync(framePath)) writeFileSync(framePath, spec.frame);
      args.push('--frame-file', framePath, '--dump', dumpPath);
    }
    if (spec.expect) args.push('--expect-opcode', String(spec.expect.opcode), '--expect-rsv1', String(spec.expect.rsv1), '--expect-len', String(spec.expect.len));
    if (spec.extensions) args.push('--extensions', spec.extensions);

    let before = 0;
    let mid = 0;
    let after = 0;
    const gcRss = async () => {
      srv.proc.kill('SIGUSR2');
      const ack = await srv.line(`${server} server gc`, 10_000);
      if (ack !== 'gc') throw new Error(`${server} server said ${ack} instead of gc`);
      return rssKiB(srv.pid);
    };
    if (idle) {
      await sleep(300);
      before = await gcRss();
    }
    // Idle: two load generators, each opening half the connections; the figure is the RSS
    // the second half added (see the workload's description).
    const half = Math.floor(spec.conns / 2);
    const genArgs = (conns: number): string[] => args.map((a, i) => (i > 0 && args[i - 1] === '--conns' ? String(conns) : a));
    const first = idle ? new Child(0, genArgs(half), 'pipe') : undefined;
    let firstOut: LoadgenOut | undefined;
    const gen = idle ? undefined : new Child(0, args, 'ignore');
    let second: Child | undefined;
    let out: LoadgenOut;
    try {
      if (first) {
        const awaitOpen = async (g: Child): Promise<void> => {
          const open = JSON.parse(await g.line('load generator', 90_000)) as { event?: string; fatal?: string };
          if (open.fatal) throw new Error(`load generator: ${open.fatal}`);
          await sleep(1000);
        };
        await awaitOpen(first);
        mid = await gcRss();
        second = new Child(0, genArgs(spec.conns - half), 'pipe');
        await awaitOpen(second);
        after = await gcRss();
        first.proc.stdin!.end();
        second.proc.stdin!.end();
        firstOut = JSON.parse(await first.line('load generator', 90_000)) as LoadgenOut;
        out = JSON.parse(await second.line('load generator', 90_000)) as LoadgenOut;
        if (firstOut.fatal) throw new Error(`load generator: ${firstOut.fatal}`);
      } else {
        out = JSON.parse(await gen!.line('load generator', WARMUP_MS + DURATION_MS + 90_000)) as LoadgenOut;
      }
      if (out.fatal) throw new Error(`load generator: ${out.fatal}`);
    } finally {
      await first?.stop();
      await second?.stop();
      await gen?.stop();
    }
    const problems = [...out.errors];
    if (out.errorCount > out.errors.length) problems.push(`… ${out.errorCount} problems in all`);
    if (out.badFrames > 0) problems.push(`${out.badFrames} responses had an unexpected opcode, RSV1 or length`);
    if (!idle && spec.mode !== 'handshake') checkDump(spec, out, dumpPath, problems);
    if (spec.extensions && !/permessage-deflate/i.test(out.answer ?? '')) problems.push(`permessage-deflate not negotiated (answer ${JSON.stringify(out.answer)})`);
    const own = [out.loadgenCpu, out.serverCpu];
    const other = Math.max(0, ...[0, 1].map((c) => (out.coreBusy[c] ?? 0) - (out.coreIrq[c] ?? 0) - own[c]!));
    let extra = '';
    if (spec.mode === 'broadcast') {
      const max = out.perSubscriberMax ?? 0;
      extra = `${(((max - (out.perSubscriberMin ?? 0)) / Math.max(1, max)) * 100).toFixed(1)}%`;
    }
    if (spec.mode === 'handshake') extra = `${out.failed}`;
    const openedAll = out.opened + (firstOut?.opened ?? 0);
    if (idle) {
      const all = ((after - before) / Math.max(1, openedAll)).toFixed(1);
      extra = `${before}→${mid}→${after} KiB; ${all} KiB over all ${openedAll}; ${((firstOut?.setupSeconds ?? 0) + out.setupSeconds).toFixed(1)} s to open`;
      problems.push(...(firstOut?.errors ?? []));
    }
    if (idle && openedAll < spec.conns) problems.push(`only ${openedAll} of ${spec.conns} connections opened`);
    return {
      value: idle ? (after - mid) / Math.max(1, out.opened) : out.rate,
      // Idle: the CPU figures cover the settle-and-measure window, not meaningful as load.
      loadgenCpu: out.loadgenCpu,
      serverCpu: out.serverCpu,
      other,
      answer: out.answer,
      problems,
      extra,
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

function ratios(o: Outcome, a: ServerName, b: ServerName): number[] | undefined {
  const ra = o.runs.get(a);
  const rb = o.runs.get(b);
  if (!ra || !rb || ra.length === 0) return undefined;
  return ra.map((r, i) => r.value / rb[i]!.value);
}

function section(o: Outcome): string {
  const { spec } = o;
  const f = spec.mode === 'idle' ? fmtKiB : fmtRate;
  const lines = [
    `### ${spec.title} (\`${spec.name}\`)`,
    '',
    spec.describe(),
    '',
    `| server | ${spec.unit} (median) | min–max | server CPU (core 1) | load generator CPU (core 0) | other load on the cores | notes |`,
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const [s, rs] of o.runs) {
    const extras = rs.map((r) => r.extra).filter(Boolean);
    const label: Partial<Record<Spec['mode'], string>> = {
      broadcast: 'spread of messages received between subscribers, per round',
      handshake: 'failed cycles per round',
      idle: 'RSS before→half→all, the average over all, time to open, per round',
    };
    const note = [
      rs[0]?.answer ? `negotiated \`${rs[0].answer}\`` : '',
      extras.length ? `${label[spec.mode] ?? ''}: ${extras.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    const idle = spec.mode === 'idle';
    lines.push(
      `| ${s} | ${f(median(rs.map((r) => r.value)))} | ${range(rs.map((r) => r.value), f)} | ` +
        `${idle ? '—' : fmtPct(median(rs.map((r) => r.serverCpu)))} | ${idle ? '—' : fmtPct(median(rs.map((r) => r.loadgenCpu)))} | ` +
        `${idle ? '—' : fmtPct(median(rs.map((r) => r.other)))} | ${note} |`,
    );
  }
  const rw = ratios(o, 'ws13', 'ws');
  const rb = ratios(o, 'ws13', 'baseline');
  lines.push('');
  if (rw) lines.push(`ws13/ws, same round: median **${fmtRatio(median(rw))}** (rounds: ${rw.map(fmtRatio).join(', ')}); target ${spec.lowerIsBetter ? '≤' : '≥'} ${spec.target}.`);
  if (rb) lines.push(`ws13/baseline, same round: median ${fmtRatio(median(rb))} (rounds: ${rb.map(fmtRatio).join(', ')}).`);
  if (spec.mode !== 'idle') {
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
    '| workload | target ws13/ws | ws13/ws (median of same-round ratios) | rounds | met | ws13/baseline | ws13 | ws | baseline | load generator CPU (max) / ws13 server CPU |',
    '|---|---:|---:|---|:---:|---:|---:|---:|---:|---:|',
  ];
  for (const o of outcomes) {
    const { spec } = o;
    const rw = ratios(o, 'ws13', 'ws');
    const rb = ratios(o, 'ws13', 'baseline');
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
        : `${fmtPct(Math.max(...all.map((r) => r.loadgenCpu)))} / ${fmtPct(median((o.runs.get('ws13') ?? []).map((r) => r.serverCpu)))}`;
    const met = rw ? (spec.lowerIsBetter ? m <= spec.target : m >= spec.target) : false;
    lines.push(
      `| ${spec.title} | ${spec.lowerIsBetter ? '≤' : '≥'} ${spec.target}× | ${rw ? `**${fmtRatio(m)}**` : '—'} | ${rw ? rw.map(fmtRatio).join(', ') : ''} | ` +
        `${rw ? (met ? 'yes' : 'no') : ''} | ${rb ? fmtRatio(median(rb)) : '—'} | ${med('ws13')} | ${med('ws')} | ${med('baseline')} | ${cpu} |`,
    );
  }
  return lines.join('\n');
}

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
          const value = spec.mode === 'idle' ? `${fmtKiB(run.value)} KiB/connection` : `${fmtRate(run.value)} ${spec.unit}`;
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

  const loadRuns = outcomes.filter((o) => o.spec.mode !== 'idle').flatMap((o) => [...o.runs.values()].flat());
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
    keptWhereSection(),
  ].join('\n');
  console.log(md);
  if (RESULTS !== '-') writeFileSync(RESULTS, md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
