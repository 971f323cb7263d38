// The client's HTTP/2 host (RFC 8441): finds or dials a session to the origin (TLS with ALPN
// h2, or h2c with prior knowledge), waits for the server's SETTINGS, and opens the WebSocket
// as an extended CONNECT stream only when SETTINGS_ENABLE_CONNECT_PROTOCOL was advertised
// (Node's client sends `:protocol` regardless, and the server resets the stream). Otherwise it
// falls back to HTTP/1.1, unless HTTP/2 is required. WebSockets to one origin share a session.
import type http2 from 'node:http2';
import net from 'node:net';
import type tls from 'node:tls';
import { lazyHttp2, lazyTls } from '../lazy-modules.js';
import { ErrorCode, HandshakeError, type WebSocketError } from '../../protocol/errors.js';
import { HeaderList } from '../../protocol/handshake/http1.js';
import type { ClientHandshake } from '../../protocol/handshake/client.js';
import { NodeDeflateCodec } from '../deflate.js';
import type { ClientOptions, DialEvents, Http2ConnectOptions } from '../client-options.js';
import { readErrorBody } from '../error-body.js';
import { Attempt } from '../dial/attempt.js';
import { DEFAULT_HANDSHAKE_TIMEOUT, heartbeatInterval, resolveSettings } from '../options.js';

// RFC 9113 §7 error codes.
const NGHTTP2_REFUSED_STREAM = 7;
const NGHTTP2_CANCEL = 8;

/** An HTTP/2 response's status and its regular fields as name/value pairs (repeated ones apart). */
export function responseFields(h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): { status: number; pairs: Array<[string, string]> } {
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(h)) {
    if (k[0] === ':' || v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [String(v)]) pairs.push([k, x]);
  }
  return { status: Number(h[':status']), pairs };
}

/** A shared session and what we know of it. */
interface Entry {
  readonly key: string;
  readonly session: http2.ClientHttp2Session;
  /** Resolves once the server's SETTINGS are in: whether extended CONNECT is advertised. */
  readonly ready: Promise<boolean>;
  /** Streams of ours on it (open or opening). */
  streams: number;
  /** The server's SETTINGS are in (or the session failed before them). */
  known: boolean;
  readonly owned: boolean;
}

/** Origins found not to offer RFC 8441, tried over HTTP/1.1 directly for this long (ms). */
const NEGATIVE_TTL = 60_000;

const pool = new Map<string, Entry[]>();
const noHttp2 = new Map<string, number>();
const passed = new WeakMap<http2.ClientHttp2Session, Entry>();

/** Normalizes the `http2` option: undefined when HTTP/2 is not asked for. */
export function http2Option(o: ClientOptions['http2']): Http2ConnectOptions | undefined {
  if (!o) return undefined;
  if (o === true) return {};
  // One name inside: `session` is what the rest of this file reads.
  return o.connection ? { ...o, session: o.connection } : o;
}

/**
 * Opens a WebSocket over an HTTP/2 stream (RFC 8441), or calls `fallback` for HTTP/1.1 when
 * the server does not offer it and HTTP/2 is not required. Returns what gives the attempt up.
 */
