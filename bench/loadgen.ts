// Load generator: `node dist/bench/loadgen.js --port P --workload deflate|small
//   --server-pid PID --clk-tck N [--warmup ms] [--duration ms]`
//
// Kept cheap so that it is not the bottleneck: the masked request frames are built once;
// each connection keeps IN_FLIGHT messages outstanding and, on each read, writes as many
// new frames as responses completed (one write); responses are only parsed down to their
// frame headers to count them. A sample of responses is checked in full (inflated when
// compressed). Prints one JSON line with the result, including its own CPU use
// (process.cpuUsage) and the server's (from /proc/PID/stat) over the measured window.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { CONNECTIONS, IN_FLIGHT, JSON_MESSAGE, SMALL_MESSAGE, type Workload, cpuTimes, maskedFrame, procTicks } from './common.js';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    workload: { type: 'string' },
    'server-pid': { type: 'string' },
    'clk-tck': { type: 'string', default: '100' },
    warmup: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '5000' },
    connections: { type: 'string', default: String(CONNECTIONS) },
    'in-flight': { type: 'string', default: String(IN_FLIGHT) },
  },
});

const port = Number(args.port);
const workload = args.workload as Workload;
const serverPid = Number(args['server-pid']);
const clkTck = Number(args['clk-tck']);
const warmupMs = Number(args.warmup);
const durationMs = Number(args.duration);
const nConns = Number(args.connections);
const inFlight = Number(args['in-flight']);
const deflate = workload === 'deflate';
const message = deflate ? JSON_MESSAGE : SMALL_MESSAGE;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const SAMPLE_EVERY = 997;
/** Context takeover on the server's side: how much history its compressor may refer to. */
const HISTORY = 32 * 1024;

/** The history a server compressor has after `n` messages: the last 32 KiB of them. */
const historyCache = new Map<number, Buffer>();
function historyAfter(n: number): Buffer {
  const k = Math.min(n, Math.ceil(HISTORY / message.length) + 1);
  let h = historyCache.get(k);
  if (!h) {
    const all = Buffer.concat(Array.from({ length: k }, () => message));
    h = all.subarray(Math.max(0, all.length - HISTORY));
    historyCache.set(k, h);
  }
  return h;
}

interface Result {
  workload: Workload;
  connections: number;
  inFlight: number;
  messageBytes: number;
  answer: string | null;
  seconds: number;
  messages: number;
  rate: number;
  loadgenCpu: number;
  serverCpu: number;
  /** Whole-CPU busy share (all processes, interrupts, steal) of cpu0 and cpu1. */
  coreBusy: number[];
  /** Of which interrupt work (irq + softirq), per core. */
  coreIrq: number[];
  sampled: number;
  sampleFailures: string[];
  compressedResponses: number;
  errors: string[];
}

const errors: string[] = [];
const sampleFailures: string[] = [];
let sampled = 0;
let completed = 0;
let compressedResponses = 0;
let running = true;

function fail(msg: string): void {
  if (errors.length < 10) errors.push(msg);
}

