/** Frame opcodes (RFC 6455 §5.2, §11.8). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Close status codes (RFC 6455 §7.4.1, IANA registry). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Never on the wire: the close frame had no status code. */
  NoStatus: 1005,
  /** Never on the wire: the connection ended without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The GUID appended to the key for Sec-WebSocket-Accept (RFC 6455 §1.3, §4.2.2). */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The only protocol version (RFC 6455 §4.1, §11.3.5). */
export const WEBSOCKET_VERSION = '13';

/** Control frames carry at most 125 bytes (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4.1, §7.4.2):
 * 1000–1003 and 1007–1014 are defined, 1004 is reserved, 1005/1006/1015 must never be sent,
 * 3000–4999 belong to libraries and applications.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
  );
}

/** Role of an endpoint: it decides who masks (RFC 6455 §5.1) and who closes TCP first (§7.1.1). */
export type Role = 'client' | 'server';
