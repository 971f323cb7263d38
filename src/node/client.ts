// The client's opening handshake over TCP or TLS (RFC 6455 §4.1): the URL checked, a
// socket dialled (`dial`, through a proxy when asked: dial/proxy.ts), the request sent, the
// response read (`readResponse`) and judged by the core (protocol/handshake/client.ts), a
// redirect followed when asked (dial/redirect.ts). The WebSocket hears of it through `DialEvents`.
import type net from 'node:net';
import { ErrorCode, HandshakeError, WebSocketError } from '../protocol/errors.js';
import { HeadReader, couldBeStatusLine, type ResponseHead } from '../protocol/handshake/http1.js';
import { readErrorBody } from './error-body.js';
import { ClientHandshake, type ClientDecision } from '../protocol/handshake/client.js';
import { NodeDeflateCodec } from './deflate.js';
import { randomNonce } from './random.js';
import { dial as dialTarget, proxyFor } from './dial/proxy.js';
import { DEFAULT_MAX_REDIRECTS, nextHop } from './dial/redirect.js';
import { Attempt } from './dial/attempt.js';
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_HEADER_SIZE,
  heartbeatInterval,
  resolveSettings,
} from './options.js';
import { http2Option, startHttp2 } from './http2/client.js';

export { readErrorBody } from './error-body.js';
export type { Agreement, ClientOptions, DialEvents, Http2ConnectOptions } from './client-options.js';
import type { ClientOptions, DialEvents } from './client-options.js';


/**
 * Checks a WebSocket URL (WHATWG WebSockets: http(s) map to ws(s); nothing else, and no
 * fragment).
 * @throws WebSocketError WS_ERR_INVALID_URL
 */
