// ws13/redis: a Broker over Redis pub/sub, so that `server.publish` reaches the subscribers of
// every ws13 server connected to the same Redis, in any process on any machine.
//
// The Redis client is node-redis (`redis`, an optional peer dependency), or a client you
// made with it and pass in. Publishes go out on it; a duplicate connection holds the
// subscriptions (a subscribed connection can send no other commands in RESP2).
//
// On the wire, each message on channel `prefix + topic` is:
//   byte 0      flags: bit 0 set for binary, clear for text; the other bits 0 (a message with
//               another bit set comes from a later format and is ignored)
//   bytes 1–8   the publishing broker's origin id (random), so a process drops its own echo:
//               its server already delivered the message locally
//   bytes 9…    the payload, as published (binary-safe)
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Broker, BrokerHandler } from '../node/topics.js';
import { ignored } from '../node/diagnostics.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';

/** Bytes before the payload: flags and origin id. */
const HEADER = 9;
const BINARY = 1;

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
   * A node-redis client to publish on (connected or not); the broker subscribes on a
   * duplicate of it. The broker's `close()` closes the duplicate, not this client.
   */
  client?: RedisClientLike;
  /** SSUBSCRIBE/SPUBLISH (Redis 7 sharded pub/sub, for Redis Cluster) instead of SUBSCRIBE/PUBLISH. */
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
    this.#sharded = options.sharded ?? false;
    this.#prefix = options.prefix ?? 'ws13:';
    if (this.#sharded && !(pub.sPublish && pub.sSubscribe && pub.sUnsubscribe)) {
      throw new WebSocketError(ErrorCode.InvalidArgument, 'sharded pub/sub needs a client with sPublish/sSubscribe (node-redis 4.6 or later)');
    }
    for (const c of [pub, this.#sub]) {
      // node-redis emits 'error' for each failed (re)connection; without a listener it would throw.
      c.on('error', (err: Error) => this.#lost(err));
      c.on('end', () => this.#lost(new WebSocketError(ErrorCode.BrokerUnavailable, 'the Redis connection ended')));
      c.on('ready', () => this.#ready());
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
    const msg = Buffer.allocUnsafe(HEADER + payload.length);
    msg[0] = binary ? BINARY : 0;
    this.#origin.copy(msg, 1);
    msg.set(payload, HEADER);
    const channel = this.#prefix + topic;
    const sent = this.#sharded ? this.#pub.sPublish!(channel, msg) : this.#pub.publish(channel, msg);
    return sent.then(
      () => undefined,
      (cause: unknown) => {
        throw this.#drop(topic, new WebSocketError(ErrorCode.BrokerUnavailable, 'Redis did not take the publish', { cause }));
      },
    );
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
    if (message.length < HEADER || (message[0]! & ~BINARY) !== 0) {
      // Another application on the channel, or a later format: counted, never delivered.
      this.ignored++;
      ignored(undefined, topic, message.length, message.length < HEADER ? 'too short' : 'unknown flags');
      return;
    }
    if (this.#origin.equals(message.subarray(1, HEADER))) return; // our own: delivered locally already
    this.#handler?.(topic, message.subarray(HEADER), (message[0]! & BINARY) !== 0);
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

/**
 * Connects a Redis broker: to `options.url` with a client of its own (from the `redis`
 * package, which must then be installed), or over `options.client`.
 * @throws the connection error (rejection) when Redis cannot be reached at first
 */
export async function createRedisBroker(options: RedisBrokerOptions = {}): Promise<RedisBroker> {
  let client = options.client;
  const own = client === undefined;
  if (!client) {
    const redis = (await import('redis').catch((cause: unknown) => {
      throw new WebSocketError(ErrorCode.BrokerUnavailable, "ws13/redis needs the 'redis' package (npm install redis), or a client in `options.client`", { cause });
    })) as unknown as { createClient(o: object): RedisClientLike };
    client = redis.createClient({
      ...(options.url === undefined ? {} : { url: options.url }),
      // Come back quickly after an outage: 50 ms, doubling to at most 1 s between tries.
      socket: { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
    });
  }
  const broker = new RedisBroker(client, own, options);
  try {
    await broker._connect();
  } catch (err) {
    await broker.close();
    throw err;
  }
  return broker;
}
