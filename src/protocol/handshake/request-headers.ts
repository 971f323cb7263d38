// Which request headers a client's user may set, and how they meet the ones the handshake
// writes itself. Host and Origin replace ws13's own; every other allowed header is added.
// The headers that carry the handshake's proof and negotiation are refused: a user's copy
// would either duplicate ours (a server answers 400) or break the proof (RFC 6455 §4.1).
import { ErrorCode, WebSocketError } from '../errors.js';
import { headerPairs, type HeaderInit } from './http1.js';

/**
 * Header names (lower case) a user may not set, with the option that sets each instead.
 * RFC 6455 §4.1: the client MUST send Upgrade, Connection, a fresh random Sec-WebSocket-Key
 * and Sec-WebSocket-Version 13; a GET upgrade carries no body (RFC 9110 §9.3.1).
 */
export const RESERVED_REQUEST_HEADERS: Readonly<Record<string, string>> = {
  upgrade: 'always "websocket"',
  connection: 'always "Upgrade"',
  'sec-websocket-key': 'a fresh random key per attempt',
  'sec-websocket-version': 'always 13',
  'sec-websocket-accept': 'a response header',
  'sec-websocket-protocol': 'use the protocols option',
  'sec-websocket-extensions': 'use the perMessageDeflate option',
  'content-length': 'the handshake has no body',
  'transfer-encoding': 'the handshake has no body',
};

/** The extra headers, split into the two that replace ours and the rest. */
export interface RequestHeaders {
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly extra: ReadonlyArray<readonly [string, string]>;
}

/**
 * Sorts a user's request headers: `Host` and `Origin` (once each) replace the handshake's,
 * the reserved ones are refused, the others are kept in order.
 * @throws WebSocketError WS_ERR_RESERVED_HEADER for a reserved header or a repeated Host/Origin
 */
export function splitRequestHeaders(headers: HeaderInit | undefined): RequestHeaders {
  let host: string | undefined;
  let origin: string | undefined;
  const extra: Array<readonly [string, string]> = [];
  for (const pair of headerPairs(headers)) {
    const name = pair[0].toLowerCase();
    const why = RESERVED_REQUEST_HEADERS[name];
    if (why !== undefined) {
      throw new WebSocketError(ErrorCode.ReservedHeader, `the ${pair[0]} header cannot be set (${why})`);
    }
    if (name === 'host' || name === 'origin') {
      // RFC 9110 §7.2: a request with more than one Host field is answered 400.
      if ((name === 'host' ? host : origin) !== undefined) {
        throw new WebSocketError(ErrorCode.ReservedHeader, `the ${pair[0]} header is given twice`);
      }
      if (name === 'host') host = pair[1];
      else origin = pair[1];
      continue;
    }
    extra.push(pair);
  }
  return { host, origin, extra };
}
