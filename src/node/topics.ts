// Topics: publish/subscribe among one server's connections, and the broker interface that
// carries publishes to the servers of other processes (ws13/redis).
//
// Memory: a socket that never subscribes costs nothing here. Its topic set is made on its
// first subscribe and kept in a WeakMap, so the WebSocket class holds no field for it; the
// server's registry maps each topic to its local subscribers.
import { prepareFrame, type PreparedFrame } from '../protocol/connection.js';
import { Opcode } from '../protocol/constants.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';
import { isValidUtf8 } from '../protocol/utf8.js';
import type { PerMessageDeflateOptions } from '../protocol/extensions/permessage-deflate.js';
import { hostOf } from './host.js';
import { DEFAULT_MAX_BROADCAST_BACKLOG, deflateThreshold } from './options.js';
import { countersFor, ignored, type Counters } from './diagnostics.js';

/** A server-side connection, as topics see it (the WebSocket class). */
type WebSocket = { readonly readyState: number };

/** Delivers a publish that came from another process to this process's subscribers. */
export type BrokerHandler = (topic: string, payload: Uint8Array, binary: boolean) => void;

/**
 * Carries a server's publishes to other servers (other processes, other machines) and
 * theirs to it. A broker serves one `WebSocketServer`, which calls it as follows:
 *
 * - `publish` after the server has written the message to its own subscribers: a broker
 *   must not hand a process its own publishes back (the Redis broker tags each message with
 *   its origin and drops its echo). A rejection is counted by the broker and reported by the
 *   server's `'brokerError'` event; the publish is not retried.
 * - `subscribe` when a topic gets its first local subscriber, `unsubscribe` when it loses
 *   its last: only topics someone here listens to travel to this process.
 * - `onMessage` once, with the handler that delivers remote publishes locally.
 * - `close` from `server.close()`, after the clients are closed.
 *
 * Delivery is at most once: a message published while the broker cannot reach its peers,
 * or while a subscription is still being set up, is lost, never delivered twice. Messages
 * from one publisher keep their order on each topic.
 */
export interface Broker {
  publish(topic: string, payload: Uint8Array, binary: boolean): void | Promise<void>;
  subscribe(topic: string): void | Promise<void>;
  unsubscribe(topic: string): void | Promise<void>;
  onMessage(handler: BrokerHandler): void;
  close(): void | Promise<void>;
}

/**
 * The default broker: nothing leaves the process. The server already delivers its own
 * publishes to its subscribers, so every method here does nothing.
 */
export class LocalBroker implements Broker {
  publish(): void {}
  subscribe(): void {}
  unsubscribe(): void {}
  onMessage(): void {}
  close(): void {}
}

export interface PublishOptions {
  /** Default: `typeof data !== 'string'`. */
  binary?: boolean;
  /** Default true: compressed for subscribers whose permessage-deflate agreement allows sharing one compression. */
  compress?: boolean;
  /** A local subscriber to leave out (the sender, say). */
  except?: WebSocket;
}

/** Bounds on topics (server options), so that topics named from client input stay bounded in memory. */
export interface TopicLimits {
  /** Longest topic name, in UTF-16 code units (default 256): longer throws WS_ERR_TOPIC_TOO_LONG. */
  maxTopicLength?: number;
  /** Topics one connection may be in at once (default 1000): one more throws WS_ERR_TOO_MANY_TOPICS. */
  maxTopicsPerSocket?: number;
}

/** `maxTopicLength` and `maxTopicsPerSocket` when unset. */
export const DEFAULT_MAX_TOPIC_LENGTH = 256;
export const DEFAULT_MAX_TOPICS_PER_SOCKET = 1000;

/** The server options a publish reads (server.ts's, resolved at each publish). */
export interface TopicSettings extends TopicLimits {
  maxBroadcastBacklog?: number;
  broadcastOverflow?: 'close' | 'skip';
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

/** Each socket's topics, made on its first subscribe. */
const topicsOf = new WeakMap<WebSocket, Set<string>>();
/**
 * The registry of a server-side socket, found through the server's close hook
 * (the host's `onClosed`), which every socket of one server shares: no per-socket field.
 */
const registryOf = new WeakMap<object, TopicRegistry>();

/** One server's topics: topic → its local subscribers. */
export class TopicRegistry {
  readonly #subscribers = new Map<string, Set<WebSocket>>();
  readonly #counters: Counters;
  /** Connections in at least one topic, and (connection, topic) pairs. */
  subscribers = 0;
  subscriptions = 0;

