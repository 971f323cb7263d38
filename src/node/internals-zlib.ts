// zlib driven synchronously through a zlib object's internals, with a public fallback
// (internals.ts says how internals are chosen and tested).
import { kMaxLength } from 'node:buffer';
import zlib from 'node:zlib';
import { InflateLimitError } from '../protocol/extensions/permessage-deflate.js';
import { detect, warn } from './internals-detect.js';

const { Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FULL_FLUSH } = zlib.constants;

// ---------------------------------------------------------------------------------------
// zlib, driven synchronously with the stream state kept between calls

/** A raw DEFLATE compressor driven synchronously; its state is kept between calls. */
export interface SyncDeflate {
  /**
   * Compresses `input`. `flush`: Z_NO_FLUSH (more of this message follows: output may be
   * held back), Z_SYNC_FLUSH (ends on a byte boundary with 00 00 ff ff, context kept) or
   * Z_FULL_FLUSH (the same, and nothing after refers to anything before). Returns the
   * output, views of pooled memory, or the error (the stream is then unusable).
   */
  write(input: Uint8Array, flush: number): Buffer[] | Error;
  /** Forgets the context, as a fresh stream. */
  reset(): void;
  close(): void;
  /** False once closed or failed: make another. */
  readonly usable: boolean;
}

/** A raw DEFLATE decompressor driven synchronously; its state is kept between calls. */
export interface SyncInflate {
  /**
   * Takes a piece of a message, more of it to follow. Output comes now (the internal path)
   * or with the message's end (the fallback). An InflateLimitError once the output passes
   * `limit` bytes, having produced no more than that; any other Error for invalid data.
   */
  write(input: Uint8Array, limit: number): Buffer[] | Error;
  /**
   * Takes the last pieces of a message, which together end on a flush point (the caller
   * appends RFC 7692's 00 00 ff ff), and returns what is left of its output; `limit` as above
   * (for what this call produces). After a final block (BFINAL) the rest is ignored and the
   * stream becomes unusable.
   */
  end(pieces: readonly Uint8Array[], limit: number): Buffer[] | Error;
  /** Forgets the context, as a fresh stream. */
  reset(): void;
  close(): void;
  /** False once closed, failed or past a final block: make another. */
  readonly usable: boolean;
}

export interface DeflateOptions {
  windowBits: number;
  level: number;
  memLevel: number;
}

/** The parts of a node:zlib object used by the internal path (present in Node 20 to 24). */
interface ZlibInternals {
  _handle: {
    writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
    reset(): void;
    close(): void;
  } | null;
  _writeState: Uint32Array;
  errored?: Error | null;
  destroyed: boolean;
  on(event: 'error', f: (err: Error) => void): unknown;
  close(): void;
}

/** Output is written into pooled buffers of this size; callers get views of them. */
const POOL_SIZE = 64 * 1024;
let pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOff = 0;
const noop = (): void => {};

/** A node:zlib object, written to through its handle. */
class HandleStream {
  readonly #z: ZlibInternals;
  /** The stream has ended (a final block): input after it is ignored. */
  #ended = false;

  constructor(z: ZlibInternals) {
    this.#z = z;
    z.on('error', noop);
  }

  get usable(): boolean {
    const z = this.#z;
    return z._handle !== null && !z.destroyed && !z.errored && !this.#ended;
  }

  /**
   * Runs `input` through zlib with `flush`, synchronously, keeping the stream open; pushes
   * the output onto `out` and returns its size. Stops as soon as more than `limit` bytes
   * were produced, so a decompression bomb never holds more than that.
   */
  run(input: Uint8Array, flush: number, limit: number, out: Buffer[]): number | Error {
    const z = this.#z;
    const h = z._handle;
    if (!h) return new Error('zlib stream closed');
    if (this.#ended) return 0;
    const state = z._writeState;
    let total = 0;
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      if (POOL_SIZE - poolOff < 1024) {
        pool = Buffer.allocUnsafe(POOL_SIZE);
        poolOff = 0;
      }
      const avail = POOL_SIZE - poolOff;
      h.writeSync(flush, input, inOff, inLen, pool, poolOff, avail);
      if (z.errored || z.destroyed) return z.errored ?? new Error('zlib error');
      const availOutAfter = state[0]!;
      const availInAfter = state[1]!;
      const have = avail - availOutAfter;
      if (have > 0) {
        out.push(pool.subarray(poolOff, poolOff + have));
        poolOff += have;
        total += have;
        if (total > limit) return new InflateLimitError(`inflated size over ${limit} bytes`);
      }
      inOff += inLen - availInAfter;
      inLen = availInAfter;
      // zlib stops when the output space is full; otherwise it took all it could, and input
      // left over means the stream ended (inflate past a final block; zlib ignores the rest).
      if (availOutAfter !== 0) {
        if (inLen !== 0) this.#ended = true;
        return total;
      }
    }
  }

