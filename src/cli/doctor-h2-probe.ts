// ws13 doctor's HTTP/2 probe (RFC 8441): reaches the server as the HTTP/1.1 probe does, asks
// for HTTP/2 (ALPN h2 for wss:, h2c with prior knowledge for ws:), reads the server's
// SETTINGS, and opens the WebSocket as an extended CONNECT stream with the core's handshake
// fields. Everything observed, nothing judged: doctor-h2.ts explains.
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ClientHandshake, HeaderList, type ClientDecision } from '../protocol/index.js';
import { readErrorBody } from '../node/error-body.js';
import { responseFields } from '../node/http2/client.js';
import { dial, ms, type Connection, type Settings } from './doctor-probe.js';

/** HTTP/2 error codes (RFC 9113 §7), by value. */
const H2_ERRORS = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED', 'FRAME_SIZE_ERROR',
  'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

export function h2ErrorName(code: number): string {
  return H2_ERRORS[code] ?? `error code 0x${code.toString(16)}`;
}

/** What became of the extended CONNECT. */
export type ConnectOutcome =
  /** An answer came: its status and fields (pseudo-headers left out). */
  | { kind: 'answer'; status: number; headers: HeaderList; body?: string; decision: ClientDecision }
  /** The server reset the stream before answering (RST_STREAM with `code`). */
  | { kind: 'reset'; code: number }
  /** The session ended (GOAWAY, connection closed) before an answer. */
  | { kind: 'gone'; message: string }
  /** No answer within `ms`: the stream hangs. */
  | { kind: 'hung'; ms: number };

/** One HTTP/2 attempt, as far as it got. */
export interface H2Attempt extends Connection {
  /** How HTTP/2 was asked for: ALPN in the TLS handshake (wss:), or h2c with prior knowledge (ws:). */
  via: 'alpn' | 'h2c';
  /** Why no HTTP/2 session came up although the connection did (ALPN chose another protocol, no SETTINGS…). */
  noH2?: string;
  /** The server's SETTINGS (RFC 9113 §6.5.2), as Node decoded them. */
  settings?: http2.Settings;
  /** Whether SETTINGS_ENABLE_CONNECT_PROTOCOL was 1 (RFC 8441 §3). */
  advertised?: boolean;
  hs: ClientHandshake;
  /** The extended CONNECT's fields, pseudo-headers first. */
  request: Array<readonly [string, string]>;
  /** Whether the CONNECT went out (undefined outcome: it did not). */
  sent: boolean;
  outcome?: ConnectOutcome;
  /** The stream of an accepted WebSocket, for the frames that follow. */
  stream?: http2.ClientHttp2Stream;
  session?: http2.ClientHttp2Session;
  timings: Connection['timings'] & { settingsMs?: number };
}

/** How long an extended CONNECT sent without the server's setting is waited for (ms). */
const UNADVERTISED_WAIT = 2000;

/**
 * Dials, speaks HTTP/2 and sends the extended CONNECT. When the server does not advertise
 * SETTINGS_ENABLE_CONNECT_PROTOCOL the CONNECT is sent anyway, to show what a client that
 * does not check gets (Node's http2 client sends `:protocol` regardless).
 */
export async function attemptHttp2(s: Settings): Promise<H2Attempt> {
  const url = s.url;
  const hs = new ClientHandshake({
    host: url.host,
    target: (url.pathname || '/') + url.search,
    protocols: s.protocols,
    origin: s.origin,
    headers: s.headers,
    perMessageDeflate: s.deflate,
    nonce: randomBytes(16),
  });
  const a: H2Attempt = { timings: {}, via: s.secure ? 'alpn' : 'h2c', hs, request: hs.connectFields(s.secure ? 'https' : 'http'), sent: false };
  // Browsers offer both; the server's choice tells whether it speaks h2 (RFC 7301).
  const sock = await dial(s, a, ['h2', 'http/1.1']);
  if (!sock) return a;
  if (s.secure && a.tls!.alpn !== 'h2') {
    a.noH2 = a.tls!.alpn ? `the server chose ${a.tls!.alpn} by ALPN` : 'the server chose no protocol by ALPN';
    sock.destroy();
    return a;
  }

  // The client connection preface, then the server's, which starts with SETTINGS (RFC 9113 §3.4).
  const tSettings = performance.now();
  const session = http2.connect(`${s.secure ? 'https' : 'http'}://${url.host}`, { createConnection: () => sock });
  a.session = session;
  session.on('error', ignore);
  const settled = await new Promise<string | undefined>((resolve) => {
    const t = setTimeout(() => resolve(`no SETTINGS within ${s.timeout} ms`), s.timeout);
    const done = (why: string | undefined): void => {
      clearTimeout(t);
      resolve(why);
    };
    session.once('remoteSettings', () => done(undefined));
    session.once('goaway', (code: number) => done(`the server sent GOAWAY ${h2ErrorName(code)} instead of SETTINGS`));
    session.once('error', (err: NodeJS.ErrnoException) =>
      // nghttp2 finds no SETTINGS frame where the server's preface belongs: an HTTP/1.1 answer.
      done(err.code === 'ERR_HTTP2_ERROR' ? `the answer to the HTTP/2 preface is not HTTP/2 (${err.message})` : `${err.message}${err.code ? ` (${err.code})` : ''}`),
    );
    session.once('close', () => done('the server closed the connection without sending SETTINGS'));
  });
  if (settled !== undefined) {
    a.noH2 = settled;
    session.destroy();
    return a;
  }
  a.timings.settingsMs = ms(tSettings);
  a.settings = { ...session.remoteSettings };
  a.advertised = session.remoteSettings.enableConnectProtocol === true;

  const head: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of a.request) {
    const prev = head[k];
    head[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
  }
  const tHs = performance.now();
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request(head, { endStream: false });
  } catch (err) {
    a.outcome = { kind: 'gone', message: (err as Error).message };
    return a;
  }
  a.sent = true;
  stream.on('error', ignore);
  const wait = a.advertised ? s.timeout : Math.min(s.timeout, UNADVERTISED_WAIT);
  const got = await new Promise<{ kind: 'headers'; h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader } | ConnectOutcome>((resolve) => {
    const t = setTimeout(() => resolve({ kind: 'hung', ms: wait }), wait);
    stream.once('response', (h) => {
      clearTimeout(t);
      resolve({ kind: 'headers', h });
    });
    stream.once('close', () => {
      clearTimeout(t);
      const code = stream.rstCode;
      // A stream closed by the session's end, not by a reset of its own.
      if (session.closed || session.destroyed || code === undefined) resolve({ kind: 'gone', message: 'the session ended before an answer' });
      else resolve({ kind: 'reset', code });
    });
  });
  a.timings.handshakeMs = ms(tHs);
  if (got.kind !== 'headers') {
    a.outcome = got;
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    return a;
  }
  const h = got.h;
  const { status, pairs } = responseFields(h);
  const headers = new HeaderList(pairs);
  const decision = hs.judgeConnect(status, headers);
  a.outcome = { kind: 'answer', status, headers, decision };
  if (decision.kind === 'open') {
    a.stream = stream;
    return a;
  }
  // A refusal's body (4 KiB at most, 500 ms), as ws13's client reads it.
  if (decision.kind === 'refused') a.outcome.body = await readErrorBody(stream, new Uint8Array(0), headers);
  if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
  return a;
}

/** Ends the attempt's session (GOAWAY, then the connection). */
export function endHttp2(a: H2Attempt): void {
  const s = a.session;
  if (!s || s.destroyed) return;
  s.close();
  setTimeout(() => s.destroy(), 200).unref();
}

function ignore(): void {}
