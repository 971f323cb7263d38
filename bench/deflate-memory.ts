// Memory per connection with permessage-deflate: N clients each send and receive one
// compressed message; the server's RSS growth per connection is reported for ws13's
// defaults (no context takeover either way), ws13 with context takeover both ways, and ws.
// `node dist/bench/deflate-memory.js [connections]`
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '../src/node/index.js';

const N = Number(process.argv[2] ?? 1000);
const MESSAGE = JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ['a', 'b'] })) });

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

const SERVER = `
const [kind, takeover] = process.argv.slice(1);
const opts = takeover === 'takeover' ? { serverNoContextTakeover: false, clientNoContextTakeover: false, threshold: 0 } : { threshold: 0 };
if (kind === 'ws13') {
  const { WebSocketServer } = await import(${JSON.stringify(fileURLToPath(new URL('../src/node/index.js', import.meta.url)))});
  const s = new WebSocketServer({ perMessageDeflate: opts, heartbeat: false });
  s.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
  const { port } = await s.listen(0, '127.0.0.1');
  console.log(port);
} else {
  const { WebSocketServer } = await import('ws');
  const s = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: takeover === 'takeover' ? { threshold: 0 } : { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 } });
  s.on('connection', (ws) => ws.on('message', (d, b) => ws.send(d, { binary: b })));
  s.on('listening', () => console.log(s.address().port));
}
`;

async function measure(kind: string, takeover: string): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SERVER, kind, takeover], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
  });
  const port = await new Promise<number>((r) => child.stdout!.once('data', (d: Buffer) => r(Number(String(d).trim()))));
  await new Promise((r) => setTimeout(r, 300));
  const before = rssKiB(child.pid!);
  const clients: WebSocket[] = [];
  for (let i = 0; i < N; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, N - i) }, () =>
        WebSocket.connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: takeover === 'takeover' ? { threshold: 0 } : { threshold: 0, clientNoContextTakeover: true } }),
      ),
    );
    await Promise.all(batch.map((ws) => new Promise((r) => { ws.once('message', r); ws.send(MESSAGE); })));
    clients.push(...batch);
  }
  await new Promise((r) => setTimeout(r, 500));
  const after = rssKiB(child.pid!);
  for (const ws of clients) ws.terminate();
  child.kill();
  return (after - before) / N;
}

const rows: string[] = [];
for (const [kind, takeover] of [['ws13', 'default'], ['ws13', 'takeover'], ['ws', 'default'], ['ws', 'takeover']] as const) {
  const kib = await measure(kind, takeover);
  rows.push(`| ${kind} | ${takeover === 'takeover' ? 'context takeover both ways' : 'no context takeover either way'} | ${kib.toFixed(1)} KiB |`);
}
console.log(`Server RSS growth per connection after one compressed message each way, ${N} connections:\n`);
console.log('| server | mode | RSS per connection |\n|---|---|---:|\n' + rows.join('\n'));
