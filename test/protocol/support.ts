// Shared fixtures for the protocol-core unit tests: a tiny frame encoder and decoder written
// for these tests (independent of src/protocol/frame.ts), a recording ConnectionHandler, and
// a runner that feeds one fixture whole, in 1-byte and in 2-byte chunks and checks that every
// chunking gives the same handler calls.
import assert from 'node:assert/strict';
import { Connection } from '../../src/protocol/index.js';
import type {
  ConnectionHandler,
  ConnectionOptions,
  ConnectionState,
  MaskSource,
  WebSocketError,
  WriteCallback,
} from '../../src/protocol/index.js';

export const enc = new TextEncoder();
export const utf8 = (s: string): Uint8Array => enc.encode(s);

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Bytes from hex digits; white space is ignored. */
export function fromHex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  assert.equal(clean.length % 2, 0, `odd hex fixture ${s}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Deterministic payload bytes 0, 1, …, 255, 0, 1, … */
export function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i + seed) & 0xff;
  return out;
}

/** The masking key of the RFC 6455 §5.7 examples. */
export const RFC_KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  /** The three RSV bits as a number 0–7. */
  rsv?: number;
  /** 4-byte masking key; absent for an unmasked frame. */
  key?: Uint8Array;
  /** Force a length encoding (default: the minimal one). */
  lengthBits?: 7 | 16 | 64;
}

/** Encodes one frame (RFC 6455 §5.2), written here independently of src. */
export function frame(spec: FrameSpec): Uint8Array {
  const payload = typeof spec.payload === 'string' ? utf8(spec.payload) : (spec.payload ?? new Uint8Array(0));
  const len = payload.length;
  const bits = spec.lengthBits ?? (len <= 125 ? 7 : len <= 0xffff ? 16 : 64);
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const m = spec.key ? 0x80 : 0;
  if (bits === 7) {
    head.push(m | len);
  } else if (bits === 16) {
    head.push(m | 126, (len >> 8) & 0xff, len & 0xff);
  } else {
    head.push(m | 127);
    const big = BigInt(len);
    for (let s = 56n; s >= 0n; s -= 8n) head.push(Number((big >> s) & 0xffn));
  }
  const body = new Uint8Array(len);
  for (let i = 0; i < len; i++) body[i] = spec.key ? payload[i]! ^ spec.key[i % 4]! : payload[i]!;
  return concatBytes(Uint8Array.from(head), spec.key ? spec.key : new Uint8Array(0), body);
}

/** A client-to-server frame: masked, with RFC_KEY unless another key is given. */
export function c2s(spec: FrameSpec): Uint8Array {
  return frame({ key: RFC_KEY, ...spec });
}

/** A server-to-client frame: unmasked. */
export function s2c(spec: Omit<FrameSpec, 'key'>): Uint8Array {
  return frame(spec);
}

/** The frame a peer in `role` receives from the other side. */
export function toRole(role: 'client' | 'server', spec: Omit<FrameSpec, 'key'>): Uint8Array {
  return role === 'server' ? c2s(spec) : s2c(spec);
}

export interface Decoded {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  key: string | undefined;
  /** Length field encoding used: 7, 16 or 64 bits. */
  lengthBits: 7 | 16 | 64;
  /** Unmasked payload. */
  payload: Uint8Array;
}

/** Decodes a byte string holding only whole frames; throws on leftovers. */
export function decodeFrames(bytes: Uint8Array): Decoded[] {
  const out: Decoded[] = [];
  let i = 0;
  while (i < bytes.length) {
    assert.ok(bytes.length - i >= 2, 'truncated frame header');
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1]!;
    i += 2;
    let len = b1 & 0x7f;
    let lengthBits: 7 | 16 | 64 = 7;
    if (len === 126) {
      len = (bytes[i]! << 8) | bytes[i + 1]!;
      i += 2;
      lengthBits = 16;
    } else if (len === 127) {
      let big = 0n;
      for (let k = 0; k < 8; k++) big = (big << 8n) | BigInt(bytes[i + k]!);
      len = Number(big);
      i += 8;
      lengthBits = 64;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Uint8Array | undefined;
    if (masked) {
      key = bytes.slice(i, i + 4);
      i += 4;
    }
    assert.ok(bytes.length - i >= len, 'truncated frame payload');
    const payload = bytes.slice(i, i + len);
    if (key) for (let k = 0; k < len; k++) payload[k] = payload[k]! ^ key[k % 4]!;
    i += len;
    out.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      opcode: b0 & 0x0f,
      masked,
      key: key && hex(key),
      lengthBits,
      payload,
    });
  }
  return out;
}

/** How many bytes the single frame starting `b` still lacks (0 when complete). */
function frameBytesMissing(b: Uint8Array): number {
  if (b.length < 2) return 1;
  const b1 = b[1]!;
  let len = b1 & 0x7f;
  let p = 2;
  if (len === 126) {
    if (b.length < 4) return 1;
    len = (b[2]! << 8) | b[3]!;
    p = 4;
  } else if (len === 127) {
    if (b.length < 10) return 1;
    len = Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
    p = 10;
  }
  if (b1 & 0x80) p += 4;
  return Math.max(0, p + len - b.length);
}

export type Call =
  | { kind: 'write'; hex: string }
  | { kind: 'message'; hex: string; text: boolean }
  | { kind: 'ping'; hex: string }
  | { kind: 'pong'; hex: string }
  | { kind: 'error'; code: string; closeCode: number | undefined }
  | { kind: 'shutdown' };

/** A ConnectionHandler that records every call (data copied: the core may hand out views). */
export class Recorder implements ConnectionHandler {
  readonly calls: Call[] = [];
  readonly errors: WebSocketError[] = [];
  readonly writes: Uint8Array[] = [];
  /** Optional hook run after a message is recorded (e.g. to pause). */
  onMessage: ((data: Uint8Array, text: boolean) => void) | undefined;

  /**
   * Records one frame per write call: the core writes a frame's header and payload in two
   * calls (for the host to batch), so a write that completes a frame begun by the previous
   * write is joined to it, as a batching host would send it.
   */
  write(data: Uint8Array, done?: WriteCallback): void {
    const last = this.calls[this.calls.length - 1];
    const prev = this.writes[this.writes.length - 1];
    if (last?.kind === 'write' && prev && frameBytesMissing(prev) > 0) {
      const joined = concatBytes(prev, data);
      this.writes[this.writes.length - 1] = joined;
      last.hex = hex(joined);
    } else {
      this.writes.push(data.slice());
      this.calls.push({ kind: 'write', hex: hex(data) });
    }
    done?.();
  }
  /** The `ascii` hint of each message, in order. */
  readonly asciiHints: Array<boolean | undefined> = [];
  message(data: Uint8Array, text: boolean, ascii?: boolean): void {
    this.asciiHints.push(ascii);
    this.calls.push({ kind: 'message', hex: hex(data), text });
    this.onMessage?.(data, text);
  }
  ping(payload: Uint8Array): void {
    this.calls.push({ kind: 'ping', hex: hex(payload) });
  }
  pong(payload: Uint8Array): void {
    this.calls.push({ kind: 'pong', hex: hex(payload) });
  }
  error(err: WebSocketError): void {
    this.errors.push(err);
    this.calls.push({ kind: 'error', code: err.code, closeCode: err.closeCode });
  }
  shutdown(): void {
    this.calls.push({ kind: 'shutdown' });
  }

  /** Everything written, concatenated. */
  written(): Uint8Array {
    return concatBytes(...this.writes);
  }
  /** Everything written, decoded into frames. */
  frames(): Decoded[] {
    return decodeFrames(this.written());
  }
  kinds(): string[] {
    return this.calls.map((c) => c.kind);
  }
  messages(): Array<{ hex: string; text: boolean }> {
    return this.calls.flatMap((c) => (c.kind === 'message' ? [{ hex: c.hex, text: c.text }] : []));
  }
}

/** A mask source handing out 01 02 03 04, then 05 06 07 08, … (deterministic). */
export function countingMask(): MaskSource {
  let n = 1;
  return (dst, offset) => {
    for (let k = 0; k < 4; k++) dst[offset + k] = n++ & 0xff;
  };
}

/** A mask source that always gives `key`. */
export function fixedMask(key: Uint8Array): MaskSource {
  return (dst, offset) => {
    dst.set(key, offset);
  };
}

export function open(
  role: 'client' | 'server',
  opts: Partial<ConnectionOptions> = {},
): { conn: Connection; rec: Recorder } {
  const rec = new Recorder();
  const conn = new Connection({ role, maskSource: countingMask(), ...opts }, rec);
  return { conn, rec };
}

/** Feeds a copy of `bytes` (the core unmasks in place) whole (size 0) or in `size`-byte chunks. */
export function feed(conn: Connection, bytes: Uint8Array, size = 0): void {
  if (size <= 0) {
    conn.receiveData(bytes.slice());
    return;
  }
  for (let i = 0; i < bytes.length; i += size) conn.receiveData(bytes.slice(i, i + size));
}

export const CHUNKINGS = [
  { name: 'whole', size: 0 },
  { name: '1-byte chunks', size: 1 },
  { name: '2-byte chunks', size: 2 },
] as const;

export interface StateSummary {
  kind: ConnectionState['kind'];
  sent?: { code: number; reason: string } | undefined;
  received?: { code: number; reason: string } | undefined;
  receivedFirst?: boolean;
  error?: { code: string; closeCode: number | undefined } | undefined;
}

/** The state with errors reduced to their code and close code, for deepEqual. */
export function summary(state: ConnectionState): StateSummary {
  if (state.kind === 'open') return { kind: 'open' };
  if (state.kind === 'closing') return { kind: 'closing', sent: { ...state.sent } };
  return {
    kind: 'closed',
    sent: state.sent && { ...state.sent },
    received: state.received && { ...state.received },
    receivedFirst: state.receivedFirst,
    error: state.error && { code: state.error.code, closeCode: state.error.closeCode },
  };
}

export interface RunResult {
  conn: Connection;
  rec: Recorder;
  calls: Call[];
  state: StateSummary;
}

/**
 * Feeds `bytes` to a fresh connection whole, in 1-byte and in 2-byte chunks, asserts that
 * the handler calls and the final state are the same each time, and returns the whole run.
 * `setup` may act on each fresh connection before the bytes arrive (e.g. `conn.close()`).
 */
export function runAll(
  role: 'client' | 'server',
  bytes: Uint8Array,
  opts: Partial<ConnectionOptions> = {},
  setup?: (conn: Connection, rec: Recorder) => void,
): RunResult {
  let first: RunResult | undefined;
  for (const { name, size } of CHUNKINGS) {
    const { conn, rec } = open(role, opts);
    setup?.(conn, rec);
    feed(conn, bytes, size);
    const r: RunResult = { conn, rec, calls: rec.calls, state: summary(conn.state) };
    if (!first) first = r;
    else {
      assert.deepEqual(r.calls, first.calls, `handler calls differ when fed in ${name}`);
      assert.deepEqual(r.state, first.state, `state differs when fed in ${name}`);
    }
  }
  return first!;
}

/** The close frame expected on the wire for `code` (payload starts with the code). */
export function closeCodeOf(f: Decoded): number | undefined {
  return f.payload.length >= 2 ? (f.payload[0]! << 8) | f.payload[1]! : undefined;
}

/** Asserts that the run failed the connection with `code`/`closeCode`, sending a close frame with it. */
export function assertFailed(r: RunResult, code: string, closeCode: number): void {
  assert.deepEqual(
    r.calls.filter((c) => c.kind === 'error'),
    [{ kind: 'error', code, closeCode }],
  );
  assert.equal(r.calls.at(-1)?.kind, 'shutdown');
  assert.equal(r.calls.at(-2)?.kind, 'error');
  const frames = r.rec.frames();
  const close = frames.at(-1);
  assert.ok(close, 'a close frame was written');
  assert.equal(close.opcode, OP.close);
  assert.equal(close.fin, true);
  assert.equal(closeCodeOf(close), closeCode);
  assert.equal(r.state.kind, 'closed');
  assert.deepEqual(r.state.error, { code, closeCode });
  assert.equal(r.state.received, undefined);
  assert.equal(r.state.sent?.code, closeCode);
}
