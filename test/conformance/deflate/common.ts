// Shared pieces of the permessage-deflate suite: parsing Sec-WebSocket-Extensions,
// reading (possibly compressed) messages frame by frame, payload generators.
import assert from 'node:assert/strict';
import type { RawPeer, Frame } from '../../support/raw.js';
import { bytes, asciiText } from '../server/helpers.js';
import { Inflater, ZDeflater, compressMessage, encodeWindowLimited } from './codec.js';

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;
export const RSV1 = 4;
export const PMD = 'permessage-deflate';

/** Message sizes of the data tests. */
export const SIZES = [16, 64, 256, 1024, 4096, 16384, 65536, 131072];

export type Param = [name: string, value: string | true];
export interface Ext {
  name: string;
  params: Param[];
}

/** Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1; quoted values unescaped). */
export function parseExtensions(value: string): Ext[] {
  const out: Ext[] = [];
  for (const element of value.split(',')) {
    const parts = element.split(';').map((s) => s.trim());
    const name = parts.shift() ?? '';
    const params: Param[] = [];
    for (const p of parts) {
      const i = p.indexOf('=');
      if (i < 0) params.push([p, true]);
      else {
        let v = p.slice(i + 1).trim();
        if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
        params.push([p.slice(0, i).trim(), v]);
      }
    }
    out.push({ name, params });
  }
  return out;
}

export function param(e: Ext, name: string): string | true | undefined {
  return e.params.find(([n]) => n === name)?.[1];
}

