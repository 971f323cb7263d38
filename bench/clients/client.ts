// Client-side benchmark: one Node process drives N connections × K small text messages in
// flight against a native echo server (bench/loadgen/loadgen.c --mode serve) and counts the
// echoes that come back, each compared with what was sent.
//   node dist/bench/clients/client.js ws13|ws|undici PORT CONNS INFLIGHT WARMUP_MS DURATION_MS [ENTRY]
// ws13: its WebSocket (ENTRY: another build's dist/src/node/index.js for A/B); ws: `ws`'s
// WebSocket (native addons as the environment allows); undici: Node's global WebSocket
// (undici's; Node 20 needs --experimental-websocket). Prints one JSON line:
// { rate, cpu (share of one core over the measured window), messages, mismatches, errors }.
import { pathToFileURL } from 'node:url';
import { SMALL_MESSAGE } from '../common.js';

const [kind, portS, connsS, inflightS, warmupS, durationS, entry] = process.argv.slice(2);
const url = `ws://127.0.0.1:${portS}/bench`;
const CONNS = Number(connsS);
const INFLIGHT = Number(inflightS);
const TEXT = SMALL_MESSAGE.toString('utf8');

let received = 0;
let mismatches = 0;
const errors: string[] = [];
const problem = (s: string) => {
  if (errors.length < 5) errors.push(s);
};

interface NodeStyle {
  on(event: string, listener: (...args: any[]) => void): unknown;
  send(data: string): void;
  close(): void;
}

async function openNodeStyle(make: () => NodeStyle): Promise<NodeStyle[]> {
  const all: NodeStyle[] = [];
  await Promise.all(
    Array.from({ length: CONNS }, () => new Promise<void>((resolve, reject) => {
      const ws = make();
      all.push(ws);
      ws.on('error', (e: Error) => {
        problem(String(e));
        reject(e);
      });
      ws.on('open', () => {
        for (let i = 0; i < INFLIGHT; i++) ws.send(TEXT);
        resolve();
      });
      // ws13 delivers text as a string, `ws` as a Buffer: each compared in the form it arrives.
      ws.on('message', (data: Buffer | string, isBinary: boolean) => {
        if (isBinary || (typeof data === 'string' ? data !== TEXT : !SMALL_MESSAGE.equals(data))) mismatches++;
        received++;
        ws.send(TEXT);
      });
    })),
  );
  return all;
}

interface Web {
  addEventListener(event: string, listener: (ev: any) => void): void;
  send(data: string): void;
  close(): void;
}

async function openWeb(Ctor: new (url: string) => Web): Promise<Web[]> {
  const all: Web[] = [];
  await Promise.all(
    Array.from({ length: CONNS }, () => new Promise<void>((resolve, reject) => {
      const ws = new Ctor(url);
      all.push(ws);
      ws.addEventListener('error', () => {
        problem('error event');
        reject(new Error('error event'));
      });
      ws.addEventListener('open', () => {
        for (let i = 0; i < INFLIGHT; i++) ws.send(TEXT);
        resolve();
      });
      ws.addEventListener('message', (ev: { data: unknown }) => {
        if (ev.data !== TEXT) mismatches++;
        received++;
        ws.send(TEXT);
      });
    })),
  );
  return all;
}

let sockets: { close(): void }[];
if (kind === 'ws13') {
  const mod = (await import(entry ? pathToFileURL(entry).href : '../../src/node/index.js')) as { WebSocket: new (u: string) => NodeStyle };
  sockets = await openNodeStyle(() => new mod.WebSocket(url));
} else if (kind === 'ws') {
  const { WebSocket } = await import('ws');
  sockets = await openNodeStyle(() => new WebSocket(url) as unknown as NodeStyle);
} else if (kind === 'undici') {
  const Ctor = (globalThis as { WebSocket?: new (u: string) => Web }).WebSocket;
  if (!Ctor) throw new Error('no global WebSocket (Node 20: run with --experimental-websocket)');
  sockets = await openWeb(Ctor);
} else throw new Error(`unknown client ${kind}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
await sleep(Number(warmupS));
const r0 = received;
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await sleep(Number(durationS));
const r1 = received;
const c1 = process.cpuUsage(c0);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(
  JSON.stringify({ rate: (r1 - r0) / secs, cpu: (c1.user + c1.system) / 1e6 / secs, messages: r1 - r0, mismatches, errors }) + '\n',
);
for (const s of sockets) s.close();
setTimeout(() => process.exit(0), 200).unref();
