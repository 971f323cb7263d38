// The HTTP/1.1 opening handshake (RFC 6455 §4), both roles, free of I/O: heads, key and
// accept, the 101 and refusals. Header grammar and negotiation are in negotiate.ts.
import { WEBSOCKET_GUID, WEBSOCKET_VERSION } from '../constants.js';
import { ErrorCode, HandshakeError, WebSocketError } from '../errors.js';
import { concatBytes } from '../bytes.js';
import { base64Encode, sha1Of60 } from '../sha1.js';
import { TCHAR, hasToken, isToken, parseExtensions, parseSubprotocols, trimOws, type ExtensionOffer } from './negotiate.js';

/** Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2 item 5.4): base64(SHA-1(key + GUID)). */
export function acceptKey(key: string): string {
  return base64Encode(sha1Of60(key, WEBSOCKET_GUID));
}

/** A key is base64 of 16 bytes: 22 base64 characters and "==" (RFC 6455 §4.1 item 7). */
export function isValidKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/** Header fields in order, names lower-cased. */
export class HeaderList {
  constructor(readonly entries: ReadonlyArray<readonly [string, string]>) {}

  /** From Node's `rawHeaders` (name, value, name, value, …). */
  static fromRaw(raw: readonly string[]): HeaderList {
    const e: Array<[string, string]> = [];
    for (let i = 0; i + 1 < raw.length; i += 2) e.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
    return new HeaderList(e);
  }

  get(name: string): string | undefined {
    const e = this.entries;
    for (let i = 0; i < e.length; i++) if (e[i]![0] === name) return e[i]![1];
    return undefined;
  }

  all(name: string): string[] {
    const e = this.entries;
    let out: string[] | undefined;
    for (let i = 0; i < e.length; i++) {
      if (e[i]![0] !== name) continue;
      // One value is the usual case: an array of exactly one (a pushed-to array reserves 17).
      if (out === undefined) out = [e[i]![1]];
      else out.push(e[i]![1]);
    }
    return out ?? [];
  }

  /** As a plain object; repeated fields joined with ", ". */
  toObject(): Record<string, string> {
    const o: Record<string, string> = {};
    for (const [n, v] of this.entries) o[n] = n in o ? `${o[n]}, ${v}` : v;
    return o;
  }
}

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** "1.1", "1.0", … */
  readonly httpVersion: string;
  readonly headers: HeaderList;
}

export interface ResponseHead {
  readonly httpVersion: string;
  readonly status: number;
  readonly statusText: string;
  readonly headers: HeaderList;
}

/** Result of feeding bytes to a HeadReader. */
export type HeadResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'too-large' }
  /** A bare LF: lines end with CRLF here (RFC 9112 §2.2). */
  | { readonly kind: 'malformed' }
  | { readonly kind: 'done'; readonly head: string; readonly rest: Uint8Array };

/**
 * Collects an HTTP head up to the blank line, bounded by `maxSize` bytes, and returns it
 * with the bytes that followed (the first WebSocket frames, which must not be lost).
 */
export class HeadReader {
  /** The chunks so far; most heads come in one. */
  private parts: Uint8Array[] | undefined;
  private size = 0;
  /** The last bytes seen, to find a CRLFCRLF split across chunks. */
  private tail = 0;
  /**
   * @param decode Latin-1 text of bytes `start` to `end`: a host's faster decoder, if it has one.
   */
  constructor(
    private readonly maxSize: number,
    private readonly decode: (b: Uint8Array, start: number, end: number) => string = latin1,
  ) {}

