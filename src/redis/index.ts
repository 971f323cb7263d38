// ws13/redis: a Broker over Redis pub/sub, so that `server.publish` reaches the subscribers of
// every ws13 server connected to the same Redis, in any process on any machine.
//
// The Redis client is node-redis (`redis`, an optional peer dependency), or a client you
// made with it and pass in. Publishes go out on it; a duplicate connection holds the
// subscriptions (a subscribed connection can send no other commands in RESP2).
//
// On the wire, each message on channel `prefix + topic` is:
//   byte 0      flags: bit 0 set for binary, clear for text; bit 1 set for a batch; the other
//               bits 0 (a message with another bit set comes from a later format and is ignored)
//   bytes 1–8   the publishing broker's origin id (random), so a process drops its own echo:
//               its server already delivered the message locally
//   bytes 9…    the payload, as published (binary-safe); in a batch (flags exactly 2), the
//               messages one after another, each a flags byte (bit 0: binary; the others 0),
//               its length (4 bytes, big-endian) and its payload
// The publishes of one topic in one turn of the event loop go out as one batch: one Redis
// message and one delivery to each other process, instead of one per publish. A turn with a
// single publish on a topic sends the plain form.
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Broker, BrokerHandler } from '../node/topics.js';
import { ignored } from '../node/diagnostics.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';

/** Bytes before the payload: flags and origin id. */
const HEADER = 9;
const BINARY = 1;
const BATCH = 2;
/** Bytes before each payload in a batch: its flags and its length. */
const ITEM_HEADER = 5;
/** A batch that reached this many bytes goes out at once; later publishes of the turn start another. */
const BATCH_LIMIT = 64 * 1024;

/** The publishes of one topic in this turn, not yet handed to the client. */
interface Batch {
  /** Each in the plain form, its origin not yet written: a lone one goes out as it is. */
  items: Buffer[];
  /** The batch form's bytes after the header: each item's flags, length and payload. */
  bytes: number;
  /** Settles with the Redis publish of the batch. */
  sent: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

type PubSubListener = (message: Buffer, channel: Buffer) => void;

/**
 * What the broker uses of a node-redis client (`createClient()` or, with `sharded`,
 * `createCluster()` from `redis`): written out so that ws13 needs no types from it.
 */
export interface RedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  duplicate(): RedisClientLike;
  on(event: string, listener: (...args: any[]) => void): unknown;
  publish(channel: string, message: Buffer): Promise<unknown>;
  subscribe(channel: string, listener: PubSubListener, bufferMode: true): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  sPublish?(channel: string, message: Buffer): Promise<unknown>;
  sSubscribe?(channel: string, listener: PubSubListener, bufferMode: true): Promise<unknown>;
  sUnsubscribe?(channel: string): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): unknown;
}

export interface RedisBrokerOptions {
  /** Where Redis is, when no `client` is given (e.g. `redis://127.0.0.1:6379`). */
  url?: string;
  /**
   * A Redis Cluster, when no `client` is given: the URLs of some of its nodes (the rest are
   * discovered). The credentials and TLS (`rediss:`) of the first URL apply to every node.
   * Implies `sharded` unless it is set to false.
   */
  cluster?: string[];
  /**
   * A node-redis client to publish on (connected or not); the broker subscribes on a
   * duplicate of it. The broker's `close()` closes the duplicate, not this client.
   */
  client?: RedisClientLike;
  /**
   * SSUBSCRIBE/SPUBLISH (Redis 7 sharded pub/sub, for Redis Cluster) instead of
   * SUBSCRIBE/PUBLISH: each topic's messages travel only through the node that owns its
   * hash slot, instead of through every node of the cluster.
   */
  sharded?: boolean;
  /** Channel name = prefix + topic. Default `'ws13:'`. */
  prefix?: string;
}

