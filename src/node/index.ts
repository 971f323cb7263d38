// ws13: WebSocket (RFC 6455) server and client for Node.js over the I/O-free core in ../protocol.
export { WebSocket } from './websocket.js';
export type { BinaryType, MessageData, SendData, SendOptions, ConnectionSettings, StreamOptions } from './websocket.js';
export { WebSocketServer } from './server.js';
export type { ServerOptions, UpgradeRequest, UpgradeDecision, Refusal } from './server.js';
export { LocalBroker } from './topics.js';
export type { Broker, BrokerHandler, PublishOptions } from './topics.js';
export type { ClientOptions } from './client.js';
export { WsEvent, WsMessageEvent, WsCloseEvent, WsErrorEvent } from './events.js';
export { ErrorCode, WebSocketError, HandshakeError, ProtocolError, LimitError, NetworkError } from '../protocol/errors.js';
export { CloseCode, Opcode } from '../protocol/constants.js';
export { acceptKey } from '../protocol/handshake/http1.js';
export { ReconnectingWebSocket, RECONNECT_DEFAULTS, backoffDelay, shouldReconnect } from './reconnecting.js';
export type { ReconnectOptions, CloseInfo, EndReason } from './reconnecting.js';
export { CHANNELS } from './diagnostics.js';
export type { ServerStats, BackpressureKind } from './diagnostics.js';
export type { TopicLimits } from './topics.js';
