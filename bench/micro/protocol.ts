// Micro-benchmarks of the protocol core's hot pieces, no sockets:
//   parsing   FrameParser (counting sink) and Connection.receiveData on pre-built masked frames
//   masking   applyMask, MB/s (beside ws's JavaScript mask for reference)
//   UTF-8     Utf8Validator.push vs buffer.isUtf8, MB/s
//   framing   encodeHeader, Connection.send / sendPrepared to a counting handler
// `node dist/bench/micro/protocol.js [filter]` (part of `npm run bench:micro`). Each line is
// the best of 5 timed batches of about 100 ms after a warm-up; numbers are per core.
import { isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  Connection,
  FrameParser,
  Utf8Validator,
  applyMask,
  encodeHeader,
  prepareFrame,
  type ConnectionHandler,
  type FrameSink,
} from '../../src/protocol/index.js';

const filter = process.argv[2];
const KEY = Uint8Array.from([0x37, 0x7a, 0x21, 0x3d]);

function masked(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + 4 + len);
  out[0] = 0x80 | opcode;
  if (ext === 0) out[1] = 0x80 | len;
  else if (ext === 2) {
    out[1] = 0x80 | 126;
    out[2] = len >> 8;
    out[3] = len & 255;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setUint32(6, len);
  }
  out.set(KEY, 2 + ext);
  for (let i = 0; i < len; i++) out[2 + ext + 4 + i] = payload[i]! ^ KEY[i & 3]!;
  return out;
}
const repeat = (frame: Uint8Array, n: number) => {
  const out = new Uint8Array(frame.length * n);
  for (let i = 0; i < n; i++) out.set(frame, i * frame.length);
  return out;
};

const ascii = (n: number) => Uint8Array.from({ length: n }, (_, i) => 0x20 + ((i * 7) % 95));
/** Mixed 1-, 2-, 3- and 4-byte UTF-8 (Latin, Greek, CJK, emoji), n bytes, valid. */
const mixed = (n: number) => {
  const unit = Buffer.from('price: 42 € — Ελληνικά 中文字符 🙂 ok; ', 'utf8');
  const out = Buffer.alloc(n, 0x20);
  for (let o = 0; o + unit.length <= n; o += unit.length) unit.copy(out, o);
  return new Uint8Array(out.buffer, out.byteOffset, n);
};

interface Row {
  group: string;
  name: string;
  opsPerSec: number;
  mbPerSec: number | undefined;
}
const rows: Row[] = [];

/** Calls `fn` (which does `ops` operations over `bytes` bytes in all) repeatedly; records the best rate. */
function bench(group: string, name: string, ops: number, bytes: number | undefined, fn: () => void): void {
  if (filter && !`${group} ${name}`.includes(filter)) return;
  // Calls per batch so that a batch takes about 100 ms.
  let calls = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > 25) {
      calls = Math.max(1, Math.round((calls * 100) / ms));
      break;
    }
    calls *= 2;
  }
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const row: Row = {
    group,
    name,
    opsPerSec: (ops * calls) / best,
    mbPerSec: bytes === undefined ? undefined : (bytes * calls) / best / 1e6,
  };
  rows.push(row);
  const mb = row.mbPerSec === undefined ? '' : `, ${row.mbPerSec.toFixed(0)} MB/s`;
  console.error(`${group.padEnd(8)} ${name.padEnd(58)} ${Math.round(row.opsPerSec).toLocaleString('en-US').padStart(14)} ops/s${mb}`);
}

let sink = 0;

// ---- parsing ----------------------------------------------------------------------------

{
  const counting: FrameSink = {
    frameHeader: () => true,
    framePayload: (data) => {
      sink += data.length;
      return true;
    },
    frameEnd: () => {
      sink++;
      return true;
    },
  };
  const BATCH = 64;
  for (const [label, opcode, payload] of [
    ['32 B text', 1, ascii(32)],
    ['1 KiB text', 1, ascii(1024)],
    ['64 KiB binary', 2, mixed(65536)],
  ] as const) {
    const frame = masked(opcode, payload);
    const n = payload.length >= 65536 ? 1 : BATCH;
    const chunk = repeat(frame, n);
    // The parser unmasks in place: the same chunk toggles between masked and plain, which
    // costs the same; no copy is timed.
    const parser = new FrameParser(counting);
    bench('parse', `FrameParser, ${label} frames, ${n} per chunk`, n, payload.length * n, () => {
      parser.push(chunk);
      parser.parse();
    });
  }
  // Split chunks: every frame's header straddles two chunks.
  {
    const frame = masked(1, ascii(32));
    const chunk = repeat(frame, 64);
    const parts = [chunk.subarray(0, 1)];
    for (let o = 1; o < chunk.length; o += frame.length) parts.push(chunk.subarray(o, Math.min(chunk.length, o + frame.length)));
    const parser = new FrameParser(counting);
    bench('parse', 'FrameParser, 32 B text frames, headers split across chunks', 64, 32 * 64, () => {
      for (const p of parts) parser.push(p);
      parser.parse();
    });
  }

  const handler = (onMessage: (d: Uint8Array, t: boolean) => void): ConnectionHandler => ({
    write: (b) => {
      sink += b.length;
    },
    message: onMessage,
    ping() {},
    pong() {},
    error: (e) => {
      throw e;
    },
    shutdown() {},
  });
  for (const [label, opcode, payload, n] of [
    ['32 B text', 1, ascii(32), 64],
    ['1 KiB text (mixed UTF-8)', 1, mixed(1024), 16],
    ['64 KiB binary', 2, mixed(65536), 1],
    ['64 KiB text (mixed UTF-8)', 1, mixed(65536), 1],
  ] as const) {
    const template = repeat(masked(opcode, payload), n);
    const conn = new Connection(
      { role: 'server', isUtf8 },
      handler((d) => {
        sink += d.length;
      }),
    );
    // A fresh copy per read, as from a socket (text must unmask to valid UTF-8); the copy is timed.
    bench('parse', `Connection.receiveData, ${label}, ${n} per read (copy timed)`, n, payload.length * n, () => {
      conn.receiveData(template.slice());
    });
  }
}

