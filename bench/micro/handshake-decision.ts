// Micro-benchmark: the server's work from a request head's bytes to the 101's text, with no
// sockets: read the head (HeadReader with a Buffer's Latin-1 decoding, as the standalone
// server passes Node's), parse it, check it (RFC 6455 §4.2.1), negotiate with an empty policy and
// format the 101 with its Sec-WebSocket-Accept. 512 different keys in turn; every 101 is
// compared with one built from node:crypto's SHA-1.
// `node dist/bench/micro/handshake-decision.js [handshakes]` prints µs per handshake, 5 rounds.
import { createHash, randomBytes } from 'node:crypto';
import { HeadReader, parseRequestHead } from '../../src/protocol/handshake/http1.js';
import { negotiate } from '../../src/protocol/handshake/server.js';

const N = Number(process.argv[2] ?? 200_000);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const keys = Array.from({ length: 512 }, () => randomBytes(16).toString('base64'));
const requests = keys.map((key) =>
  Buffer.from(
    `GET /chat HTTP/1.1\r\nHost: 127.0.0.1:40000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: bench\r\n\r\n`,
    'latin1',
  ),
);
const accepts = keys.map((key) => createHash('sha1').update(key + GUID).digest('base64'));
const decode = (b: Uint8Array, start: number, end: number): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1', start, end);

function one(i: number): string {
  const r = new HeadReader(16384, decode).push(requests[i]!);
  if (r.kind !== 'done') throw new Error(`head not read: ${r.kind}`);
  const head = parseRequestHead(r.head);
  const pending = negotiate(head, {}, head);
  if (pending.kind !== 'pending') throw new Error(`refused: ${pending.status}`);
  const d = pending.finish(undefined);
  if (d.kind !== 'accept') throw new Error('not accepted');
  return d.response;
}

for (let i = 0; i < 512; i++) {
  if (!one(i).includes(`\r\nSec-WebSocket-Accept: ${accepts[i]}\r\n`)) throw new Error(`wrong accept for key ${keys[i]}`);
}
for (let round = 0; round < 5; round++) {
  let bytes = 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) bytes += one(i & 511).length;
  const us = Number(process.hrtime.bigint() - t) / N / 1000;
  console.log(`handshake decision: ${us.toFixed(2)} µs per handshake (${bytes} bytes of 101s)`);
}
