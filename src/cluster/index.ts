// ws13/cluster: a Broker between the workers of one node:cluster, through the primary
// process's IPC channels: `server.publish` in one worker reaches the subscribers of every
// other worker on the machine, with no Redis.
//
//   primary:  startClusterHub()                     (once, before or after forking)
//   worker:   new WebSocketServer({ broker: createClusterBroker() })
//
// Messages are plain objects tagged `ws13c` (other IPC messages are left alone):
//   worker → primary  { ws13c: 'sub' | 'unsub', ch, topic }
//   worker → primary  { ws13c: 'pub', ch, topic, bin, data }
//   primary → worker  the same 'pub' object, to every other worker subscribed to (ch, topic)
// `data` is the payload as a Uint8Array when the cluster uses the 'advanced' IPC
// serialization, and as base64 text under the default 'json' one, so either is binary-safe.
// A worker tells the primary of a topic once, when its first local broker subscribes to it.
// Each side stops sending publishes on a channel with DEFAULT_MAX_PENDING_BYTES unwritten.
import cluster, { type Worker } from 'node:cluster';
import type { Broker, BrokerHandler } from '../node/topics.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';

const TAG = 'ws13c';

interface SubMessage {
  ws13c: 'sub' | 'unsub';
  ch: string;
  topic: string;
}
interface PubMessage {
  ws13c: 'pub';
  ch: string;
  topic: string;
  bin: boolean;
  data: string | Uint8Array;
}
type ClusterMessage = SubMessage | PubMessage;

/** The key of a topic on a channel (the channel's length first, so no two pairs collide). */
function keyOf(ch: string, topic: string): string {
  return `${ch.length}:${ch}${topic}`;
}

/** A well-formed ws13/cluster message, or undefined (not ours), or null (ours but malformed). */
function parse(msg: unknown): ClusterMessage | null | undefined {
  if (typeof msg !== 'object' || msg === null || !(TAG in msg)) return undefined;
  const m = msg as Record<string, unknown>;
  if (typeof m['ch'] !== 'string' || typeof m['topic'] !== 'string' || m['topic'] === '') return null;
  if (m[TAG] === 'sub' || m[TAG] === 'unsub') return m as unknown as SubMessage;
  if (m[TAG] === 'pub' && typeof m['bin'] === 'boolean' && (typeof m['data'] === 'string' || m['data'] instanceof Uint8Array)) {
    return m as unknown as PubMessage;
  }
  return null;
}

// ── The primary's side ──────────────────────────────────────────────────────────────────

/**
 * Payload bytes one IPC channel may hold unwritten (its reader has not taken them) before
 * further publishes to it are dropped, at most once: Node queues IPC messages without a bound.
 */
export const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

/** What a message counts against the bound: its payload and topic, and a little for the rest. */
function sizeOf(m: PubMessage): number {
  return (typeof m.data === 'string' ? m.data.length : m.data.byteLength) + m.topic.length + m.ch.length + 64;
}

export interface ClusterHubOptions {
  /** Relayed bytes a worker may leave unread before more are dropped. Default {@link DEFAULT_MAX_PENDING_BYTES} (16 MiB). */
  maxPendingBytes?: number;
}

/** The primary's relay, from {@link startClusterHub}. */
export interface ClusterHub {
  /** Publishes relayed, counted once per receiving worker. */
  readonly forwarded: number;
  /** Publishes not relayed to a worker that had `maxPendingBytes` unread. */
  readonly dropped: number;
  /** Messages tagged for ws13/cluster but malformed (ignored). */
  readonly ignored: number;
  /** Distinct (channel, topic) pairs with a subscriber on at least one worker. */
  readonly topics: number;
  /** How many workers have a subscriber to `topic` on `channel` (default `'ws13'`). */
  workersOn(topic: string, channel?: string): number;
  /** Stops relaying (workers' publishes are then lost). */
  close(): void;
}

/**
 * Starts relaying ws13/cluster messages between the workers of this primary. Call it once,
 * in the primary process. A worker that exits leaves all its topics.
 * @throws WebSocketError `WS_ERR_INVALID_STATE` when this process is not a cluster primary.
 */
