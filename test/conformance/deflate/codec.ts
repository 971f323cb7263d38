// DEFLATE tools for the permessage-deflate suite (RFC 7692 §7.2), independent of src/:
//
// - compressMessage / inflateMessage: node:zlib one-shot, without and with the
//   trailing 00 00 ff ff of a sync flush (§7.2.1, §7.2.2);
// - ZDeflater: a zlib raw deflate stream flushed with Z_SYNC_FLUSH after each message,
//   i.e. a compressor that keeps its context between messages ("context takeover");
// - Inflater: a small DEFLATE decoder written for these tests (RFC 1951), which keeps
//   its history between messages when asked to and reports the largest back-reference
//   distance it met, so that a test can check the window a peer really used (zlib's
//   own inflater does not reject distances beyond its window inside one output chunk);
// - encodeWindowLimited: a fixed-Huffman LZ77 encoder whose back-references never
//   reach further than a given distance (e.g. 256 bytes: an 8-bit window, which zlib
//   cannot produce).
import zlib from 'node:zlib';

export const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Compresses one message without context: sync flush, then drop the 4-byte tail. */
export function compressMessage(data: Buffer, opts: { windowBits?: number; level?: number } = {}): Buffer {
  const out = zlib.deflateRawSync(data, {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
    ...(opts.windowBits !== undefined ? { windowBits: opts.windowBits } : {}),
    ...(opts.level !== undefined ? { level: opts.level } : {}),
  });
  if (!out.subarray(-4).equals(TAIL)) throw new Error('zlib output does not end with a sync flush');
  return out.subarray(0, out.length - 4);
}

/** Inflates one message without context (zlib): append the tail, inflate with a sync flush. */
export function inflateMessage(payload: Buffer, windowBits = 15): Buffer {
  return zlib.inflateRawSync(Buffer.concat([payload, TAIL]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
    windowBits,
  });
}

/** A raw deflate stream kept across messages (context takeover), flushed per message. */
export class ZDeflater {
  private readonly z: zlib.DeflateRaw;
  private chunks: Buffer[] = [];

  constructor(opts: { windowBits?: number; level?: number } = {}) {
    this.z = zlib.createDeflateRaw({
      ...(opts.windowBits !== undefined ? { windowBits: opts.windowBits } : {}),
      ...(opts.level !== undefined ? { level: opts.level } : {}),
    });
    this.z.on('data', (c: Buffer) => this.chunks.push(c));
  }

  /** The compressed message (tail removed). */
  compress(data: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.z.once('error', reject);
      this.z.write(data);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.z.off('error', reject);
        const out = Buffer.concat(this.chunks);
        this.chunks = [];
        if (!out.subarray(-4).equals(TAIL)) return reject(new Error('deflate output does not end with 00 00 ff ff'));
        resolve(out.subarray(0, out.length - 4));
      });
    });
  }

  close(): void {
    this.z.close();
  }
}

// ------------------------------------------------------------------ DEFLATE tables

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193,
  12289, 16385, 24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** Canonical Huffman code as counts per length and symbols in code order. */
interface Huffman {
  count: Int32Array;
  symbol: Int32Array;
}

function buildHuffman(lengths: ArrayLike<number>): Huffman {
  const count = new Int32Array(16);
  for (let i = 0; i < lengths.length; i++) count[lengths[i]!]!++;
  count[0] = 0;
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left = left * 2 - count[len]!;
    if (left < 0) throw new DeflateError('over-subscribed Huffman code');
  }
  const offs = new Int32Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len]! + count[len]!;
  const symbol = new Int32Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) if (lengths[s] !== 0) symbol[offs[lengths[s]!]!++] = s;
  return { count, symbol };
}

