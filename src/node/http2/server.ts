// The server's HTTP/2 host (RFC 8441): takes extended CONNECT streams off a node:http2
// server, lets the same policy decide as for HTTP/1.1 (core: negotiateConnect, then the
// WebSocketServer's beforeUpgrade), answers 200 or the refusal, and runs the WebSocket over
// the stream. HTTP/2 flow control is the backpressure; END_STREAM ends it, RST_STREAM is 1006.
import type http2 from 'node:http2';
import { ErrorCode, HandshakeError } from '../../protocol/errors.js';
import { HeaderList, refusalError } from '../../protocol/handshake/http1.js';
import { http2Fields, type ConnectRequest } from '../../protocol/handshake/http2.js';
import { internal, negotiateConnect, refusal, type PendingAccept, type ServerAccept, type ServerRefusal } from '../../protocol/handshake/server.js';
import type { ServerOptions, UpgradeRequest } from '../server-options.js';
import { DEFAULT_HANDSHAKE_TIMEOUT } from '../options.js';

/** RFC 9113 §7: the NO_ERROR code (node:http2 is not loaded until an HTTP/2 server exists). */
const NGHTTP2_NO_ERROR = 0;

type H2Server = http2.Http2Server | http2.Http2SecureServer;

/** What this host needs of a WebSocketServer (server.ts), without importing it. */
export interface Http2Host {
  readonly options: Readonly<ServerOptions>;
  /** Whether the server's `close()` was called. */
  closing(): boolean;
  /** The core's decision, with `beforeUpgrade` between its steps (as for HTTP/1.1). */
  decide(req: UpgradeRequest, first: () => PendingAccept | ServerRefusal): ServerAccept | ServerRefusal | Promise<ServerAccept | ServerRefusal>;
  /** The 200 was sent: the WebSocket over `stream` is the server's (tracked, 'connection'). */
  accept(stream: http2.ServerHttp2Stream, url: string, decision: ServerAccept, req: UpgradeRequest): void;
  /** A refusal was sent: counted and reported ('handshakeError'). */
  refused(err: HandshakeError, req: UpgradeRequest | undefined): void;
}

/** Counts of what each HTTP/2 server received, for tests and tools (`http2Stats`). */
export interface Http2Stats {
  /** Extended CONNECT streams with `:protocol` (any), answered by us. */
  connectStreams: number;
  /** Of those, accepted with 200. */
  accepted: number;
}

interface Attached {
  /** The endpoints attached to the server, in the order attached. */
  readonly hosts: () => Iterable<Http2Host>;
  /** Sessions that carried a WebSocket stream, for GOAWAY on close. */
  readonly sessions: Set<http2.Http2Session>;
  readonly stats: Http2Stats;
}

const attached = new WeakMap<H2Server, Attached>();
/** Time a refused stream gets to read the answer before it is reset. */
const REFUSAL_LINGER = 1000;

/** Whether `srv` is a node:http2 server (plain or secure), told apart from http(s) servers. */
export function isHttp2Server(srv: object): srv is H2Server {
  // Only node:http2's servers have updateSettings (http.Server and https.Server do not).
  return typeof (srv as { updateSettings?: unknown }).updateSettings === 'function';
}

/** The counts for an HTTP/2 server a WebSocketServer is attached to. */
export function http2Stats(srv: H2Server): Readonly<Http2Stats> | undefined {
  return attached.get(srv)?.stats;
}

/**
 * Serves extended CONNECTs on `srv` for the WebSocketServers in `hosts` (routed by path).
 * Advertises SETTINGS_ENABLE_CONNECT_PROTOCOL from now on, for every later session: RFC 8441
 * §3 forbids withdrawing it once sent, so it is never turned off, even when the last
 * WebSocketServer closes (later CONNECTs get 404, not a protocol error).
 */
export function attachHttp2(srv: H2Server, hosts: () => Iterable<Http2Host>): void {
  if (attached.has(srv)) return;
  const a: Attached = { hosts, sessions: new Set(), stats: { connectStreams: 0, accepted: 0 } };
  attached.set(srv, a);
  // RFC 8441 §3: "a server ... MUST NOT send a SETTINGS_ENABLE_CONNECT_PROTOCOL parameter
  // with the value of 0 after previously sending a value of 1".
  srv.updateSettings({ enableConnectProtocol: true });
  // The streams are ours before any 'stream' listener sees them: Node's compatibility layer
  // (a 'request' listener) answers every CONNECT it sees with 405 (nodejs/node#36977), and a
  // user's 'stream' handler would answer them too. Only extended CONNECTs are taken; a plain
  // CONNECT and everything else still reach the application's listeners.
  const emit = srv.emit;
  srv.emit = function (this: H2Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'stream') {
      const headers = args[1] as http2.IncomingHttpHeaders;
      if (headers[':method'] === 'CONNECT' && headers[':protocol'] !== undefined) {
        onConnect(a, args[0] as http2.ServerHttp2Stream, headers, (args[3] as string[] | undefined) ?? []);
        return true;
      }
    }
    return emit.call(this, event, ...args);
  } as typeof srv.emit;
}