export function startClusterHub(options: ClusterHubOptions = {}): ClusterHub {
  const maxPending = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
  if (!cluster.isPrimary) throw new WebSocketError(ErrorCode.InvalidState, 'startClusterHub() runs in the cluster primary');
  /** topic key → ids of the workers subscribed to it. */
  const subscribers = new Map<string, Set<number>>();
  /** worker id → its topic keys, to clean up when it exits. */
  const keysOf = new Map<number, Set<string>>();
  const stats = { forwarded: 0, ignored: 0, dropped: 0 };
  /** worker id → bytes handed to its channel and not yet written out. */
  const pending = new Map<number, number>();

  const onMessage = (worker: Worker, raw: unknown): void => {
    const m = parse(raw);
    if (m === undefined) return;
    if (m === null) return void stats.ignored++;
    const key = keyOf(m.ch, m.topic);
    if (m.ws13c === 'pub') {
      const ids = subscribers.get(key);
      if (!ids) return;
      const size = sizeOf(m);
      for (const id of ids) {
        if (id === worker.id) continue;
        const w = cluster.workers?.[id];
        // A worker on its way out takes nothing more, nor one that does not read: at most once.
        if (!w?.isConnected()) continue;
        const n = pending.get(id) ?? 0;
        if (n + size > maxPending) {
          stats.dropped++;
          continue;
        }
        pending.set(id, n + size);
        w.send(m, undefined, undefined, () => pending.set(id, (pending.get(id) ?? size) - size));
        stats.forwarded++;
      }
    } else if (m.ws13c === 'sub') {
      let ids = subscribers.get(key);
      if (!ids) subscribers.set(key, (ids = new Set()));
      ids.add(worker.id);
      let keys = keysOf.get(worker.id);
      if (!keys) keysOf.set(worker.id, (keys = new Set()));
      keys.add(key);
    } else {
      leave(worker.id, key);
      keysOf.get(worker.id)?.delete(key);
    }
  };
  const leave = (id: number, key: string): void => {
    const ids = subscribers.get(key);
    if (ids?.delete(id) && ids.size === 0) subscribers.delete(key);
  };
  const onExit = (worker: Worker): void => {
    for (const key of keysOf.get(worker.id) ?? []) leave(worker.id, key);
    keysOf.delete(worker.id);
    pending.delete(worker.id);
  };
  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  return {
    get forwarded() {
      return stats.forwarded;
    },
    get ignored() {
      return stats.ignored;
    },
    get dropped() {
      return stats.dropped;
    },
    get topics() {
      return subscribers.size;
    },
    workersOn(topic, channel = 'ws13') {
      return subscribers.get(keyOf(channel, topic))?.size ?? 0;
    },
    close() {
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
      subscribers.clear();
      keysOf.clear();
    },
  };
}

// ── A worker's side ─────────────────────────────────────────────────────────────────────

/** This worker's one IPC listener, shared by its brokers. */
class WorkerLink {
  readonly brokers = new Set<ClusterBroker>();
  /** topic key → how many of this worker's brokers are subscribed. */
  readonly #counts = new Map<string, number>();
  readonly #advanced = process.env['NODE_CHANNEL_SERIALIZATION_MODE'] === 'advanced';