let fixedLit: Huffman | undefined;
let fixedDist: Huffman | undefined;
function fixedCodes(): { lit: Huffman; dist: Huffman } {
  if (!fixedLit || !fixedDist) {
    const l = new Array<number>(288);
    for (let i = 0; i < 288; i++) l[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    fixedLit = buildHuffman(l);
    fixedDist = buildHuffman(new Array<number>(30).fill(5));
  }
  return { lit: fixedLit, dist: fixedDist };
}

export class DeflateError extends Error {}

/**
 * A DEFLATE decoder for permessage-deflate payloads. With `takeover`, the history of
 * previous messages stays available to back-references (up to 32 KiB); without, every
 * message starts from an empty history. `maxDistance` is the largest distance seen so far.
 */
export class Inflater {
  maxDistance = 0;
  private history: Buffer = Buffer.alloc(0);
  constructor(private readonly takeover: boolean, private readonly limit = 64 * 1024 * 1024) {}

  /** Decodes one message payload (without the tail; it is appended here). */
  inflate(payload: Buffer): Buffer {
    const input = Buffer.concat([payload, TAIL]);
    const hist = this.takeover ? this.history : Buffer.alloc(0);
    let out = Buffer.allocUnsafe(Math.max(1024, hist.length + payload.length * 4));
    hist.copy(out, 0);
    let n = hist.length;
    const start = n;
    const ensure = (k: number): void => {
      if (n + k - start > this.limit) throw new DeflateError('inflated message exceeds the limit');
      if (n + k <= out.length) return;
      const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, n + k));
      out.copy(bigger, 0, 0, n);
      out = bigger;
    };
    let pos = 0;
    let bitBuf = 0;
    let bitCnt = 0;
    const bits = (need: number): number => {
      let v = bitBuf;
      while (bitCnt < need) {
        if (pos >= input.length) throw new DeflateError('unexpected end of deflate data');
        v |= input[pos++]! << bitCnt;
        bitCnt += 8;
      }
      bitBuf = v >>> need;
      bitCnt -= need;
      return v & ((1 << need) - 1);
    };
    const decode = (h: Huffman): number => {
      let code = 0;
      let first = 0;
      let index = 0;
      for (let len = 1; len < 16; len++) {
        code |= bits(1);
        const c = h.count[len]!;
        if (code - c < first) return h.symbol[index + (code - first)]!;
        index += c;
        first = (first + c) << 1;
        code <<= 1;
      }
      throw new DeflateError('invalid Huffman code');
    };
    const codes = (lit: Huffman, dist: Huffman): void => {
      for (;;) {
        const sym = decode(lit);
        if (sym < 256) {
          ensure(1);
          out[n++] = sym;
        } else if (sym === 256) return;
        else {
          const li = sym - 257;
          if (li >= 29) throw new DeflateError('invalid length symbol');
          const len = LEN_BASE[li]! + bits(LEN_EXTRA[li]!);
          const ds = decode(dist);
          if (ds >= 30) throw new DeflateError('invalid distance symbol');
          const d = DIST_BASE[ds]! + bits(DIST_EXTRA[ds]!);
          if (d > n) throw new DeflateError(`distance ${d} too far back (${n} bytes available)`);
          if (d > this.maxDistance) this.maxDistance = d;
          ensure(len);
          for (let i = 0; i < len; i++, n++) out[n] = out[n - d]!;
        }
      }
    };
    let final = false;
    // Decode blocks until the input is used up at a block boundary (the tail is an empty
    // stored block) or a final block ends the stream.
    while (!final && pos < input.length) {
      final = bits(1) === 1;
      const type = bits(2);
      if (type === 0) {
        bitBuf = 0;
        bitCnt = 0;
        if (pos + 4 > input.length) throw new DeflateError('truncated stored block');
        const len = input.readUInt16LE(pos);
        const nlen = input.readUInt16LE(pos + 2);
        pos += 4;
        if ((len ^ 0xffff) !== nlen) throw new DeflateError('stored block length check failed');
        if (pos + len > input.length) throw new DeflateError('truncated stored block');
        ensure(len);
        input.copy(out, n, pos, pos + len);
        n += len;
        pos += len;
      } else if (type === 1) {
        const f = fixedCodes();
        codes(f.lit, f.dist);
      } else if (type === 2) {
        const hlit = bits(5) + 257;
        const hdist = bits(5) + 1;
        const hclen = bits(4) + 4;
        const cl = new Array<number>(19).fill(0);
        for (let i = 0; i < hclen; i++) cl[CL_ORDER[i]!] = bits(3);
        const clh = buildHuffman(cl);
        const lens: number[] = [];
        while (lens.length < hlit + hdist) {
          const sym = decode(clh);
          if (sym < 16) lens.push(sym);
          else if (sym === 16) {
            if (lens.length === 0) throw new DeflateError('repeat with no previous length');
            const prev = lens[lens.length - 1]!;
            for (let r = 3 + bits(2); r > 0; r--) lens.push(prev);
          } else if (sym === 17) for (let r = 3 + bits(3); r > 0; r--) lens.push(0);
          else for (let r = 11 + bits(7); r > 0; r--) lens.push(0);
        }
        if (lens.length > hlit + hdist) throw new DeflateError('too many code lengths');
        codes(buildHuffman(lens.slice(0, hlit)), buildHuffman(lens.slice(hlit)));
      } else throw new DeflateError('invalid block type 3');
    }
    const result = Buffer.from(out.subarray(start, n));
    if (this.takeover) this.history = Buffer.from(out.subarray(Math.max(0, n - 32768), n));
    return result;
  }
}