  get ended(): boolean {
    return this.#ended;
  }

  reset(): void {
    this.#z._handle?.reset();
    this.#ended = false;
  }

  close(): void {
    this.#z.close();
  }
}

class HandleDeflate extends HandleStream implements SyncDeflate {
  write(input: Uint8Array, flush: number): Buffer[] | Error {
    const out: Buffer[] = [];
    const r = this.run(input, flush, Infinity, out);
    return typeof r === 'number' ? out : r;
  }
}

class HandleInflate extends HandleStream implements SyncInflate {
  write(input: Uint8Array, limit: number): Buffer[] | Error {
    const out: Buffer[] = [];
    const r = this.run(input, Z_SYNC_FLUSH, limit, out);
    return typeof r === 'number' ? out : r;
  }

  end(pieces: readonly Uint8Array[], limit: number): Buffer[] | Error {
    const out: Buffer[] = [];
    let left = limit;
    for (const p of pieces) {
      if (this.ended) break;
      const r = this.run(p, Z_SYNC_FLUSH, left, out);
      if (typeof r !== 'number') return r;
      left -= r;
    }
    return out;
  }
}

/** The last `size` bytes of `history` followed by `data`. */
function lastBytes(history: Buffer | undefined, data: Uint8Array, size: number): Buffer {
  if (data.length >= size) return Buffer.from(data.subarray(data.length - size));
  const keep = history === undefined ? 0 : Math.min(history.length, size - data.length);
  const w = Buffer.allocUnsafe(keep + data.length);
  if (keep > 0) history!.copy(w, 0, history!.length - keep);
  w.set(data, keep);
  return w;
}

/**
 * The public-API compressor: each call is one zlib.deflateRawSync over a fresh stream,
 * primed with the last window of input as a dictionary, so it may refer back as far as the
 * peer's window reaches. Z_NO_FLUSH is taken as a sync flush: a flush point mid-message is
 * valid DEFLATE, and costs 4 or 5 bytes.
 */
class PublicDeflate implements SyncDeflate {
  readonly #opts: DeflateOptions;
  readonly #size: number;
  #history: Buffer | undefined;
  #closed = false;

  constructor(opts: DeflateOptions) {
    this.#opts = opts;
    this.#size = 2 ** opts.windowBits;
  }

  get usable(): boolean {
    return !this.#closed;
  }

