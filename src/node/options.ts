// Options of the Node layer and their defaults, resolved once: the server when it is made,
// the client when it dials. Everything else reads the resolved values from here.
import type { MaskSource } from '../protocol/mask.js';
import { DEFAULT_DEFLATE_THRESHOLD, type PerMessageDeflateOptions } from '../protocol/extensions/permessage-deflate.js';

/** Settings of a connection once open, shared by both roles. */
export interface ConnectionSettings {
  /** Largest message accepted, in bytes (default 64 MiB); larger closes with 1009. */
  maxPayload?: number;
  /** How long to wait for the closing handshake and the TCP close, in ms (default 5000). */
  closeTimeout?: number;
  /** Fills 4 mask bytes (client role). For tests; the default draws from a crypto-random pool. */
  maskSource?: MaskSource;
  /** permessage-deflate (RFC 7692): off on servers and on for clients unless set. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * While more than this many bytes wait to go out (default 1 MiB), the connection stops
   * reading, so a peer that sends (pings, say) but never reads is held back by TCP instead
   * of growing our buffer; reading resumes once the transport drains.
   */
  maxBackpressure?: number;
}

export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
export const DEFAULT_CLOSE_TIMEOUT = 5000;
export const DEFAULT_MAX_BACKPRESSURE = 1024 * 1024;
/** Time for the opening handshake, either side (TCP and TLS too, on the client). */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** Largest request or response head, in bytes. */
export const DEFAULT_MAX_HEADER_SIZE = 16_384;
/** Heartbeat interval, when a heartbeat is on. */
export const DEFAULT_HEARTBEAT_INTERVAL = 30_000;
/** Backlog past which a server-side client gets no more broadcasts. */
export const DEFAULT_MAX_BROADCAST_BACKLOG = 8 * 1024 * 1024;

/** A connection's settings with every default filled in (one object, shared by a server's connections). */
export interface ResolvedSettings {
  readonly maxPayload: number;
  readonly closeTimeout: number;
  readonly maxBackpressure: number;
  readonly maskSource: MaskSource | undefined;
  /** permessage-deflate options as given (object form), for the codec. */
  readonly deflate: PerMessageDeflateOptions;
  /** Messages under this many bytes go uncompressed. */
  readonly deflateThreshold: number;
  /**
   * A server's close hook, shared by all its connections (called once, before 'close' is
   * emitted): the server forgets the client, and topics and counters find their server by it.
   */
  readonly onClosed?: (ws: object) => void;
}

/** Messages under this many bytes go uncompressed (`perMessageDeflate.threshold`). */
export function deflateThreshold(pmd: ConnectionSettings['perMessageDeflate']): number {
  return (typeof pmd === 'object' ? pmd.threshold : undefined) ?? DEFAULT_DEFLATE_THRESHOLD;
}

export function resolveSettings(s: ConnectionSettings): ResolvedSettings {
  const deflate = typeof s.perMessageDeflate === 'object' ? s.perMessageDeflate : {};
  return {
    maxPayload: s.maxPayload ?? DEFAULT_MAX_PAYLOAD,
    closeTimeout: s.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT,
    maxBackpressure: s.maxBackpressure ?? DEFAULT_MAX_BACKPRESSURE,
    maskSource: s.maskSource,
    deflate,
    deflateThreshold: deflateThreshold(deflate),
  };
}

/** The heartbeat interval in ms, or 0 when off. Servers have one by default, clients not. */
export function heartbeatInterval(hb: { interval?: number } | false | undefined, onByDefault: boolean): number {
  if (hb === false || (hb === undefined && !onByDefault)) return 0;
  return hb?.interval ?? DEFAULT_HEARTBEAT_INTERVAL;
}