export interface RedisBroker {
  /** Lost Redis (either connection): publishes are dropped until 'up'. Once per outage. */
  on(event: 'down', listener: (err: Error) => void): this;
  /** Both connections are back and the subscriptions restored: delivery resumes. */
  on(event: 'up', listener: () => void): this;
  /** A publish that did not reach Redis (counted in `dropped`). */
  on(event: 'dropped', listener: (topic: string, err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * A Broker over Redis pub/sub; make one with {@link createRedisBroker}, give it to one
 * `WebSocketServer` (`broker` option).
 *
 * Delivery is at most once. While Redis is unreachable, publishes are not queued: each is
 * dropped at once, counted in `dropped`, emitted as 'dropped', and `publish` rejects (the
 * server reports it as 'brokerError'); WebSocket clients stay connected. The client
 * reconnects by itself and restores the subscriptions, then 'up' is emitted. Order: messages
 * from one process keep their order on each topic (with `sharded`, topics on different
 * shards are not ordered with each other).
 */
export class RedisBroker extends EventEmitter implements Broker {
  /** Publishes that did not reach Redis. */
  dropped = 0;
  /** Remote messages ignored: malformed, or from a later format. */
  ignored = 0;
  readonly #pub: RedisClientLike;
  readonly #sub: RedisClientLike;
  readonly #ownPub: boolean;
  readonly #sharded: boolean;
  readonly #prefix: string;
  readonly #origin = randomBytes(8);
  #handler: BrokerHandler | undefined;
  #down = false;
  #closed = false;

  /** @internal Use {@link createRedisBroker}. */
  constructor(pub: RedisClientLike, ownPub: boolean, options: RedisBrokerOptions) {
    super();
    this.#pub = pub;
    this.#ownPub = ownPub;
    this.#sub = pub.duplicate();
    this.#sharded = options.sharded ?? options.cluster !== undefined;
    this.#prefix = options.prefix ?? 'ws13:';
    if (this.#sharded && !(pub.sPublish && pub.sSubscribe && pub.sUnsubscribe)) {
      throw new WebSocketError(ErrorCode.InvalidArgument, 'sharded pub/sub needs a client with sPublish/sSubscribe (node-redis 4.6 or later)');
    }
    for (const c of [pub, this.#sub]) {
      // node-redis emits 'error' for each failed (re)connection; without a listener it would throw.
      c.on('error', (err: Error) => this.#lost(err));
      c.on('end', () => this.#lost(new WebSocketError(ErrorCode.BrokerUnavailable, 'the Redis connection ended')));
      c.on('ready', () => this.#ready());
      // A cluster client reports its nodes' connections instead.
      c.on('node-error', (err: Error) => this.#lost(err));
      c.on('node-ready', () => this.#ready());
    }
  }

  /** True while both connections are ready. */
  get connected(): boolean {
    return this.#pub.isReady && this.#sub.isReady;
  }

  /** @internal */
  async _connect(): Promise<void> {
    if (!this.#pub.isOpen) await this.#pub.connect();
    await this.#sub.connect();
  }

  #lost(err: Error): void {
    if (this.#down || this.#closed) return;
    this.#down = true;
    this.emit('down', err);
  }

  #ready(): void {
    if (!this.#down || !this.connected) return;
    this.#down = false;
    this.emit('up');
  }

  publish(topic: string, payload: Uint8Array, binary: boolean): Promise<void> {
    if (this.#closed || !this.#pub.isReady) {
      return Promise.reject(this.#drop(topic, new WebSocketError(ErrorCode.BrokerUnavailable, 'not connected to Redis: publish dropped')));
    }
    // Copied now (the caller may reuse its buffer once publish returns), in the plain form,
    // so that a turn's lone publish is sent without a second copy.
    const item = Buffer.allocUnsafe(HEADER + payload.length);
    item[0] = binary ? BINARY : 0;
    item.set(payload, HEADER);
    const size = ITEM_HEADER + payload.length;
    let batch = this.#batches.get(topic);
    if (batch && batch.bytes + size > BATCH_LIMIT) {
      this.#send(topic, batch);
      batch = undefined;
    }
    if (!batch) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const sent = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#batches.set(topic, (batch = { items: [], bytes: 0, sent, resolve, reject }));
      if (this.#batches.size === 1) process.nextTick(this.#flush);
    }
    batch.items.push(item);
    batch.bytes += size;
    return batch.sent.then(undefined, (cause: unknown) => {
      throw this.#drop(topic, new WebSocketError(ErrorCode.BrokerUnavailable, 'Redis did not take the publish', { cause }));
    });
  }

  /** Topic → the publishes of this turn. */
  readonly #batches = new Map<string, Batch>();

  /** End of the turn: each topic's publishes go out, as one message. */
  readonly #flush = (): void => {
    for (const [topic, batch] of this.#batches) this.#send(topic, batch);
  };

  #send(topic: string, batch: Batch): void {
    this.#batches.delete(topic);
    const items = batch.items;
    let msg: Buffer;
    if (items.length === 1) {
      msg = items[0]!;
    } else {
      msg = Buffer.allocUnsafe(HEADER + batch.bytes);
      msg[0] = BATCH;
      let at = HEADER;
      for (const item of items) {
        msg[at] = item[0]!;
        msg.writeUInt32BE(item.length - HEADER, at + 1);
        at += ITEM_HEADER + item.copy(msg, at + ITEM_HEADER, HEADER);
      }
    }
    this.#origin.copy(msg, 1);
    const channel = this.#prefix + topic;
    let sent: Promise<unknown>;
    try {
      sent = this.#closed || !this.#pub.isReady
        ? Promise.reject(new WebSocketError(ErrorCode.BrokerUnavailable, 'not connected to Redis: publish dropped'))
        : this.#sharded ? this.#pub.sPublish!(channel, msg) : this.#pub.publish(channel, msg);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(batch.resolve, batch.reject);
  }

  #drop(topic: string, err: WebSocketError): WebSocketError {
    this.dropped++;
    this.emit('dropped', topic, err);
    return err;
  }

  async subscribe(topic: string): Promise<void> {
    const listener: PubSubListener = (message) => this.#receive(topic, message);
    const channel = this.#prefix + topic;
    await (this.#sharded ? this.#sub.sSubscribe!(channel, listener, true) : this.#sub.subscribe(channel, listener, true));
  }

  async unsubscribe(topic: string): Promise<void> {
    if (this.#closed) return;
    const channel = this.#prefix + topic;
    await (this.#sharded ? this.#sub.sUnsubscribe!(channel) : this.#sub.unsubscribe(channel));
  }

  #receive(topic: string, message: Buffer): void {
    const flags = message.length < HEADER ? 0 : message[0]!;
    const batch = flags === BATCH;
    if (message.length < HEADER || (!batch && (flags & ~BINARY) !== 0) || (batch && !wellFormedBatch(message))) {
      // Another application on the channel, or a later format: counted, never delivered.
      this.ignored++;
      ignored(undefined, topic, message.length, message.length < HEADER ? 'too short' : batch ? 'malformed batch' : 'unknown flags');
      return;
    }
    if (this.#origin.equals(message.subarray(1, HEADER))) return; // our own: delivered locally already
    const handler = this.#handler;
    if (!handler) return;
    if (!batch) return handler(topic, message.subarray(HEADER), (flags & BINARY) !== 0);
    for (let at = HEADER; at < message.length; ) {
      const end = at + ITEM_HEADER + message.readUInt32BE(at + 1);
      handler(topic, message.subarray(at + ITEM_HEADER, end), message[at] === BINARY);
      at = end;
    }
  }

  onMessage(handler: BrokerHandler): void {
    this.#handler = handler;
  }

  /** Closes the subscribing connection, and the publishing one when the broker made it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const clients = this.#ownPub ? [this.#sub, this.#pub] : [this.#sub];
    await Promise.all(clients.map((c) => closeClient(c)));
  }
}

/** A batch's messages fill it exactly, each with flags 0 or 1. */
function wellFormedBatch(message: Buffer): boolean {
  let at = HEADER;
  if (at === message.length) return false;
  while (at < message.length) {
    if (message.length - at < ITEM_HEADER || (message[at]! & ~BINARY) !== 0) return false;
    at += ITEM_HEADER + message.readUInt32BE(at + 1);
  }
  return at === message.length;
}

async function closeClient(c: RedisClientLike): Promise<void> {
  try {
    if (!c.isOpen) return;
    // While Redis is down a graceful close would wait for it: drop the connection instead.
    if (!c.isReady) c.destroy?.();
    else await (c.close ? c.close() : c.quit?.());
  } catch {
    c.destroy?.();
  }
}

/** The username and password of a redis:// URL, for the nodes a cluster client discovers. */
function credentials(url: string): { username?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WebSocketError(ErrorCode.InvalidArgument, `not a URL: ${url}`);
  }
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/**
 * Connects a Redis broker: to `options.url` or the Redis Cluster of `options.cluster` with
 * a client of its own (from the `redis` package, which must then be installed), or over
 * `options.client` (from `createClient()` or `createCluster()`).
 * @throws the connection error (rejection) when Redis cannot be reached at first
 */
export async function createRedisBroker(options: RedisBrokerOptions = {}): Promise<RedisBroker> {
  let client = options.client;
  const own = client === undefined;
  if (!client) {
    const redis = (await import('redis').catch((cause: unknown) => {
      throw new WebSocketError(ErrorCode.BrokerUnavailable, "ws13/redis needs the 'redis' package (npm install redis), or a client in `options.client`", { cause });
    })) as unknown as { createClient(o: object): RedisClientLike; createCluster(o: object): RedisClientLike };
    // Come back quickly after an outage: 50 ms, doubling to at most 1 s between tries. Before
    // the first connection, give up at once (the error is the rejection), as documented.
    const reconnectStrategy = (retries: number, cause: Error): number | Error => (up ? Math.min(50 * 2 ** retries, 1000) : cause);
    if (options.cluster) {
      if (options.cluster.length === 0) throw new WebSocketError(ErrorCode.InvalidArgument, '`cluster` needs the URL of at least one node');
      client = redis.createCluster({
        rootNodes: options.cluster.map((url) => ({ url })),
        // Nodes found by discovery take these, not the root nodes' settings.
        defaults: { ...credentials(options.cluster[0]!), socket: { reconnectStrategy, ...(options.cluster[0]!.startsWith('rediss:') ? { tls: true } : {}) } },
      });
    } else {
      client = redis.createClient({ ...(options.url === undefined ? {} : { url: options.url }), socket: { reconnectStrategy } });
    }
  }
  let up = false;
  const broker = new RedisBroker(client, own, options);
  try {
    await broker._connect();
    up = true;
  } catch (err) {
    await broker.close();
    throw err;
  }
  return broker;
}
