// The client's opening handshake over TCP or TLS (RFC 6455 §4.1): the URL checked, a
// socket dialled (`dial`), the request sent, the response read (`readResponse`) and judged
// by the core (protocol/handshake/client.ts). The WebSocket hears of it through `DialEvents`.
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { ErrorCode, HandshakeError, WebSocketError } from '../protocol/errors.js';
import { HeadReader, couldBeStatusLine, type HeaderInit } from '../protocol/handshake/http1.js';
import { ClientHandshake, type ClientDecision } from '../protocol/handshake/client.js';
import { NodeDeflateCodec } from './deflate.js';
import {
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_HEADER_SIZE,
  heartbeatInterval,
  resolveSettings,
  type ConnectionSettings,
  type ResolvedSettings,
} from './options.js';

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
}

/** What the server agreed to, for the open connection. */
export interface Agreement {
  readonly protocol: string;
  readonly extensions: string;
  readonly codec: NodeDeflateCodec | undefined;
  readonly settings: ResolvedSettings;
  /** Heartbeat interval in ms, 0 for none. */
  readonly heartbeat: number;
}

/** What a dial tells the WebSocket that started it: each at most once, `open` or `fail`. */
export interface DialEvents {
  /** The handshake as it went over the wire (heads without the blank line), for tools. */
  upgrade(handshake: { request: string; response: string | undefined }): void;
  /** The server's 101 was checked: `rest` holds the bytes that came after it. */
  open(socket: net.Socket, rest: Uint8Array, agreement: Agreement): void;
  fail(err: WebSocketError): void;
}

/** Largest error response body kept, in bytes. */
const MAX_ERROR_BODY = 4096;
/** Time given to an error response's body, in ms. */
const ERROR_BODY_TIME = 500;

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

/** Opens the TCP or TLS connection to a ws: or wss: URL; `ready` runs once it can carry the request. */
export function dial(url: URL, opts: ClientOptions, ready: () => void): net.Socket {
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (secure ? 443 : 80));
  const s = secure
    ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ALPNProtocols: ['http/1.1'], ...opts.tls })
    : net.connect({ host, port });
  s.setNoDelay(true);
  s.once(secure ? 'secureConnect' : 'connect', ready);
  return s;
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
  let socket: net.Socket | undefined;
  let done = false;
  // The handshake as it went over the wire: once, at the response head or at the failure before it.
  let told = false;
  const tell = (response: string | undefined): void => {
    if (told) return;
    told = true;
    events.upgrade({ request: request.slice(0, -4), response });
  };
  let timer: NodeJS.Timeout | undefined;
  const cleanup = (): void => {
    done = true;
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  };
  const fail = (err: WebSocketError): void => {
    if (done) return;
    tell(undefined);
    cleanup();
    socket?.destroy();
    events.fail(err);
  };
  const onAbort = (): void => fail(new HandshakeError(ErrorCode.HandshakeAborted, 'the handshake was aborted'));
  const abort = (): void => {
    if (done) return;
    tell(undefined);
    cleanup();
    socket?.destroy();
    // As browsers (and ws) do: 'error' and 'close' come after close() returned.
    process.nextTick(() => events.fail(new HandshakeError(ErrorCode.HandshakeAborted, 'closed before the connection was established')));
  };

  if (opts.signal?.aborted) {
    process.nextTick(onAbort);
    return { url: url.href, abort };
  }
  opts.signal?.addEventListener('abort', onAbort);
  timer = setTimeout(
    () => fail(new HandshakeError(ErrorCode.HandshakeTimeout, 'the opening handshake timed out')),
    opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
  );
  const s = (socket = dial(url, opts, () => s.write(request)));
  readResponse(s, hs, opts.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE, {
    head: tell,
    fail,
    decided(d) {
      cleanup();
      const settings = resolveSettings(opts);
      const codec = d.deflate ? new NodeDeflateCodec(d.deflate, hs.deflateOptions ?? {}) : undefined;
      const agreement = { protocol: d.protocol, extensions: d.extensions, codec, settings, heartbeat: heartbeatInterval(opts.heartbeat, false) };
      events.open(s, d.rest, agreement);
    },
  });
  return { url: url.href, abort };
}

/**
 * Reads the server's answer to the request on `s` and has the core judge it: a 101 it
 * accepts goes to `decided` (the socket's own listeners are off by then), anything else
 * to `fail` (a refusal after its body is read).
 */
export function readResponse(
  s: net.Socket,
  hs: ClientHandshake,
  maxHeaderSize: number,
  to: {
    head(response: string): void;
    fail(err: WebSocketError): void;
    decided(d: Extract<ClientDecision, { kind: 'open' }>): void;
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
      void readErrorBody(s, d.rest).then((body) => to.fail(hs.refused(d.response, body)));
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

/** Reads at most 4 KiB of an error response's body: until that much, the end, or 500 ms. */
export function readErrorBody(s: net.Socket, first: Uint8Array): Promise<string> {
  return new Promise((resolve) => {
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
      resolve(Buffer.concat(parts).subarray(0, MAX_ERROR_BODY).toString('utf8'));
    };
    const onData = (c: Buffer): void => {
      parts.push(c);
      size += c.length;
      if (size >= MAX_ERROR_BODY) finish();
    };
    const t = setTimeout(finish, ERROR_BODY_TIME);
    if (size >= MAX_ERROR_BODY) return finish();
    s.on('data', onData);
    s.on('end', finish);
    s.on('close', finish);
  });
}

function ignoreError(): void {}