  readonly #onMessage = (raw: unknown): void => {
    const m = parse(raw);
    if (m === undefined) return;
    if (m === null || m.ws13c !== 'pub') {
      for (const b of this.brokers) b.ignored++;
      return;
    }
    const payload = typeof m.data === 'string' ? Buffer.from(m.data, 'base64') : m.data;
    this.deliver(m.ch, m.topic, payload, m.bin, undefined);
  };

  add(b: ClusterBroker): void {
    if (this.brokers.size === 0) process.on('message', this.#onMessage);
    this.brokers.add(b);
  }

  remove(b: ClusterBroker): void {
    if (this.brokers.delete(b) && this.brokers.size === 0) process.off('message', this.#onMessage);
  }

  /** Hands a publish to this worker's brokers on `ch` subscribed to `topic`, but `from`. */
  deliver(ch: string, topic: string, payload: Uint8Array, bin: boolean, from: ClusterBroker | undefined): void {
    for (const b of this.brokers) if (b !== from) b._receive(ch, topic, payload, bin);
  }

  /** Counts a local subscription; tells the primary on the first (`+1`) or last (`-1`). */
  count(ch: string, topic: string, delta: 1 | -1): void {
    const key = keyOf(ch, topic);
    const n = (this.#counts.get(key) ?? 0) + delta;
    if (n > 0) this.#counts.set(key, n);
    else this.#counts.delete(key);
    if ((delta === 1 && n === 1) || (delta === -1 && n === 0)) this.send({ ws13c: delta === 1 ? 'sub' : 'unsub', ch, topic });
  }

  encode(payload: Uint8Array): string | Uint8Array {
    return this.#advanced ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('base64');
  }

  /** Publish bytes handed to the IPC channel and not yet written out. */
  #pending = 0;

  /**
   * @throws WebSocketError `WS_ERR_BROKER_UNAVAILABLE` when the IPC channel is gone, or when
   *   a publish would take the bytes waiting in it past DEFAULT_MAX_PENDING_BYTES (the
   *   primary is not reading).
   */
  send(m: ClusterMessage): void {
    if (!process.send || !process.connected) {
      throw new WebSocketError(ErrorCode.BrokerUnavailable, 'the cluster primary is not reachable (IPC channel closed)');
    }
    if (m.ws13c !== 'pub') return void process.send(m);
    const size = sizeOf(m);
    if (this.#pending + size > DEFAULT_MAX_PENDING_BYTES) {
      throw new WebSocketError(ErrorCode.BrokerUnavailable, `the cluster primary is not reading (${this.#pending} bytes waiting): publish dropped`);
    }
    this.#pending += size;
    process.send(m, undefined, undefined, () => void (this.#pending -= size));
  }
}

let link: WorkerLink | undefined;

export interface ClusterBrokerOptions {
  /**
   * Brokers meet on a channel: publishes reach only brokers of the same channel, so two
   * unrelated servers in the same workers keep their topics apart. Default `'ws13'`.
   */
  channel?: string;
}

/**
 * A Broker between the workers of a node:cluster, through the primary, where
 * {@link startClusterHub} must run. Make one per `WebSocketServer`, in each worker.
 *
 * Binary-safe. Delivery is at most once: a publish is lost when it meets a worker that is
 * starting (its subscription has not reached the primary yet), exiting, or restarting, when
 * the primary is gone, and when 16 MiB of publishes already wait unread on an IPC channel on
 * its way (memory stays bounded); it is never delivered twice. Messages from one worker keep their
 * order on each topic (each IPC channel is in order and the primary relays in arrival order).
 * Servers in the same worker reach each other directly, without the primary.
 */
export class ClusterBroker implements Broker {
  /** Publishes that could not be handed to the primary. */
  dropped = 0;
  /** ws13/cluster messages received malformed (ignored). */
  ignored = 0;
  readonly channel: string;
  readonly #topics = new Set<string>();
  readonly #link: WorkerLink;
  #handler: BrokerHandler | undefined;
  #closed = false;

  /** @throws WebSocketError `WS_ERR_INVALID_STATE` when this process is not a cluster worker. */
  constructor(options: ClusterBrokerOptions = {}) {
    if (!cluster.isWorker || !process.send) {
      throw new WebSocketError(ErrorCode.InvalidState, 'a ClusterBroker runs in a node:cluster worker (startClusterHub() in the primary)');
    }
    this.#link = link ??= new WorkerLink();
    this.channel = options.channel ?? 'ws13';
    this.#link.add(this);
  }

  publish(topic: string, payload: Uint8Array, binary: boolean): void {
    if (this.#closed) return;
    this.#link.deliver(this.channel, topic, payload, binary, this);
    try {
      this.#link.send({ ws13c: 'pub', ch: this.channel, topic, bin: binary, data: this.#link.encode(payload) });
    } catch (err) {
      this.dropped++;
      throw err;
    }
  }

  subscribe(topic: string): void {
    if (this.#closed || this.#topics.has(topic)) return;
    this.#topics.add(topic);
    this.#link.count(this.channel, topic, 1);
  }

  unsubscribe(topic: string): void {
    if (!this.#topics.delete(topic)) return;
    this.#link.count(this.channel, topic, -1);
  }

  onMessage(handler: BrokerHandler): void {
    this.#handler = handler;
  }

  /** @internal From the worker's link. */
  _receive(ch: string, topic: string, payload: Uint8Array, bin: boolean): void {
    if (ch === this.channel && this.#topics.has(topic)) this.#handler?.(topic, payload, bin);
  }

  /** Leaves every topic and stops listening; publishes after this are not sent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const topics = [...this.#topics];
    this.#topics.clear();
    this.#link.remove(this);
    for (const t of topics) {
      try {
        this.#link.count(this.channel, t, -1);
      } catch {
        // The primary is gone: nothing to leave.
      }
    }
  }
}

/**
 * Makes a broker for a `WebSocketServer` in a cluster worker.
 * @throws WebSocketError `WS_ERR_INVALID_STATE` when this process is not a cluster worker.
 */
export function createClusterBroker(options: ClusterBrokerOptions = {}): ClusterBroker {
  return new ClusterBroker(options);
}
