// The client's options and what a dial reports, apart from the dialing code so that the
// HTTP/2 dialer (http2/client.ts) can name them without importing client.ts.
import type http2 from 'node:http2';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { WebSocketError } from '../protocol/errors.js';
import type { HeaderInit } from '../protocol/handshake/http1.js';
import type { NodeDeflateCodec } from './deflate.js';
import type { ConnectionSettings, ResolvedSettings } from './options.js';
import type { ProxyOptions } from './dial/proxy.js';

/** The `http2` client option: `true` to try HTTP/2 and fall back, or these details. */
export interface Http2ConnectOptions {
  /** Fail with WS_ERR_HTTP2_UNAVAILABLE instead of falling back to HTTP/1.1. Default false. */
  require?: boolean;
  /**
   * An HTTP/2 connection of the caller's (`http2.connect(…)`) to open the stream on; it is
   * kept open here. By default one per origin is dialed, shared, and closed when its last
   * WebSocket closes.
   */
  connection?: http2.ClientHttp2Session;
  /** The same as `connection`, named after Node's `ClientHttp2Session` (used when `connection` is not given). */
  session?: http2.ClientHttp2Session;
}

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
  /** The local address to connect from (the TCP source address), on a machine with several. */
  localAddress?: string;
  /** Ping when idle and drop a server that stops answering; off by default on clients. */
  heartbeat?: { interval?: number } | false;
  /**
   * Open the WebSocket as an HTTP/2 stream (RFC 8441) when the server offers it, else over
   * HTTP/1.1; `{ require: true }` fails instead, `{ connection }` uses that HTTP/2 connection. See http2/client.ts.
   */
  http2?: boolean | Http2ConnectOptions;
  /**
   * Follow 301/302/303/307/308 answers to the handshake (default false: browsers never follow
   * redirects for WebSockets). Authorization, Cookie and a hand-set Host are not sent to
   * another origin; a redirect from wss: to ws: is refused. Emits 'redirect' (url, status).
   */
  followRedirects?: boolean;
  /** With followRedirects: how many redirects at most (default 5); past it, WS_ERR_TOO_MANY_REDIRECTS. */
  maxRedirects?: number;
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
  open(socket: Duplex, rest: Uint8Array, agreement: Agreement): void;
  fail(err: WebSocketError): void;
  /** A redirect is being followed (followRedirects): the next URL and the 3xx status. */
  redirect?(url: string, status: number): void;
}