// ------------------------------------------------------------------ window-limited encoder

class BitWriter {
  private bytes: number[] = [];
  private acc = 0;
  private cnt = 0;
  /** Writes `n` bits of `v`, least significant first. */
  put(v: number, n: number): void {
    for (let i = 0; i < n; i++) {
      this.acc |= ((v >>> i) & 1) << this.cnt;
      if (++this.cnt === 8) {
        this.bytes.push(this.acc);
        this.acc = 0;
        this.cnt = 0;
      }
    }
  }
  /** Writes a Huffman code of `n` bits, most significant bit first. */
  code(c: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.put((c >>> i) & 1, 1);
  }
  align(): void {
    if (this.cnt) this.put(0, 8 - this.cnt);
  }
  buffer(): Buffer {
    return Buffer.from(this.bytes);
  }
}

function litCode(w: BitWriter, s: number): void {
  if (s < 144) w.code(0x30 + s, 8);
  else if (s < 256) w.code(0x190 + s - 144, 9);
  else if (s < 280) w.code(s - 256, 7);
  else w.code(0xc0 + s - 280, 8);
}

/**
 * Compresses `data` as one fixed-Huffman block followed by an empty stored block (the sync
 * flush), tail removed, so it is a valid permessage-deflate payload. No back-reference
 * reaches more than `maxDistance` bytes back; with `history` (previous messages, context
 * takeover) back-references may reach into it.
 */
export function encodeWindowLimited(data: Buffer, maxDistance: number, history: Buffer = Buffer.alloc(0)): Buffer {
  const all = Buffer.concat([history, data]);
  const w = new BitWriter();
  w.put(0, 1); // BFINAL = 0
  w.put(1, 2); // BTYPE = 01 (fixed)
  let i = history.length;
  while (i < all.length) {
    let bestLen = 0;
    let bestDist = 0;
    const maxLen = Math.min(258, all.length - i);
    if (maxLen >= 3) {
      for (let d = 1; d <= Math.min(maxDistance, i); d++) {
        let l = 0;
        while (l < maxLen && all[i + l - d] === all[i + l]) l++;
        // Longest match; among equally long ones the farthest (to exercise the window's edge).
        if (l > bestLen || (l === bestLen && l >= 3)) {
          bestLen = l;
          bestDist = d;
        }
      }
    }
    if (bestLen >= 3) {
      let li = 28;
      while (LEN_BASE[li]! > bestLen) li--;
      litCode(w, 257 + li);
      w.put(bestLen - LEN_BASE[li]!, LEN_EXTRA[li]!);
      let di = 29;
      while (DIST_BASE[di]! > bestDist) di--;
      w.code(di, 5);
      w.put(bestDist - DIST_BASE[di]!, DIST_EXTRA[di]!);
      i += bestLen;
    } else {
      litCode(w, all[i]!);
      i++;
    }
  }
  litCode(w, 256); // end of block
  w.put(0, 3); // empty stored block, not final: 0 + 00, then align; LEN/NLEN = the dropped tail
  w.align();
  return w.buffer();
}