// ---- masking ------------------------------------------------------------------------------

{
  // ws's own masking helper (its JavaScript version unless the optional bufferutil addon is installed).
  let wsUnmask: ((b: Buffer, m: Buffer) => void) | undefined;
  try {
    const require = createRequire(import.meta.url);
    const util = require(join(dirname(require.resolve('ws')), 'lib/buffer-util.js')) as { unmask?: (b: Buffer, m: Buffer) => void };
    wsUnmask = util.unmask;
  } catch {
    wsUnmask = undefined;
  }
  const keyBuf = Buffer.from(KEY);
  for (const size of [32, 1024, 65536, 1 << 20]) {
    const data = new Uint8Array(size).fill(0x5a);
    const label = size >= 1 << 20 ? '1 MiB' : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    bench('mask', `applyMask, ${label}`, 1, size, () => applyMask(data, KEY));
    bench('mask', `applyMask, ${label}, phase 1, unaligned start`, 1, size - 1, () => applyMask(data, KEY, 1, 1));
    if (wsUnmask) {
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      bench('mask', `ws buffer-util unmask (reference), ${label}`, 1, size, () => wsUnmask(buf, keyBuf));
    }
  }
}

// ---- UTF-8 --------------------------------------------------------------------------------

{
  const v = new Utf8Validator();
  for (const [label, data] of [
    ['ASCII 32 B', ascii(32)],
    ['ASCII 1 KiB', ascii(1024)],
    ['ASCII 64 KiB', ascii(65536)],
    ['mixed 1 KiB', mixed(1024)],
    ['mixed 64 KiB', mixed(65536)],
  ] as const) {
    if (!isUtf8(data)) throw new Error(`${label} is not UTF-8`);
    bench('utf8', `Utf8Validator.push + finish, ${label}`, 1, data.length, () => {
      if (!v.push(data) || !v.finish()) throw new Error('invalid');
    });
    bench('utf8', `buffer.isUtf8, ${label}`, 1, data.length, () => {
      if (!isUtf8(data)) throw new Error('invalid');
    });
  }
}

// ---- framing ------------------------------------------------------------------------------

{
  bench('frame', 'encodeHeader, 32 B text, unmasked', 1, undefined, () => {
    sink += encodeHeader(1, 32, true, 0, undefined).length;
  });
  bench('frame', 'encodeHeader, 64 KiB binary, unmasked', 1, undefined, () => {
    sink += encodeHeader(2, 65536, true, 0, undefined).length;
  });
  bench('frame', 'encodeHeader, 32 B text, masked (pooled key)', 1, undefined, () => {
    sink += encodeHeader(1, 32, true, 0, (dst, off) => {
      dst[off] = 1;
      dst[off + 1] = 2;
      dst[off + 2] = 3;
      dst[off + 3] = 4;
    }).length;
  });
  const counting: ConnectionHandler = {
    write: (b) => {
      sink += b.length;
    },
    message() {},
    ping() {},
    pong() {},
    error: (e) => {
      throw e;
    },
    shutdown() {},
  };
  const server = new Connection({ role: 'server', isUtf8 }, counting);
  const client = new Connection({ role: 'client', isUtf8 }, counting);
  const small = ascii(32);
  const large = mixed(65536);
  // Server sends hand the payload on without copying it: MB/s would mean nothing there.
  bench('frame', 'Connection.send (server), 32 B text', 1, undefined, () => server.send(1, small));
  bench('frame', 'Connection.send (server), 64 KiB binary (payload not copied)', 1, undefined, () => server.send(2, large));
  bench('frame', 'Connection.send (client, masked), 32 B text', 1, 32, () => client.send(1, small));
  bench('frame', 'Connection.send (client, masked), 64 KiB binary', 1, 65536, () => client.send(2, large));
  const prepared = prepareFrame(1, ascii(64));
  bench('frame', 'Connection.sendPrepared (server), 64 B text, per connection', 1, undefined, () => server.sendPrepared(prepared));
}

// ---- table --------------------------------------------------------------------------------

const lines = [
  `Node ${process.version}, protocol core micro-benchmarks (best of 5 batches of ~100 ms):`,
  '',
  '| group | case | ops/s | MB/s | ns/op |',
  '|---|---|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.group} | ${r.name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.mbPerSec === undefined ? '' : r.mbPerSec.toFixed(0)} | ${(1e9 / r.opsPerSec).toFixed(1)} |`,
  ),
];
console.log(lines.join('\n'));
if (sink === -1) console.log(sink);
