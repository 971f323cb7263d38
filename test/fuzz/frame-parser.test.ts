// Differential fuzzing of the frame parser and the connection's receive path (RFC 6455 §5,
// §7.4, §8.1): random streams of frames, valid and not, go to the core Connection in both
// roles and in several chunkings, and what it reports is compared with a reference parser
// written below from the RFC alone: slow, byte by byte, BigInt lengths, no shared code.
//
// Decisions the reference encodes beyond the RFC's letter (ws13's, see the "hostile peers"
// issue):
//   - a control frame's length in the 16- or 64-bit form is a protocol error (1002), even
//     for a value up to 125 (§5.5 says control payloads are at most 125 bytes; §5.2 allows
//     only the minimal form for them by the rule that 126 and 127 introduce longer lengths);
//   - a data frame with a non-minimal length form is accepted (§5.2 does not forbid it);
//   - a 64-bit length with its most significant bit set is a protocol error (§5.2: "the most
//     significant bit MUST be 0");
//   - a 64-bit length of 2^53 or more (beyond exact JavaScript numbers) is 1009, unless the
//     header breaks a §5.2 rule too (RSV, mask, opcode, control): then that 1002 comes first;
//   - a message whose total payload passes maxPayload closes with 1009, judged from the
//     frame headers before the payload arrives (§10.4);
//   - text fails as soon as a byte cannot be UTF-8 (§8.1), even mid-message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, WebSocketError } from '../../src/protocol/index.js';
import { Recorder, concatBytes, open, hex } from '../protocol/support.js';
import { Rng, budget, forEachCase } from './rng.js';

type Role = 'client' | 'server';

// ---- the reference parser -------------------------------------------------------------

type Event = { kind: 'message'; hex: string; text: boolean } | { kind: 'ping'; hex: string } | { kind: 'pong'; hex: string };
/** A frame the endpoint writes back: a pong (with its payload) or a close (with its code). */
type Written = { opcode: 0xa; hex: string } | { opcode: 0x8; code: number | undefined };
type Outcome =
  | { kind: 'open' }
  | { kind: 'closed'; code: number; reason: string }
  /** Failed with `closeCode`; the error's code is one of `codes` (every rule the frame broke). */
  | { kind: 'failed'; closeCode: number; codes: string[] };
/**
 * Cases that reach one of ws13's decisions on lengths (fuzzed on their own below):
 * 'control-length-form' a control frame with a 16/64-bit length of at most 125 bytes;
 * 'huge-length-order' a length of 2^53 or more on a header that breaks a §5.2 rule too.
 */
type Pending = 'control-length-form' | 'huge-length-order';
interface Expected {
  events: Event[];
  writes: Written[];
  outcome: Outcome;
  pending: Pending[];
}

/** RFC 3629 §4: whether `b` is valid UTF-8 ('valid'), could become so with more bytes ('prefix'), or neither. */
function utf8Status(b: Uint8Array): 'valid' | 'prefix' | 'invalid' {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    // The byte ranges of UTF8-1 … UTF8-4, as written in RFC 3629 §4.
    let ranges: Array<[number, number]>;
    if (c <= 0x7f) ranges = [];
    else if (c >= 0xc2 && c <= 0xdf) ranges = [[0x80, 0xbf]];
    else if (c === 0xe0) ranges = [[0xa0, 0xbf], [0x80, 0xbf]];
    else if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) ranges = [[0x80, 0xbf], [0x80, 0xbf]];
    else if (c === 0xed) ranges = [[0x80, 0x9f], [0x80, 0xbf]];
    else if (c === 0xf0) ranges = [[0x90, 0xbf], [0x80, 0xbf], [0x80, 0xbf]];
    else if (c >= 0xf1 && c <= 0xf3) ranges = [[0x80, 0xbf], [0x80, 0xbf], [0x80, 0xbf]];
    else if (c === 0xf4) ranges = [[0x80, 0x8f], [0x80, 0xbf], [0x80, 0xbf]];
    else return 'invalid';
    for (let k = 0; k < ranges.length; k++) {
      if (i + 1 + k >= b.length) return 'prefix';
      const t = b[i + 1 + k]!;
      if (t < ranges[k]![0] || t > ranges[k]![1]) return 'invalid';
    }
    i += 1 + ranges.length;
  }
  return 'valid';
}

