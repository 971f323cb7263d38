// Micro-benchmark: the server's work per echoed 1 KiB JSON message with permessage-deflate,
// without sockets: frames in (masked, compressed as a browser would), inflate, UTF-8,
// deflate, frame out. `node dist/bench/micro/deflate-echo.js [level]`: without a level,
// the default (ws13's own encoder); with one, zlib at that level.
import { createDeflateRaw, constants } from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { Connection } from '../../src/protocol/connection.js';
import { NodeDeflateCodec } from '../../src/node/deflate.js';
import { JSON_MESSAGE } from '../common.js';

const level = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
const json = Buffer.from(JSON_MESSAGE);
// The client's frame: compressed with a sync flush, tail removed, RSV1, masked.
const d = createDeflateRaw();
const comp = (d as unknown as { _processChunk(b: Buffer, f: number): Buffer })._processChunk(json, constants.Z_SYNC_FLUSH);
const payload = Buffer.from(comp.subarray(0, comp.length - 4));
const key = Buffer.from([1, 2, 3, 4]);
const head = payload.length < 126 ? Buffer.from([0xc1, 0x80 | payload.length]) : Buffer.from([0xc1, 0xfe, payload.length >> 8, payload.length & 255]);
const masked = Buffer.from(payload);
for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i & 3]!;
const frame = Buffer.concat([head, key, masked]);
const BATCH = 16;

let written = 0;
const codec = new NodeDeflateCodec(
  { localNoContextTakeover: true, remoteNoContextTakeover: false, localMaxWindowBits: Number(process.env.WB ?? 15), remoteMaxWindowBits: 15, header: '' },
  level === undefined ? {} : { level },
);
const conn: Connection = new Connection(
  { role: 'server', isUtf8, deflate: codec, maxPayload: 1 << 26 },
  {
    write: (b) => {
      written += b.length;
    },
    message: (data, text) => {
      const s = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
      conn.send(text ? 1 : 2, Buffer.from(s), true, undefined, process.env.NOCOMPRESS ? false : true);
    },
    ping() {},
    pong() {},
    error: (e) => {
      throw e;
    },
    shutdown() {},
  },
);
function round(n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += BATCH) {
    // A fresh copy each read: the connection unmasks in place.
    const chunk = Buffer.allocUnsafe(frame.length * BATCH);
    for (let k = 0; k < BATCH; k++) frame.copy(chunk, k * frame.length);
    conn.receiveData(chunk);
  }
  return Number(process.hrtime.bigint() - t0) / n / 1000;
}
round(Number(process.env.WARM ?? 20000));
const times = [round(Number(process.env.N ?? 50000)), round(Number(process.env.N ?? 50000)), round(Number(process.env.N ?? 50000))].sort((a, b) => a - b);
console.log(`${level === undefined ? 'default encoder' : `zlib level ${level}`}: ${times[0]!.toFixed(2)} us per echoed message (best of 3), ${(written / 170000).toFixed(0)} bytes out each`);
