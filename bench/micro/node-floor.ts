// What Node itself costs below any WebSocket code: `node dist/bench/micro/node-floor.js`.
//  1. `socket.write()` of one 38-byte frame (a 32-byte message) on loopback, the peer (another
//     process) reading: the stream machinery, the JS→C++ crossing, libuv's try-write and the
//     write system call with its loopback TCP delivery.
//  2. The same bytes with `fs.writeSync` on the socket's descriptor: the system call and its
//     loopback delivery alone, with as thin a crossing as Node has.
//  3. A `net.Socket` object without a connection: construction time and heap bytes (what every
//     connection carries before any WebSocket object; the libuv handle and its C++ wrapper
//     come on top, outside the V8 heap).
// Interleaved rounds, medians. Not a test.
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import net from 'node:net';

const FRAME = Buffer.alloc(38, 0x61);
const N = 100_000;
const ROUNDS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

// The reading peer: a child process that discards what it reads.
const peer = spawn(process.execPath, ['-e', `
  const net = require('node:net');
  const s = net.createServer((c) => c.resume()).listen(0, '127.0.0.1', () => console.log(s.address().port));
`], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<number>((resolve) => peer.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
const sock = await new Promise<net.Socket>((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => resolve(s));
  s.setNoDelay(true);
});
const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;

async function streamWrites(): Promise<number> {
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sock.write(FRAME);
  const ns = Number(process.hrtime.bigint() - t) / N;
  if (sock.writableLength > 0) await new Promise((r) => sock.once('drain', r));
  return ns;
}
async function syscallWrites(): Promise<number> {
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    for (;;) {
      try {
        writeSync(fd, FRAME);
        break;
      } catch {
        // EAGAIN: the peer has not caught up; try again.
      }
    }
  }
  return Number(process.hrtime.bigint() - t) / N;
}
function sockets(): { ns: number; bytes: number } {
  const keep: net.Socket[] = [];
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().heapUsed;
  const t = process.hrtime.bigint();
  for (let i = 0; i < 10_000; i++) keep.push(new net.Socket());
  const ns = Number(process.hrtime.bigint() - t) / 10_000;
  (globalThis as { gc?: () => void }).gc?.();
  const bytes = (process.memoryUsage().heapUsed - before) / 10_000;
  keep.length = 0;
  return { ns, bytes };
}

const a: number[] = [];
const b: number[] = [];
const c: number[] = [];
const m: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  a.push(await streamWrites());
  b.push(await syscallWrites());
  const s = sockets();
  c.push(s.ns);
  m.push(s.bytes);
}
console.log(`socket.write, 38 B, loopback:        ${median(a).toFixed(0)} ns per call (rounds ${a.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`fs.writeSync on its descriptor:      ${median(b).toFixed(0)} ns per call (rounds ${b.map((x) => x.toFixed(0)).join(', ')})`);
console.log(`new net.Socket():                    ${median(c).toFixed(0)} ns, ${median(m).toFixed(0)} heap bytes${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for exact bytes)'}`);
sock.destroy();
peer.kill();
