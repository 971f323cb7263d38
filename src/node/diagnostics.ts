// Observability: node:diagnostics_channel events and each server's counters (`server.stats()`).
//
// Each event is published only when its channel has subscribers (`hasSubscribers`), so an
// application that does not listen pays a property read per event. Counters are plain
// numbers on one object per server, found through the close hook that all of a server's
// connections share (`onClosed` on their host): a connection holds no field for them; client
// connections have none.
import dc from 'node:diagnostics_channel';
import type { HandshakeError } from '../protocol/errors.js';
/** A connection as the counters see it: its host (host.ts), which carries the server's close hook. */
interface Site {
  readonly owner: object;
  readonly onClosed?: unknown;
}

/** The channel names (`diagnostics_channel.subscribe(name, fn)`), with what each message holds. */
export const CHANNELS = {
  /** `{ socket, role: 'server' | 'client', server?, request? }`: a connection is open. */
  open: 'ws13:open',
  /** `{ socket, code, reason, wasClean }`: a connection closed (1006 when no close frame came), or a client's handshake failed. */
  close: 'ws13:close',
  /** `{ server, status, code, message, request? }`: a handshake answered with an HTTP error. */
  handshakeRefused: 'ws13:handshake-refused',
  /** `{ socket, size, binary }`: a message received (size: payload bytes, after decompression). */
  messageIn: 'ws13:message-in',
  /** `{ socket, size, binary }`: a message sent (`send`, or one delivery of a publish or broadcast). */
  messageOut: 'ws13:message-out',
  /** `{ socket, kind, bufferedBytes }`: reading paused ('read-paused'), or a slow subscriber skipped or closed. */
  backpressure: 'ws13:backpressure',
  /** `{ server, error }`: the broker failed a publish, subscribe or unsubscribe. */
  brokerError: 'ws13:broker-error',
  /** `{ topic, size, reason }`: a message from the broker ignored (malformed, unknown format, text not UTF-8). */
  brokerIgnored: 'ws13:broker-ignored',
} as const;

const chOpen = dc.channel(CHANNELS.open);
const chClose = dc.channel(CHANNELS.close);
const chRefused = dc.channel(CHANNELS.handshakeRefused);
const chIn = dc.channel(CHANNELS.messageIn);
const chOut = dc.channel(CHANNELS.messageOut);
const chBackpressure = dc.channel(CHANNELS.backpressure);
const chBrokerError = dc.channel(CHANNELS.brokerError);
const chIgnored = dc.channel(CHANNELS.brokerIgnored);

export type BackpressureKind = 'read-paused' | 'broadcast-skip' | 'broadcast-close';

/** One server's counters, since it was made. */
export class Counters {
  connectionsTotal = 0;
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;
  readonly closeCodes = new Map<number, number>();
  readonly refusals = new Map<number, number>();
  readonly backpressure = { 'read-paused': 0, 'broadcast-skip': 0, 'broadcast-close': 0 };
  publishes = 0;
  publishesUnheard = 0;
  framesBuilt = 0;
  brokerErrors = 0;
  brokerIgnored = 0;
}

const kCounters = Symbol('ws13.counters');
type Hook = object & { [kCounters]?: Counters };

/** Makes the counters of the server whose connections' hosts carry `hook` as `onClosed`. */
export function countersFor(hook: object): Counters {
  return ((hook as Hook)[kCounters] ??= new Counters());
}

function of(site: Site): Counters | undefined {
  return (site.onClosed as Hook | undefined)?.[kCounters];
}

/** What `server.stats()` returns: a copy, safe to keep. */
export interface ServerStats {
  /** Open connections now. */
  connections: number;
  /** Connections accepted since the server was made. */
  connectionsTotal: number;
  /** Topics with at least one subscriber here. */
  topics: number;
  /** Connections subscribed to at least one topic. */
  subscribers: number;
  /** (connection, topic) pairs. */
  subscriptions: number;
  /** Data messages received, and every byte read from the transports after the handshake. */
  messagesIn: number;
  bytesIn: number;
  /** Data messages sent (each delivery of a publish or broadcast counts), and every byte written after the 101. */
  messagesOut: number;
  bytesOut: number;
  /** Closed connections by close code (1006: no close frame). */
  closeCodes: Record<string, number>;
  /** Refused handshakes by HTTP status. */
  refusals: Record<string, number>;
  /** Reading paused for `maxBackpressure`; publish/broadcast deliveries skipped or closed for `maxBroadcastBacklog`. */
  backpressure: Record<BackpressureKind, number>;
  /** `server.publish` calls; those with no subscriber anywhere to reach (no frame built); frames built for them. */
  publish: { calls: number; unheard: number; framesBuilt: number };
  /** Broker failures ('brokerError'); remote messages ignored; publishes the broker dropped (its `dropped`, if it counts). */
  broker: { errors: number; ignored: number; dropped: number };
}

