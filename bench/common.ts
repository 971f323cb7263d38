// Shared pieces of the benchmark: the WebSocket accept key, frame building and the
// workloads' messages. Nothing here is part of the library.

import { createHash } from 'node:crypto';

export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** A 32-byte text message (workload "small"). */
export const SMALL_MESSAGE = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');

/**
 * About 1.2 KiB of JSON (workload "deflate"): longer than 1024 bytes so that both servers
 * compress it with their default threshold, and as repetitive as typical API payloads.
 */
export const JSON_MESSAGE: Buffer = (() => {
  const items = Array.from({ length: 12 }, (_, i) => ({
    id: 1000 + i,
    name: `item-${i}`,
    price: Math.round((i * 7.31 + 3.5) * 100) / 100,
    tags: ['alpha', 'beta', i % 2 === 0 ? 'even' : 'odd'],
    inStock: i % 3 !== 0,
  }));
  const doc = { type: 'catalog.update', version: 3, timestamp: '2024-05-01T12:00:00Z', items };
  const buf = Buffer.from(JSON.stringify(doc), 'utf8');
  if (buf.length <= 1024) throw new Error(`JSON_MESSAGE is only ${buf.length} bytes`);
  return buf;
})();

/** A client frame (FIN, given first byte flags/opcode) with the payload masked by `mask`. */
export function maskedFrame(firstByte: number, payload: Buffer, mask: Buffer): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = Buffer.alloc(2 + ext + 4 + len);
  out[0] = firstByte;
  if (ext === 0) out[1] = 0x80 | len;
  else if (ext === 2) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  mask.copy(out, 2 + ext);
  for (let i = 0; i < len; i++) out[2 + ext + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}