/** RFC 6455 §7.4.1 and §7.4.2 with the IANA registry (1012–1014): codes allowed on the wire. */
function closeCodeAllowed(code: number): boolean {
  const defined = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014];
  return defined.includes(code) || (code >= 3000 && code <= 4999);
}

const TWO_53 = 2n ** 53n;

/** What an endpoint in `role` must do with `bytes` (the whole input, then nothing more). */
function reference(bytes: Uint8Array, role: Role, maxPayload: number): Expected {
  const events: Event[] = [];
  const writes: Written[] = [];
  const pending: Pending[] = [];
  let pos = 0;
  /** The data message under way: its opcode (0: none) and bytes so far. */
  let msgOpcode = 0;
  let msg: number[] = [];
  const done = (outcome: Outcome): Expected => ({ events, writes, outcome, pending });
  const fail = (closeCode: number, codes: string[]): Expected => {
    writes.push({ opcode: 0x8, code: closeCode });
    return done({ kind: 'failed', closeCode, codes });
  };
  const have = (n: number): boolean => pos + n <= bytes.length;
  for (;;) {
    // §5.2: FIN, RSV1-3, opcode; MASK, payload length.
    if (!have(2)) return done({ kind: 'open' });
    const b0 = bytes[pos]!;
    const b1 = bytes[pos + 1]!;
    pos += 2;
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 7;
    const opcode = b0 & 0xf;
    const masked = (b1 & 0x80) !== 0;
    let length = BigInt(b1 & 0x7f);
    let form: 7 | 16 | 64 = 7;
    if ((b0 & 0x08) !== 0 && length >= 126n) {
      // A control frame (opcode 0x8–0xF) with a 16- or 64-bit length is never valid: judged
      // from these two bytes, without waiting for the extended length.
      form = length === 126n ? 16 : 64;
    } else if (length === 126n) {
      if (!have(2)) return done({ kind: 'open' });
      length = BigInt(bytes[pos]! * 256 + bytes[pos + 1]!);
      pos += 2;
      form = 16;
    } else if (length === 127n) {
      if (!have(8)) return done({ kind: 'open' });
      length = 0n;
      for (let k = 0; k < 8; k++) length = length * 256n + BigInt(bytes[pos + k]!);
      pos += 8;
      form = 64;
    }
    const isControl = opcode >= 0x8;
    const broken: string[] = [];
    // §5.2: "the most significant bit MUST be 0".
    if (length >= 2n ** 63n) broken.push(ErrorCode.InvalidLength);
    // §5.2: RSV bits MUST be 0 without an extension that defines them (none here).
    if (rsv !== 0) broken.push(ErrorCode.UnexpectedRsv);
    // §5.1: client frames are masked, server frames are not.
    if (role === 'server' && !masked) broken.push(ErrorCode.ExpectedMask);
    if (role === 'client' && masked) broken.push(ErrorCode.UnexpectedMask);
    if ((opcode >= 0x3 && opcode <= 0x7) || opcode >= 0xb) {
      // §5.2: reserved opcodes.
      broken.push(ErrorCode.InvalidOpcode);
    } else if (isControl) {
      // §5.5: control frames are not fragmented and carry at most 125 bytes.
      if (!fin) broken.push(ErrorCode.FragmentedControl);
      if (length > 125n) broken.push(ErrorCode.ControlTooLong);
      if (form !== 7) {
        // ws13's decision: only the 7-bit form for control frames. Which code the core will
        // name is its choice: either of the two length errors.
        pending.push('control-length-form');
        if (!broken.includes(ErrorCode.ControlTooLong)) broken.push(ErrorCode.ControlTooLong);
        if (!broken.includes(ErrorCode.InvalidLength)) broken.push(ErrorCode.InvalidLength);
      }
    } else if (opcode === 0x0 && msgOpcode === 0) {
      // §5.4: a continuation frame continues a started message.
      broken.push(ErrorCode.UnexpectedContinuation);
    } else if (opcode !== 0x0 && msgOpcode !== 0) {
      // §5.4: no other data frame until the fragmented message ends.
      broken.push(ErrorCode.ExpectedContinuation);
    }
    if (broken.length > 0) {
      if (length >= TWO_53 && length < 2n ** 63n) pending.push('huge-length-order');
      return fail(1002, broken);
    }
    if (!isControl) {
      // §10.4: limits from the header, before the payload.
      if (length >= TWO_53 || BigInt(msg.length) + length > BigInt(Math.min(maxPayload, Number.MAX_SAFE_INTEGER))) {
        return fail(1009, [ErrorCode.MessageTooBig]);
      }
      if (opcode !== 0) {
        msgOpcode = opcode;
        msg = [];
      }
    }
    const n = Number(length);
    if (masked && !have(4)) return done({ kind: 'open' });
    const key = masked ? bytes.slice(pos, pos + 4) : undefined;
    if (masked) pos += 4;
    const avail = Math.min(n, bytes.length - pos);
    // §5.3: octet i is XORed with key octet i mod 4.
    const payload = bytes.slice(pos, pos + avail).map((b, i) => (key ? b ^ key[i % 4]! : b));
    pos += avail;
    const isText = !isControl && msgOpcode === 0x1;
    if (isText && utf8Status(Uint8Array.from([...msg, ...payload])) === 'invalid') {
      // §8.1: fail as soon as the text cannot be UTF-8, whole frame or not.
      return fail(1007, [ErrorCode.InvalidUtf8]);
    }
    if (avail < n) return done({ kind: 'open' });
    if (opcode === 0x9) {
      // §5.5.2: a pong with the same payload answers a ping.
      writes.push({ opcode: 0xa, hex: hex(payload) });
      events.push({ kind: 'ping', hex: hex(payload) });
    } else if (opcode === 0xa) {
      events.push({ kind: 'pong', hex: hex(payload) });
    } else if (opcode === 0x8) {
      // §5.5.1: an optional 2-byte code, then a UTF-8 reason.
      if (n === 0) {
        writes.push({ opcode: 0x8, code: undefined });
        return done({ kind: 'closed', code: 1005, reason: '' });
      }
      if (n === 1) return fail(1002, [ErrorCode.InvalidClosePayload]);
      const code = payload[0]! * 256 + payload[1]!;
      if (!closeCodeAllowed(code)) return fail(1002, [ErrorCode.InvalidCloseCode]);
      const reason = payload.slice(2);
      if (utf8Status(reason) !== 'valid') return fail(1007, [ErrorCode.InvalidUtf8]);
      writes.push({ opcode: 0x8, code });
      return done({ kind: 'closed', code, reason: Buffer.from(reason).toString('utf8') });
    } else {
      msg.push(...payload);
      if (fin) {
        if (isText && utf8Status(Uint8Array.from(msg)) !== 'valid') return fail(1007, [ErrorCode.InvalidUtf8]);
        events.push({ kind: 'message', hex: hex(Uint8Array.from(msg)), text: msgOpcode === 0x1 });
        msgOpcode = 0;
        msg = [];
      }
    }
  }
}

