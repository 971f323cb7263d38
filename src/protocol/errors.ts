import { CloseCode } from './constants.js';

/**
 * Stable error codes. Each one either closes a connection with `closeCode`, answers a
 * handshake with HTTP `status`, or is thrown by the API (neither).
 */
export const ErrorCode = {
  // Framing (RFC 6455 §5): the connection fails with the given close code.
  InvalidOpcode: 'WS_ERR_INVALID_OPCODE',
  UnexpectedRsv: 'WS_ERR_UNEXPECTED_RSV',
  ExpectedMask: 'WS_ERR_EXPECTED_MASK',
  UnexpectedMask: 'WS_ERR_UNEXPECTED_MASK',
  InvalidLength: 'WS_ERR_INVALID_LENGTH',
  ControlTooLong: 'WS_ERR_CONTROL_FRAME_TOO_LONG',
  FragmentedControl: 'WS_ERR_FRAGMENTED_CONTROL_FRAME',
  UnexpectedContinuation: 'WS_ERR_UNEXPECTED_CONTINUATION',
  ExpectedContinuation: 'WS_ERR_EXPECTED_CONTINUATION',
  InvalidUtf8: 'WS_ERR_INVALID_UTF8',
  InvalidCompressedData: 'WS_ERR_INVALID_COMPRESSED_DATA',
  InvalidClosePayload: 'WS_ERR_INVALID_CLOSE_PAYLOAD',
  InvalidCloseCode: 'WS_ERR_INVALID_CLOSE_CODE',
  InvalidCloseReason: 'WS_ERR_INVALID_CLOSE_REASON',
  MessageTooBig: 'WS_ERR_MESSAGE_TOO_BIG',
  Internal: 'WS_ERR_INTERNAL',
  // Connection lifecycle.
  Abnormal: 'WS_ERR_ABNORMAL_CLOSURE',
  HeartbeatTimeout: 'WS_ERR_HEARTBEAT_TIMEOUT',
  CloseTimeout: 'WS_ERR_CLOSE_TIMEOUT',
  InvalidState: 'WS_ERR_INVALID_STATE',
  InvalidArgument: 'WS_ERR_INVALID_ARGUMENT',
  // Topics across processes (ws13/redis): a publish the broker could not carry.
  BrokerUnavailable: 'WS_ERR_BROKER_UNAVAILABLE',
  // Topic limits (maxTopicLength, maxTopicsPerSocket): thrown by subscribe and publish.
  TopicTooLong: 'WS_ERR_TOPIC_TOO_LONG',
  TooManyTopics: 'WS_ERR_TOO_MANY_TOPICS',
  // The reconnecting client's queue of messages sent while disconnected is full.
  QueueFull: 'WS_ERR_QUEUE_FULL',
  // Server side of the opening handshake (RFC 6455 §4.2): answered with `status`.
  BadRequest: 'WS_ERR_BAD_REQUEST',
  MethodNotAllowed: 'WS_ERR_METHOD_NOT_ALLOWED',
  UpgradeRequired: 'WS_ERR_UPGRADE_REQUIRED',
  InvalidConnectionHeader: 'WS_ERR_INVALID_CONNECTION_HEADER',
  InvalidKey: 'WS_ERR_INVALID_KEY',
  UnsupportedVersion: 'WS_ERR_UNSUPPORTED_VERSION',
  ForbiddenOrigin: 'WS_ERR_FORBIDDEN_ORIGIN',
  InvalidSubprotocol: 'WS_ERR_INVALID_SUBPROTOCOL',
  SubprotocolRequired: 'WS_ERR_SUBPROTOCOL_REQUIRED',
  HeadersTooLarge: 'WS_ERR_HEADERS_TOO_LARGE',
  RequestTimeout: 'WS_ERR_REQUEST_TIMEOUT',
  NotFound: 'WS_ERR_NOT_FOUND',
  Rejected: 'WS_ERR_REJECTED',
  /** The client closed its side before the 101 could be sent (no status: nothing is answered). */
  ClientGone: 'WS_ERR_CLIENT_GONE',
  /** An extended CONNECT (RFC 8441) for a `:protocol` other than websocket: 501. */
  UnsupportedProtocol: 'WS_ERR_UNSUPPORTED_PROTOCOL',
  // Client side of the opening handshake (RFC 6455 §4.1).
  HandshakeStatus: 'WS_ERR_HANDSHAKE_STATUS',
  HandshakeUpgrade: 'WS_ERR_HANDSHAKE_UPGRADE',
  HandshakeConnection: 'WS_ERR_HANDSHAKE_CONNECTION',
  HandshakeAccept: 'WS_ERR_HANDSHAKE_ACCEPT',
  HandshakeProtocol: 'WS_ERR_HANDSHAKE_PROTOCOL',
  HandshakeExtension: 'WS_ERR_HANDSHAKE_EXTENSION',
  HandshakeMalformed: 'WS_ERR_HANDSHAKE_MALFORMED',
  HandshakeHeadersTooLarge: 'WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE',
  HandshakeTimeout: 'WS_ERR_HANDSHAKE_TIMEOUT',
  HandshakeAborted: 'WS_ERR_HANDSHAKE_ABORTED',
  HandshakeNetwork: 'WS_ERR_HANDSHAKE_NETWORK',
  InvalidUrl: 'WS_ERR_INVALID_URL',
  /** HTTP/2 was required but the server did not negotiate it or advertise extended CONNECT (RFC 8441 §3). */
  Http2Unavailable: 'WS_ERR_HTTP2_UNAVAILABLE',
  // Client options: a request header the handshake owns; dialing (redirects, proxies).
  ReservedHeader: 'WS_ERR_RESERVED_HEADER',
  TooManyRedirects: 'WS_ERR_TOO_MANY_REDIRECTS',
  RedirectRefused: 'WS_ERR_REDIRECT_REFUSED',
  ProxyRefused: 'WS_ERR_PROXY_REFUSED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every ws13 error: a stable `code`, and the close code or HTTP status it leads to. */
export class WebSocketError extends Error {
  override name = 'WebSocketError';
  readonly code: ErrorCode;
  /** The close code sent to the peer when this error fails a connection. */
  readonly closeCode: number | undefined;
  /** The HTTP status this error answers (server) or received (client) in a handshake. */
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, opts: { closeCode?: number; status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.closeCode = opts.closeCode;
    this.status = opts.status;
  }
}

// The kinds users catch, as Python `websockets` has them (InvalidHandshake, ProtocolError,
// PayloadTooBig, ConnectionClosed): every error is a WebSocketError with a stable `code`;
// these subclasses only add the kind. `HandshakeError` (below) is the fourth.

/** The peer broke RFC 6455/7692: the connection fails with 1002, or 1007 for bad data. */
export class ProtocolError extends WebSocketError {
  override name = 'ProtocolError';
}

/** A limit was crossed (message size, inflated size, head size). */
export class LimitError extends WebSocketError {
  override name = 'LimitError';
}

/** The transport failed or went silent (network error, heartbeat, close timeout). */
export class NetworkError extends WebSocketError {
  override name = 'NetworkError';
}

/** Makes the error that fails a connection with a protocol error (1002). */
export function protocolError(code: ErrorCode, message: string): ProtocolError {
  return new ProtocolError(code, message, { closeCode: CloseCode.ProtocolError });
}

/** A message over `maxPayload`, on the wire or once inflated: the connection fails with 1009. */
export function messageTooBig(message: string): LimitError {
  return new LimitError(ErrorCode.MessageTooBig, message, { closeCode: CloseCode.MessageTooBig });
}

/**
 * A failed opening handshake. On the server it says how to answer (`status`, `headers`,
 * `body`); on the client it carries what the server answered (body at most 4 KiB).
 */
export class HandshakeError extends WebSocketError {
  override name = 'HandshakeError';
  /** Response headers: to send (server) or received (client, lower-case names). */
  readonly headers: Record<string, string>;
  readonly body: string;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { status?: number; headers?: Record<string, string>; body?: string; cause?: unknown } = {},
  ) {
    super(code, message, opts);
    this.headers = opts.headers ?? {};
    this.body = opts.body ?? '';
  }
}
