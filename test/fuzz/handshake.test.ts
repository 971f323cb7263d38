// Fuzzing the server side of the HTTP/1.1 opening handshake (RFC 6455 §4.2.1, RFC 9112):
// mutated upgrade requests go through HeadReader, parseRequestHead and checkUpgradeRequest,
// and, fewer of them, through a real WebSocketServer over TCP. A reference verdict written
// here from the RFCs says whether each request must be accepted or refused (and with which
// statuses); an accepted one must get the Sec-WebSocket-Accept computed here with
// node:crypto. Nothing may throw but a HandshakeError carrying a documented status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import {
  HandshakeError,
  HeadReader,
  checkUpgradeRequest,
  formatRejection,
  formatSwitchingProtocols,
  parseRequestHead,
} from '../../src/protocol/index.js';
import { WebSocketServer } from '../../src/node/index.js';
import { Rng, budget, forEachCase, forEachCaseAsync } from './rng.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** RFC 6455 §4.2.2 item 5.4: base64(SHA-1(key + GUID)). */
const expectedAccept = (key: string): string => createHash('sha1').update(key + GUID, 'latin1').digest('base64');

const MAX_HEAD = 16384;
/** The statuses ws13 documents for refused handshakes it decides on from the request. */
const DOCUMENTED = new Set([400, 403, 404, 405, 408, 426, 431]);

// ---- the reference verdict -------------------------------------------------------------

type Verdict = { accept: true; key: string } | { accept: false; statuses: number[] };

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Optional white space (RFC 9110 §5.6.3): SP and HTAB only. */
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;

// RFC 6455 §9.1: extension-list = 1#extension; extension = token *( ";" param );
// param = token [ "=" (token | quoted-string) ], a quoted value being a token once unquoted.
const T = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const Q = `"(?:[!#$%&'*+\\-.^_\`|~0-9A-Za-z]|\\\\[!#$%&'*+\\-.^_\`|~0-9A-Za-z])+"`;
const PARAM = `${T}(?:[ \\t]*=[ \\t]*(?:${T}|${Q}))?`;
const ELEMENT = `${T}(?:[ \\t]*;[ \\t]*${PARAM})*`;
const EXTENSION_LIST = new RegExp(`^[ \\t]*(?:${ELEMENT})?[ \\t]*(?:,[ \\t]*(?:${ELEMENT})?[ \\t]*)*$`);

/** RFC 9110 §5.6.1: a comma-separated list, optional white space (SP, HTAB) around, empty elements ignored. */
function list(values: string[], edges: RegExp): string[] {
  return values.flatMap((v) => v.split(',').map((e) => e.replace(edges, ''))).filter((e) => e !== '');
}

/**
 * What a server must answer to a request head (RFC 9112 §3 and §5, RFC 6455 §4.2.1), plus
 * ws13's documented policies: no request body, at most one Origin, subprotocols as tokens.
 */
