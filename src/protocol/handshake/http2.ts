// The HTTP/2 opening handshake (RFC 8441), both roles, free of I/O: an extended CONNECT
// with `:protocol: websocket` instead of a GET with Upgrade, 200 instead of 101, and no
// Sec-WebSocket-Key/Accept. Subprotocol and extension negotiation are shared with HTTP/1.1
// (negotiate.ts, and server.ts for the policy); the host moves HEADERS and DATA frames.
import { WEBSOCKET_VERSION } from '../constants.js';
import { ErrorCode, HandshakeError, WebSocketError } from '../errors.js';
import {
  FIELD_VALUE,
  acceptKey,
  headerPairs,
  isValidKey,
  refusalError,
  type HeaderInit,
  type HeaderList,
  type UpgradeOffer,
} from './http1.js';
import { isToken, parseExtensions, parseSubprotocols } from './negotiate.js';

/** The `:protocol` value that bootstraps a WebSocket (RFC 8441 §4, the HTTP Upgrade token). */
export const WEBSOCKET_PROTOCOL = 'websocket';

/** An HTTP/2 request: its pseudo-header fields apart, regular fields (lower-case) in order. */
export interface ConnectRequest {
  readonly method: string | undefined;
  readonly protocol: string | undefined;
  readonly scheme: string | undefined;
  readonly path: string | undefined;
  readonly authority: string | undefined;
  /** Regular header fields, without pseudo-headers. */
  readonly headers: HeaderList;
}

/**
 * Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2: an endpoint MUST NOT generate
 * them); the policy's and the hook's headers are shared with HTTP/1.1, so they are dropped here.
 */
const CONNECTION_SPECIFIC = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te']);

/**
 * Checks an extended CONNECT (RFC 8441 §4–5) and returns what it offers. The key is '' unless
 * the client sent a valid one anyway (some send it; the server may answer an Accept).
 * @throws HandshakeError with the status to answer: 405 (not CONNECT), 501 (another
 *   `:protocol`), 400 (pseudo-headers or fields malformed), 426 (version other than 13).
 */
export function checkConnectRequest(req: ConnectRequest): UpgradeOffer {
  const h = req.headers;
  if (req.method !== 'CONNECT' || req.protocol === undefined) {
    throw refusalError(405, ErrorCode.MethodNotAllowed, 'a WebSocket over HTTP/2 is an extended CONNECT', { allow: 'CONNECT' });
  }
  // RFC 8441 §4: the :protocol value is a token of the HTTP Upgrade Token Registry; only
  // "websocket" (RFC 8441 §5) is ours. Tokens compare case-insensitively (RFC 9110 §7.8).
  if (req.protocol.toLowerCase() !== WEBSOCKET_PROTOCOL) {
    throw refusalError(501, ErrorCode.UnsupportedProtocol, `unsupported :protocol ${JSON.stringify(req.protocol)}`);
  }
  // RFC 8441 §4: with :protocol, :scheme and :path MUST be included, and :authority as in
  // every CONNECT (RFC 9113 §8.5).
  if (!req.scheme || !req.path || !req.authority) {
    throw refusalError(400, ErrorCode.BadRequest, 'an extended CONNECT needs :scheme, :path and :authority');
  }
  if (req.path[0] !== '/') throw refusalError(400, ErrorCode.BadRequest, ':path must be an absolute path');
  // RFC 8441 §5 keeps RFC 6455 §4.2.1 item 6: only version 13; otherwise 426 naming ours (§4.2.2 item 4).
  const versions = h.all('sec-websocket-version');
  if (versions.length !== 1 || versions[0] !== WEBSOCKET_VERSION) {
    throw refusalError(426, ErrorCode.UnsupportedVersion, 'unsupported WebSocket version: use 13', {
      'sec-websocket-version': WEBSOCKET_VERSION,
    });
  }
  const protocols = parseSubprotocols(h.all('sec-websocket-protocol'));
  if (!protocols) throw refusalError(400, ErrorCode.InvalidSubprotocol, 'malformed Sec-WebSocket-Protocol header');
  const extensions = parseExtensions(h.all('sec-websocket-extensions'));
  if (!extensions) throw refusalError(400, ErrorCode.BadRequest, 'malformed Sec-WebSocket-Extensions header');
  const origins = h.all('origin');
  if (origins.length > 1) throw refusalError(400, ErrorCode.BadRequest, 'repeated Origin header');
  // RFC 8441 §5: Sec-WebSocket-Key and Accept are not used; a key that is there and valid is kept.
  const keys = h.all('sec-websocket-key');
  const key = keys.length === 1 && isValidKey(keys[0]!) ? keys[0]! : '';
  return { key, origin: origins[0], protocols, extensions };
}

