// What internals.test.ts runs twice: in a child process with the Node internals in use, and
// in one with WS13_NO_INTERNALS=1 (every public-API fallback). Each function returns what it
// found instead of asserting, so the parent can compare the two runs. Importing this module
// does nothing by itself.
import http from 'node:http';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { NodeDeflateCodec } from '../../src/node/deflate.js';
import {
  createSyncDeflate,
  createSyncInflate,
  decodeLatin1,
  decodeUtf8,
  initEmitter,
  writeUtf8,
  Z_FULL_FLUSH,
  Z_NO_FLUSH,
  Z_SYNC_FLUSH,
} from '../../src/node/internals.js';
import { InflateLimitError, type PerMessageDeflateOptions } from '../../src/protocol/extensions/permessage-deflate.js';
import { bytes } from '../conformance/server/helpers.js';

const { Z_SYNC_FLUSH: SYNC } = zlib.constants;

/** Strings for writeUtf8: every UTF-8 length, surrogates paired, lone and split by a cut. */
export const UTF8_STRINGS: readonly string[] = [
  '',
  'a',
  'hello, world',
  '\u00e9\u00e8\u00ea',
  '\u20ac100',
  '\u{1F600}',
  'a\u{1F600}b\u{1F680}c',
  '\ud800',
  '\udc00',
  'x\ud83d',
  '\ud83dx',
  '\udc00\ud800',
  '\u{10FFFF}\u0000\u007f\u0080\u07ff\u0800\uffff',
  '\ufeffBOM',
  'mixed \u00e9\u20ac\u{1F600} '.repeat(20),
];

/** Byte strings for decodeUtf8/decodeLatin1, valid and not. */
export const BYTE_INPUTS: readonly number[][] = [
  [],
  [0x41],
  [0x00, 0x7f, 0x80, 0xff],
  [0xc3, 0xa9],
  [0xe2, 0x82, 0xac],
  [0xf0, 0x9f, 0x98, 0x80],
  [0xef, 0xbb, 0xbf, 0x41],
  [0xc3],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xed, 0xa0, 0x80],
  [0xc0, 0xaf],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80, 0x41, 0xbf],
  [...Buffer.from('h\u00e9llo \u20ac \u{1F600} '.repeat(30))],
];

/**
 * The adapter's functions against their public counterparts: `buf.write`, `buf.toString`,
 * EventEmitter, node:zlib's one-shot calls. Returns the mismatches (none when all agree).
 */
export function checkAdapter(): string[] {
  const bad: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) bad.push(what);
  };

  // writeUtf8 against buf.write, at every offset in a buffer and every byte limit.
  for (const s of UTF8_STRINGS) {
    const full = Buffer.byteLength(s, 'utf8');
    for (const off of [0, 3]) {
      for (let max = 0; max <= Math.min(3 * s.length, full + 2); max++) {
        const a = Buffer.alloc(off + 3 * s.length + 4, 0xaa);
        const b = Buffer.alloc(off + 3 * s.length + 4, 0xaa);
        const na = writeUtf8(a, s, off, max);
        const nb = b.write(s, off, max, 'utf8');
        check(na === nb && a.equals(b), `writeUtf8 ${JSON.stringify(s)} at ${off} max ${max}: ${na} vs ${nb}`);
        // Never a split character: what was written decodes to a prefix of the string as Buffer.from encodes it.
        check(Buffer.from(s, 'utf8').subarray(0, na).equals(a.subarray(off, off + na)), `writeUtf8 ${JSON.stringify(s)} max ${max}: not a prefix`);
      }
      // With room for all of it: exactly Buffer.from's bytes (lone surrogates as EF BF BD).
      const a = Buffer.alloc(off + 3 * s.length + 4);
      const n = writeUtf8(a, s, off, 3 * s.length);
      check(a.subarray(off, off + n).equals(Buffer.from(s, 'utf8')), `writeUtf8 ${JSON.stringify(s)}: not Buffer.from's bytes`);
    }
    // A limit past the buffer's end stops at the end (buf.write would throw: it is given the room left).
    const short = Buffer.alloc(5, 0xaa);
    const s5 = Buffer.alloc(5, 0xaa);
    check(writeUtf8(short, s, 1, 100) === s5.write(s, 1, 4, 'utf8') && short.equals(s5), `writeUtf8 ${JSON.stringify(s)} past the end`);
  }

  // decodeUtf8/decodeLatin1 against buf.toString, on Buffers and plain Uint8Arrays, whole and sliced.
  for (const bytesIn of BYTE_INPUTS) {
    const plain = new Uint8Array(bytesIn.length + 4).subarray(2, 2 + bytesIn.length);
    plain.set(bytesIn);
    const buf = Buffer.from(bytesIn);
    for (const u8 of [plain, buf]) {
      for (const [start, end] of [[0, bytesIn.length], [1, bytesIn.length], [0, Math.max(0, bytesIn.length - 1)]] as const) {
        if (start > end) continue;
        const kind = u8 === buf ? 'Buffer' : 'Uint8Array';
        check(decodeUtf8(u8, start, end) === buf.toString('utf8', start, end), `decodeUtf8 ${kind} [${bytesIn.slice(0, 8).join(',')}] ${start}..${end}`);
        check(decodeLatin1(u8, start, end) === buf.toString('latin1', start, end), `decodeLatin1 ${kind} [${bytesIn.slice(0, 8).join(',')}] ${start}..${end}`);
      }
    }
  }

  // initEmitter: an object on EventEmitter's prototype set up by it behaves as an EventEmitter.
  for (const install of [true, false]) {
    let e: EventEmitter;
    if (install) {
      e = Object.create(EventEmitter.prototype) as EventEmitter;
      initEmitter(e);
    } else e = new EventEmitter();
    const log: string[] = [];
    e.on('message', (x: string) => log.push(`m${x}`));
    e.once('close', () => log.push('c'));
    e.on('__proto__', () => log.push('p'));
    e.on('toString', () => log.push('t'));
    e.emit('message', 1);
    e.emit('close');
    e.emit('close');
    e.emit('__proto__');
    e.emit('toString');
    check(!e.emit('hasOwnProperty') && e.listenerCount('constructor') === 0, `events (${install}): inherited names seen`);
    check(log.join() === 'm1,c,p,t', `events (${install}): ${log.join()}`);
    check(e.eventNames().join() === 'message,__proto__,toString', `events (${install}): names ${e.eventNames().join()}`);
    e.removeAllListeners();
    check(e.eventNames().length === 0, `events (${install}): not removed`);
    check(e.getMaxListeners() === EventEmitter.defaultMaxListeners, `events (${install}): max listeners ${e.getMaxListeners()}`);
    e.setMaxListeners(1);
    check(e.getMaxListeners() === 1, `events (${install}): setMaxListeners`);
  }

  bad.push(...checkZlib());
  return bad;
}