function verdict(head: string, edges: RegExp = OWS_EDGES): Verdict {
  const lines = head.split('\r\n');
  // RFC 9112 §3: method SP request-target SP HTTP-version.
  const rl = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/([0-9])\.([0-9])$/.exec(lines[0]!);
  if (!rl) return { accept: false, statuses: [400] };
  const fields: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    // RFC 9112 §5: field-name ":" OWS field-value OWS; no white space before the colon, no obs-fold.
    const m = /^([^:]*):(.*)$/s.exec(line);
    if (!m || !TCHAR.test(m[1]!)) return { accept: false, statuses: [400] };
    const value = m[2]!.replace(edges, '');
    // RFC 9110 §5.5: field-vchar is VCHAR or obs-text, with SP and HTAB inside.
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) return { accept: false, statuses: [400] };
    fields.push([m[1]!.toLowerCase(), value]);
  }
  const all = (name: string): string[] => fields.filter(([n]) => n === name).map(([, v]) => v);
  const statuses: number[] = [];
  // §4.2.1 item 1: a GET, HTTP/1.1 or higher.
  if (rl[1] !== 'GET') statuses.push(405);
  if (Number(rl[3]) < 1 || (rl[3] === '1' && rl[4] === '0')) statuses.push(400);
  // Item 2: a Host header field.
  const hosts = all('host');
  if (hosts.length !== 1 || hosts[0] === '') statuses.push(400);
  // Item 3: Upgrade includes "websocket", case-insensitively (426 asks for it, RFC 9110 §15.5.22).
  if (!list(all('upgrade'), edges).some((t) => t.toLowerCase() === 'websocket')) statuses.push(426);
  // Item 4: Connection includes "Upgrade", case-insensitively.
  if (!list(all('connection'), edges).some((t) => t.toLowerCase() === 'upgrade')) statuses.push(400);
  // Item 6 and §4.2.2 item 4: version 13, else 426.
  const versions = all('sec-websocket-version');
  if (versions.length !== 1 || versions[0] !== '13') statuses.push(426);
  // Item 5: one key, base64 of 16 bytes (22 characters and "==").
  const keys = all('sec-websocket-key');
  const keyOk = keys.length === 1 && /^[A-Za-z0-9+/]{22}==$/.test(keys[0]!) && Buffer.from(keys[0]!, 'base64').length === 16;
  if (!keyOk) statuses.push(400);
  // ws13: subprotocols are tokens; no body; one Origin.
  if (!list(all('sec-websocket-protocol'), edges).every((p) => TCHAR.test(p))) statuses.push(400);
  if (all('transfer-encoding').length > 0 || all('content-length').some((v) => v !== '0')) statuses.push(400);
  if (all('origin').length > 1) statuses.push(400);
  // RFC 6455 §9.1: Sec-WebSocket-Extensions follows its grammar (a malformed request is 400).
  if (!all('sec-websocket-extensions').every((v) => EXTENSION_LIST.test(v))) statuses.push(400);
  return statuses.length === 0 ? { accept: true, key: keys[0]! } : { accept: false, statuses };
}

type HeadVerdict = { kind: 'done'; head: string; rest: Uint8Array } | { kind: 'malformed' } | { kind: 'too-large' } | { kind: 'more' };

/** How the head ends: RFC 9112 §2.2 lines end in CRLF (a bare LF is refused); at most MAX_HEAD bytes before the blank line. */
function headVerdict(bytes: Uint8Array): HeadVerdict {
  const scan = Math.min(bytes.length, MAX_HEAD + 4);
  for (let i = 0; i < scan; i++) {
    if (bytes[i] === 0x0a && (i === 0 || bytes[i - 1] !== 0x0d)) return { kind: 'malformed' };
    if (i >= 3 && bytes[i - 3] === 0x0d && bytes[i - 2] === 0x0a && bytes[i - 1] === 0x0d && bytes[i] === 0x0a) {
      return { kind: 'done', head: Buffer.from(bytes.subarray(0, i - 3)).toString('latin1'), rest: bytes.subarray(i + 1) };
    }
  }
  return bytes.length >= MAX_HEAD + 4 ? { kind: 'too-large' } : { kind: 'more' };
}

// ---- the generator ----------------------------------------------------------------------

interface Request {
  method: string;
  target: string;
  version: string;
  fields: Array<[string, string]>;
  /** Raw edits on the serialized head, applied last. */
  raw: Array<(s: string) => string>;
  /** Bytes after the head (the first frames). */
  rest: Uint8Array;
}

function validRequest(rng: Rng): Request {
  const fields: Array<[string, string]> = [
    ['Host', rng.pick(['127.0.0.1:8080', 'example.com', '[::1]:9'])],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', Buffer.from(rng.bytes(16)).toString('base64')],
    ['Sec-WebSocket-Version', '13'],
  ];
  if (rng.chance(0.5)) fields.push(['Origin', 'https://app.example']);
  if (rng.chance(0.4)) fields.push(['Sec-WebSocket-Protocol', 'chat, superchat']);
  if (rng.chance(0.4)) fields.push(['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits']);
  if (rng.chance(0.3)) fields.push(['User-Agent', 'fuzz/1.0']);
  return { method: 'GET', target: rng.pick(['/', '/chat', '/a?b=c', 'http://example.com/x']), version: '1.1', fields, raw: [], rest: new Uint8Array(0) };
}

function serialize(r: Request): Uint8Array {
  let s = `${r.method} ${r.target} HTTP/${r.version}\r\n`;
  for (const [n, v] of r.fields) s += `${n}:${v}\r\n`;
  s += '\r\n';
  for (const edit of r.raw) s = edit(s);
  return new Uint8Array(Buffer.concat([Buffer.from(s, 'latin1'), r.rest]));
}