export function parseWebSocketUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new WebSocketError(ErrorCode.InvalidUrl, `invalid URL: ${String(input)}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new WebSocketError(ErrorCode.InvalidUrl, `URL scheme must be ws: or wss:, not ${url.protocol}`);
  }
  if (url.hash !== '') throw new WebSocketError(ErrorCode.InvalidUrl, 'a WebSocket URL has no fragment');
  return url;
}

/**
 * Opens the TCP or TLS connection to a ws: or wss: URL, directly or through the proxy the
 * options name; `ready` gets the socket once it can carry the request, or the error.
 * Returns a function that gives up the attempt.
 * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for a proxy URL that is not http: or https:
 */
export function dial(url: URL, opts: ClientOptions, ready: (err: WebSocketError | undefined, s: net.Socket | undefined) => void): () => void {
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (secure ? 443 : 80));
  const target = { host, port, secure, tls: opts.tls, localAddress: opts.localAddress };
  // Hook (dial/proxy.ts): TCP and TLS, directly or through a proxy's CONNECT tunnel.
  return dialTarget(target, proxyFor(target, opts), (err, s) => {
    s?.setNoDelay(true);
    ready(err, s);
  });
}

/**
 * Validates the URL and subprotocols, then opens the connection in the background.
 * Returns the normalized URL and a function that gives up the handshake.
 * @throws WebSocketError WS_ERR_INVALID_URL, WS_ERR_INVALID_ARGUMENT
 */
export function startClient(
  input: string | URL,
  protocols: readonly string[],
  opts: ClientOptions,
  events: DialEvents,
): { url: string; abort: () => void } {
  const url = parseWebSocketUrl(input);
  const started = Date.now();
  // RFC 6455 §4.1 item 7: a fresh random 16-byte nonce per attempt. Checks the subprotocols.
  const hs = new ClientHandshake({
    host: url.host,
    target: (url.pathname || '/') + url.search,
    protocols,
    origin: opts.origin,
    headers: opts.headers,
    perMessageDeflate: opts.perMessageDeflate,
    nonce: randomNonce(),
  });
  const h2 = http2Option(opts.http2);
  if (h2) {
    // Over HTTP/2 when the server offers it; else HTTP/1.1 (a fresh dial) unless required.
    let fallback: (() => void) | undefined;
    const own = startHttp2(events, url, hs, opts, h2, (ms) => {
      fallback = startClient(url, protocols, { ...opts, http2: false, handshakeTimeout: ms }, events).abort;
    });
    return { url: url.href, abort: () => (fallback ?? own)() };
  }
  const request = hs.request;
  let socket: net.Socket | undefined;
  let cancelDial: (() => void) | undefined;
  /** The attempt at a redirect's target, once one is followed: it has the handshake now. */
  let next: { abort: () => void } | undefined;
  const attempt = new Attempt(events, request.slice(0, -4), opts.signal, () => {
    cancelDial?.();
    socket?.destroy();
  });
  const fail = (err: WebSocketError): void => attempt.fail(err);
  const abort = (): void => (next ? next.abort() : attempt.abort());
  const timeout = opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  if (!attempt.start(timeout)) return { url: url.href, abort };
  try {
    // A bad proxy URL throws here, as a bad URL does.
    cancelDial = dial(url, opts, (err, s) => {
      if (err || !s) return fail(err ?? new HandshakeError(ErrorCode.HandshakeNetwork, 'connection failed'));
      if (attempt.done) return void s.destroy();
      socket = s;
      s.write(request);
      readResponse(s, hs, opts.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE, {
        head: (response) => attempt.tell(response),
        fail,
        decided(d) {
          attempt.settle();
          const settings = resolveSettings(opts);
          const codec = d.deflate ? new NodeDeflateCodec(d.deflate, hs.deflateOptions ?? {}) : undefined;
          const agreement = { protocol: d.protocol, extensions: d.extensions, codec, settings, heartbeat: heartbeatInterval(opts.heartbeat, false) };
          events.open(s, d.rest, agreement);
        },
        refused(res, body) {
          // Hook (dial/redirect.ts): a redirect followed when asked to; else the refusal.
          if (opts.followRedirects && !attempt.done) {
            const max = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
            let hop;
            try {
              hop = nextHop(url, res, max, opts.headers);
            } catch (e) {
              return fail(e as WebSocketError);
            }
            if (hop) {
              attempt.settle();
              s.destroy();
              events.redirect?.(hop.url.href, res.status);
              try {
                next = startClient(hop.url, protocols, {
                  ...opts,
                  headers: hop.headers,
                  maxRedirects: max - 1,
                  // The whole chain shares one handshake timeout.
                  handshakeTimeout: Math.max(1, timeout - (Date.now() - started)),
                }, events);
              } catch (e) {
                events.fail(e as WebSocketError);
              }
              return;
            }
          }
          fail(hs.refused(res, body));
        },
      });
    });
  } catch (err) {
    attempt.settle();
    throw err;
  }
  return { url: url.href, abort };
}

/**
 * Reads the server's answer to the request on `s` and has the core judge it: a 101 it
 * accepts goes to `decided` (the socket's own listeners are off by then), a refusal to
 * `refused` once its body is read (to `fail` when there is no `refused`), anything else to `fail`.
 */
export function readResponse(
  s: net.Socket,
  hs: ClientHandshake,
  maxHeaderSize: number,
  to: {
    head(response: string): void;
    fail(err: WebSocketError): void;
    decided(d: Extract<ClientDecision, { kind: 'open' }>): void;
    refused?(response: ResponseHead, body: string): void;
  },
): void {
  const reader = new HeadReader(maxHeaderSize);
  /** The response's first bytes, until they show a status line can follow. */
  let start: Buffer | undefined = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    if (start !== undefined) {
      start = Buffer.concat([start, chunk.subarray(0, 12)]);
      if (!couldBeStatusLine(start)) {
        to.head(start.toString('latin1'));
        to.fail(new HandshakeError(ErrorCode.HandshakeMalformed, `not an HTTP response: ${JSON.stringify(start.toString('latin1'))}`));
        return;
      }
      if (start.length >= 12) start = undefined;
    }
    const r = reader.push(chunk);
    if (r.kind === 'more') return;
    if (r.kind === 'malformed') {
      to.fail(new HandshakeError(ErrorCode.HandshakeMalformed, 'response lines must end with CRLF'));
      return;
    }
    if (r.kind === 'too-large') {
      to.fail(new HandshakeError(ErrorCode.HandshakeHeadersTooLarge, `response head over ${maxHeaderSize} bytes`));
      return;
    }
    s.off('data', onData);
    to.head(r.head);
    const d = hs.receiveHead(r.head, r.rest);
    if (d.kind === 'fail') {
      to.fail(d.error);
      return;
    }
    s.off('close', onClose);
    s.off('error', onError);
    if (d.kind === 'refused') {
      // The body is read to its end, so the server's close is no network error now.
      s.on('error', ignoreError);
      void readErrorBody(s, d.rest, d.response.headers).then((body) =>
        to.refused ? to.refused(d.response, body) : to.fail(hs.refused(d.response, body)),
      );
      return;
    }
    to.decided(d);
  };
  const onError = (err: Error): void =>
    to.fail(new HandshakeError(ErrorCode.HandshakeNetwork, `connection failed: ${err.message}`, { cause: err }));
  const onClose = (): void => to.fail(new HandshakeError(ErrorCode.HandshakeNetwork, 'the server closed the connection during the handshake'));
  s.on('data', onData);
  s.on('error', onError);
  s.on('close', onClose);
}


function ignoreError(): void {}