  push(chunk: Uint8Array): HeadResult {
    const before = this.size;
    if (this.parts === undefined) this.parts = [chunk];
    else this.parts.push(chunk);
    this.size += chunk.length;
    // Scan only the new bytes (linear overall, whatever the chunking), from one LF to the next.
    const limit = Math.min(chunk.length, this.maxSize + 4 - before);
    let tail = this.tail;
    let from = 0;
    for (;;) {
      const lf = chunk.indexOf(0x0a, from);
      if (lf < 0 || lf >= limit) break;
      // The bytes up to and including this LF, after what was seen before.
      tail = lastFour(tail, chunk, from, lf + 1);
      // RFC 9112 §2.2: lines end with CRLF here; a bare LF is refused.
      if ((tail & 0xffff) !== 0x0d0a) return { kind: 'malformed' };
      if (tail === 0x0d0a0d0a && before + lf + 1 >= 4) {
        const end = before + lf + 1;
        const all = this.parts.length === 1 ? chunk : this.joined();
        // Most heads come alone: no view is made for nothing after them.
        return { kind: 'done', head: this.decode(all, 0, end - 4), rest: end === all.length ? NOTHING_AFTER : all.subarray(end) };
      }
      from = lf + 1;
    }
    this.tail = lastFour(tail, chunk, from, limit);
    // The head may take `maxSize` bytes plus its closing CRLFCRLF, whatever the chunking.
    return this.size >= this.maxSize + 4 ? { kind: 'too-large' } : { kind: 'more' };
  }

  private joined(): Uint8Array {
    const out = concatBytes(this.parts!, this.size);
    this.parts = [out];
    return out;
  }
}

const NOTHING_AFTER = new Uint8Array(0);

/** The last four bytes seen once `chunk[from..end)` follows the bytes that gave `tail`. */
function lastFour(tail: number, chunk: Uint8Array, from: number, end: number): number {
  if (end - from >= 4) return ((chunk[end - 4]! << 24) | (chunk[end - 3]! << 16) | (chunk[end - 2]! << 8) | chunk[end - 1]!) >>> 0;
  for (let i = from; i < end; i++) tail = ((tail << 8) | chunk[i]!) >>> 0;
  return tail;
}

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, Math.min(i + 4096, end)) as unknown as number[]);
  }
  return s;
}

/** A request line: method (a token), request target, version (RFC 9112 §3). */
const REQUEST_LINE = new RegExp(`^(${TCHAR}+) ([\\x21-\\x7e]+) HTTP/(\\d)\\.(\\d)$`);
// Field values: visible characters, obs-text, space and tab (RFC 9110 §5.5); no CR, LF, NUL.
export const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function parseFields(lines: string[], first: number): HeaderList | undefined {
  const e: Array<[string, string]> = [];
  for (let i = first; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    // RFC 9112 §5.1: no white space before the colon; §5.2: obs-fold is rejected.
    if (!isToken(name)) return undefined;
    const value = trimOws(line.slice(colon + 1));
    if (!FIELD_VALUE.test(value)) return undefined;
    e.push([name.toLowerCase(), value]);
  }
  return new HeaderList(e);
}

/**
 * Parses a request head (without the final blank line).
 * @throws HandshakeError WS_ERR_BAD_REQUEST (400) for anything malformed.
 */
export function parseRequestHead(head: string): RequestHead {
  const lines = head.split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]!);
  const headers = m && parseFields(lines, 1);
  if (!m || !headers) throw refusalError(400, ErrorCode.BadRequest, 'malformed HTTP request');
  return { method: m[1]!, target: m[2]!, httpVersion: m[3] === '1' && m[4] === '1' ? '1.1' : `${m[3]}.${m[4]}`, headers };
}

/**
 * Parses a response head (without the final blank line).
 * @throws HandshakeError WS_ERR_HANDSHAKE_MALFORMED
 */