/** Opens one connection and resolves with the socket and the server's extensions answer. */
function handshake(): Promise<{ sock: Socket; answer: string | null; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setNoDelay(true);
    const key = randomBytes(16).toString('base64');
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error('handshake timed out')), 10_000);
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('connect', () => {
      sock.write(
        `GET /bench HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          (deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' : '') +
          '\r\n',
      );
    });
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      sock.pause();
      clearTimeout(timer);
      const text = head.subarray(0, end).toString('latin1');
      if (!text.startsWith('HTTP/1.1 101')) {
        reject(new Error(`handshake refused: ${text.split('\r\n')[0]}`));
        return;
      }
      const answer = /\r\nsec-websocket-extensions:\s*([^\r]*)/i.exec(text)?.[1]?.trim() ?? null;
      resolve({ sock, answer, rest: head.subarray(end + 4) });
    };
    sock.on('data', onData);
  });
}

/** The request frame for this connection's agreement, built once per distinct answer. */
const frameCache = new Map<string, Buffer>();
function requestFrames(compress: boolean, clientBits: number): Buffer {
  const id = `${compress}:${clientBits}`;
  let batch = frameCache.get(id);
  if (!batch) {
    const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    let frame: Buffer;
    if (compress) {
      // A fresh compressor that refers to nothing before this message: valid whether or
      // not the server keeps its inflate context between messages.
      const z = deflateRawSync(message, { finishFlush: constants.Z_SYNC_FLUSH, windowBits: Math.max(9, clientBits) });
      if (!z.subarray(z.length - 4).equals(TAIL)) throw new Error('deflate output does not end in 00 00 ff ff');
      frame = maskedFrame(0xc1, z.subarray(0, z.length - 4), mask);
    } else {
      frame = maskedFrame(0x81, message, mask);
    }
    batch = Buffer.concat(Array.from({ length: inFlight }, () => frame));
    frameCache.set(id, batch);
  }
  return batch;
}

/** What the connection's answer agreed to (deflate workload). */
function agreement(answer: string | null): { on: boolean; serverNoContext: boolean; clientBits: number } {
  if (!answer || !/permessage-deflate/i.test(answer)) return { on: false, serverNoContext: false, clientBits: 15 };
  const bits = /client_max_window_bits\s*=\s*"?(\d+)/i.exec(answer);
  return { on: true, serverNoContext: /server_no_context_takeover/i.test(answer), clientBits: bits ? Number(bits[1]) : 15 };
}

function runConnection(sock: Socket, answer: string | null, rest: Buffer, index: number): void {
  const agreed = agreement(answer);
  const compress = deflate && agreed.on;
  const batch = requestFrames(compress, agreed.clientBits);
  const frameLen = batch.length / inFlight;
  // Response parser state: header bytes, payload bytes left to skip, capture for samples.
  const hdr = Buffer.alloc(14);
  let hdrLen = 0;
  let skip = 0;
  let rsv1 = false;
  let capture: Buffer[] | undefined;
  let compressedSoFar = 0;
  let responses = 0;

  const check = (payload: Buffer, wasCompressed: boolean, history: number) => {
    sampled++;
    try {
      let plain = payload;
      if (wasCompressed) {
        const input = Buffer.concat([payload, TAIL]);
        plain =
          history > 0 && !agreed.serverNoContext
            ? inflateRawSync(input, { dictionary: historyAfter(history), finishFlush: constants.Z_SYNC_FLUSH })
            : inflateRawSync(input, { finishFlush: constants.Z_SYNC_FLUSH });
      }
      if (!plain.equals(message) && sampleFailures.length < 5) {
        sampleFailures.push(`connection ${index}: response ${responses} differs (${plain.length} bytes)`);
      }
    } catch (err) {
      if (sampleFailures.length < 5) sampleFailures.push(`connection ${index}: response ${responses}: ${String(err)}`);
    }
  };

  let isData = false;
  let fin = false;

  const onData = (chunk: Buffer) => {
    let done = 0;
    const frameDone = () => {
      if (!isData) return;
      if (capture) {
        check(Buffer.concat(capture), rsv1, compressedSoFar);
        capture = undefined;
      }
      if (!fin) return; // (these servers do not fragment their echoes)
      if (rsv1) {
        compressedSoFar++;
        compressedResponses++;
      }
      responses++;
      done++;
    };
    let off = 0;
    while (off < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - off);
        if (capture) capture.push(chunk.subarray(off, off + n));
        skip -= n;
        off += n;
        if (skip === 0) frameDone();
        continue;
      }
      hdr[hdrLen++] = chunk[off++]!;
      if (hdrLen < 2) continue;
      const l7 = hdr[1]! & 0x7f;
      if (hdrLen < 2 + (l7 === 126 ? 2 : l7 === 127 ? 8 : 0)) continue;
      const b0 = hdr[0]!;
      const opcode = b0 & 0x0f;
      skip = l7 === 126 ? hdr.readUInt16BE(2) : l7 === 127 ? Number(hdr.readBigUInt64BE(2)) : l7;
      hdrLen = 0;
      if (opcode === 8) {
        fail(`connection ${index}: the server closed the connection`);
        sock.destroy();
        return;
      }
      isData = opcode < 8;
      fin = (b0 & 0x80) !== 0;
      rsv1 = (b0 & 0x40) !== 0;
      capture = isData && (responses === 0 || (completed + done) % SAMPLE_EVERY === 0) ? [] : undefined;
      if (skip === 0) frameDone();
    }
    if (done > 0) {
      completed += done;
      if (running) sock.write(batch.subarray(0, done * frameLen));
    }
  };
  sock.on('data', onData);
  sock.on('error', (err) => fail(`connection ${index}: ${String(err)}`));
  sock.on('close', () => {
    if (running) fail(`connection ${index}: closed during the run`);
  });
  sock.resume();
  if (rest.length > 0) onData(rest);
  sock.write(batch);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const conns = await Promise.all(Array.from({ length: nConns }, () => handshake()));
  const answer = conns[0]!.answer;
  for (const c of conns) {
    if (c.answer !== answer) fail(`connections got different answers: ${JSON.stringify(c.answer)} vs ${JSON.stringify(answer)}`);
  }
  conns.forEach((c, i) => runConnection(c.sock, c.answer, c.rest, i));
  await sleep(warmupMs);
  const c0 = completed;
  const cpu0 = process.cpuUsage();
  const s0 = procTicks(serverPid);
  const k0 = cpuTimes();
  const t0 = process.hrtime.bigint();
  await sleep(durationMs);
  const c1 = completed;
  const cpu1 = process.cpuUsage(cpu0);
  const s1 = procTicks(serverPid);
  const k1 = cpuTimes();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  running = false;
  for (const c of conns) c.sock.destroy();
  const result: Result = {
    workload,
    connections: nConns,
    inFlight,
    messageBytes: message.length,
    answer,
    seconds,
    messages: c1 - c0,
    rate: (c1 - c0) / seconds,
    loadgenCpu: (cpu1.user + cpu1.system) / 1e6 / seconds,
    serverCpu: (s1 - s0) / clkTck / seconds,
    coreBusy: k1.map((c, i) => (c.busy - k0[i]!.busy) / Math.max(1, c.total - k0[i]!.total)),
    coreIrq: k1.map((c, i) => (c.irq - k0[i]!.irq) / Math.max(1, c.total - k0[i]!.total)),
    sampled,
    sampleFailures,
    compressedResponses,
    errors,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stdout.write(JSON.stringify({ fatal: String(err) }) + '\n');
    process.exit(1);
  },
);