/** Characters for garbled values: tokens, separators, white space, controls, obs-text (0xA0 is NBSP in Latin-1). */
const ODD = ['a', 'Z', '0', ',', ';', '=', ' ', '\t', '"', '\x00', '\x01', '\x0b', '\x0c', '\x7f', '\x80', '\xa0', '\xff', 'é', ':', '/'];

function garble(rng: Rng, max: number): string {
  let s = '';
  const n = rng.int(max + 1);
  for (let i = 0; i < n; i++) s += rng.pick(ODD);
  return s;
}

function ows(rng: Rng): string {
  return rng.pick(['', ' ', '  ', '\t', ' \t ']);
}

function flipCase(rng: Rng, s: string): string {
  return [...s].map((c) => (rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('');
}

function mutate(rng: Rng, r: Request): void {
  const f = r.fields;
  const pick = (): [string, string] | undefined => (f.length ? f[rng.int(f.length)] : undefined);
  const named = (n: string): [string, string] | undefined => f.find(([x]) => x.toLowerCase() === n);
  switch (rng.int(24)) {
    case 0: {
      const x = pick();
      if (x) x[0] = flipCase(rng, x[0]);
      break;
    }
    case 1: {
      const x = pick();
      if (x) x[1] = ows(rng) + x[1] + ows(rng);
      break;
    }
    case 2:
      for (let i = f.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [f[i], f[j]] = [f[j]!, f[i]!];
      }
      break;
    case 3: {
      const x = pick();
      if (x) f.splice(rng.int(f.length + 1), 0, [x[0], rng.chance(0.5) ? x[1] : garble(rng, 6)]);
      break;
    }
    case 4:
      if (f.length) f.splice(rng.int(f.length), 1);
      break;
    case 5: {
      const x = pick();
      if (x) x[1] = garble(rng, 12);
      break;
    }
    case 6: {
      const x = named('upgrade');
      if (x) x[1] = rng.pick(['WebSocket', 'h2c, websocket', 'websocket, ', ', ,websocket', 'websocketx', 'web socket', '', 'websocket/13']);
      break;
    }
    case 7: {
      const x = named('connection');
      if (x) x[1] = rng.pick(['keep-alive, Upgrade', 'UPGRADE', 'close', 'upgrade,keep-alive', '', 'Upgrades', 'keep-alive']);
      break;
    }
    case 8: {
      const x = named('sec-websocket-version');
      if (x) x[1] = rng.pick(['8', '13, 8', '', '013', '13 13', '14', 'thirteen']);
      break;
    }
    case 9: {
      const x = named('sec-websocket-key');
      if (x) {
        const k = x[1];
        x[1] = rng.pick([k.slice(0, 22), k.slice(0, 23), k + 'A', k.replace('==', 'A='), Buffer.from(rng.bytes(rng.int(30))).toString('base64'), k.slice(0, 21) + '!==', '']);
      }
      break;
    }
    case 10:
      r.method = rng.pick(['POST', 'get', 'HEAD', 'PUT', 'G ET', 'GET\x00']);
      break;
    case 11:
      r.version = rng.pick(['1.0', '2.0', '1.2', '0.9', '1.1x', '11', '1.']);
      break;
    case 12:
      // A long line, sometimes over the head limit.
      f.push(['X-Long', 'x'.repeat(rng.chance(0.5) ? rng.range(100, 4000) : rng.range(MAX_HEAD - 200, MAX_HEAD + 200))]);
      break;
    case 13:
      // obs-fold (RFC 9112 §5.2): a line starting with white space.
      r.raw.push((s) => s.replace('\r\nUpgrade:', '\r\n Upgrade:'));
      break;
    case 14:
      r.raw.push((s) => s.replace(/:/, ' :'));
      break;
    case 15: {
      // A bare LF or CR somewhere in the head.
      const ch = rng.pick(['\n', '\r']);
      r.raw.push((s) => {
        const i = rng.int(s.length - 4);
        return s.slice(0, i) + ch + s.slice(i);
      });
      break;
    }
    case 16:
      f.splice(rng.int(f.length + 1), 0, [rng.pick(['', 'X Y', 'X-é', 'X\x00', '(x)']), 'v']);
      break;
    case 17:
      r.target = rng.pick(['/é', '/a b', '', '*', '/\x7f', '/ok']);
      break;
    case 18:
      r.rest = Uint8Array.of(0x81, 0x80, 1, 2, 3, 4, ...rng.bytes(rng.int(20)));
      break;
    case 19:
      f.push(rng.pick([['Content-Length', '0'], ['Content-Length', '5'], ['Transfer-Encoding', 'chunked'], ['Origin', 'https://b.example']] as Array<[string, string]>));
      break;
    case 20: {
      const x = named('sec-websocket-protocol') ?? (f.push(['Sec-WebSocket-Protocol', 'chat']), f.at(-1)!);
      x[1] = rng.pick(['chat, , x', 'a b', 'chat;v=1', '"chat"', 'x,y', '']);
      break;
    }
    case 21: {
      // The value of a required field with a trailing odd character (white space or not, in Latin-1).
      const x = pick();
      if (x) x[1] = x[1] + rng.pick(['\x0b', '\x0c', '\xa0', '\x85', '\x1c']);
      break;
    }
    case 22: {
      const x = pick();
      if (x) x[1] = '\xa0' + x[1];
      break;
    }
    default: {
      // Non-ASCII (obs-text) in an unrelated field: allowed.
      f.push(['X-Note', garble(rng, 3) + 'é\xff']);
      break;
    }
  }
}

function generate(rng: Rng): Uint8Array {
  const r = validRequest(rng);
  const n = rng.chance(0.2) ? 0 : rng.range(1, 3);
  for (let i = 0; i < n; i++) mutate(rng, r);
  return serialize(r);
}

/**
 * Feeds `bytes` to a HeadReader in random chunks until it answers something other than
 * 'more'; a finished head's `rest` then also holds the chunks not yet fed, as the
 * connection would receive them next.
 */
function readHead(rng: Rng, bytes: Uint8Array): HeadVerdict {
  const reader = new HeadReader(MAX_HEAD);
  let r: ReturnType<HeadReader['push']> = { kind: 'more' };
  let i = 0;
  while (i < bytes.length && r.kind === 'more') {
    const n = rng.chance(0.3) ? 1 : rng.range(1, 600);
    r = reader.push(bytes.slice(i, i + n));
    i += n;
  }
  if (r.kind !== 'done') return r;
  return { kind: 'done', head: r.head, rest: new Uint8Array(Buffer.concat([r.rest, bytes.subarray(i)])) };
}

/**
 * What the I/O-free pipeline answers: 'accept' with the 101's Accept value, or a status.
 * Fails the test on any throw that is not a HandshakeError with a documented status.
 */
function pipeline(rng: Rng, bytes: Uint8Array): { head: HeadVerdict; answer: { accept: string } | { status: number } | undefined } {
  const r = readHead(rng, bytes);
  if (r.kind === 'more') return { head: r, answer: undefined };
  if (r.kind === 'malformed') return { head: r, answer: { status: 400 } };
  if (r.kind === 'too-large') return { head: r, answer: { status: 431 } };
  try {
    const req = parseRequestHead(r.head);
    const offer = checkUpgradeRequest(req);
    const response = formatSwitchingProtocols(offer.key, undefined, undefined);
    const m = /\r\nSec-WebSocket-Accept: ([^\r]*)\r\n/.exec(response);
    assert.ok(m, 'the 101 has a Sec-WebSocket-Accept');
    return { head: r, answer: { accept: m[1]! } };
  } catch (err) {
    assert.ok(err instanceof HandshakeError, `threw ${String(err)}`);
    assert.ok(err.status !== undefined && DOCUMENTED.has(err.status), `status ${err.status}`);
    // The refusal serializes (no injected header, no exception).
    assert.match(formatRejection(err), new RegExp(`^HTTP/1\\.1 ${err.status} `));
    return { head: r, answer: { status: err.status } };
  }
}

/** The bytes as text, every byte outside printable ASCII as \xHH. */
function show(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes.subarray(0, 700)) out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

function expectAnswer(bytes: Uint8Array, answer: { accept: string } | { status: number } | undefined): void {
  const hv = headVerdict(bytes);
  if (hv.kind === 'more') return assert.equal(answer, undefined, `incomplete head answered: ${show(bytes)}`);
  if (hv.kind === 'malformed') return assert.deepEqual(answer, { status: 400 }, `bare LF: ${show(bytes)}`);
  if (hv.kind === 'too-large') return assert.deepEqual(answer, { status: 431 }, `head too large: ${show(bytes)}`);
  const verdicts = [verdict(hv.head)];
  const fits = verdicts.some((v) =>
    v.accept ? answer !== undefined && 'accept' in answer && answer.accept === expectedAccept(v.key) : answer !== undefined && 'status' in answer && v.statuses.includes(answer.status),
  );
  assert.ok(fits, `answered ${JSON.stringify(answer)}, expected ${JSON.stringify(verdicts)}: ${show(bytes)}`);
}

test('handshake fuzz: the head reader, parser and request check agree with the reference verdict', () => {
  let accepted = 0;
  const refused = new Map<number, number>();
  const n = budget(2000, 5);
  forEachCase('handshake', n, (rng) => {
    const bytes = generate(rng);
    const { head, answer } = pipeline(rng, bytes);
    expectAnswer(bytes, answer);
    // The bytes after the head are handed on untouched (they are the first frames).
    const hv = headVerdict(bytes);
    if (head.kind === 'done' && hv.kind === 'done') assert.ok(Buffer.from(head.rest).equals(hv.rest), 'bytes after the head');
    if (answer && 'accept' in answer) accepted++;
    else if (answer) refused.set(answer.status, (refused.get(answer.status) ?? 0) + 1);
  });
  // Both sides of the verdict were exercised, and every documented refusal of the core.
  assert.ok(accepted > n / 10, `${accepted} accepted`);
  for (const s of [400, 405, 426, 431]) assert.ok((refused.get(s) ?? 0) > 0, `no ${s} among ${JSON.stringify([...refused])}`);
});

test('regression: a field value is trimmed of SP and HTAB only (RFC 9110 §5.6.3), not of VT, FF or NBSP', () => {
  const key = Buffer.alloc(16, 7).toString('base64');
  for (const odd of ['\x0b', '\x0c', '\xa0']) {
    const head = `GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket${odd}\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13`;
    assert.equal(verdict(head).accept, false);
    assert.throws(() => checkUpgradeRequest(parseRequestHead(head)), HandshakeError, `accepted Upgrade: websocket${JSON.stringify(odd)}`);
  }
});

// ---- over TCP ---------------------------------------------------------------------------

/** Sends `bytes` and reads the whole answer until the server closes (or `ms` pass). */
function exchange(port: number, bytes: Uint8Array, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    const done = (): void => {
      clearTimeout(t);
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      // A 101 stays open: its head is all we need.
      if (Buffer.concat(chunks).toString('latin1').startsWith('HTTP/1.1 101') && Buffer.concat(chunks).includes('\r\n\r\n')) done();
    });
    s.on('close', done);
    s.on('error', done);
    const t = setTimeout(done, ms);
  });
}

