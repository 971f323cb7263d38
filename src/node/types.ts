// The public WebSocket's plain types, apart so that events.ts can use them without a loop.
import type { ConnectionSettings } from './options.js';

export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'blob';
export type MessageData = string | Buffer | ArrayBuffer | Blob;

export interface SendOptions {
  /** Send as a binary message even for a string, or as text for bytes (which must be UTF-8). */
  binary?: boolean;
  /** False to send a fragment; the message continues with the next sends (RFC 6455 §5.4). */
  fin?: boolean;
  /** False to send this message uncompressed when permessage-deflate is in use. */
  compress?: boolean;
}

/** Options of `WebSocket.fromStream`. */
export interface StreamOptions extends ConnectionSettings {
  /** Which end this is: a client masks what it sends, a server must not (RFC 6455 §5.1). */
  role: 'client' | 'server';
  /** The subprotocol the handshake agreed on, if any. */
  protocol?: string;
  /** For `ws.url`: the URL or request target, if any. */
  url?: string;
  /** Bytes that came after the handshake, before the stream's own: read first. */
  head?: Uint8Array;
}
