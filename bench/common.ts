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
 * The deflate workload's documents: `count` different JSON documents of 1,026–1,283 bytes
 * (over 1,024, so both servers compress them at their default threshold) that compress to
 * about 38 % each on their own, like typical API payloads. Deterministic (seeded).
 */
export function jsonPool(count: number): Buffer[] {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const words = ['alpha', 'beta', 'gamma', 'delta', 'order', 'price', 'update', 'status', 'pending', 'shipped',
    'user', 'account', 'region', 'eu-west', 'us-east', 'premium', 'basic', 'cart', 'item', 'discount'] as const;
  return Array.from({ length: count }, (_, seq) => {
    const items: unknown[] = [];
    const doc = {
      type: pick(['order.update', 'cart.sync', 'price.tick', 'user.profile']),
      id: (rnd() * 1e12).toString(36),
      ts: new Date(1.7e12 + Math.floor(rnd() * 1e10)).toISOString(),
      seq,
      items,
    };
    while (JSON.stringify(doc).length < 1000 + rnd() * 200) {
      items.push({
        sku: `${pick(words)}-${Math.floor(rnd() * 100000)}`, name: `${pick(words)} ${pick(words)}`,
        qty: Math.floor(rnd() * 20), price: Math.round(rnd() * 100000) / 100, tags: [pick(words), pick(words)], ok: rnd() < 0.5,
      });
    }
    const buf = Buffer.from(JSON.stringify(doc), 'utf8');
    if (buf.length <= 1024) throw new Error(`pool document ${seq} is only ${buf.length} bytes`);
    return buf;
  });
}

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

/** One ~1.2 KiB JSON document (micro-benchmarks). */
export const JSON_MESSAGE: Buffer = jsonPool(1)[0]!;