// ---- the generator ----------------------------------------------------------------------

interface Spec {
  fin: boolean;
  rsv: number;
  opcode: number;
  /** The masking key, or none. */
  key: Uint8Array | undefined;
  payload: Uint8Array;
  /** The length form, minimal by default. */
  form?: 7 | 16 | 64;
  /** A length to write in place of the payload's (the payload is then left out). */
  declared?: bigint;
}

function encode(s: Spec): Uint8Array {
  const len = s.declared ?? BigInt(s.payload.length);
  const form = s.form ?? (len <= 125n ? 7 : len <= 0xffffn ? 16 : 64);
  const head = [(s.fin ? 0x80 : 0) | (s.rsv << 4) | s.opcode];
  const m = s.key ? 0x80 : 0;
  if (form === 7) head.push(m | Number(len));
  else if (form === 16) head.push(m | 126, Number(len >> 8n) & 0xff, Number(len & 0xffn));
  else {
    head.push(m | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((len >> shift) & 0xffn));
  }
  const prefix = Uint8Array.from([...head, ...(s.key ?? [])]);
  if (s.declared !== undefined) return prefix;
  const body = s.payload.map((b, i) => (s.key ? b ^ s.key[i % 4]! : b));
  return concatBytes(prefix, body);
}


/** Random text: ASCII mostly, then 2-, 3- and 4-byte characters. */
function randomText(rng: Rng, maxChars: number): Uint8Array {
  const n = rng.int(maxChars + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = rng.int(10);
    if (k < 6) s += String.fromCharCode(rng.range(0x20, 0x7e));
    else if (k < 7) s += String.fromCodePoint(rng.range(0x80, 0x7ff));
    else if (k < 9) s += String.fromCodePoint(rng.pick([rng.range(0x800, 0xd7ff), rng.range(0xe000, 0xffff)]));
    else s += String.fromCodePoint(rng.range(0x10000, 0x10ffff));
  }
  return new TextEncoder().encode(s);
}

