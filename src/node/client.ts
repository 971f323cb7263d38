import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { ErrorCode, HandshakeError, WebSocketError } from '../protocol/errors.js';
import { HeadReader, couldBeStatusLine, type HeaderInit } from '../protocol/handshake/http1.js';
import { ClientHandshake } from '../protocol/handshake/client.js';
import { NodeDeflateCodec } from './deflate.js';
import { http2Option, startHttp2, type Http2ConnectOptions } from './http2/client.js';
import type { ConnectionSettings, WebSocket } from './websocket.js';

export interface ClientOptions extends ConnectionSettings {
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
   * Open the WebSocket as an HTTP/2 stream (RFC 8441) when the server offers it, else over
   * HTTP/1.1; `{ require: true }` fails instead, `{ session }` uses that session. See http2/client.ts.
   */
  http2?: boolean | Http2ConnectOptions;
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
  const h2 = http2Option(opts.http2);
  if (h2) {
    startHttp2(ws, url, hs, opts, h2, (ms) => startClient(ws, url, protocols, { ...opts, http2: false, handshakeTimeout: ms }));
    return url.href;
  }
  const request = hs.request;
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (secure ? 443 : 80));
  const maxHeaderSize = opts.maxHeaderSize ?? 16384;

  let socket: net.Socket | undefined;
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
  timer = setTimeout(
    () => fail(new HandshakeError(ErrorCode.HandshakeTimeout, 'the opening handshake timed out')),
    opts.handshakeTimeout ?? 10000,
  );

  const s: net.Socket = secure
    ? tls.connect({
        host,
        port,
        ...(net.isIP(host) ? {} : { servername: host }),
        ALPNProtocols: ['http/1.1'],
        ...opts.tls,
      })
    : net.connect({ host, port });
  socket = s;
  s.setNoDelay(true);
  s.once(secure ? 'secureConnect' : 'connect', () => s.write(request));

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
      readBody(s, d.rest, (body) => fail(hs.refused(d.response, body)));
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
  return url.href;
}

/** Reads at most 4 KiB of an error response's body: until that much, the end, or 500 ms. */
function readBody(s: net.Socket, first: Uint8Array, then: (body: string) => void): void {
  const parts: Buffer[] = [Buffer.from(first)];
  let size = first.length;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(t);
    s.off('data', onData);
    s.off('end', finish);
    s.off('close', finish);
    then(Buffer.concat(parts).subarray(0, MAX_ERROR_BODY).toString('utf8'));
  };
  const onData = (c: Buffer): void => {
    parts.push(c);
    size += c.length;
    if (size >= MAX_ERROR_BODY) finish();
  };
  const t = setTimeout(finish, 500);
  if (size >= MAX_ERROR_BODY) return finish();
  s.on('data', onData);
  s.on('end', finish);
  s.on('close', finish);
}

function ignoreError(): void {}
