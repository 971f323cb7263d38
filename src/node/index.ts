// ws13: WebSocket (RFC 6455) server and client for Node.js over the I/O-free core in ../protocol.
export { WebSocket } from './websocket.js';
export type { BinaryType, MessageData, SendData, SendOptions, ConnectionSettings, StreamOptions } from './websocket.js';
export { WebSocketServer } from './server.js';
export type { ServerOptions, UpgradeRequest, Refusal } from './server.js';
export { LocalBroker } from './topics.js';
export type { Broker, BrokerHandler, PublishOptions } from './topics.js';
export type { ClientOptions } from './client.js';
export { WsEvent, WsMessageEvent, WsCloseEvent, WsErrorEvent } from './events.js';
export { ErrorCode, WebSocketError, HandshakeError } from '../protocol/errors.js';
export { CloseCode, Opcode } from '../protocol/constants.js';
export { acceptKey } from '../protocol/handshake/http1.js';
export type { Http2ConnectOptions } from './http2/client.js';
export { http2Stats } from './http2/server.js';
export type { Http2Stats } from './http2/server.js';
