// The closing handshake's data (RFC 6455 §5.5.1, §7): the connection's states, and the
// checks and encoding of a close frame's body.
import { CloseCode, isValidCloseCode } from './constants.js';
import { ErrorCode, WebSocketError } from './errors.js';

/** A close frame's content. `code` is 1005 when the frame carried none. */
export interface CloseFrame {
  readonly code: number;
  readonly reason: string;
}

/** The connection's state (RFC 6455 §4.1 _The WebSocket Connection is established_ onwards). */
export type ConnectionState =
  | { readonly kind: 'open' }
  /** We sent a close frame and wait for the peer's. */
  | { readonly kind: 'closing'; readonly sent: CloseFrame }
  /** No more frames either way: the closing handshake completed, or the connection failed. */
  | {
      readonly kind: 'closed';
      readonly sent: CloseFrame | undefined;
      readonly received: CloseFrame | undefined;
      /** The peer's close frame came before ours (only meaningful when both exist). */
      readonly receivedFirst: boolean;
      readonly error: WebSocketError | undefined;
    };

/** The open state carries nothing: one object serves every connection. */
export const OPEN: ConnectionState = Object.freeze({ kind: 'open' });

export const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();

/**
 * Checks the arguments of a close (RFC 6455 §7.4, §5.5: a control payload is at most 125
 * bytes, so a reason at most 123). Returns the reason's UTF-8 bytes.
 * @throws WebSocketError WS_ERR_INVALID_CLOSE_CODE, WS_ERR_INVALID_CLOSE_REASON
 */
export function validateClose(code: number | undefined, reason: string): Uint8Array {
  if (code === undefined) {
    if (reason !== '') throw new WebSocketError(ErrorCode.InvalidCloseReason, 'a close reason needs a close code');
    return EMPTY;
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new WebSocketError(ErrorCode.InvalidCloseCode, `close code ${code} may not be sent`);
  }
  const bytes = textEncoder.encode(reason);
  if (bytes.length > 123) throw new WebSocketError(ErrorCode.InvalidCloseReason, 'close reason longer than 123 bytes');
  return bytes;
}

/** A close frame's body: no body for 1005 (RFC 6455 §7.1.5), else the code and the reason. */
export function closeBody(code: number, reason: Uint8Array): Uint8Array {
  if (code === CloseCode.NoStatus) return EMPTY;
  const body = new Uint8Array(2 + reason.length);
  body[0] = code >> 8;
  body[1] = code & 0xff;
  body.set(reason, 2);
  return body;
}

/** The reason sent when `err` fails the connection: none for 1011 (§7.4.1), at most 123 bytes (§5.5). */
export function failureReason(err: WebSocketError, code: number): Uint8Array {
  return code === CloseCode.InternalError ? EMPTY : truncateUtf8(textEncoder.encode(err.message), 123);
}

/** Cuts UTF-8 bytes to at most `max`, at a character boundary. */
function truncateUtf8(b: Uint8Array, max: number): Uint8Array {
  if (b.length <= max) return b;
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}