/** Sequences that are never UTF-8 wherever they sit (RFC 3629 §3–§4). */
const NOT_UTF8 = [[0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xff], [0xfe]];
/** Codes a close frame may not carry (§7.4): unused, reserved, or never on the wire. */
const BAD_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 9999, 65535];
const GOOD_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];

/** Splits `data` into `k` parts at random offsets (parts may be empty; UTF-8 may be cut mid-character). */
function split(rng: Rng, data: Uint8Array, k: number): Uint8Array[] {
  const cuts = Array.from({ length: k - 1 }, () => rng.int(data.length + 1)).sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, data.length]) {
    parts.push(data.slice(prev, c));
    prev = c;
  }
  return parts;
}

function payloadSize(rng: Rng): number {
  const k = rng.int(1000);
  if (k < 550) return rng.int(12);
  if (k < 900) return rng.int(126);
  if (k < 997) return rng.range(126, 700);
  // The 64-bit form (rarely: 1-byte chunks of it take a while).
  return rng.range(65_530, 70_000);
}

interface Stream {
  role: Role;
  maxPayload: number;
  bytes: Uint8Array;
}

/**
 * A random conversation: messages (text and binary, some in many fragments, even empty
 * ones, with control frames between them), pings, pongs, perhaps a close; then, often, one
 * or two faults. `pendingRules` adds the faults that reach ws13's length decisions.
 */
function generate(rng: Rng, pendingRules: boolean): Stream {
  const role: Role = rng.chance(0.5) ? 'server' : 'client';
  const maxPayload = rng.chance(0.3) ? rng.range(0, 3000) : Infinity;
  const key = (): Uint8Array | undefined =>
    role === 'server' ? (rng.chance(0.1) ? Uint8Array.of(0, 0, 0, 0) : rng.bytes(4)) : undefined;
  const control = (opcode: number, payload: Uint8Array): Spec => ({ fin: true, rsv: 0, opcode, key: key(), payload });
  const randomControl = (): Spec => control(rng.chance(0.5) ? 0x9 : 0xa, rng.bytes(rng.int(126)));
  const specs: Spec[] = [];
  const steps = rng.range(1, 10);
  for (let s = 0; s < steps; s++) {
    const k = rng.int(10);
    if (k < 3) {
      specs.push(randomControl());
      continue;
    }
    const text = rng.chance(0.5);
    const data = text ? randomText(rng, rng.chance(0.9) ? 40 : 400) : rng.bytes(payloadSize(rng));
    // Many tiny fragments sometimes (even 0-byte continuations), a few otherwise.
    const k2 = rng.int(10);
    const count = k2 < 5 ? 1 : k2 < 9 ? rng.range(2, 5) : rng.range(6, 60);
    split(rng, data, count).forEach((part, i, all) => {
      specs.push({ fin: i === all.length - 1, rsv: 0, opcode: i === 0 ? (text ? 0x1 : 0x2) : 0x0, key: key(), payload: part });
      if (i < all.length - 1 && rng.chance(0.3)) specs.push(randomControl());
    });
  }
  if (rng.chance(0.25)) {
    const reason = rng.chance(0.5) ? new Uint8Array(0) : randomText(rng, 30).slice(0, 123);
    const code = rng.pick(GOOD_CODES);
    specs.push(control(0x8, rng.chance(0.2) ? new Uint8Array(0) : Uint8Array.from([code >> 8, code & 0xff, ...reason])));
    // Bytes after a close frame are never read.
    if (rng.chance(0.5)) specs.push(randomControl());
  }
  const faults = rng.chance(0.55) ? rng.range(1, 2) : 0;
  for (let f = 0; f < faults; f++) mutate(rng, specs, pendingRules, key);
  let bytes = concatBytes(...specs.map(encode));
  // The stream may end anywhere: mid-header, mid-key, mid-payload.
  if (rng.chance(0.15)) bytes = bytes.slice(0, rng.int(bytes.length + 1));
  return { role, maxPayload, bytes };
}

