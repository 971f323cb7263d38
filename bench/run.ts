// Benchmark driver (`npm run bench`): echo servers (ws13, ws, a bare node:net baseline)
// each in a child process pinned to CPU 1, the load generator pinned to CPU 0, the same
// workload for each server in interleaved rounds. Prints a Markdown table and writes it to
// bench/RESULTS.md. Not a test: `npm test` never runs it.
//
// Environment (all optional): BENCH_ROUNDS (3), BENCH_DURATION_MS (5000),
// BENCH_WARMUP_MS (1000), BENCH_WORKLOADS ("deflate,small").

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CONNECTIONS, IN_FLIGHT, JSON_MESSAGE, SMALL_MESSAGE, type Workload } from './common.js';

type ServerName = 'ws13' | 'ws' | 'baseline';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5000);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1000);
const WORKLOADS = (process.env.BENCH_WORKLOADS ?? 'deflate,small').split(',') as Workload[];
const RESULTS = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    execFileSync('taskset', ['-c', '1', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const PINNED = hasTaskset();

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}
const CLK_TCK = clockTicks();

/** Spawns node with a script, pinned to `cpu` when taskset works (taskset execs: same PID). */
function spawnNode(cpu: number, script: string, args: string[]): ChildProcess {
  const cmd = PINNED ? 'taskset' : process.execPath;
  const argv = PINNED ? ['-c', String(cpu), process.execPath, script, ...args] : [script, ...args];
  return spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
}

function firstLine(child: ChildProcess, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`${what}: no output within ${timeoutMs} ms ${stderr}`)), timeoutMs);
    rl.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) ${stderr}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface Run {
  rate: number;
  loadgenCpu: number;
  serverCpu: number;
  coreBusy: number[];
  coreIrq: number[];
  answer: string | null;
  sampled: number;
  sampleFailures: string[];
  compressedResponses: number;
  messages: number;
  errors: string[];
}