/**
 * The fields of the 200 that accepts (RFC 8441 §5), `:status` excluded: subprotocol and
 * extensions when negotiated, an Accept when the client sent a key, then `extra`.
 * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for a header name or value that cannot be sent
 */
export function formatConnectAccept(
  key: string,
  protocol: string | undefined,
  extensions: string | undefined,
  extra?: HeaderInit,
): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [];
  if (key) out.push(['sec-websocket-accept', acceptKey(key)]);
  if (protocol) out.push(['sec-websocket-protocol', protocol]);
  if (extensions) out.push(['sec-websocket-extensions', extensions]);
  return out.concat(http2Fields(extra));
}

/**
 * Header fields for an HTTP/2 response: names lower-cased (RFC 9113 §8.2.1), connection-
 * specific ones dropped (§8.2.2), pseudo-headers refused.
 * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for a name or value that cannot be sent
 */
export function http2Fields(headers: HeaderInit | undefined): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [];
  for (const [k, v] of headerPairs(headers)) {
    if (!isToken(k) || !FIELD_VALUE.test(v)) throw new WebSocketError(ErrorCode.InvalidArgument, `invalid header ${JSON.stringify(k)}`);
    const name = k.toLowerCase();
    if (!CONNECTION_SPECIFIC.has(name)) out.push([name, v]);
  }
  return out;
}

// ── Client side ──

export interface ConnectRequestInit {
  /** "https" or "http" (the scheme of the WebSocket URL's HTTP equivalent, RFC 8441 §4). */
  readonly scheme: string;
  /** host[:port] of the URL. */
  readonly authority: string;
  /** Path and query. */
  readonly path: string;
  readonly protocols?: readonly string[] | undefined;
  /** The Sec-WebSocket-Extensions offer, if any. */
  readonly extensions?: string | undefined;
  readonly origin?: string | undefined;
  readonly headers?: HeaderInit | undefined;
}

/**
 * The extended CONNECT's fields, pseudo-headers first (RFC 9113 §8.3): what a client sends
 * once the server advertised SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3–4).
 * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for an extra header that cannot be sent
 */
export function formatConnectRequest(r: ConnectRequestInit): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [
    [':method', 'CONNECT'],
    [':protocol', WEBSOCKET_PROTOCOL],
    [':scheme', r.scheme],
    [':authority', r.authority],
    [':path', r.path || '/'],
    ['sec-websocket-version', WEBSOCKET_VERSION],
  ];
  if (r.protocols && r.protocols.length > 0) out.push(['sec-websocket-protocol', r.protocols.join(', ')]);
  if (r.extensions) out.push(['sec-websocket-extensions', r.extensions]);
  if (r.origin !== undefined) out.push(['origin', r.origin]);
  return out.concat(http2Fields(r.headers));
}

/** Whether an HTTP/2 answer to an extended CONNECT accepts: a 2xx (RFC 9113 §8.5, RFC 8441 §5). */
export function isConnectSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

/** The failure for an answer that is not 2xx, with what the server sent. */
export function connectRefused(status: number, headers: HeaderList, body: string): HandshakeError {
  return new HandshakeError(ErrorCode.HandshakeStatus, `server answered ${status}`, { status, headers: headers.toObject(), body });
}