function mutate(rng: Rng, specs: Spec[], pendingRules: boolean, key: () => Uint8Array | undefined): void {
  const at = rng.int(specs.length + 1);
  const s = specs[Math.min(at, specs.length - 1)];
  const insert = (x: Spec): void => void specs.splice(at, 0, x);
  const dataSpec = (opcode: number, payload: Uint8Array): Spec => ({ fin: true, rsv: 0, opcode, key: key(), payload });
  const kinds = [
    'rsv', 'mask', 'reserved-opcode', 'fragmented-control', 'long-control', 'stray-continuation', 'new-message',
    'bad-utf8', 'non-minimal-data', 'msb-length', 'huge-data', 'over-max', 'close-1-byte', 'close-bad-code',
    'close-bad-reason', 'truncated-utf8',
  ];
  if (pendingRules) kinds.push('control-extended-form', 'huge-and-broken');
  const kind = rng.pick(kinds);
  switch (kind) {
    case 'rsv':
      if (s) s.rsv = rng.range(1, 7);
      break;
    case 'mask':
      if (s) s.key = s.key ? undefined : rng.bytes(4);
      break;
    case 'reserved-opcode':
      if (s) s.opcode = rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]);
      break;
    case 'fragmented-control':
      insert({ fin: false, rsv: 0, opcode: rng.pick([0x8, 0x9, 0xa]), key: key(), payload: rng.bytes(rng.int(10)) });
      break;
    case 'long-control':
      // Over 125 bytes, in the 16-bit form (and sometimes the 64-bit one).
      insert({ ...dataSpec(rng.pick([0x8, 0x9, 0xa]), rng.bytes(rng.range(126, 300))), form: rng.pick([16, 64] as const) });
      break;
    case 'stray-continuation':
      insert(dataSpec(0x0, rng.bytes(rng.int(8))));
      break;
    case 'new-message':
      insert({ ...dataSpec(rng.pick([0x1, 0x2]), randomText(rng, 5)), fin: rng.chance(0.5) });
      break;
    case 'bad-utf8': {
      const t = specs.find((x) => x.opcode === 0x1 && x.declared === undefined) ?? s;
      if (!t) break;
      const bad = rng.pick(NOT_UTF8);
      const p = rng.int(t.payload.length + 1);
      t.payload = Uint8Array.from([...t.payload.slice(0, p), ...bad, ...t.payload.slice(p)]);
      break;
    }
    case 'truncated-utf8': {
      // A message that ends inside a character.
      insert(dataSpec(0x1, Uint8Array.from([...randomText(rng, 4), ...rng.pick([[0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98]])])));
      break;
    }
    case 'non-minimal-data': {
      // Accepted: §5.2 does not require the minimal form for data frames.
      const d = specs.find((x) => x.opcode <= 0x2 && x.declared === undefined && x.payload.length <= 0xffff) ?? s;
      if (d && d.opcode <= 0x2) d.form = d.payload.length <= 0xffff ? rng.pick([16, 64] as const) : 64;
      break;
    }
    case 'msb-length':
      insert({ ...dataSpec(rng.pick([0x1, 0x2, 0x0, 0x9]), new Uint8Array(0)), form: 64, declared: (1n << 63n) | BigInt(rng.u32()) });
      break;
    case 'huge-data':
      // 2^53 or more, on a header that is otherwise fine: 1009.
      specs.splice(at, specs.length - at, {
        ...dataSpec(0x2, new Uint8Array(0)),
        form: 64,
        declared: TWO_53 + BigInt(rng.u32()) * BigInt(rng.range(0, 1 << 20)),
      });
      break;
    case 'over-max':
      insert({ ...dataSpec(0x2, new Uint8Array(0)), declared: BigInt(rng.range(3001, 2 ** 40)) });
      break;
    case 'close-1-byte':
      insert(dataSpec(0x8, rng.bytes(1)));
      break;
    case 'close-bad-code': {
      const c = rng.pick(BAD_CODES);
      insert(dataSpec(0x8, Uint8Array.from([c >> 8, c & 0xff, ...randomText(rng, 5)])));
      break;
    }
    case 'close-bad-reason':
      insert(dataSpec(0x8, Uint8Array.from([0x03, 0xe8, ...randomText(rng, 3), ...rng.pick(NOT_UTF8)])));
      break;
    case 'control-extended-form':
      // At most 125 bytes, but in the 16- or 64-bit form.
      insert({ ...dataSpec(rng.pick([0x8, 0x9, 0xa]), rng.pick([new Uint8Array(0), Uint8Array.of(0x03, 0xe8), rng.bytes(rng.int(126))])), form: rng.pick([16, 64] as const) });
      break;
    case 'huge-and-broken': {
      // 2^53 or more with a §5.2 violation in the same header: the 1002 wins.
      const h: Spec = { ...dataSpec(rng.pick([0x0, 0x1, 0x2, 0x8, 0x9, 0x3]), new Uint8Array(0)), form: 64, declared: TWO_53 + BigInt(rng.u32()) };
      const broken = rng.int(3);
      if (broken === 0) h.rsv = rng.range(1, 7);
      else if (broken === 1) h.key = h.key ? undefined : rng.bytes(4);
      else h.opcode = rng.pick([3, 7, 0xb, 0xf]);
      specs.splice(at, specs.length - at, h);
      break;
    }
  }
}

