// The options of a WebSocketServer and what its hooks see, apart from the class so that the
// HTTP/2 host (http2/server.ts) can name them without importing the server.
import type http from 'node:http';
import type http2 from 'node:http2';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import type { HeaderInit } from '../protocol/handshake/http1.js';
import type { ConnectionSettings } from './options.js';
import type { Broker, TopicLimits } from './topics.js';

/** The request of an opening handshake, as hooks see it: an `http.IncomingMessage` when attached. */
export interface UpgradeRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly httpVersion: string;
  /** Lower-case names; repeated fields joined with ", " (as Node does for most). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly rawHeaders: readonly string[];
  readonly socket: Duplex;
}

/**
 * What `beforeUpgrade` decides: with a `status`, refuse with it (and these headers and
 * body); without, accept and add `headers` to the 101.
 */
export interface UpgradeDecision {
  status?: number;
  headers?: HeaderInit;
  body?: string;
}

/** @deprecated The former name of `UpgradeDecision` (which also accepts, without a status). */
export type Refusal = UpgradeDecision;

export interface ServerOptions extends ConnectionSettings, TopicLimits {
  /**
   * Allowed Origin values (RFC 6455 §10.2): exact origins (ASCII case-insensitive), patterns,
   * or a function. A request with another Origin is refused with 403. A request without
   * Origin (not from a browser) passes a list; a function decides for itself.
   */
  origins?: ReadonlyArray<string | RegExp> | ((origin: string | undefined, req: UpgradeRequest) => boolean);
  /**
   * Subprotocols in server preference order, or a function choosing one of the offered
   * (RFC 6455 §4.2.2 item 5.4); undefined means none.
   */
  protocols?: readonly string[] | ((offered: string[], req: UpgradeRequest) => string | undefined | null);
  /** Refuse (400) a client that offers none of our subprotocols. Default false: accept without one. */
  requireProtocol?: boolean;
  /**
   * Runs before the 101 (authentication, rate limits): return an UpgradeDecision to answer with
   * that status, `{ headers }` to add headers to the 101, or nothing. A throw answers 500.
   */
  beforeUpgrade?: (
    req: UpgradeRequest,
    info: { protocol: string | undefined; origin: string | undefined },
  ) => void | undefined | UpgradeDecision | Promise<void | undefined | UpgradeDecision>;
  /** Extra headers on every 101 (e.g. Set-Cookie), or a function of the request. */
  headers?: HeaderInit | ((req: UpgradeRequest) => HeaderInit | undefined);
  /** Time for the whole opening handshake, in ms (default 10000): 408, or 503 if a hook is slow. */
  handshakeTimeout?: number;
  /** Largest request head, in bytes (default 16384): 431 beyond. */
  maxHeaderSize?: number;
  /** Ping idle clients every `interval` ms and drop those that stay silent for another; false: off. */
  heartbeat?: { interval?: number } | false;
  /**
   * A client with more than this many bytes that the OS has not taken, from earlier turns
   * of the event loop (default 8 MiB), gets no more broadcasts.
   */
  maxBroadcastBacklog?: number;
  /**
   * What becomes of such a client: 'close' (default) closes it with 1013 (Try Again Later;
   * dropped after `closeTimeout` if it still does not read), 'skip' leaves it open and it
   * misses the messages broadcast meanwhile.
   */
  broadcastOverflow?: 'close' | 'skip';
  /**
   * Carries `publish` to the servers of other processes and theirs here (see topics.ts),
   * e.g. `await createRedisBroker({ url })` from ws13/redis. Default: this process only.
   * The server closes it on `close()`.
   */
  broker?: Broker;
  /** Only handle this pathname (others: 404, or left to other 'upgrade' listeners). */
  path?: string;
  /**
   * Attach to an existing HTTP(S) server instead of listening; an HTTP/2 server
   * (`http2.createSecureServer`, with `allowHTTP1` too, or `http2.createServer` for h2c)
   * serves WebSockets over extended CONNECT (RFC 8441) as well. See http2/server.ts.
   */
  server?: http.Server | https.Server | http2.Http2Server | http2.Http2SecureServer;
}
