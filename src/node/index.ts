// ws13: WebSocket (RFC 6455) server and client for Node.js over the I/O-free core in ../protocol.
export { WebSocket } from './websocket.js';
export type { BinaryType, MessageData, SendData, SendOptions, ConnectionSettings, StreamOptions } from './websocket.js';
export { WebSocketServer } from './server.js';
export type { ServerOptions, UpgradeRequest, Refusal } from './server.js';
export { LocalBroker } from './topics.js';
export type { Broker, BrokerHandler, PublishOptions } from './topics.js';
export type { ClientOptions } from './client.js';
export { WsEvent, WsMessageEvent, WsCloseEvent, WsErrorEvent, CloseEvent } from './events.js';
export type { WebSocketEventMap, CloseEventInit, EventCallback, ListenerOptions } from './events.js';
export { BrowserWebSocket } from './browser.js';
export type { BrowserSendData } from './browser.js';
export { WebSocketStream, WebSocketStreamError } from './websocket-stream.js';
export type { WebSocketStreamOptions, WebSocketOpenInfo, WebSocketCloseInfo } from './websocket-stream.js';
export { ErrorCode, WebSocketError, HandshakeError } from '../protocol/errors.js';
export { CloseCode, Opcode } from '../protocol/constants.js';
export { acceptKey } from '../protocol/handshake/http1.js';