// ---- running the core ----------------------------------------------------------------

interface Observed {
  events: Event[];
  writes: Written[];
  outcome: Outcome;
  /** The error's code, when it failed. */
  errorCode: string | undefined;
  rec: Recorder;
}

type Chunking = 'whole' | '1-byte' | '2-byte' | 'random';
const CHUNKINGS: Chunking[] = ['whole', '1-byte', '2-byte', 'random'];

function runCore(stream: Stream, chunking: Chunking, rng: Rng): Observed {
  const { conn, rec } = open(stream.role, { maxPayload: stream.maxPayload });
  const b = stream.bytes;
  const cuts: number[] = [];
  if (chunking === 'whole') cuts.push(b.length);
  else if (chunking === '1-byte' || chunking === '2-byte') {
    const step = chunking === '1-byte' ? 1 : 2;
    for (let i = step; i < b.length + step; i += step) cuts.push(Math.min(i, b.length));
  } else {
    for (let i = 0; i < b.length; ) cuts.push((i = Math.min(b.length, i + 1 + rng.int(rng.chance(0.5) ? 8 : 400))));
  }
  let prev = 0;
  for (const c of cuts) {
    // A copy: the connection unmasks in place and may keep views.
    try {
      conn.receiveData(b.slice(prev, c));
    } catch (err) {
      assert.fail(`receiveData threw (${chunking}): ${String(err)}`);
    }
    prev = c;
  }
  for (const e of rec.errors) assert.ok(e instanceof WebSocketError, `an error that is not a WebSocketError: ${String(e)}`);
  assert.ok(rec.errors.length <= 1, `${rec.errors.length} errors reported`);
  const events: Event[] = rec.calls.flatMap((c): Event[] =>
    c.kind === 'message' ? [{ kind: 'message', hex: c.hex, text: c.text }] : c.kind === 'ping' || c.kind === 'pong' ? [{ kind: c.kind, hex: c.hex }] : [],
  );
  const writes: Written[] = rec.frames().map((f): Written => {
    // RFC 6455 §5.1: a client masks every frame, a server none; no RSV without extensions.
    assert.equal(f.masked, stream.role === 'client', 'mask bit of a written frame');
    assert.equal(f.rsv, 0);
    assert.equal(f.fin, true);
    if (f.opcode === 0xa) return { opcode: 0xa, hex: hex(f.payload) };
    assert.equal(f.opcode, 0x8, `unexpected frame written: opcode ${f.opcode}`);
    return { opcode: 0x8, code: f.payload.length >= 2 ? f.payload[0]! * 256 + f.payload[1]! : undefined };
  });
  const st = conn.state;
  let outcome: Outcome;
  if (st.kind === 'open') outcome = { kind: 'open' };
  else if (st.kind === 'closed' && st.error) outcome = { kind: 'failed', closeCode: st.error.closeCode ?? -1, codes: [st.error.code] };
  else if (st.kind === 'closed' && st.received) outcome = { kind: 'closed', code: st.received.code, reason: st.received.reason };
  else assert.fail(`unexpected state ${JSON.stringify(st)}`);
  return { events, writes, outcome, errorCode: st.kind === 'closed' ? st.error?.code : undefined, rec };
}