  write(input: Uint8Array, flush: number): Buffer[] | Error {
    if (this.#closed) return new Error('zlib stream closed');
    const o = this.#opts;
    const full = flush === Z_FULL_FLUSH;
    try {
      const out = zlib.deflateRawSync(input, {
        windowBits: o.windowBits,
        level: o.level,
        memLevel: o.memLevel,
        finishFlush: full ? Z_FULL_FLUSH : Z_SYNC_FLUSH,
        ...(this.#history === undefined ? {} : { dictionary: this.#history }),
      });
      this.#history = full ? undefined : lastBytes(this.#history, input, this.#size);
      return [out];
    } catch (err) {
      this.#closed = true;
      return err as Error;
    }
  }

  reset(): void {
    this.#history = undefined;
  }

  close(): void {
    this.#closed = true;
    this.#history = undefined;
  }
}

/**
 * The public-API decompressor: a message's pieces are kept (copied: the caller's memory may
 * be reused) until its end, then inflated at once with zlib.inflateRawSync, primed with the
 * last window of output as a dictionary. A piece may end anywhere, even inside a Huffman
 * code, which a fresh stream could not resume from. What is kept is compressed input, whose
 * size the connection limits by maxPayload before it arrives.
 */
class PublicInflate implements SyncInflate {
  readonly #windowBits: number;
  readonly #size: number;
  #history: Buffer | undefined;
  #pending: Buffer[] = [];
  #closed = false;
  #ended = false;

  constructor(windowBits: number) {
    this.#windowBits = windowBits;
    this.#size = 2 ** windowBits;
  }

  get usable(): boolean {
    return !this.#closed && !this.#ended;
  }

  write(input: Uint8Array, _limit: number): Buffer[] | Error {
    if (this.#closed) return new Error('zlib stream closed');
    if (input.length > 0) this.#pending.push(Buffer.from(input));
    return [];
  }

  end(pieces: readonly Uint8Array[], limit: number): Buffer[] | Error {
    if (this.#closed) return new Error('zlib stream closed');
    if (this.#ended) return [];
    const all = this.#pending.length === 0 && pieces.length === 1 ? pieces[0]! : Buffer.concat([...this.#pending, ...pieces]);
    this.#pending = [];
    try {
      const { buffer, engine } = zlib.inflateRawSync(all, {
        windowBits: this.#windowBits,
        finishFlush: Z_SYNC_FLUSH,
        maxOutputLength: Math.max(1, Math.min(limit, kMaxLength)),
        info: true,
        ...(this.#history === undefined ? {} : { dictionary: this.#history }),
      }) as unknown as { buffer: Buffer; engine: zlib.Zlib };
      if (buffer.length > limit) throw new InflateLimitError(`inflated size over ${limit} bytes`);
      // Input left over: the stream ended with a final block.
      if (engine.bytesWritten < all.length) this.#ended = true;
      this.#history = lastBytes(this.#history, buffer, this.#size);
      return buffer.length > 0 ? [buffer] : [];
    } catch (err) {
      this.#closed = true;
      this.#history = undefined;
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return new InflateLimitError(`inflated size over ${limit} bytes`);
      return err as Error;
    }
  }

  reset(): void {
    this.#history = undefined;
    this.#pending = [];
    this.#ended = false;
  }

  close(): void {
    this.#closed = true;
    this.#history = undefined;
    this.#pending = [];
  }
}

function handleDeflate(o: DeflateOptions): HandleDeflate {
  return new HandleDeflate(zlib.createDeflateRaw(o) as unknown as ZlibInternals);
}
function handleInflate(windowBits: number): HandleInflate {
  return new HandleInflate(zlib.createInflateRaw({ windowBits }) as unknown as ZlibInternals);
}

function concatOut(r: Buffer[] | Error): Buffer {
  if (r instanceof Error) throw r;
  return Buffer.concat(r);
}

/**
 * The internal path must give the bytes the public API gives, compressing and inflating,
 * with the context kept across two messages and forgotten after a reset.
 */
export const hasZlib = detect('zlib', () => {
  const z = zlib.createDeflateRaw() as unknown as Partial<ZlibInternals>;
  const shaped = typeof z._handle?.writeSync === 'function' && typeof z._handle.reset === 'function' && z._writeState instanceof Uint32Array;
  z.close?.();
  if (!shaped) return false;
  const o: DeflateOptions = { windowBits: 15, level: 1, memLevel: 8 };
  const input = Buffer.from('ws13 probe: \u00e9\u20ac\ud83d\ude00 ws13 probe ws13 probe '.repeat(3));
  const alone = zlib.deflateRawSync(input, { ...o, finishFlush: Z_SYNC_FLUSH });
  const d = handleDeflate(o);
  const i = handleInflate(15);
  try {
    const first = concatOut(d.write(input, Z_SYNC_FLUSH));
    const second = concatOut(d.write(input, Z_SYNC_FLUSH));
    d.reset();
    const third = concatOut(d.write(input, Z_FULL_FLUSH));
    if (!first.equals(alone) || !third.equals(zlib.deflateRawSync(input, { ...o, finishFlush: Z_FULL_FLUSH }))) return false;
    // The second message refers back into the first: shorter, and inflates only with it.
    const both = zlib.inflateRawSync(Buffer.concat([first, second]), { finishFlush: Z_SYNC_FLUSH });
    if (second.length >= first.length || !both.equals(Buffer.concat([input, input]))) return false;
    if (!concatOut(i.write(first.subarray(0, 7), Infinity)).equals(zlib.inflateRawSync(first.subarray(0, 7), { finishFlush: Z_SYNC_FLUSH }))) return false;
    const a = Buffer.concat([zlib.inflateRawSync(first.subarray(0, 7), { finishFlush: Z_SYNC_FLUSH }), concatOut(i.end([first.subarray(7)], Infinity))]);
    const b = concatOut(i.end([second], Infinity));
    return a.equals(input) && b.equals(input) && i.usable && d.usable;
  } finally {
    d.close();
    i.close();
  }
});
if (!hasZlib) {
  warn(
    'zlib',
    "zlib's internal handle, _handle.writeSync",
    'permessage-deflate stays on, through zlib.deflateRawSync/inflateRawSync: a fresh zlib stream per message ' +
      '(about 4x the CPU for 1 KiB), with context takeover the window re-primed each message (about 100 us), ' +
      'and a fragmented compressed message inflated only once complete',
  );
}


/** A raw DEFLATE compressor (zlib's own windowBits, level and memLevel). */
export function createSyncDeflate(o: DeflateOptions): SyncDeflate {
  return hasZlib ? handleDeflate(o) : new PublicDeflate(o);
}

/** A raw DEFLATE decompressor for windows up to `windowBits` (9 to 15). */
export function createSyncInflate(windowBits: number): SyncInflate {
  return hasZlib ? handleInflate(windowBits) : new PublicInflate(windowBits);
}

export { Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FULL_FLUSH };