export function startHttp2(
  events: DialEvents,
  url: URL,
  hs: ClientHandshake,
  opts: ClientOptions,
  h2: Http2ConnectOptions,
  fallback: (remainingMs: number) => void,
): () => void {
  const secure = url.protocol === 'wss:';
  const origin = `${secure ? 'https' : 'http'}://${url.host}`;
  const started = Date.now();
  const timeout = opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const fields = hs.connectFields(secure ? 'https' : 'http');
  const request = fields.map(([k, v]) => `${k}: ${v}`).join('\r\n');
  let entry: Entry | undefined;
  let stream: http2.ClientHttp2Stream | undefined;
  const attempt = new Attempt(events, request, opts.signal, () => {
    if (stream && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    if (entry) release(entry);
  });
  const fail = (err: WebSocketError): void => attempt.fail(err);
  const abort = (): void => attempt.abort();
  const unavailable = (why: string): void => {
    if (attempt.done) return;
    if (h2.require || h2.session) {
      fail(new HandshakeError(ErrorCode.Http2Unavailable, `HTTP/2 WebSocket unavailable: ${why}`));
      return;
    }
    noHttp2.set(origin, Date.now() + NEGATIVE_TTL);
    attempt.settle();
    if (entry) release(entry);
    fallback(Math.max(1, timeout - (Date.now() - started)));
  };
  if (!attempt.start(timeout)) return abort;

  if (!h2.session && !h2.require && (noHttp2.get(origin) ?? 0) > Date.now()) {
    unavailable('known from an earlier attempt');
    return abort;
  }
  acquire(origin, url, secure, opts, h2).then(
    (e) => {
      if (attempt.done) return release(e);
      entry = e;
      e.ready.then(onReady, onSessionError);
    },
    (err: Error) => fail(new HandshakeError(ErrorCode.HandshakeNetwork, `connection failed: ${err.message}`, { cause: err })),
  );
  function onReady(advertised: boolean): void {
    if (attempt.done) return;
    // RFC 8441 §3: a client MUST NOT send :protocol unless the server sent the setting as 1.
    if (!advertised) return unavailable('the server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL');
    open(entry!);
  }
  function onSessionError(err: Error & { noH2?: boolean }): void {
    if (attempt.done) return;
    if (err.noH2) return unavailable(err.message);
    fail(new HandshakeError(ErrorCode.HandshakeNetwork, `connection failed: ${err.message}`, { cause: err }));
  }

  function open(e: Entry): void {
    const head: http2.OutgoingHttpHeaders = {};
    for (const [k, v] of fields) {
      const prev = head[k];
      head[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
    }
    let s: http2.ClientHttp2Stream;
    try {
      s = e.session.request(head, { endStream: false });
    } catch (err) {
      fail(new HandshakeError(ErrorCode.HandshakeNetwork, `could not open a stream: ${(err as Error).message}`, { cause: err }));
      return;
    }
    stream = s;
    s.on('error', ignore);
    s.once('close', () => {
      if (!attempt.done) {
        const code = s.rstCode;
        const name = code === NGHTTP2_REFUSED_STREAM ? 'REFUSED_STREAM' : `code ${code}`;
        fail(new HandshakeError(ErrorCode.HandshakeNetwork, `the server reset the stream during the handshake (${name})`));
      }
    });
    s.once('response', (h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader) => {
      if (attempt.done) return;
      const { status, pairs } = responseFields(h);
      const headers = new HeaderList(pairs);
      attempt.tell([`:status: ${status}`, ...pairs.map(([k, v]) => `${k}: ${v}`)].join('\r\n'));
      const d = hs.judgeConnect(status, headers);
      if (d.kind === 'fail') return fail(d.error);
      if (d.kind === 'refused') {
        void readErrorBody(s, new Uint8Array(0), headers).then((body) => fail(hs.refusedConnect(d.response, body)));
        return;
      }
      attempt.settle();
      s.once('close', () => release(e));
      const codec = d.deflate ? new NodeDeflateCodec(d.deflate, hs.deflateOptions ?? {}) : undefined;
      const agreement = { protocol: d.protocol, extensions: d.extensions, codec, settings: resolveSettings(opts), heartbeat: heartbeatInterval(opts.heartbeat, false) };
      events.open(s, d.rest, agreement);
    });
  }
  return abort;
}

/**
 * A session for `origin` with room for one more stream: the caller's, a pooled one, or a new
 * one. A pooled session whose SETTINGS are not in yet is waited for, as its stream limit is
 * not known before.
 */
async function acquire(origin: string, url: URL, secure: boolean, opts: ClientOptions, h2: Http2ConnectOptions): Promise<Entry> {
  if (h2.session) {
    let e = passed.get(h2.session);
    if (!e) passed.set(h2.session, (e = track(origin, h2.session, false, true)));
    e.streams++;
    return e;
  }
  // Sessions are shared only by WebSockets that would dial the same connection.
  const key = `${origin} ${tlsKey(opts.tls)} ${opts.localAddress ?? ''}`;
  for (;;) {
    const pending = (pool.get(key) ?? []).find((e) => !e.known);
    if (!pending) break;
    await pending.ready.catch(ignore);
  }
  const list = pool.get(key) ?? [];
  for (const e of list) {
    const s = e.session;
    if (s.closed || s.destroyed || s.remoteSettings.enableConnectProtocol !== true) continue;
    // RFC 9113 §5.1.2: no more open streams than the server's SETTINGS_MAX_CONCURRENT_STREAMS;
    // a full session means a new one rather than a stream the server would refuse.
    const max = s.remoteSettings.maxConcurrentStreams ?? Number.MAX_SAFE_INTEGER;
    if (e.streams < max) {
      e.streams++;
      return e;
    }
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (secure ? 443 : 80));
  const session = lazyHttp2().connect(origin, {
    createConnection: () => {
      const from = opts.localAddress === undefined ? {} : { localAddress: opts.localAddress };
      const sock = secure
        ? lazyTls().connect({ host, port, ...from, ...(net.isIP(host) ? {} : { servername: host }), ...opts.tls, ALPNProtocols: ['h2'] })
        : net.connect({ host, port, ...from });
      sock.setNoDelay(true);
      return sock;
    },
  });
  const e = track(key, session, true, false);
  e.streams++;
  list.push(e);
  pool.set(key, list);
  session.once('close', () => {
    const l = pool.get(key);
    if (!l) return;
    const i = l.indexOf(e);
    if (i >= 0) l.splice(i, 1);
    if (l.length === 0) pool.delete(key);
  });
  return e;
}

/** Follows a session until the server's SETTINGS say whether RFC 8441 is offered. */
function track(key: string, session: http2.ClientHttp2Session, owned: boolean, ping: boolean): Entry {
  session.on('error', ignore);
  const ready = new Promise<boolean>((resolve, reject) => {
    let settled = false;
    const ok = (): void => {
      if (settled) return;
      settled = true;
      session.off('close', gone);
      resolve(session.remoteSettings.enableConnectProtocol === true);
    };
    const gone = (): void => {
      if (settled) return;
      settled = true;
      // Closed before SETTINGS: a TLS server without h2 in ALPN, or an HTTP/1.1 server that
      // does not understand the h2c preface (RFC 9113 §3.3).
      const err = Object.assign(new Error('the server did not speak HTTP/2'), { noH2: session.connecting === false });
      reject(err);
    };
    session.once('close', gone);
    session.once('error', (err: Error) => {
      if (settled) return;
      settled = true;
      const net = (err as NodeJS.ErrnoException).syscall !== undefined;
      reject(Object.assign(err, { noH2: !net }));
    });
    if (ping && !session.connecting && session.remoteSettings.enableConnectProtocol === true) ok();
    // The server's connection preface starts with SETTINGS (RFC 9113 §3.4); a caller's session
    // may have had them already: a PING's answer comes after them in order.
    else if (ping && !session.connecting) session.ping(() => ok());
    else session.once('remoteSettings', ok);
  });
  const e: Entry = { key, session, ready, streams: 0, owned, known: false };
  ready.then(
    () => (e.known = true),
    () => (e.known = true),
  );
  return e;
}

/** One stream of ours on `e` is over; a session we dialed closes (GOAWAY) with its last stream. */
function release(e: Entry): void {
  e.streams--;
  if (e.streams <= 0 && e.owned && !e.session.closed && !e.session.destroyed) e.session.close();
}

/** Pools by TLS options: sessions dialed with other options (ca, client certificate) are not shared. */
const tlsKeys = new WeakMap<object, number>();
let nextTlsKey = 1;
function tlsKey(o: tls.ConnectionOptions | undefined): number {
  if (!o) return 0;
  let k = tlsKeys.get(o);
  if (k === undefined) tlsKeys.set(o, (k = nextTlsKey++));
  return k;
}


function ignore(): void {}