async function runOnce(server: ServerName, workload: Workload): Promise<Run> {
  const deflate = workload === 'deflate';
  const child = spawnNode(1, here(`./servers/${server}.js`), deflate ? ['--deflate'] : []);
  try {
    const line = await firstLine(child, `${server} server`, 10_000);
    const port = /^listening (\d+)$/.exec(line)?.[1];
    if (!port) throw new Error(`${server} server said: ${line}`);
    const gen = spawnNode(0, here('./loadgen.js'), [
      '--port', port,
      '--workload', workload,
      '--server-pid', String(child.pid),
      '--clk-tck', String(CLK_TCK),
      '--warmup', String(WARMUP_MS),
      '--duration', String(DURATION_MS),
    ]);
    try {
      const out = JSON.parse(await firstLine(gen, 'load generator', WARMUP_MS + DURATION_MS + 20_000)) as Run & { fatal?: string };
      if (out.fatal) throw new Error(`load generator: ${out.fatal}`);
      return out;
    } finally {
      await stop(gen);
    }
  } finally {
    await stop(child);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtRate = (x: number) => Math.round(x).toLocaleString('en-US');
const fmtPct = (x: number) => `${Math.round(x * 100)}%`;
const fmtRatio = (x: number) => x.toFixed(2);
const range = (xs: number[], f: (x: number) => string) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;

/** Whether ws13 negotiates permessage-deflate with `perMessageDeflate: true` (else: pending). */
async function ws13HasDeflate(): Promise<{ ok: boolean; why: string }> {
  try {
    const run = await runOnceShort();
    const ok = !!run.answer && /permessage-deflate/i.test(run.answer) && run.errors.length === 0;
    return { ok, why: ok ? '' : `answer ${JSON.stringify(run.answer)}${run.errors.length ? `, errors: ${run.errors.join('; ')}` : ''}` };
  } catch (err) {
    return { ok: false, why: String(err) };
  }
}
async function runOnceShort(): Promise<Run> {
  const child = spawnNode(1, here('./servers/ws13.js'), ['--deflate']);
  try {
    const line = await firstLine(child, 'ws13 server', 10_000);
    const port = /^listening (\d+)$/.exec(line)?.[1] ?? '0';
    const gen = spawnNode(0, here('./loadgen.js'), [
      '--port', port, '--workload', 'deflate', '--server-pid', String(child.pid), '--clk-tck', String(CLK_TCK),
      '--warmup', '100', '--duration', '300', '--connections', '2',
    ]);
    try {
      const out = JSON.parse(await firstLine(gen, 'load generator', 15_000)) as Run & { fatal?: string };
      if (out.fatal) throw new Error(out.fatal);
      return out;
    } finally {
      await stop(gen);
    }
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const wsVersion = (JSON.parse(readFileSync(fileURLToPath(new URL('../../node_modules/ws/package.json', import.meta.url)), 'utf8')) as { version: string }).version;
  const notes: string[] = [];
  if (!PINNED) notes.push('taskset is not available: servers and load generator ran unpinned.');

  let ws13Deflate = { ok: true, why: '' };
  if (WORKLOADS.includes('deflate')) {
    ws13Deflate = await ws13HasDeflate();
    if (!ws13Deflate.ok) notes.push(`ws13 permessage-deflate: pending (${ws13Deflate.why}); the deflate workload ran for ws only.`);
  }

  const sections: string[] = [];
  for (const workload of WORKLOADS) {
    const servers: ServerName[] =
      workload === 'deflate' ? (ws13Deflate.ok ? ['ws13', 'ws'] : ['ws']) : ['ws13', 'ws', 'baseline'];
    const runs = new Map<ServerName, Run[]>(servers.map((s) => [s, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const server of servers) {
        const run = await runOnce(server, workload);
        runs.get(server)!.push(run);
        const bad = [...run.errors, ...run.sampleFailures];
        console.error(
          `[${workload}] round ${round} ${server}: ${fmtRate(run.rate)} msg/s, server CPU ${fmtPct(run.serverCpu)}, ` +
            `load generator CPU ${fmtPct(run.loadgenCpu)}, cores busy ${run.coreBusy.map(fmtPct).join('/')} (irq ${run.coreIrq.map(fmtPct).join('/')}), sampled ${run.sampled}` +
            (bad.length ? `, PROBLEMS: ${bad.join('; ')}` : ''),
        );
        if (bad.length) notes.push(`${workload}, round ${round}, ${server}: ${bad.join('; ')}`);
        // Busy time on a core beyond what our pinned process used there: other processes
        // (or interrupt work) competed for that core, and the numbers are less reliable.
        const other = (c: number, own: number) => (run.coreBusy[c] ?? 0) - (run.coreIrq[c] ?? 0) - own;
        const extra = Math.max(other(0, run.loadgenCpu), other(1, run.serverCpu));
        if (extra > 0.25) {
          notes.push(
            `${workload}, round ${round}, ${server}: a core was ${fmtPct(extra)} busier than our process and interrupt ` +
              'work on it (other processes on the machine): treat this round as noisy.',
          );
        }
      }
    }
    const desc =
      workload === 'deflate'
        ? `Echo of a ${JSON_MESSAGE.length}-byte JSON text message with permessage-deflate ` +
          '(client offer `permessage-deflate; client_max_window_bits`, servers `perMessageDeflate: true`)'
        : `Echo of a ${SMALL_MESSAGE.length}-byte text message, no compression`;
    const lines = [
      `### ${workload === 'deflate' ? 'Deflate' : 'Small messages'}: ${desc}`,
      '',
      `${CONNECTIONS} connections × ${IN_FLIGHT} messages in flight; ${ROUNDS} interleaved rounds of ` +
        `${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured. CPU: share of one core over the measured window ` +
        '(server: /proc/PID/stat; load generator: process.cpuUsage; core busy: /proc/stat, everything on that core, ' +
        'of which irq: interrupt and softirq work such as loopback TCP, charged to no process).',
      '',
      '| server | messages/s (median) | min–max | server CPU (core 1) | load generator CPU (core 0) | core 0 / core 1 busy | of which irq | negotiated |',
      '|---|---:|---:|---:|---:|---:|---:|---|',
    ];
    for (const s of servers) {
      const rs = runs.get(s)!;
      lines.push(
        `| ${s} | ${fmtRate(median(rs.map((r) => r.rate)))} | ${range(rs.map((r) => r.rate), fmtRate)} | ` +
          `${fmtPct(median(rs.map((r) => r.serverCpu)))} | ${fmtPct(median(rs.map((r) => r.loadgenCpu)))} | ` +
          `${[0, 1].map((c) => fmtPct(median(rs.map((r) => r.coreBusy[c] ?? 0)))).join(' / ')} | ` +
          `${[0, 1].map((c) => fmtPct(median(rs.map((r) => r.coreIrq[c] ?? 0)))).join(' / ')} | ` +
          `${rs[0]!.answer ? `\`${rs[0]!.answer}\`` : '—'} |`,
      );
    }
    if (workload === 'deflate' && !ws13Deflate.ok) lines.push('| ws13 | pending | | | | | | |');
    const ratio = (a: ServerName, b: ServerName) => {
      const ra = runs.get(a);
      const rb = runs.get(b);
      if (!ra || !rb) return undefined;
      return ra.map((r, i) => r.rate / rb[i]!.rate);
    };
    const ratios: string[] = [];
    for (const [a, b] of [
      ['ws13', 'ws'],
      ['ws13', 'baseline'],
    ] as const) {
      const r = ratio(a, b);
      if (r) ratios.push(`${a}/${b}: median ${fmtRatio(median(r))} (rounds: ${r.map(fmtRatio).join(', ')})`);
    }
    if (ratios.length) lines.push('', `Ratios of messages/s, same round: ${ratios.join('; ')}.`);
    sections.push(lines.join('\n'));
  }

  const md = [
    '# ws13 benchmark results',
    '',
    `Machine: ${nproc} CPUs, ${cpuModel}; Node ${process.version}; ws ${wsVersion}. ` +
      (PINNED ? 'Servers pinned to CPU 1 (`taskset -c 1`), load generator to CPU 0 (`taskset -c 0`).' : 'Unpinned.'),
    `Generated by \`npm run bench\` on ${new Date().toISOString()} (${Math.round((Date.now() - started) / 1000)} s).`,
    '',
    ...sections.flatMap((s) => [s, '']),
    ...(notes.length ? ['Notes:', '', ...notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
  console.log(md);
  writeFileSync(RESULTS, md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