  /**
   * @param hook the server's close hook, which its sockets' hosts carry as `onClosed`
   * @param settings the server's options
   * @param onError the broker failed (the server's 'brokerError')
   */
  constructor(
    readonly broker: Broker,
    hook: object,
    readonly settings: TopicSettings,
    private readonly onError: (err: unknown) => void,
  ) {
    registryOf.set(hook, this);
    const counters = (this.#counters = countersFor(hook));
    broker.onMessage((topic, payload, binary) => {
      // From another process: text must still be UTF-8 before it reaches a client (RFC 6455 §8.1).
      if (!binary && !isValidUtf8(payload)) {
        ignored(counters, topic, payload.length, 'text not UTF-8');
        return onError(new WebSocketError(ErrorCode.InvalidUtf8, `a remote text message on ${topic} is not UTF-8`));
      }
      this.deliver(topic, payload, binary, true, undefined);
    });
  }

  /**
   * `server.publish`: to the local subscribers at once, then to the broker.
   * @param isString the data was a string (so it is UTF-8 already)
   */
  publish(topic: string, bytes: Uint8Array, binary: boolean, o: PublishOptions, isString: boolean): number {
    if (!binary && !isString && !isValidUtf8(bytes)) {
      throw new WebSocketError(ErrorCode.InvalidArgument, 'text messages must be valid UTF-8');
    }
    const n = this.deliver(topic, bytes, binary, o.compress ?? true, o.except);
    this.#call(() => this.broker.publish(topic, bytes, binary));
    return n;
  }

  /** `server.close()`, once its clients are closed: a broker's failure to close is reported, not thrown. */
  async close(): Promise<void> {
    try {
      await this.broker.close();
    } catch (err) {
      this.onError(err);
    }
  }

  /**
   * Checks the topic and counts the publish; true when nobody could hear it: no local
   * subscriber and only the local broker (data that would not encode or validate goes on, to
   * throw as usual). Then the publish ends here, before its data is encoded or framed.
   */
  unheard(topic: string, data: unknown, o: PublishOptions): boolean {
    checkTopic(topic, this.settings);
    this.#counters.publishes++;
    if (this.#subscribers.has(topic) || !(this.broker instanceof LocalBroker)) return false;
    const simple = typeof data === 'string' || ((o.binary ?? true) && (ArrayBuffer.isView(data) || data instanceof ArrayBuffer));
    if (!simple) return false;
    this.#counters.publishesUnheard++;
    return true;
  }

  /** Topics with at least one local subscriber. */
  get topics(): number {
    return this.#subscribers.size;
  }

  subscribe(ws: WebSocket, topic: string): boolean {
    let mine = topicsOf.get(ws);
    if (mine?.has(topic)) return false;
    const max = this.settings.maxTopicsPerSocket ?? DEFAULT_MAX_TOPICS_PER_SOCKET;
    if ((mine?.size ?? 0) >= max) {
      throw new WebSocketError(ErrorCode.TooManyTopics, `a connection may be in at most ${max} topics (maxTopicsPerSocket)`);
    }
    if (!mine) {
      topicsOf.set(ws, (mine = new Set()));
      this.subscribers++;
    }
    mine.add(topic);
    this.subscriptions++;
    let subs = this.#subscribers.get(topic);
    if (!subs) {
      this.#subscribers.set(topic, (subs = new Set()));
      this.#call(() => this.broker.subscribe(topic));
    }
    subs.add(ws);
    return true;
  }

  unsubscribe(ws: WebSocket, topic: string): boolean {
    const mine = topicsOf.get(ws);
    if (!mine?.delete(topic)) return false;
    this.subscriptions--;
    if (mine.size === 0) {
      topicsOf.delete(ws);
      this.subscribers--;
    }
    this.#drop(ws, topic);
    return true;
  }

  /** A socket closed: it leaves every topic. */
  leaveAll(ws: WebSocket): void {
    const mine = topicsOf.get(ws);
    if (!mine) return;
    topicsOf.delete(ws);
    this.subscribers--;
    this.subscriptions -= mine.size;
    for (const topic of mine) this.#drop(ws, topic);
  }

  #drop(ws: WebSocket, topic: string): void {
    const subs = this.#subscribers.get(topic);
    if (!subs?.delete(ws) || subs.size > 0) return;
    this.#subscribers.delete(topic);
    this.#call(() => this.broker.unsubscribe(topic));
  }

  #call(f: () => void | Promise<void>): void {
    try {
      const r = f();
      if (r) r.catch(this.onError);
    } catch (err) {
      this.onError(err);
    }
  }

