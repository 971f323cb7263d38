// permessage-deflate for Node (RFC 7692), on node:zlib.
//
// Where `ws` loses its time: it drives zlib through the stream API, so every message costs
// a round trip through libuv's thread pool (capped at 10 at once), stream bookkeeping and
// several callbacks; for a 1 KiB message that overhead is many times the compression. Here
// zlib runs synchronously on the zlib handle that node:zlib itself uses (`_handle.writeSync`,
// the call behind zlib.deflateRawSync), keeping the stream state between messages, which
// the public sync API cannot (it closes the handle after each call). That internal lives in
// internals.ts, which falls back to the public API (with a warning) on a Node where it is
// missing or misbehaves: compression is never dropped, only slower. Large messages are
// compressed in slices with a turn of the event loop between them, so no single step
// blocks for long. Whole messages up to 64 KiB without context takeover skip zlib's
// compressor altogether: ws13's own encoder takes about half its time (deflate-encoder.ts).
//
// Memory: a connection whose peer keeps its context (the browser default) holds one
// inflater, made on its first compressed message: 2^windowBits bytes of window plus about
// 7 KiB. A compressor with context takeover adds 2^(windowBits+2) + 2^(memLevel+9) bytes
// (256 KiB at 15/8). Without context takeover (the server's default for its own side)
// connections share one compressor (and one decompressor), so they hold none.
import {
  type CodecCallback,
  type DeflateCodec,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from '../protocol/extensions/permessage-deflate.js';
import { messageEncoder, type MessageEncoder } from '../protocol/extensions/deflate-encoder.js';
import { createSyncDeflate, createSyncInflate, Z_FULL_FLUSH, Z_NO_FLUSH, Z_SYNC_FLUSH, type SyncDeflate, type SyncInflate } from './internals.js';

/** RFC 7692 §7.2.1/§7.2.2: the tail a sync flush ends with, removed on the wire. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** Larger inputs are compressed in slices of this size, one per turn of the event loop. */
const SLICE = 256 * 1024;
/** Encoder output is copied into pooled buffers of this size; messages get views of them. */
const POOL_SIZE = 64 * 1024;

/** Pieces up to this size are inflated with their tail in one zlib call. */
const SMALL_INPUT = 16 * 1024;
const small = Buffer.allocUnsafe(SMALL_INPUT + 4);

let pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOff = 0;

/** A copy of `view` in pooled memory. */
function pooled(view: Uint8Array): Buffer {
  if (POOL_SIZE - poolOff < view.length) {
    if (view.length > POOL_SIZE / 4) return Buffer.from(view);
    pool = Buffer.allocUnsafe(POOL_SIZE);
    poolOff = 0;
  }
  const b = pool.subarray(poolOff, poolOff + view.length);
  b.set(view);
  poolOff += view.length;
  return b;
}

function newDeflate(windowBits: number, level: number, memLevel: number): SyncDeflate {
  return createSyncDeflate({ windowBits, level, memLevel });
}

function newInflate(windowBits: number): SyncInflate {
  // zlib inflates any window up to its own; a 9-bit floor also covers peers whose "8" is 9.
  return createSyncInflate(Math.max(9, windowBits));
}

/** Compressors and decompressors shared by every connection without context takeover. */
const shared = new Map<string, SyncDeflate | SyncInflate>();

function sharedZlib<Z extends SyncDeflate | SyncInflate>(key: string, make: () => Z): Z {
  let z = shared.get(key) as Z | undefined;
  if (!z || !z.usable) {
    z = make();
    shared.set(key, z);
  }
  return z;
}

function dropShared(key: string, z: SyncDeflate | SyncInflate): void {
  if (shared.get(key) === z) shared.delete(key);
  z.close();
}

function stripTail(out: Buffer[]): Buffer[] {
  // Z_SYNC_FLUSH output ends with 00 00 ff ff, possibly split across two views.
  let cut = 4;
  while (cut > 0 && out.length > 0) {
    const last = out[out.length - 1]!;
    if (last.length <= cut) {
      cut -= last.length;
      out.pop();
    } else {
      out[out.length - 1] = last.subarray(0, last.length - cut);
      cut = 0;
    }
  }
  return out;
}

/**
 * The end of a compressed message: without its 00 00 ff ff. When nothing is left (an empty
 * message, or an empty last fragment after a flush, where zlib writes nothing at all) the
 * payload is one 0x00 byte, an empty stored block's header (RFC 7692 §7.2.3.6): an empty
 * payload plus the receiver's tail would not inflate.
 */
function messageEnd(out: Buffer[]): Buffer[] {
  const rest = stripTail(out);
  return rest.some((b) => b.length > 0) ? rest : [ZERO];
}
const ZERO = Buffer.from([0]);

/** One connection's permessage-deflate codec. */
export class NodeDeflateCodec implements DeflateCodec {
  readonly #params: DeflateParams;
  readonly #level: number;
  readonly #memLevel: number;
  /** ws13's own encoder for whole messages without context takeover, unless a level is set. */
  readonly #encoder: MessageEncoder | undefined;
  /** Keys of the shared compressor and decompressor this connection would use. */
  readonly #deflateKey: string;
  readonly #inflateKey: string;
  #deflate: SyncDeflate | undefined;
  #inflate: SyncInflate | undefined;
  /** A message is being inflated across several calls. */
  #inMessage = false;
  /** A message is being compressed fragment by fragment. */
  #fragmenting = false;

  constructor(params: DeflateParams, opts: PerMessageDeflateOptions) {
    this.#params = params;
    // Level 1 by default: on messages of a few KiB it compresses within a few percent of
    // zlib's default (6) for about two thirds of the time (bench/RESULTS.md).
    this.#level = opts.level ?? 1;
    this.#memLevel = opts.memLevel ?? 8;
    this.#encoder = opts.level === undefined ? messageEncoder() : undefined;
    this.#deflateKey = `d${params.localMaxWindowBits}:${this.#level}:${this.#memLevel}`;
    this.#inflateKey = `i${params.remoteMaxWindowBits}`;
  }

  /**
   * Whether we compress at all: zlib refuses an 8-bit raw window (it would use 9, which a
   * peer that asked for 8 may not inflate), so with 8 our messages go uncompressed.
   */
  get canCompress(): boolean {
    return this.#params.localMaxWindowBits > 8;
  }

  decompress(data: Uint8Array, fin: boolean, limit: number, done: CodecCallback): void {
    const p = this.#params;
    // A whole message from a peer without context takeover: the shared decompressor.
    if (p.remoteNoContextTakeover && fin && !this.#inMessage) {
      const key = this.#inflateKey;
      const z = sharedZlib(key, () => newInflate(p.remoteMaxWindowBits));
      const out = this.#inflateWith(z, data, limit);
      if (out instanceof Error || !z.usable) dropShared(key, z);
      else z.reset();
      return out instanceof Error ? done(out, []) : done(null, out);
    }
    const z = (this.#inflate ??= newInflate(p.remoteMaxWindowBits));
    this.#inMessage = !fin;
    const out = fin ? this.#inflateWith(z, data, limit) : z.write(data, limit);
    if (out instanceof Error || (fin && (!z.usable || p.remoteNoContextTakeover))) {
      // Failed, ended its stream (BFINAL), or keeps no context: start afresh next time.
      z.close();
      this.#inflate = undefined;
    }
    if (out instanceof Error) done(out, []);
    else done(null, out);
  }

  /** Inflates the last piece of a message with the 00 00 ff ff tail (RFC 7692 §7.2.2). */
  #inflateWith(z: SyncInflate, data: Uint8Array, limit: number): Buffer[] | Error {
    if (data.length <= SMALL_INPUT) {
      // One zlib call: copy the piece and the tail into scratch space.
      const input = small.subarray(0, data.length + 4);
      input.set(data);
      input.set(TAIL, data.length);
      return z.end([input], limit);
    }
    // After a final block (BFINAL) the stream ignores the tail.
    return z.end([data, TAIL], limit);
  }

  compress(data: Uint8Array, fin: boolean, done: CodecCallback): void {
    const p = this.#params;
    const whole = fin && !this.#fragmenting;
    const encoder = this.#encoder;
    if (encoder !== undefined && whole && p.localNoContextTakeover && data.length <= encoder.capacity && p.localMaxWindowBits > 8) {
      // The common case, without zlib: see deflate-encoder.ts.
      return done(null, [pooled(encoder.encode(data, p.localMaxWindowBits))]);
    }
    if (data.length <= SLICE && whole && p.localNoContextTakeover) {
      // A whole message, no context kept: the shared compressor with a full flush, which
      // ends the message like a sync flush (00 00 ff ff) and forgets everything before it,
      // so the next message, another connection's perhaps, refers to nothing earlier. It
      // costs less than a reset (measured: 7.8 µs against 9.7 µs per 1 KiB message).
      const key = this.#deflateKey;
      const z = sharedZlib(key, () => newDeflate(p.localMaxWindowBits, this.#level, this.#memLevel));
      const out = z.write(data, Z_FULL_FLUSH);
      if (out instanceof Error || !z.usable) dropShared(key, z);
      return out instanceof Error ? done(out, []) : done(null, messageEnd(out));
    }
    // Our own compressor: kept for context takeover, or for the fragments of one message.
    const z = (this.#deflate ??= newDeflate(p.localMaxWindowBits, this.#level, this.#memLevel));
    this.#fragmenting = !fin;
    const finish = (out: Buffer[] | Error): void => {
      if (out instanceof Error || (fin && p.localNoContextTakeover)) {
        z.close();
        if (this.#deflate === z) this.#deflate = undefined;
      }
      if (out instanceof Error) return done(out, []);
      // Fragments before the last keep their 00 00 ff ff: it is part of the stream.
      done(null, fin ? messageEnd(out) : out);
    };
    if (data.length <= SLICE) return finish(z.write(data, Z_SYNC_FLUSH));
    // Large: slice by slice, yielding to the event loop between slices.
    const out: Buffer[] = [];
    let off = 0;
    const step = (): void => {
      const end = Math.min(data.length, off + SLICE);
      const last = end === data.length;
      const r = z.write(data.subarray(off, end), last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
      if (r instanceof Error) return finish(r);
      for (const b of r) out.push(b);
      off = end;
      if (last) finish(out);
      else setImmediate(step);
    };
    step();
  }

  /**
   * When every whole message this codec compresses comes out as the same bytes for any codec
   * with the same key (our side keeps no context), that key; a publish to many connections
   * compresses once per key (topics.ts). Otherwise undefined.
   */
  get shareKey(): string | undefined {
    return this.#params.localNoContextTakeover && this.canCompress ? `${this.#deflateKey}:${this.#encoder ? 'e' : 'z'}` : undefined;
  }

  /**
   * Compresses one whole message at once, as `compress` would, without touching this
   * connection's state. Undefined when that cannot be done synchronously (no `shareKey`, or
   * over 256 KiB, which `compress` slices over turns) or zlib failed.
   */
  compressWhole(data: Uint8Array): Buffer[] | undefined {
    const p = this.#params;
    if (this.shareKey === undefined) return undefined;
    const encoder = this.#encoder;
    if (encoder !== undefined && data.length <= encoder.capacity) return [pooled(encoder.encode(data, p.localMaxWindowBits))];
    if (data.length > SLICE) return undefined;
    const key = this.#deflateKey;
    const z = sharedZlib(key, () => newDeflate(p.localMaxWindowBits, this.#level, this.#memLevel));
    const out = z.write(data, Z_FULL_FLUSH);
    if (out instanceof Error || !z.usable) dropShared(key, z);
    return out instanceof Error ? undefined : messageEnd(out);
  }

  close(): void {
    this.#deflate?.close();
    this.#inflate?.close();
    this.#deflate = undefined;
    this.#inflate = undefined;
  }
}
