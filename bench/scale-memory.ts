// Server memory per connection at scale, for docs/deploy.md: N idle connections to a ws13
// server in a child process, its RSS growth divided by N (total RSS, not a marginal slice),
// in these setups:
//   plain            no compression, heartbeat on
//   topics           each connection subscribed to two topics (its own and a shared one)
//   deflate          permessage-deflate (ws13's defaults), one 1 KiB message each way
//   deflate-takeover permessage-deflate with context takeover both ways, one message each way
//   workers          `ws13 serve --broadcast --workers 2` (each connection on a topic, the
//                    cluster broker): the primary's and both workers' RSS added up
// `node dist/bench/scale-memory.js [connections=10000] [setup,…]`
// 100,000 connections across workers (past one process's descriptor limit): bench/scale-100k.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '../src/node/index.js';

const N = Number(process.argv[2] ?? 10_000);
const SETUPS = (process.argv[3] ?? 'plain,topics,deflate,deflate-takeover,workers').split(',');
const MESSAGE = JSON.stringify({ items: Array.from({ length: 28 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b'] })) });
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function rssKiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  } catch {
    return 0;
  }
}

/** The RSS of `pid` and of its children (a cluster's workers). */
function treeKiB(pid: number): number {
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // no children file: count the process alone
  }
  return rssKiB(pid) + kids.reduce((s, k) => s + treeKiB(k), 0);
}

const SERVER = `
const setup = process.argv[1];
const { WebSocketServer } = await import(${JSON.stringify(`${ROOT}dist/src/node/index.js`)});
const pmd = setup === 'deflate' ? true : setup === 'deflate-takeover' ? { serverNoContextTakeover: false, clientNoContextTakeover: false, threshold: 0 } : undefined;
const s = new WebSocketServer({ ...(pmd ? { perMessageDeflate: pmd } : {}) });
let n = 0;
s.on('connection', (ws) => {
  if (setup === 'topics') { ws.subscribe('user:' + n++); ws.subscribe('all'); }
  ws.on('message', (d, b) => ws.send(d, { binary: b }));
});
const { port } = await s.listen(0, '127.0.0.1');
console.log(port);
`;

async function start(setup: string): Promise<{ child: ChildProcess; port: number }> {
  if (setup === 'workers') {
    const child = spawn(process.execPath, [`${ROOT}dist/src/cli/main.js`, 'serve', '--broadcast', '--workers', '2', '--port', '0', '-q'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const port = await new Promise<number>((resolve) =>
      child.stdout!.on('data', (d: Buffer) => {
        out += d;
        // Both workers share the port (node:cluster): wait for both banners.
        const ports = [...out.matchAll(/listening on ws:\/\/127\.0\.0\.1:(\d+)/g)];
        if (ports.length === 2) resolve(Number(ports[0]![1]));
      }),
    );
    return { child, port };
  }
  const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER, setup], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  const port = await new Promise<number>((r) => child.stdout!.once('data', (d: Buffer) => r(Number(String(d).trim()))));
  return { child, port };
}

async function measure(setup: string): Promise<{ before: number; after: number; perConn: number; openS: number }> {
  const { child, port } = await start(setup);
  await new Promise((r) => setTimeout(r, 1000));
  const before = treeKiB(child.pid!);
  const deflate = setup.startsWith('deflate');
  const clients: WebSocket[] = [];
  const t0 = Date.now();
  for (let i = 0; i < N; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, N - i) }, () =>
        WebSocket.connect(`ws://127.0.0.1:${port}/`, {
          heartbeat: false,
          ...(deflate ? { perMessageDeflate: setup === 'deflate-takeover' ? { threshold: 0 } : { threshold: 0, clientNoContextTakeover: true } } : {}),
        }),
      ),
    );
    if (deflate) await Promise.all(batch.map((ws) => new Promise((r) => { ws.once('message', r); ws.send(MESSAGE); })));
    clients.push(...batch);
  }
  const openS = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000));
  const after = treeKiB(child.pid!);
  for (const ws of clients) ws.terminate();
  // A cluster primary stops its workers on SIGTERM.
  await new Promise((r) => {
    child.once('exit', r);
    child.kill(setup === 'workers' ? 'SIGTERM' : 'SIGKILL');
  });
  return { before, after, perConn: (after - before) / N, openS };
}

console.log(`${N} connections; ${cpus().length} × ${cpus()[0]?.model ?? '?'}; Linux ${release()}; Node ${process.version}\n`);
console.log('| setup | server RSS before → after (KiB) | RSS per connection | time to open |\n|---|---|---:|---:|');
for (const setup of SETUPS) {
  const r = await measure(setup);
  console.log(`| ${setup} | ${r.before} → ${r.after} | ${r.perConn.toFixed(1)} KiB | ${r.openS.toFixed(1)} s |`);
}
