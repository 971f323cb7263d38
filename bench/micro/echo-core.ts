// Micro-benchmark: the protocol core's work per echoed small text message (no sockets):
// parse a masked 32-byte frame, validate, deliver as a string, send it back.
// `node dist/bench/micro/echo-core.js [messages]` prints ns per message.
import { isUtf8 } from 'node:buffer';
import { Connection } from '../../src/protocol/connection.js';

const N = Number(process.argv[2] ?? 2_000_000);
const text = Buffer.from('0123456789abcdefghijklmnopqrstuv');
const key = [0x11, 0x22, 0x33, 0x44];
const frame = Buffer.alloc(6 + text.length);
frame[0] = 0x81;
frame[1] = 0x80 | text.length;
for (let i = 0; i < 4; i++) frame[2 + i] = key[i]!;
for (let i = 0; i < text.length; i++) frame[6 + i] = text[i]! ^ key[i & 3]!;
const BATCH = 16;
const chunkTemplate = Buffer.concat(Array(BATCH).fill(frame));

let bytesOut = 0;
const conn: Connection = new Connection(
  { role: 'server', isUtf8 },
  {
    write: (b) => {
      bytesOut += b.length;
    },
    message: (data, isText) => {
      const s = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
      conn.send(isText ? 1 : 2, Buffer.from(s));
    },
    ping() {},
    pong() {},
    error: (e) => {
      throw e;
    },
    shutdown() {},
  },
);

function run(n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += BATCH) conn.receiveData(Buffer.from(chunkTemplate));
  return Number(process.hrtime.bigint() - t0) / n;
}
run(Math.min(N, 200_000));
const best = Math.min(run(N), run(N), run(N));
console.log(`${best.toFixed(0)} ns per echoed 32-byte message (best of 3); ${bytesOut} bytes written`);