/** GOAWAY (graceful: open streams finish) to every session that carried a WebSocket. */
export function goawayHttp2(srv: H2Server): void {
  const a = attached.get(srv);
  if (!a) return;
  for (const s of a.sessions) if (!s.closed && !s.destroyed) s.close();
  a.sessions.clear();
}

/** The request as hooks see it: pseudo-headers in `headers` as Node gives them, the stream as `socket`. */
class Http2Request implements UpgradeRequest {
  readonly method = 'CONNECT';
  readonly httpVersion = '2.0';
  readonly url: string;
  constructor(
    readonly headers: http2.IncomingHttpHeaders,
    readonly rawHeaders: string[],
    readonly socket: http2.ServerHttp2Stream,
  ) {
    this.url = typeof headers[':path'] === 'string' ? headers[':path'] : '';
  }
}

function str(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function onConnect(a: Attached, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, raw: string[]): void {
  a.stats.connectStreams++;
  // A reset or session error before we answered needs no answer; after, the WebSocket reports it.
  stream.on('error', ignore);
  const req = new Http2Request(headers, raw, stream);
  const path = str(headers[':path']) ?? '';
  const q = path.indexOf('?');
  const pathname = q < 0 ? path : path.slice(0, q);
  let host: Http2Host | undefined;
  for (const h of a.hosts()) {
    if (h.options.path === undefined || h.options.path === pathname) {
      host = h;
      break;
    }
  }
  if (!host) {
    // Only a :protocol that is ours reaches routing as "no endpoint": another one is 501.
    const p = str(headers[':protocol'])?.toLowerCase();
    const err =
      p === 'websocket'
        ? refusalError(404, ErrorCode.NotFound, 'no WebSocket endpoint at this path')
        : refusalError(501, ErrorCode.UnsupportedProtocol, `unsupported :protocol ${JSON.stringify(headers[':protocol'])}`);
    respondRefusal(stream, refusal(err));
    return;
  }
  void accept(a, host, stream, req);
}

async function accept(a: Attached, host: Http2Host, stream: http2.ServerHttp2Stream, req: Http2Request): Promise<void> {
  const o = host.options;
  const h = req.headers;
  const regular: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]![0] !== ':') regular.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  }
  const creq: ConnectRequest = {
    method: str(h[':method']),
    protocol: str(h[':protocol']),
    scheme: str(h[':scheme']),
    path: str(h[':path']),
    authority: str(h[':authority']),
    headers: HeaderList.fromRaw(regular),
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    const r = refusal(refusalError(503, ErrorCode.RequestTimeout, 'the handshake took too long'));
    respondRefusal(stream, r);
    host.refused(r.error, req);
  }, o.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT);
  timer.unref();
  let decision: ServerAccept | ServerRefusal;
  try {
    decision = await host.decide(req, () => negotiateConnect(creq, o, req as UpgradeRequest));
  } catch (err) {
    decision = internal(err);
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) return;
  if (decision.kind === 'accept' && host.closing()) decision = refusal(refusalError(503, ErrorCode.Rejected, 'the server is shutting down'));
  if (decision.kind === 'refuse') {
    respondRefusal(stream, decision);
    host.refused(decision.error, req);
    return;
  }
  // The client reset the stream or the session went away while the hook ran.
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const fields: Record<string, string | string[]> = {};
  for (const [k, v] of decision.fields) {
    const prev = fields[k];
    fields[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  // RFC 8441 §5: the server answers 200 (browsers and undici check for exactly 200), with no
  // content-length: the DATA frames that follow are the WebSocket's bytes.
  stream.respond({ ':status': 200, ...fields });
  a.stats.accepted++;
  const session = stream.session;
  if (session && !a.sessions.has(session)) {
    a.sessions.add(session);
    session.once('close', () => a.sessions.delete(session));
  }
  host.accept(stream, req.url, decision, req as UpgradeRequest);
}

/**
 * Answers a refusal on the stream: its status, headers (HTTP/2-legal ones) and body, as over
 * HTTP/1.1, then END_STREAM; a client that does not read within a second is reset.
 */
function respondRefusal(stream: http2.ServerHttp2Stream, r: ServerRefusal): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  let extra: Array<readonly [string, string]>;
  try {
    extra = http2Fields(r.headers);
  } catch {
    extra = [];
  }
  const body = Buffer.from(r.body || `${r.error.message}\n`, 'utf8');
  const head: http2.OutgoingHttpHeaders = {
    ':status': r.status,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
  };
  for (const [k, v] of extra) head[k] = v;
  stream.respond(head);
  // Bytes the client sent before the answer (DATA ahead of the 200) are dropped.
  stream.resume();
  // RFC 9113 §8.1: after a complete response, a server MAY ask the client to stop sending
  // with RST_STREAM NO_ERROR; the request half would otherwise stay open.
  stream.end(body, () => {
    if (!stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
  });
  // A client that does not read the body gets the reset after REFUSAL_LINGER anyway.
  setTimeout(() => {
    if (!stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
  }, REFUSAL_LINGER).unref();
}

function ignore(): void {}