  /**
   * Writes a message to the topic's local subscribers: framed once, and compressed once
   * for each distinct set of permessage-deflate parameters that keeps no context on our
   * side; every other subscriber gets the uncompressed frame. Returns how many it reached.
   */
  deliver(topic: string, payload: Uint8Array, binary: boolean, compressIt: boolean, except: WebSocket | undefined): number {
    const subs = this.#subscribers.get(topic);
    if (!subs) return 0;
    const { maxBroadcastBacklog, broadcastOverflow, perMessageDeflate: pmd } = this.settings;
    const limit = maxBroadcastBacklog ?? DEFAULT_MAX_BROADCAST_BACKLOG;
    const overflow = broadcastOverflow ?? 'close';
    const threshold = deflateThreshold(pmd);
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    const compress = compressIt && payload.length >= threshold;
    let plain: PreparedFrame | undefined;
    /** Compressed frames by codec share key; null: that key could not compress this one. */
    let compressed: Map<string, PreparedFrame | null> | undefined;
    let n = 0;
    for (const ws of subs) {
      if (ws === except) continue;
      let frame: PreparedFrame | null | undefined;
      if (compress) {
        const codec = hostOf(ws)?.codec;
        const key = codec?.shareKey;
        if (key !== undefined) {
          frame = (compressed ??= new Map()).get(key);
          if (frame === undefined) {
            const out = codec!.compressWhole(payload);
            frame = out ? prepareFrame(opcode, out.length === 1 ? out[0]! : Buffer.concat(out), true) : null;
            compressed.set(key, frame);
          }
        }
      }
      if (!frame && !plain) {
        plain = prepareFrame(opcode, payload);
        this.#counters.framesBuilt++;
      }
      if (hostOf(ws)?.sendPrepared(frame ?? plain!, limit, overflow)) n++;
    }
    return n;
  }
}

function registry(ws: WebSocket): TopicRegistry {
  const onClosed = hostOf(ws)?.onClosed;
  const r = onClosed && registryOf.get(onClosed);
  if (!r) throw new WebSocketError(ErrorCode.InvalidState, 'only connections accepted by a WebSocketServer have topics');
  return r;
}

function checkTopic(topic: unknown, limits?: TopicLimits): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new WebSocketError(ErrorCode.InvalidArgument, 'a topic is a non-empty string');
  }
  const max = limits?.maxTopicLength ?? DEFAULT_MAX_TOPIC_LENGTH;
  if (limits && topic.length > max) {
    throw new WebSocketError(ErrorCode.TopicTooLong, `a topic of ${topic.length} characters is over maxTopicLength (${max})`);
  }
}

/** `ws.subscribe`: false when already subscribed, or when the socket is no longer open. */
export function subscribe(ws: WebSocket, topic: string): boolean {
  checkTopic(topic);
  const r = registry(ws);
  checkTopic(topic, r.settings);
  if (ws.readyState !== 1) return false;
  return r.subscribe(ws, topic);
}

/** `ws.unsubscribe`: false when it was not subscribed. */
export function unsubscribe(ws: WebSocket, topic: string): boolean {
  checkTopic(topic);
  return topicsOf.has(ws) ? registry(ws).unsubscribe(ws, topic) : false;
}

export function isSubscribed(ws: WebSocket, topic: string): boolean {
  return topicsOf.get(ws)?.has(topic) ?? false;
}

/** `ws.topics`: a copy, in subscription order. */
export function topics(ws: WebSocket): readonly string[] {
  const mine = topicsOf.get(ws);
  return mine ? [...mine] : [];
}