const text = (n: number, seed: number): Buffer => {
  const words = ['alpha', 'beta', 'gamma', 'delta', '\u00e9t\u00e9', '\u20ac', '\u{1F600}', '{"id":', '}', '\n'];
  const r = bytes(n, seed);
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < n; i++) {
    const w = words[r[i % n]! % words.length]!;
    parts.push(w);
    size += Buffer.byteLength(w);
  }
  return Buffer.from(parts.join(''));
};

function flat(r: Buffer[] | Error, what: string, bad: string[]): Buffer {
  if (r instanceof Error) {
    bad.push(`${what}: ${r.message}`);
    return Buffer.alloc(0);
  }
  return Buffer.concat(r);
}

/** The zlib streams against zlib's one-shot calls: every flush, context kept and forgotten, pieces, limits, BFINAL. */
function checkZlib(): string[] {
  const bad: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) bad.push(what);
  };
  for (const windowBits of [9, 12, 15]) {
    const o = { windowBits, level: 1, memLevel: 8 };
    // The first two fit in the window, so the second can refer back to the first.
    const fits = Math.min(3000, 2 ** windowBits - 300); // zlib reaches back 262 bytes less than its window
    const msgs = [text(fits, 1), text(fits, 1), bytes(500, 7), Buffer.alloc(0), text(40_000, 3)];
    // Compress with the context kept (the middle one with Z_NO_FLUSH first); the public
    // inflater reads the concatenation back.
    const d = createSyncDeflate(o);
    const parts: Buffer[] = [];
    for (const [i, m] of msgs.entries()) {
      if (i === 4) parts.push(flat(d.write(m.subarray(0, 1000), Z_NO_FLUSH), 'deflate no-flush', bad));
      parts.push(flat(d.write(i === 4 ? m.subarray(1000) : m, Z_SYNC_FLUSH), `deflate ${i}`, bad));
    }
    const stream = Buffer.concat(parts);
    check(zlib.inflateRawSync(stream, { windowBits, finishFlush: SYNC }).equals(Buffer.concat(msgs)), `deflate w${windowBits}: context stream does not inflate`);
    // The second message, equal to the first, refers back to it.
    check(parts[1]!.length < parts[0]!.length / 4, `deflate w${windowBits}: context not kept (${parts[1]!.length} vs ${parts[0]!.length})`);
    // A full flush forgets: the next message inflates alone.
    const full = flat(d.write(msgs[0]!, Z_FULL_FLUSH), 'full', bad);
    const after = flat(d.write(msgs[1]!, Z_SYNC_FLUSH), 'after full', bad);
    check(zlib.inflateRawSync(after, { windowBits, finishFlush: SYNC }).equals(msgs[1]!), `deflate w${windowBits}: full flush did not forget`);
    check(full.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff])), `deflate w${windowBits}: full flush tail`);
    d.reset();
    const fresh = flat(d.write(msgs[0]!, Z_SYNC_FLUSH), 'after reset', bad);
    check(fresh.equals(zlib.deflateRawSync(msgs[0]!, { ...o, finishFlush: SYNC })), `deflate w${windowBits}: reset is not a fresh stream`);
    check(d.usable, `deflate w${windowBits}: unusable`);
    d.close();
    check(!d.usable && d.write(msgs[0]!, Z_SYNC_FLUSH) instanceof Error, `deflate w${windowBits}: usable after close`);

    // Inflate the context stream message by message, each cut into pieces at varied places.
    const inf = createSyncInflate(windowBits);
    for (const [i, m] of msgs.entries()) {
      const c = i === 4 ? Buffer.concat([parts[4]!, parts[5]!]) : parts[i]!;
      const cut = [Math.floor(c.length / 3), Math.floor((2 * c.length) / 3)];
      const out = [flat(inf.write(c.subarray(0, cut[0]), Infinity), 'piece 1', bad), flat(inf.write(c.subarray(cut[0], cut[1]), Infinity), 'piece 2', bad)];
      out.push(flat(inf.end([c.subarray(cut[1])], Infinity), 'end', bad));
      check(Buffer.concat(out).equals(m), `inflate w${windowBits} message ${i}: wrong bytes`);
    }
    // A limit: an InflateLimitError, and no more than the limit produced.
    const bomb = zlib.deflateRawSync(Buffer.alloc(200_000), { finishFlush: SYNC });
    const limited = createSyncInflate(windowBits).end([bomb], 1000);
    check(limited instanceof InflateLimitError, `inflate w${windowBits}: limit not enforced`);
    const exact = createSyncInflate(windowBits).end([zlib.deflateRawSync(Buffer.alloc(1000), { windowBits, finishFlush: SYNC })], 1000);
    check(!(exact instanceof Error) && Buffer.concat(exact).length === 1000, `inflate w${windowBits}: exactly the limit refused`);
    // Invalid data: an error, not an exception.
    const junk = createSyncInflate(windowBits);
    const r = junk.end([Buffer.from([0xff, 0xff, 0xff, 0xff])], Infinity);
    check(r instanceof Error && !(r instanceof InflateLimitError) && !junk.usable, `inflate w${windowBits}: invalid data accepted`);
    // A final block (BFINAL) ends the stream: what follows is ignored, and the stream is done.
    const ended = createSyncInflate(windowBits);
    const last = flat(ended.end([zlib.deflateRawSync(msgs[0]!, { windowBits }), Buffer.from([0, 0, 0xff, 0xff])], Infinity), 'bfinal', bad);
    check(last.equals(msgs[0]!) && !ended.usable, `inflate w${windowBits}: BFINAL not seen`);
  }
  return bad;
}