test('handshake fuzz over TCP: a real WebSocketServer answers as the reference says', async () => {
  const server = new WebSocketServer({ handshakeTimeout: 400, maxHeaderSize: MAX_HEAD });
  const errors: unknown[] = [];
  server.on('error', (e) => errors.push(e));
  server.on('connection', (ws) => ws.terminate());
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    await forEachCaseAsync('handshake-tcp', budget(60, 5), async (rng) => {
      const bytes = generate(rng);
      const reply = await exchange(port, bytes, 2000);
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(reply);
      assert.ok(status, `no HTTP answer: ${JSON.stringify(reply.slice(0, 200))}`);
      const code = Number(status[1]);
      if (code === 101) {
        const accept = /\r\nsec-websocket-accept: ([^\r]*)\r\n/i.exec(reply);
        expectAnswer(bytes, { accept: accept?.[1] ?? '' });
      } else if (code === 408) {
        // Only a head that never ends times out.
        assert.equal(headVerdict(bytes).kind, 'more');
      } else {
        assert.ok(DOCUMENTED.has(code), `status ${code}`);
        expectAnswer(bytes, { status: code });
        assert.match(reply, /\r\nConnection: close\r\n/i);
      }
    });
  } finally {
    await server.close();
  }
  assert.deepEqual(errors, []);
});
