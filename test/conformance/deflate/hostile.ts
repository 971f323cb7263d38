// Hostile payloads shared by the server and client halves.
import assert from 'node:assert/strict';
import { bytes } from '../server/helpers.js';
import { compressMessage, inflateMessage, Inflater } from './codec.js';

const MIB = 1024 * 1024;

/** 10 MiB of zeros, compressed (about 10 KiB). */
export function bomb(size = 10 * MIB): Buffer {
  return compressMessage(Buffer.alloc(size), { level: 9 });
}

/** Bytes that are not valid DEFLATE data (checked with zlib and with our inflater). */
export function garbage(): Buffer[] {
  const list: Buffer[] = [
    Buffer.from([0xff, 0xff, 0xff, 0xff]), // final block of reserved type 3
    Buffer.from([0x00, 0x05, 0x00, 0x00, 0x00, 0x61]), // stored block, LEN/NLEN mismatch
  ];
  for (let seed = 1; list.length < 5; seed++) {
    const r = bytes(64, seed);
    r[0] = (r[0]! & ~0x06) | 0x06; // block type 3: never valid
    list.push(r);
  }
  for (const g of list) {
    assert.throws(() => inflateMessage(g), 'harness: garbage inflates with zlib');
    assert.throws(() => new Inflater(false).inflate(g), 'harness: garbage inflates with our inflater');
  }
  return list;
}