/** Asserts the core did what the reference says, in every chunking, with the same calls each time. */
function check(stream: Stream, expected: Expected, rng: Rng): void {
  let first: Observed | undefined;
  for (const chunking of CHUNKINGS) {
    const got = runCore(stream, chunking, rng);
    const where = `${stream.role}, maxPayload ${stream.maxPayload}, ${chunking}, input ${hex(stream.bytes).slice(0, 400)}`;
    assert.deepEqual(got.events, expected.events, `events (${where})`);
    assert.deepEqual(got.writes, expected.writes, `frames written (${where})`);
    if (expected.outcome.kind === 'failed') {
      assert.equal(got.outcome.kind, 'failed', `outcome ${JSON.stringify(got.outcome)} (${where})`);
      assert.equal((got.outcome as { closeCode: number }).closeCode, expected.outcome.closeCode, `close code (${where})`);
      assert.ok(expected.outcome.codes.includes(got.errorCode!), `error ${got.errorCode}, expected one of ${expected.outcome.codes.join(', ')} (${where})`);
    } else {
      assert.deepEqual(got.outcome, expected.outcome, `outcome (${where})`);
    }
    if (!first) first = got;
    else assert.deepEqual(got.rec.calls, first.rec.calls, `handler calls differ between whole and ${chunking} (${where})`);
  }
}

// ---- tests ---------------------------------------------------------------------------

test('frame parser fuzz: the core agrees with the reference parser, in every chunking', () => {
  const n = budget(1000, 6);
  let failed = 0;
  let closed = 0;
  let messages = 0;
  forEachCase('frame-parser', n, (rng) => {
    const stream = generate(rng, true);
    const expected = reference(stream.bytes, stream.role, stream.maxPayload);
    check(stream, expected, rng);
    if (expected.outcome.kind === 'failed') failed++;
    if (expected.outcome.kind === 'closed') closed++;
    messages += expected.events.filter((e) => e.kind === 'message').length;
  });
  // The generator reaches every kind of ending, and messages too.
  assert.ok(failed > n / 10 && closed > n / 50 && messages > n, `failed ${failed}, closed ${closed}, messages ${messages}`);
});

test('frame parser fuzz: a message in many tiny fragments (0- and 1-byte continuations) is reassembled exactly', () => {
  forEachCase('tiny-fragments', budget(200, 6), (rng) => {
    const role: Role = rng.chance(0.5) ? 'server' : 'client';
    const text = rng.chance(0.5);
    const data = text ? randomText(rng, 60) : rng.bytes(rng.int(100));
    const specs: Spec[] = [];
    let i = 0;
    do {
      const k = rng.chance(0.3) ? 0 : rng.range(1, 2);
      specs.push({ fin: false, rsv: 0, opcode: specs.length === 0 ? (text ? 1 : 2) : 0, key: role === 'server' ? rng.bytes(4) : undefined, payload: data.slice(i, i + k) });
      i += k;
      if (rng.chance(0.2)) specs.push({ fin: true, rsv: 0, opcode: 0x9, key: role === 'server' ? rng.bytes(4) : undefined, payload: rng.bytes(3) });
    } while (i < data.length);
    specs.push({ fin: true, rsv: 0, opcode: 0, key: role === 'server' ? rng.bytes(4) : undefined, payload: new Uint8Array(0) });
    const stream: Stream = { role, maxPayload: data.length, bytes: concatBytes(...specs.map(encode)) };
    const expected = reference(stream.bytes, role, stream.maxPayload);
    const messages = expected.events.filter((e) => e.kind === 'message');
    assert.deepEqual(messages, [{ kind: 'message', hex: hex(data), text }], 'the reference reassembles the message');
    check(stream, expected, rng);
  });
});

/** Runs fuzzed streams that hit one of ws13's two length decisions, checking the core strictly. */
function pendingFuzz(name: string, which: Pending): void {
  let hits = 0;
  forEachCase(name, budget(400, 6), (rng) => {
    const stream = generate(rng, true);
    const expected = reference(stream.bytes, stream.role, stream.maxPayload);
    if (!expected.pending.includes(which)) return;
    hits++;
    check(stream, expected, rng);
  });
  assert.ok(hits > 0, 'no case reached the decision');
}

