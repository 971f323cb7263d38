import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { ErrorCode, HandshakeError, WebSocketError } from '../protocol/errors.js';
import { HeadReader, couldBeStatusLine, type HeaderInit, type ResponseHead } from '../protocol/handshake/http1.js';
import { BodyReader } from '../protocol/handshake/body.js';
import { ClientHandshake } from '../protocol/handshake/client.js';
import { NodeDeflateCodec } from './deflate.js';
import type { ConnectionSettings, WebSocket } from './websocket.js';
import { dial, proxyFor, type ProxyOptions } from './dial/proxy.js';
import { DEFAULT_MAX_REDIRECTS, nextHop } from './dial/redirect.js';

export interface ClientOptions extends ConnectionSettings, ProxyOptions {
  /** Subprotocols to offer, in order of preference (RFC 6455 §4.1 item 10). */
  protocols?: readonly string[];
  /** The Origin header to send (browsers send their page's origin). */
  origin?: string;
  /** Extra request headers. */
  headers?: HeaderInit;
  /** Time for TCP, TLS and the handshake, in ms (default 10000). */
  handshakeTimeout?: number;
  /** Largest response head accepted, in bytes (default 16384). */
  maxHeaderSize?: number;
  /** Aborts the handshake (WS_ERR_HANDSHAKE_ABORTED). */
  signal?: AbortSignal;
  /** TLS options for wss: (ca, cert, key, rejectUnauthorized, servername, …). */
  tls?: tls.ConnectionOptions;
  /** Ping when idle and drop a server that stops answering; off by default on clients. */
  heartbeat?: { interval?: number } | false;
  /**
   * Follow 301/302/303/307/308 answers to the handshake (default false: browsers never follow
   * redirects for WebSockets). Authorization, Cookie and a hand-set Host are not sent to
   * another origin; a redirect from wss: to ws: is refused. Emits 'redirect' (url, status).
   */
  followRedirects?: boolean;
  /** With followRedirects: how many redirects at most (default 5); past it, WS_ERR_TOO_MANY_REDIRECTS. */
  maxRedirects?: number;
}

const MAX_ERROR_BODY = 4096;

/**
 * Validates the URL and subprotocols, then opens the connection in the background.
 * Returns the normalized URL.
 * @throws WebSocketError WS_ERR_INVALID_URL, WS_ERR_INVALID_ARGUMENT
 */