/** Regression: after a compressed message that ended with BFINAL, a peer's next messages inflated to nothing. */
export function checkAfterFinalBlock(): string[] {
  const codec = new NodeDeflateCodec(
    { localNoContextTakeover: false, remoteNoContextTakeover: false, localMaxWindowBits: 15, remoteMaxWindowBits: 15, header: '' },
    {},
  );
  const got: string[] = [];
  const final = zlib.deflateRawSync(Buffer.from('ends with a final block'));
  const next = zlib.deflateRawSync(Buffer.from('the next message'), { finishFlush: SYNC });
  for (const m of [final, next.subarray(0, -4), final, next.subarray(0, -4)]) {
    codec.decompress(m, true, 1 << 20, (err, out) => got.push(err ? `error ${err.message}` : Buffer.concat(out).toString()));
  }
  codec.close();
  const want = ['ends with a final block', 'the next message', 'ends with a final block', 'the next message'];
  return got.join('|') === want.join('|') ? [] : [`after BFINAL: ${got.join('|')}`];
}

/** One echo configuration: the server's and the client's perMessageDeflate, how to send. */
interface EchoConfig {
  name: string;
  server: boolean | PerMessageDeflateOptions;
  client: boolean | PerMessageDeflateOptions;
  /** Send each message as three fragments. */
  fragments?: boolean;
}