// ws13's two decisions on lengths (documented in docs/API.md), fuzzed on their own.
test(
  'frame parser fuzz: a control frame with a 16- or 64-bit length of at most 125 bytes fails with 1002',
  () => {
    for (const role of ['server', 'client'] as const) {
      const key = role === 'server' ? Uint8Array.of(1, 2, 3, 4) : undefined;
      for (const form of [16, 64] as const) {
        const bytes = encode({ fin: true, rsv: 0, opcode: 0x9, key, payload: Uint8Array.of(0x61), form });
        const expected = reference(bytes, role, Infinity);
        assert.deepEqual(expected.outcome.kind, 'failed');
        check({ role, maxPayload: Infinity, bytes }, expected, new Rng(1));
      }
    }
    pendingFuzz('pending-control-form', 'control-length-form');
  },
);

test(
  'frame parser fuzz: a length of 2^53 or more reports the header\'s 1002 first, else 1009',
  () => {
    // RSV1 set, and a length of 2^53: 1002, not 1009.
    const bytes = encode({ fin: true, rsv: 4, opcode: 0x2, key: Uint8Array.of(1, 2, 3, 4), payload: new Uint8Array(0), form: 64, declared: TWO_53 });
    const expected = reference(bytes, 'server', Infinity);
    assert.deepEqual(expected.outcome, { kind: 'failed', closeCode: 1002, codes: [ErrorCode.UnexpectedRsv] });
    check({ role: 'server', maxPayload: Infinity, bytes }, expected, new Rng(1));
    pendingFuzz('pending-huge-order', 'huge-length-order');
  },
);

test('frame parser: a length of 2^53 or more on a valid data frame header is 1009 (fixed cases)', () => {
  for (const declared of [TWO_53, TWO_53 + 1n, 2n ** 63n - 1n]) {
    const bytes = encode({ fin: true, rsv: 0, opcode: 0x2, key: Uint8Array.of(9, 9, 9, 9), payload: new Uint8Array(0), form: 64, declared });
    const expected = reference(bytes, 'server', Infinity);
    assert.deepEqual(expected.outcome, { kind: 'failed', closeCode: 1009, codes: [ErrorCode.MessageTooBig] });
    check({ role: 'server', maxPayload: Infinity, bytes }, expected, new Rng(2));
  }
  // 2^53 - 1 fits: the connection waits for the payload.
  const ok = encode({ fin: true, rsv: 0, opcode: 0x2, key: Uint8Array.of(9, 9, 9, 9), payload: new Uint8Array(0), form: 64, declared: TWO_53 - 1n });
  assert.deepEqual(reference(ok, 'server', Infinity).outcome, { kind: 'open' });
  check({ role: 'server', maxPayload: Infinity, bytes: ok }, reference(ok, 'server', Infinity), new Rng(3));
});

test('frame parser: the reference parser itself, on RFC 6455 §5.7 examples', () => {
  // §5.7: a single-frame unmasked text message "Hello", and the masked one.
  const unmasked = Uint8Array.of(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
  const masked = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
  const hello = { kind: 'message', hex: '48656c6c6f', text: true };
  assert.deepEqual(reference(unmasked, 'client', Infinity).events, [hello]);
  assert.deepEqual(reference(masked, 'server', Infinity).events, [hello]);
  // §5.7: a fragmented unmasked text message, "Hel" then "lo".
  const frag = Uint8Array.of(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f);
  assert.deepEqual(reference(frag, 'client', Infinity).events, [hello]);
  // §5.7: 256 bytes binary in the 16-bit form.
  const b256 = Uint8Array.from([0x82, 0x7e, 0x01, 0x00, ...new Uint8Array(256)]);
  assert.equal(reference(b256, 'client', Infinity).events.length, 1);
  // The same masked frame sent to a client, and unmasked to a server: 1002.
  assert.deepEqual(reference(masked, 'client', Infinity).outcome, { kind: 'failed', closeCode: 1002, codes: [ErrorCode.UnexpectedMask] });
  assert.deepEqual(reference(unmasked, 'server', Infinity).outcome, { kind: 'failed', closeCode: 1002, codes: [ErrorCode.ExpectedMask] });
  assert.equal(utf8Status(Uint8Array.of(0xf0, 0x9f)), 'prefix');
  assert.equal(utf8Status(Uint8Array.of(0xed, 0xa0)), 'invalid');
});