export function startClient(ws: WebSocket, input: string | URL, protocols: readonly string[], opts: ClientOptions): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new WebSocketError(ErrorCode.InvalidUrl, `invalid URL: ${String(input)}`);
  }
  // WHATWG WebSockets: http(s) map to ws(s); nothing else, and no fragment.
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new WebSocketError(ErrorCode.InvalidUrl, `URL scheme must be ws: or wss:, not ${url.protocol}`);
  }
  if (url.hash !== '') throw new WebSocketError(ErrorCode.InvalidUrl, 'a WebSocket URL has no fragment');
  // RFC 6455 §4.1 item 7: a fresh random 16-byte nonce per attempt. Checks the subprotocols.
  const hs = new ClientHandshake({
    host: url.host,
    target: (url.pathname || '/') + url.search,
    protocols,
    origin: opts.origin,
    headers: opts.headers,
    perMessageDeflate: opts.perMessageDeflate,
    nonce: randomBytes(16),
  });
  const request = hs.request;
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (secure ? 443 : 80));
  const maxHeaderSize = opts.maxHeaderSize ?? 16384;

  // The proxy, if any (dial/proxy.ts); a bad proxy URL throws here, as a bad URL does.
  const target = { host, port, secure, tls: opts.tls };
  const proxy = proxyFor(target, opts);
  let socket: net.Socket | undefined;
  let cancelDial: (() => void) | undefined;
  let done = false;
  // The handshake as it went over the wire, for tools ('upgrade' event): once, at the response
  // head or at the failure that came before it.
  let told = false;
  const tell = (response: string | undefined): void => {
    if (told) return;
    told = true;
    ws.emit('upgrade', { request: request.slice(0, -4), response });
  };
  let timer: NodeJS.Timeout | undefined;
  const cleanup = (): void => {
    done = true;
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    ws._abortHandshake = undefined;
  };
  const fail = (err: WebSocketError): void => {
    if (done) return;
    tell(undefined);
    cleanup();
    cancelDial?.();
    socket?.destroy();
    ws._failHandshake(err);
  };
  const onAbort = (): void => fail(new HandshakeError(ErrorCode.HandshakeAborted, 'the handshake was aborted'));
  ws._abortHandshake = () =>
    fail(new HandshakeError(ErrorCode.HandshakeAborted, 'closed before the connection was established'));

  if (opts.signal?.aborted) {
    process.nextTick(onAbort);
    return url.href;
  }
  opts.signal?.addEventListener('abort', onAbort);
  const started = Date.now();
  timer = setTimeout(
    () => fail(new HandshakeError(ErrorCode.HandshakeTimeout, 'the opening handshake timed out')),
    opts.handshakeTimeout ?? 10000,
  );

  // Hook (dial/proxy.ts): TCP and TLS, directly or through a proxy's CONNECT tunnel.
  cancelDial = dial(target, proxy, (err, ready) => {
    if (err || !ready) return fail(err ?? new HandshakeError(ErrorCode.HandshakeNetwork, 'connection failed'));
    if (done) return void ready.destroy();
    attach(ready);
  });
  return url.href;

  function attach(s: net.Socket): void {
    socket = s;
    s.setNoDelay(true);
    s.write(request);

    const reader = new HeadReader(maxHeaderSize);
    /** The response's first bytes, until they show a status line can follow. */
    let start: Buffer | undefined = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      if (start !== undefined) {
        start = Buffer.concat([start, chunk.subarray(0, 12)]);
        if (!couldBeStatusLine(start)) {
          tell(start.toString('latin1'));
          fail(new HandshakeError(ErrorCode.HandshakeMalformed, `not an HTTP response: ${JSON.stringify(start.toString('latin1'))}`));
          return;
        }
        if (start.length >= 12) start = undefined;
      }
      const r = reader.push(chunk);
      if (r.kind === 'more') return;
      if (r.kind === 'malformed') {
        fail(new HandshakeError(ErrorCode.HandshakeMalformed, 'response lines must end with CRLF'));
        return;
      }
      if (r.kind === 'too-large') {
        fail(new HandshakeError(ErrorCode.HandshakeHeadersTooLarge, `response head over ${maxHeaderSize} bytes`));
        return;
      }
      s.off('data', onData);
      tell(r.head);
      const d = hs.receiveHead(r.head, r.rest);
      if (d.kind === 'fail') {
        fail(d.error);
        return;
      }
      if (d.kind === 'refused') {
        // The body is read to its end, so the server's close is no network error now.
        s.off('close', onClose);
        s.off('error', onError);
        s.on('error', ignoreError);
        readBody(s, d.response, d.rest, (body) => {
          // Hook (dial/redirect.ts): a redirect followed when asked to; else the refusal.
          if (opts.followRedirects && !done) {
            let hop;
            try {
              hop = nextHop(url, d.response, opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS, opts.headers);
            } catch (err) {
              return fail(err as WebSocketError);
            }
            if (hop) {
              const left = opts.handshakeTimeout ?? 10000;
              cleanup();
              s.destroy();
              ws.emit('redirect', hop.url.href, d.response.status);
              startClient(ws, hop.url, protocols, {
                ...opts,
                headers: hop.headers,
                maxRedirects: (opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS) - 1,
                // The whole chain shares one handshake timeout.
                handshakeTimeout: Math.max(1, left - (Date.now() - started)),
              });
              return;
            }
          }
          fail(hs.refused(d.response, body));
        });
        return;
      }
      cleanup();
      s.off('error', onError);
      s.off('close', onClose);
      const codec = d.deflate ? new NodeDeflateCodec(d.deflate, hs.deflateOptions ?? {}) : undefined;
      ws._open(s, d.rest, d.protocol, d.extensions, codec, opts);
      const hb = opts.heartbeat;
      if (hb) ws._startHeartbeat(hb.interval ?? 30000);
    };
    const onError = (err: Error): void =>
      fail(new HandshakeError(ErrorCode.HandshakeNetwork, `connection failed: ${err.message}`, { cause: err }));
    const onClose = (): void => fail(new HandshakeError(ErrorCode.HandshakeNetwork, 'the server closed the connection during the handshake'));
    s.on('data', onData);
    s.on('error', onError);
    s.on('close', onClose);
  }
}

/**
 * Reads at most 4 KiB of an error response's body (decoded when chunked): until that much,
 * its end, or 500 ms.
 */
function readBody(s: net.Socket, res: ResponseHead, first: Uint8Array, then: (body: string) => void): void {
  const reader = new BodyReader(res.headers, MAX_ERROR_BODY);
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(t);
    s.off('data', onData);
    s.off('end', finish);
    s.off('close', finish);
    then(Buffer.from(reader.body).toString('utf8'));
  };
  const onData = (c: Buffer): void => {
    reader.push(c);
    if (reader.done) finish();
  };
  const t = setTimeout(finish, 500);
  reader.push(first);
  if (reader.done) return finish();
  s.on('data', onData);
  s.on('end', finish);
  s.on('close', finish);
}

function ignoreError(): void {}