/** The snapshot behind `server.stats()`. */
export function snapshot(
  c: Counters,
  connections: number,
  t: { topics: number; subscribers: number; subscriptions: number; broker: object },
): ServerStats {
  const b = t.broker as { dropped?: unknown; ignored?: unknown };
  return {
    connections,
    connectionsTotal: c.connectionsTotal,
    topics: t.topics,
    subscribers: t.subscribers,
    subscriptions: t.subscriptions,
    messagesIn: c.messagesIn,
    bytesIn: c.bytesIn,
    messagesOut: c.messagesOut,
    bytesOut: c.bytesOut,
    closeCodes: Object.fromEntries(c.closeCodes),
    refusals: Object.fromEntries(c.refusals),
    backpressure: { ...c.backpressure },
    publish: { calls: c.publishes, unheard: c.publishesUnheard, framesBuilt: c.framesBuilt },
    broker: {
      errors: c.brokerErrors,
      ignored: c.brokerIgnored + (typeof b.ignored === 'number' ? b.ignored : 0),
      dropped: typeof b.dropped === 'number' ? b.dropped : 0,
    },
  };
}

// ── Calls from the connection's host and the server, one line at each point. ──

/** A connection opened: a server's (with `server`) after the 101, or a client's. */
export function opened(site: Site, server?: object, request?: unknown): void {
  const c = of(site);
  if (c) c.connectionsTotal++;
  if (chOpen.hasSubscribers) chOpen.publish({ socket: site.owner, role: server ? 'server' : 'client', server, request });
}

export function closed(site: Site, code: number, reason: string, wasClean: boolean): void {
  const c = of(site);
  if (c) c.closeCodes.set(code, (c.closeCodes.get(code) ?? 0) + 1);
  if (chClose.hasSubscribers) chClose.publish({ socket: site.owner, code, reason, wasClean });
}

export function refused(c: Counters, server: object, err: HandshakeError, request: unknown): void {
  const status = err.status ?? 0;
  c.refusals.set(status, (c.refusals.get(status) ?? 0) + 1);
  if (chRefused.hasSubscribers) chRefused.publish({ server, status, code: err.code, message: err.message, request });
}

/** Bytes read from a connection's transport. */
export function read(site: Site, n: number): void {
  const c = of(site);
  if (c) c.bytesIn += n;
}

/** Bytes handed to a connection's transport. */
export function wrote(site: Site, n: number): void {
  const c = of(site);
  if (c) c.bytesOut += n;
}

export function received(site: Site, size: number, binary: boolean): void {
  const c = of(site);
  if (c) c.messagesIn++;
  if (chIn.hasSubscribers) chIn.publish({ socket: site.owner, size, binary });
}

/** A message sent: `data` as given to `send` (measured only when someone listens), or its size. */
export function sent(site: Site, data: unknown, binary: boolean): void {
  const c = of(site);
  if (c) c.messagesOut++;
  if (chOut.hasSubscribers) chOut.publish({ socket: site.owner, size: sizeOf(data), binary });
}

export function stalled(site: Site, kind: BackpressureKind, bufferedBytes: number): void {
  const c = of(site);
  if (c) c.backpressure[kind]++;
  if (chBackpressure.hasSubscribers) chBackpressure.publish({ socket: site.owner, kind, bufferedBytes });
}

export function brokerFailed(c: Counters, server: object, error: unknown): void {
  c.brokerErrors++;
  if (chBrokerError.hasSubscribers) chBrokerError.publish({ server, error });
}

/** A remote message ignored: counted by the server (`c`) or by the broker that saw it. */
export function ignored(c: Counters | undefined, topic: string, size: number, reason: string): void {
  if (c) c.brokerIgnored++;
  if (chIgnored.hasSubscribers) chIgnored.publish({ topic, size, reason });
}

function sizeOf(data: unknown): number {
  if (typeof data === 'number') return data;
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) return data.byteLength;
  return 0;
}