function echoConfigs(): EchoConfig[] {
  const configs: EchoConfig[] = [{ name: 'defaults (perMessageDeflate: true)', server: true, client: true }];
  for (let wb = 9; wb <= 15; wb++) {
    for (const takeover of [true, false]) {
      const o: PerMessageDeflateOptions = {
        serverNoContextTakeover: !takeover,
        clientNoContextTakeover: !takeover,
        serverMaxWindowBits: wb,
        clientMaxWindowBits: wb,
        threshold: 0,
      };
      configs.push({ name: `window ${wb}, context takeover ${takeover ? 'on' : 'off'}`, server: o, client: o });
    }
  }
  const both = { serverNoContextTakeover: false, clientNoContextTakeover: false, threshold: 0 };
  configs.push({ name: 'context takeover on, zlib level 6', server: { ...both, level: 6 }, client: { ...both, level: 6 } });
  configs.push({ name: 'context takeover on, fragmented sends', server: both, client: both, fragments: true });
  configs.push({ name: 'server without, client with context takeover', server: { serverNoContextTakeover: true, clientNoContextTakeover: false, threshold: 0 }, client: { serverNoContextTakeover: true, threshold: 0 } });
  return configs;
}

/** The messages of each connection: empty to 600 KiB, text and binary, repetitive and random. */
function echoMessages(): Array<string | Buffer> {
  const t = text(2000, 11).toString();
  return [
    '',
    'a',
    'hello',
    'h\u00e9llo \u20ac \u{1F600} \u{10FFFF}',
    t,
    t, // the same again: a back-reference into the previous message
    bytes(3000, 5),
    Buffer.alloc(0),
    text(70_000, 13),
    text(70_000, 13).toString(),
    Buffer.concat([text(400_000, 17), bytes(200_000, 19)]),
    t.slice(0, 100),
  ];
}

export interface EchoReport {
  name: string;
  /** Sec-WebSocket-Extensions as the client and the server see it. */
  clientExtensions: string;
  serverExtensions: string;
  /** For each reply: its type and the SHA-256 of its bytes. */
  replies: string[];
  /** Replies that differ from what was sent. */
  mismatches: string[];
  /** Bytes of messages echoed, and bytes the server wrote (handshake and frames). */
  payloadBytes: number;
  wireBytes: number;
}

const digest = (data: string | Buffer, binary: boolean): string =>
  `${binary ? 'binary' : 'text'}:${createHash('sha256').update(data).digest('hex').slice(0, 16)}`;

/** Echoes every message through a ws13 server and client on 127.0.0.1, per configuration. */
export async function runEcho(): Promise<EchoReport[]> {
  const reports: EchoReport[] = [];
  const msgs = echoMessages();
  for (const config of echoConfigs()) {
    const app = http.createServer();
    const sockets: Socket[] = [];
    app.on('connection', (s) => sockets.push(s));
    const wss = new WebSocketServer({ server: app, perMessageDeflate: config.server });
    let serverExtensions = '';
    wss.on('connection', (ws) => {
      serverExtensions = ws.extensions;
      ws.binaryType = 'nodebuffer';
      ws.on('message', (data, isBinary) => ws.send(data as string | Buffer, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const { port } = app.address() as AddressInfo;
    const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: config.client });
    const replies: string[] = [];
    const mismatches: string[] = [];
    let payloadBytes = 0;
    const queue: Array<(r: [unknown, boolean]) => void> = [];
    ws.on('message', (data, isBinary) => queue.shift()!([data, isBinary]));
    for (const [i, m] of msgs.entries()) {
      const binary = typeof m !== 'string';
      const reply = new Promise<[unknown, boolean]>((resolve) => queue.push(resolve));
      if (config.fragments && m.length >= 3) {
        const a = Math.floor(m.length / 3);
        const b = Math.floor((2 * m.length) / 3);
        // Cut strings between UTF-16 units that are not a surrogate pair's halves.
        const at = (k: number): number => (typeof m === 'string' && /[\udc00-\udfff]/.test(m[k] ?? '') ? k + 1 : k);
        ws.send(m.slice(0, at(a)), { binary, fin: false });
        ws.send(m.slice(at(a), at(b)), { binary, fin: false });
        ws.send(m.slice(at(b)), { binary, fin: true });
      } else {
        ws.send(m, { binary });
      }
      const [data, isBinary] = await reply;
      payloadBytes += Buffer.byteLength(m);
      const same = isBinary === binary && (binary ? Buffer.isBuffer(data) && data.equals(m as Buffer) : data === m);
      if (!same) mismatches.push(`message ${i} (${Buffer.byteLength(m)} bytes)`);
      replies.push(digest(data as string | Buffer, isBinary));
    }
    const clientExtensions = ws.extensions;
    ws.close(1000);
    await new Promise((resolve) => ws.once('close', resolve));
    await wss.close();
    await new Promise((resolve) => app.close(resolve));
    const wireBytes = sockets.reduce((n, s) => n + s.bytesWritten, 0);
    reports.push({ name: config.name, clientExtensions, serverExtensions, replies, mismatches, payloadBytes, wireBytes });
  }
  return reports;
}
