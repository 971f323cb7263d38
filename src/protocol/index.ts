// ws13/protocol: the I/O-free WebSocket core. No node:* imports: it runs wherever
// Uint8Array does (Node, Deno, Bun, browsers).
export { Opcode, CloseCode, WEBSOCKET_GUID, WEBSOCKET_VERSION, MAX_CONTROL_PAYLOAD, isValidCloseCode } from './constants.js';
export type { Role } from './constants.js';
export { ErrorCode, WebSocketError, HandshakeError, ProtocolError, LimitError, NetworkError } from './errors.js';
export { Utf8Validator, isValidUtf8 } from './utf8.js';
export { applyMask, pooledMaskSource } from './mask.js';
export type { MaskSource } from './mask.js';
export { FrameParser, encodeHeader, encodeMaskedFrame } from './frame.js';
export type { FrameSink } from './frame.js';
export { Connection, prepareFrame, validateClose } from './connection.js';
export type {
  CloseFrame,
  ConnectionHandler,
  ConnectionOptions,
  ConnectionState,
  FrameOutput,
  PreparedFrame,
  WriteCallback,
} from './connection.js';
export {
  acceptKey,
  isValidKey,
  HeaderList,
  HeadReader,
  parseRequestHead,
  parseResponseHead,
  checkUpgradeRequest,
  checkUpgradeResponse,
  couldBeStatusLine,
  formatSwitchingProtocols,
  formatRejection,
  formatUpgradeRequest,
  reject,
  refusalError,
  reasonPhrase,
} from './handshake/http1.js';
export type {
  RequestHead,
  ResponseHead,
  HeadResult,
  UpgradeOffer,
  UpgradeAnswer,
  ClientRequestInit,
  HeaderInit,
} from './handshake/http1.js';
export { ClientHandshake } from './handshake/client.js';
export { BodyReader } from './handshake/body.js';
export { splitRequestHeaders, RESERVED_REQUEST_HEADERS } from './handshake/request-headers.js';
export type { RequestHeaders } from './handshake/request-headers.js';
export type { ClientHandshakeInit, ClientDecision } from './handshake/client.js';
export { negotiate, negotiateConnect, refusal, PendingAccept } from './handshake/server.js';
export type { ServerPolicy, ServerAccept, ServerRefusal, HookAnswer, Transport } from './handshake/server.js';
export {
  WEBSOCKET_PROTOCOL,
  checkConnectRequest,
  formatConnectAccept,
  formatConnectRequest,
  isConnectSuccess,
} from './handshake/http2.js';
export type { ConnectRequest, ConnectRequestInit } from './handshake/http2.js';
export {
  isToken,
  splitList,
  hasToken,
  parseSubprotocols,
  parseExtensions,
  formatExtensions,
  selectSubprotocol,
} from './handshake/negotiate.js';
export type { ExtensionOffer } from './handshake/negotiate.js';
export {
  PMD,
  acceptDeflateOffer,
  formatDeflateOffer,
  checkDeflateAnswer,
  InflateLimitError,
  DEFAULT_DEFLATE_THRESHOLD,
} from './extensions/permessage-deflate.js';
export type { PerMessageDeflateOptions, DeflateParams, DeflateCodec, CodecCallback } from './extensions/permessage-deflate.js';