/** What was agreed, from the server's answer (RFC 7692 §7.1), with defaults filled in. */
export interface Agreed {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

export function agreed(e: Ext): Agreed {
  const num = (v: string | true | undefined): number => (typeof v === 'string' ? Number(v) : 15);
  return {
    serverNoContextTakeover: param(e, 'server_no_context_takeover') !== undefined,
    clientNoContextTakeover: param(e, 'client_no_context_takeover') !== undefined,
    serverMaxWindowBits: num(param(e, 'server_max_window_bits')),
    clientMaxWindowBits: num(param(e, 'client_max_window_bits')),
  };
}

const KNOWN = ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'];

/**
 * Checks a server's answer against the offer it accepted (RFC 7692 §7.1): one
 * permessage-deflate element, known parameters once each, valid values, no parameter the
 * offer did not allow.
 */
export function checkAnswer(answer: Ext[], offer: Ext): Ext {
  assert.equal(answer.length, 1, `expected one extension in the answer, got ${JSON.stringify(answer)}`);
  const e = answer[0]!;
  assert.equal(e.name, PMD);
  const names = e.params.map(([n]) => n);
  assert.equal(new Set(names).size, names.length, `duplicate parameter in the answer: ${names.join(', ')}`);
  for (const [n, v] of e.params) {
    assert.ok(KNOWN.includes(n), `unknown parameter in the answer: ${n}`);
    if (n.endsWith('_no_context_takeover')) assert.equal(v, true, `${n} must have no value`);
    else {
      assert.equal(typeof v, 'string', `${n} in an answer must have a value`);
      assert.match(v as string, /^(8|9|1[0-5])$/, `${n}=${String(v)} out of 8..15`);
    }
  }
  const offered = (n: string): string | true | undefined => param(offer, n);
  if (offered('server_no_context_takeover') !== undefined) {
    assert.ok(param(e, 'server_no_context_takeover') !== undefined, 'server_no_context_takeover was offered: the answer must have it (§7.1.1.1)');
  }
  const osm = offered('server_max_window_bits');
  if (typeof osm === 'string') {
    const a = param(e, 'server_max_window_bits');
    assert.ok(a !== undefined, `server_max_window_bits=${osm} offered: the answer must have it (§7.1.2.1)`);
    assert.ok(Number(a) <= Number(osm), `server_max_window_bits=${String(a)} above the offered ${osm}`);
  }
  const ocm = offered('client_max_window_bits');
  const acm = param(e, 'client_max_window_bits');
  if (ocm === undefined) assert.equal(acm, undefined, 'client_max_window_bits in the answer but not in the offer (§7.1.2.2)');
  else if (typeof ocm === 'string' && acm !== undefined) {
    assert.ok(Number(acm) <= Number(ocm), `client_max_window_bits=${String(acm)} above the offered ${ocm}`);
  }
  return e;
}

export function describeFrame(f: Frame): string {
  const names: Record<number, string> = { 0: 'cont', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
  let s = `${names[f.opcode] ?? 'op' + f.opcode} fin=${f.fin} rsv=${f.rsv} masked=${f.masked} len=${f.payload.length}`;
  if (f.opcode === OP.CLOSE && f.payload.length >= 2) s += ` code=${f.payload.readUInt16BE(0)} reason=${JSON.stringify(f.payload.subarray(2).toString())}`;
  return `[${s}]`;
}

export interface WireMessage {
  opcode: number;
  /** RSV1 on the first frame: the message is compressed. */
  compressed: boolean;
  frames: Frame[];
  /** The payloads concatenated (compressed data when `compressed`). */
  payload: Buffer;
}

/**
 * Reads the next data message (skipping nothing: a control frame in between fails), checking
 * RFC 7692 §6: RSV1 on the first frame only, RSV2/RSV3 never; masking as the role requires.
 */
export async function readWireMessage(p: RawPeer, from: 'server' | 'client', timeoutMs = 10_000): Promise<WireMessage> {
  const deadline = Date.now() + timeoutMs;
  const frames: Frame[] = [];
  for (;;) {
    let f: Frame;
    try {
      f = await p.nextFrame(Math.max(1, deadline - Date.now()));
    } catch {
      throw new Error(`timed out waiting for a message from the ${from}${p.ended ? ' (TCP closed)' : ''}; frames so far: ${frames.map(describeFrame).join(' ')}`);
    }
    assert.equal(f.masked, from === 'client', `${from} frame masking wrong: ${describeFrame(f)}`);
    assert.equal(f.rsv & 3, 0, `RSV2/RSV3 set: ${describeFrame(f)}`);
    if (frames.length === 0) {
      assert.ok(f.opcode === OP.TEXT || f.opcode === OP.BINARY, `expected a data message, got ${describeFrame(f)}`);
    } else {
      assert.equal(f.opcode, OP.CONT, `expected a continuation frame, got ${describeFrame(f)}`);
      assert.equal(f.rsv, 0, `RSV1 on a continuation frame: ${describeFrame(f)}`);
    }
    frames.push(f);
    if (f.fin) break;
  }
  return {
    opcode: frames[0]!.opcode,
    compressed: (frames[0]!.rsv & RSV1) !== 0,
    frames,
    payload: Buffer.concat(frames.map((f) => f.payload)),
  };
}

/** The message's data: inflated with `inflater` when compressed. */
export function messageData(m: WireMessage, inflater: Inflater): Buffer {
  return m.compressed ? inflater.inflate(m.payload) : m.payload;
}

export function assertSameData(got: Buffer, want: Buffer, what = 'message'): void {
  if (!got.equals(want)) {
    let i = 0;
    while (i < got.length && i < want.length && got[i] === want[i]) i++;
    assert.fail(`${what} differs: got ${got.length} bytes, expected ${want.length}, first difference at ${i}`);
  }
}

export type Kind = 'text' | 'text-random' | 'binary' | 'binary-random';
export const KINDS: Kind[] = ['text', 'text-random', 'binary', 'binary-random'];

/** Compressible English-like text (valid UTF-8, with some 2- and 3-byte characters). */
export function prose(n: number, seed = 1): Buffer {
  const words = ['the', 'deflate', 'window', 'message', 'frame', 'context', 'takeover', 'caf\u00e9', 'na\u00efve', '\u20ac', 'socket', 'server', 'client'];
  const r = bytes(Math.ceil(n / 2) + 16, seed);
  const parts: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const w = words[r[i % r.length]! % words.length]! + ' ';
    parts.push(w);
    len += Buffer.byteLength(w);
  }
  let b = Buffer.from(parts.join(''));
  // Cut to n bytes without splitting a character: pad with ASCII.
  while (b.length > n) b = b.subarray(0, b.length - 1);
  let s = new TextDecoder('utf-8', { fatal: false }).decode(b).replace(/\uFFFD/g, '');
  while (Buffer.byteLength(s) < n) s += '.';
  return Buffer.from(s);
}

/** Message data of the given kind and size (random text is random printable ASCII). */
export function payloadOf(kind: Kind, n: number, seed = 7): Buffer {
  switch (kind) {
    case 'text':
    case 'binary':
      return kind === 'text' ? prose(n, seed) : prose(n, seed).map((x, i) => (x + (i % 7)) & 0xff) as Buffer;
    case 'text-random': {
      const r = bytes(n, seed);
      for (let i = 0; i < n; i++) r[i] = 0x20 + (r[i]! % 95);
      return r;
    }
    case 'binary-random':
      return bytes(n, seed);
  }
}

export function isText(kind: Kind): boolean {
  return kind.startsWith('text');
}

/**
 * Data that tempts a compressor to reach back further than 2^bits: a random block, then
 * the same block again at a distance just above the window.
 */
export function windowProbe(bits: number, seed = 3): Buffer {
  const block = bytes(Math.min((1 << bits) + 100, 20_000), seed);
  return Buffer.concat([block, block, asciiText(200)]);
}

export function elapsedMs(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** A message compressor for our side of a connection (what a conforming peer may send). */
export interface Compressor {
  compress(data: Buffer): Promise<Buffer>;
  close(): void;
}

/**
 * With `takeover`, messages may refer back into earlier ones (zlib stream with sync
 * flushes); without, each is compressed alone. Window 8: our own encoder (zlib cannot).
 */
export function compressor(takeover: boolean, windowBits = 15): Compressor {
  if (windowBits === 8) {
    let history = Buffer.alloc(0);
    return {
      compress: async (data) => {
        const out = encodeWindowLimited(data, 256, takeover ? history : Buffer.alloc(0));
        if (takeover) history = Buffer.concat([history, data]).subarray(-1024);
        return out;
      },
      close: () => {},
    };
  }
  if (takeover) {
    const z = new ZDeflater({ windowBits });
    return { compress: (d) => z.compress(d), close: () => z.close() };
  }
  return { compress: async (d) => compressMessage(d, { windowBits }), close: () => {} };
}