export function parseResponseHead(head: string): ResponseHead {
  const lines = head.split('\r\n');
  const m = /^HTTP\/(\d)\.(\d) (\d{3})(?: (.*))?$/.exec(lines[0]!);
  const headers = m && parseFields(lines, 1);
  if (!m || !headers) {
    throw new HandshakeError(ErrorCode.HandshakeMalformed, `malformed HTTP response: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  }
  return { httpVersion: `${m[1]}.${m[2]}`, status: Number(m[3]), statusText: m[4] ?? '', headers };
}

/** The start of every status line this client can accept: `HTTP/d.d ddd` (RFC 9112 §4). */
const STATUS_LINE_START = 'HTTP/d.d ddd';

/**
 * Whether the first bytes of a response can begin a status line (RFC 9112 §4), judged as
 * soon as they arrive: a server that speaks something else (an SSH banner, say) is told
 * apart at once instead of after the handshake timeout.
 */
export function couldBeStatusLine(first: Uint8Array): boolean {
  const n = Math.min(first.length, STATUS_LINE_START.length);
  for (let i = 0; i < n; i++) {
    const want = STATUS_LINE_START.charCodeAt(i);
    const c = first[i]!;
    if (want === 0x64 /* d */ ? c < 0x30 || c > 0x39 : c !== want) return false;
  }
  return true;
}

const REASONS: Record<number, string> = {
  101: 'Switching Protocols',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Error';
}

/** The error of a server-side refusal to answer with `status`, the reason as plain text body. */
export function refusalError(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): HandshakeError {
  return new HandshakeError(code, message, { status, headers, body: `${message}\n` });
}

/** @deprecated The former name of `refusalError` (it makes the error; it rejects nothing). */
export const reject = refusalError;

/** What a valid upgrade request carries, for the server to decide on. */
export interface UpgradeOffer {
  readonly key: string;
  readonly origin: string | undefined;
  /** Offered subprotocols, in the client's order. */
  readonly protocols: string[];
  readonly extensions: ExtensionOffer[];
}

/**
 * Checks a client's opening handshake (RFC 6455 §4.2.1) and returns what it offers.
 * @throws HandshakeError with the status to answer: 405, 400, 426.
 */
export function checkUpgradeRequest(req: { method: string; httpVersion: string; headers: HeaderList }): UpgradeOffer {
  const h = req.headers;
  // §4.2.1 item 1: an HTTP/1.1 or higher GET request.
  if (req.method !== 'GET') {
    throw refusalError(405, ErrorCode.MethodNotAllowed, 'a WebSocket handshake is a GET request', { Allow: 'GET' });
  }
  const [major, minor] = req.httpVersion === '1.1' ? [1, 1] : (req.httpVersion.split('.').map(Number) as [number, number]);
  if (major < 1 || (major === 1 && minor < 1)) throw refusalError(400, ErrorCode.BadRequest, 'HTTP/1.1 or later is required');
  // §4.2.1 item 2: a Host header field.
  const hosts = h.all('host');
  if (hosts.length !== 1 || hosts[0] === '') throw refusalError(400, ErrorCode.BadRequest, 'missing or repeated Host header');
  // §4.2.1 item 3: Upgrade lists "websocket" (any case). Without it, the client is asked to upgrade (RFC 9110 §15.5.22).
  if (!hasToken(h.all('upgrade'), 'websocket')) {
    throw refusalError(426, ErrorCode.UpgradeRequired, 'this is a WebSocket endpoint: Upgrade: websocket is required', {
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': WEBSOCKET_VERSION,
    });
  }
  // §4.2.1 item 4: Connection lists "Upgrade" (any case).
  if (!hasToken(h.all('connection'), 'upgrade')) {
    throw refusalError(400, ErrorCode.InvalidConnectionHeader, 'the Connection header must list Upgrade');
  }
  // §4.2.1 item 6 and §4.2.2 item 4: only version 13; otherwise 426 naming the version we speak.
  const versions = h.all('sec-websocket-version');
  if (versions.length !== 1 || versions[0] !== WEBSOCKET_VERSION) {
    throw refusalError(426, ErrorCode.UnsupportedVersion, 'unsupported WebSocket version: use 13', {
      'Sec-WebSocket-Version': WEBSOCKET_VERSION,
    });
  }
  // §4.2.1 item 5, §11.3.1: exactly one key, base64 of 16 bytes.
  const keys = h.all('sec-websocket-key');
  if (keys.length !== 1 || !isValidKey(keys[0]!)) {
    throw refusalError(400, ErrorCode.InvalidKey, 'Sec-WebSocket-Key must appear once and be base64 of 16 bytes');
  }
  const protocols = parseSubprotocols(h.all('sec-websocket-protocol'));
  if (!protocols) throw refusalError(400, ErrorCode.InvalidSubprotocol, 'malformed Sec-WebSocket-Protocol header');
  const extensions = parseExtensions(h.all('sec-websocket-extensions'));
  if (!extensions) throw refusalError(400, ErrorCode.BadRequest, 'malformed Sec-WebSocket-Extensions header');
  // A GET upgrade has no body: bytes after the head are frames, never a body to smuggle.
  const lengths = h.all('content-length');
  if (h.all('transfer-encoding').length > 0 || lengths.some((l) => l !== '0')) {
    throw refusalError(400, ErrorCode.BadRequest, 'a handshake request has no body');
  }
  const origins = h.all('origin');
  if (origins.length > 1) throw refusalError(400, ErrorCode.BadRequest, 'repeated Origin header');
  return { key: keys[0]!, origin: origins[0], protocols, extensions };
}

/** Extra response headers given by the application: names and values checked against injection. */
export type HeaderInit = Record<string, string | readonly string[] | undefined> | Iterable<readonly [string, string]>;

/** The name/value pairs of a HeaderInit, in order (arrays give one pair per value). */
export function headerPairs(headers: HeaderInit | undefined): Array<readonly [string, string]> {
  if (!headers) return [];
  if (Symbol.iterator in headers) return [...(headers as Iterable<readonly [string, string]>)];
  const out: Array<readonly [string, string]> = [];
  for (const [k, v] of Object.entries(headers as Record<string, string | readonly string[] | undefined>)) {
    if (typeof v === 'string') out.push([k, v]);
    else if (v) for (const x of v) out.push([k, x]);
  }
  return out;
}

function headerLines(headers: HeaderInit | undefined): string {
  let s = '';
  for (const [k, v] of headerPairs(headers)) {
    // RFC 9110 §5.1, §5.5: a field name is a token; a value has no CR, LF or NUL (no injection).
    if (!isToken(k) || !FIELD_VALUE.test(v)) throw new WebSocketError(ErrorCode.InvalidArgument, `invalid header ${JSON.stringify(k)}`);
    s += `${k}: ${v}\r\n`;
  }
  return s;
}

/** The 101 response (RFC 6455 §4.2.2 item 5). Protocol and extensions only when negotiated. */
export function formatSwitchingProtocols(
  key: string,
  protocol: string | undefined,
  extensions: string | undefined,
  extra?: HeaderInit,
): string {
  let s =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n`;
  if (protocol) s += `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  if (extensions) s += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
  return s + headerLines(extra) + '\r\n';
}

/** A refusal: status line, the error's headers, a plain-text body; the server then closes. */
export function formatRejection(err: HandshakeError): string {
  const status = err.status ?? 400;
  const body = err.body || `${err.message}\n`;
  const length = new TextEncoder().encode(body).length;
  return (
    `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nConnection: close\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${length}\r\n` +
    headerLines(err.headers) +
    '\r\n' +
    body
  );
}

export interface ClientRequestInit {
  /** Path and query. */
  readonly target: string;
  /** Host header value (with the port when not the scheme's default). */
  readonly host: string;
  readonly key: string;
  readonly protocols?: readonly string[];
  readonly extensions?: string;
  readonly origin?: string;
  readonly headers?: HeaderInit;
}

/**
 * The client's opening handshake (RFC 6455 §4.1).
 * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for an invalid header name or value
 */
export function formatUpgradeRequest(r: ClientRequestInit): string {
  // RFC 9110 §5.5: no CR, LF or NUL in Host or Origin either (a hand-set one could inject lines).
  for (const [k, v] of [['Host', r.host], ['Origin', r.origin ?? '']] as const) {
    if (!FIELD_VALUE.test(v)) throw new WebSocketError(ErrorCode.InvalidArgument, `invalid ${k} header value ${JSON.stringify(v)}`);
  }
  let s =
    `GET ${r.target} HTTP/1.1\r\nHost: ${r.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${r.key}\r\nSec-WebSocket-Version: ${WEBSOCKET_VERSION}\r\n`;
  if (r.protocols && r.protocols.length > 0) s += `Sec-WebSocket-Protocol: ${r.protocols.join(', ')}\r\n`;
  if (r.extensions) s += `Sec-WebSocket-Extensions: ${r.extensions}\r\n`;
  if (r.origin !== undefined) s += `Origin: ${r.origin}\r\n`;
  return s + headerLines(r.headers) + '\r\n';
}

/** What the server agreed to. */
export interface UpgradeAnswer {
  readonly protocol: string;
  readonly extensions: ExtensionOffer[];
}

/**
 * Checks the server's answer to our handshake (RFC 6455 §4.1, client requirements 1–6).
 * Any extension in the answer must be one of `offeredExtensions` (by name).
 * @throws HandshakeError with a WS_ERR_HANDSHAKE_* code
 */
export function checkUpgradeResponse(
  res: ResponseHead,
  key: string,
  offeredProtocols: readonly string[],
  offeredExtensions: readonly string[] = [],
  body = '',
): UpgradeAnswer {
  const h = res.headers;
  const fail = (code: ErrorCode, message: string): HandshakeError =>
    new HandshakeError(code, message, { status: res.status, headers: h.toObject(), body });
  // Item 1: anything but 101 is handled as HTTP, i.e. the WebSocket fails.
  if (res.status !== 101) throw fail(ErrorCode.HandshakeStatus, `server answered ${res.status} ${res.statusText}`.trim());
  // Item 2: Upgrade is "websocket" (any case).
  const upgrade = h.all('upgrade');
  if (upgrade.length !== 1 || upgrade[0]!.toLowerCase() !== 'websocket') {
    throw fail(ErrorCode.HandshakeUpgrade, 'response lacks Upgrade: websocket');
  }
  // Item 3: Connection lists "Upgrade".
  if (!hasToken(h.all('connection'), 'upgrade')) throw fail(ErrorCode.HandshakeConnection, 'response lacks Connection: Upgrade');
  // Item 4 and §11.3.3: exactly one Sec-WebSocket-Accept, equal to the expected value.
  const accepts = h.all('sec-websocket-accept');
  if (accepts.length !== 1 || accepts[0] !== acceptKey(key)) {
    throw fail(ErrorCode.HandshakeAccept, 'missing, repeated or wrong Sec-WebSocket-Accept');
  }
  return checkAnswerFields(h, offeredProtocols, offeredExtensions, fail);
}

/**
 * The checks of a successful answer that HTTP/1.1 (RFC 6455 §4.1 items 5–6) and HTTP/2
 * (RFC 8441 §5) share: only extensions that were offered, at most one offered subprotocol.
 */
export function checkAnswerFields(
  h: HeaderList,
  offeredProtocols: readonly string[],
  offeredExtensions: readonly string[],
  fail: (code: ErrorCode, message: string) => HandshakeError,
): UpgradeAnswer {
  // Item 5: only extensions that were offered.
  const exts = parseExtensions(h.all('sec-websocket-extensions'));
  if (!exts) throw fail(ErrorCode.HandshakeExtension, 'malformed Sec-WebSocket-Extensions');
  for (const e of exts) {
    if (!offeredExtensions.includes(e.name)) throw fail(ErrorCode.HandshakeExtension, `extension ${e.name} was not offered`);
  }
  // Item 6 and §11.3.4: at most one subprotocol, one that was offered.
  const protos = h.all('sec-websocket-protocol');
  let protocol = '';
  if (protos.length > 1) throw fail(ErrorCode.HandshakeProtocol, 'repeated Sec-WebSocket-Protocol');
  if (protos.length === 1) {
    protocol = protos[0]!;
    if (!offeredProtocols.includes(protocol)) {
      throw fail(ErrorCode.HandshakeProtocol, `subprotocol ${JSON.stringify(protocol)} was not offered`);
    }
  }
  return { protocol, extensions: exts };
}

