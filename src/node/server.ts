import { EventEmitter } from 'node:events';
import net from 'node:net';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { prepareSharedFrame } from './shared-frame.js';
import { Opcode } from '../protocol/constants.js';
import { ErrorCode, HandshakeError } from '../protocol/errors.js';
import {
  HeaderList,
  formatRejection,
  parseRequestHead,
  refusalError,
  type HeadResult,
  type RequestHead,
} from '../protocol/handshake/http1.js';
import {
  internal,
  negotiate,
  refusal,
  type PendingAccept,
  type ServerAccept,
  type ServerRefusal,
} from '../protocol/handshake/server.js';
import { NodeDeflateCodec } from './deflate.js';
import { LocalBroker, TopicRegistry, type Broker, type PublishOptions } from './topics.js';
import { brokerFailed, countersFor, opened, refused, snapshot, type Counters, type ServerStats } from './diagnostics.js';
import { WebSocket } from './websocket.js';
import { acceptConnection, hostOf } from './host.js';
import { heartbeatTick } from './heartbeat.js';
import { toBytes, type SendData } from './output.js';
import { routeSocket } from './socket-routing.js';
import { PendingHandshake, StandaloneRequest } from './standalone.js';
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_BROADCAST_BACKLOG, DEFAULT_MAX_HEADER_SIZE } from './options.js';
import { heartbeatInterval, resolveSettings, type ResolvedSettings } from './options.js';
import { attachHttp2, goawayHttp2, isHttp2Server, type Http2Host } from './http2/server.js';

export type { ServerOptions, UpgradeDecision, Refusal, UpgradeRequest } from './server-options.js';
import type { ServerOptions, UpgradeDecision, UpgradeRequest } from './server-options.js';


/** The bytes after a request head, when there are none. */
const NO_BYTES = new Uint8Array(0);

/** Time a refused peer gets to read the answer before its socket is destroyed. */
const REFUSAL_LINGER = 1000;

type AttachableServer = NonNullable<ServerOptions['server']>;
const routers = new WeakMap<AttachableServer, Set<WebSocketServer>>();

export interface WebSocketServer {
  on(event: 'connection', listener: (ws: WebSocket, req: UpgradeRequest) => void): this;
  on(event: 'handshakeError', listener: (err: HandshakeError, req: UpgradeRequest | undefined) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  /** The broker failed a publish, subscribe or unsubscribe (not retried: at most once). */
  on(event: 'brokerError', listener: (err: unknown) => void): this;
  once(event: 'connection', listener: (ws: WebSocket, req: UpgradeRequest) => void): this;
  once(event: 'handshakeError', listener: (err: HandshakeError, req: UpgradeRequest | undefined) => void): this;
  once(event: 'close', listener: () => void): this;
}

/**
 * A WebSocket server: standalone (`listen`), attached to an HTTP server (`server` option;
 * several on one HTTP server, by `path`), or fed by a framework (`handleUpgrade`).
 * Events: 'connection' (ws, req), 'handshakeError' (err, req), 'close'.
 */
export class WebSocketServer extends EventEmitter {
  /** Open connections. */
  readonly clients = new Set<WebSocket>();
  readonly options: Readonly<ServerOptions>;
  #net: net.Server | undefined;
  #pending = new Set<Duplex>();
  #heartbeat: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  /**
   * Removes a closed client: one function for all, as a closure made in `#upgrade` would
   * keep that call's request and head alive (and `once` would wrap it for each client).
   */
  readonly #untrack: (ws: WebSocket) => void;
  readonly #topics: TopicRegistry;
  /** The connections' settings, resolved once for all of them. */
  readonly #settings: ResolvedSettings;
  /** This server's counters (diagnostics.ts), for `stats()`. */
  readonly #counters: Counters;
  /** What the HTTP/2 host may do with this server, made on first use. */
  #h2: Http2Host | undefined;

  constructor(options: ServerOptions = {}) {
    super();
    this.options = options;
    const clients = this.clients;
    this.#untrack = (ws) => {
      clients.delete(ws);
      topics.leaveAll(ws);
    };
    this.#settings = { ...resolveSettings(options), onClosed: this.#untrack as (ws: object) => void };
    this.#counters = countersFor(this.#untrack);
    const topics = (this.#topics = new TopicRegistry(options.broker ?? new LocalBroker(), this.#untrack, options, (err) => {
      brokerFailed(this.#counters, this, err);
      if (this.listenerCount('brokerError') > 0) this.emit('brokerError', err);
    }));
    if (options.server) {
      const srv = options.server;
      let set = routers.get(srv);
      if (!set) {
        const s = new Set<WebSocketServer>();
        routers.set(srv, (set = s));
        srv.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
          WebSocketServer.#route(srv, s, req, socket, head),
        );
        if (isHttp2Server(srv)) attachHttp2(srv, function* () {
          for (const w of s) yield w.#http2Host();
        });
      }
      set.add(this);
    }
    const interval = heartbeatInterval(options.heartbeat, true);
    if (interval > 0) {
      this.#heartbeat = setInterval(() => {
        for (const ws of this.clients) {
          const host = hostOf(ws);
          if (host) heartbeatTick(host);
        }
      }, interval);
      this.#heartbeat.unref();
    }
  }

  static #route(srv: AttachableServer, set: Set<WebSocketServer>, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const pathname = pathOf(req.url ?? '/');
    for (const wss of set) {
      if (wss.options.path === undefined || wss.options.path === pathname) {
        wss.#fromHttp(req, socket, head, true);
        return;
      }
    }
    // Another 'upgrade' listener may want it; otherwise nobody serves this path.
    if (srv.listenerCount('upgrade') > 1) return;
    socket.on('error', ignore);
    refuse(socket, refusalError(404, ErrorCode.NotFound, 'no WebSocket endpoint at this path'));
  }

  /**
   * Listens on `port` (0 for any) and `host`, parsing handshakes itself.
   * @throws the listen error (EADDRINUSE, …) as a rejection
   */
  listen(port = 0, host?: string): Promise<net.AddressInfo> {
    const srv = net.createServer({ noDelay: true }, (socket) => this.#fromSocket(socket));
    this.#net = srv;
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        srv.on('error', (err) => this.emit('error', err));
        resolve(srv.address() as net.AddressInfo);
      });
    });
  }

  /** The listening address (standalone mode). */
  address(): net.AddressInfo | undefined {
    return (this.#net?.address() as net.AddressInfo | null) ?? undefined;
  }

  /**
   * Completes an upgrade received by a framework's HTTP server. Resolves the open WebSocket
   * (no 'connection' event); the refusal was already answered when it rejects.
   * @throws HandshakeError (rejection) with the status it answered
   */
  async handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<WebSocket> {
    const r = await this.#fromHttp(req, socket, head, false);
    if (r instanceof WebSocket) return r;
    throw r;
  }

  #fromHttp(req: http.IncomingMessage, socket: Duplex, head: Buffer, emit: boolean): Outcome | Promise<Outcome> {
    socket.on('error', ignore);
    const timer = this.#handshakeTimer(socket, () => true);
    const requestHead = { method: req.method ?? '', httpVersion: req.httpVersion, headers: HeaderList.fromRaw(req.rawHeaders), target: req.url ?? '/' };
    return clearWhenSettled(this.#upgrade(req, requestHead, socket, head, emit), timer);
  }

  /** Standalone: read the request head ourselves, bounded in size and time. */
  #fromSocket(socket: net.Socket): void {
    if (this.#closing) {
      socket.on('error', ignore);
      socket.destroy();
      return;
    }
    const p = new PendingHandshake(socket, this.options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE, this.#onHead, this.#onGone);
    p.timer = this.#handshakeTimer(socket, () => p.headDone);
    this.#pending.add(socket);
    routeSocket(socket, p);
  }

  /** A standalone connection's request head is in (or cannot be): refuse it or upgrade it. */
  readonly #onHead = (p: PendingHandshake, r: Exclude<HeadResult, { kind: 'more' }>): void => {
    const { socket, timer } = p;
    this.#pending.delete(socket);
    if (r.kind === 'malformed') {
      clearTimeout(timer);
      this.#refuse(socket, refusalError(400, ErrorCode.BadRequest, 'lines must end with CRLF'));
      return;
    }
    if (r.kind === 'too-large') {
      clearTimeout(timer);
      // RFC 6585 §5.
      this.#refuse(socket, refusalError(431, ErrorCode.HeadersTooLarge, `request head over ${p.maxHeaderSize} bytes`));
      return;
    }
    let head;
    try {
      head = parseRequestHead(r.head);
    } catch (err) {
      clearTimeout(timer);
      this.#refuse(socket, err as HandshakeError);
      return;
    }
    const req = new StandaloneRequest(head, socket);
    if (this.options.path !== undefined && pathOf(head.target) !== this.options.path) {
      clearTimeout(timer);
      this.#refuse(socket, refusalError(404, ErrorCode.NotFound, 'no WebSocket endpoint at this path'), req);
      return;
    }
    // The bytes after the head are copied off the read's buffer (usually there are none).
    const rest = r.rest.length === 0 ? NO_BYTES : Buffer.from(r.rest);
    void clearWhenSettled(this.#upgrade(req, head, socket, rest, true), timer);
  };

  readonly #onGone = (p: PendingHandshake): void => {
    this.#pending.delete(p.socket);
    clearTimeout(p.timer);
  };

  #handshakeTimer(socket: Duplex, headDone: () => boolean): NodeJS.Timeout {
    const t = setTimeout(() => {
      if (socket.destroyed || socket.writableEnded) return;
      this.#refuse(
        socket,
        headDone()
          ? refusalError(503, ErrorCode.RequestTimeout, 'the handshake took too long')
          : refusalError(408, ErrorCode.RequestTimeout, 'request head not received in time'),
      );
    }, this.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT);
    // Not unref'd: every path clears it, and the socket it guards keeps the process alive anyway
    // (unref'ing each one flips Node's timer handle on and off, a call into C++ each time).
    return t;
  }

  /**
   * Answers a parsed request with 101 or a refusal, as the core decides (protocol/handshake/
   * server.ts); runs `beforeUpgrade` between its two steps and builds the WebSocket.
   */
  #upgrade(req: UpgradeRequest, head: RequestHead, socket: Duplex, rest: Uint8Array, emit: boolean): Outcome | Promise<Outcome> {
    const o = this.options;
    const decision = this.#decide(req, () => negotiate(head, o, req));
    if (!(decision instanceof Promise)) return this.#answer(decision, req, head, socket, rest, emit);
    // A hook that answers later: what the client sends meanwhile waits in the socket.
    socket.pause();
    return decision.then((d) => this.#answer(d, req, head, socket, rest, emit));
  }

  #answer(decision: ServerAccept | ServerRefusal, req: UpgradeRequest, head: RequestHead, socket: Duplex, rest: Uint8Array, emit: boolean): Outcome {
    if (decision.kind === 'refuse') {
      this.#refuse(socket, decision.error, req, decision.response);
      return decision.error;
    }
    if (socket.destroyed || socket.writableEnded) {
      // Nothing is answered: the error carries no status.
      return new HandshakeError(ErrorCode.ClientGone, 'the client went away during the handshake');
    }
    if (this.#closing) {
      const r = refusal(refusalError(503, ErrorCode.Rejected, 'the server is shutting down'));
      this.#refuse(socket, r.error, req, r.response);
      return r.error;
    }
    socket.write(decision.response);
    const settings = this.#settings;
    const codec = decision.deflate ? new NodeDeflateCodec(decision.deflate, settings.deflate) : undefined;
    // `emit`: the WebSocket starts reading in this same call (#adopt), so its transport is not paused.
    const ws = acceptConnection(socket, head.target, decision.protocol, decision.extensions, codec, settings, emit) as WebSocket;
    this.#adopt(ws, req, emit, rest);
    return ws;
  }

  /**
   * The core's decision for a request, with `beforeUpgrade` run between its two steps: one
   * sequence for both transports (`first` is `negotiate` or `negotiateConnect`).
   */
  #decide(req: UpgradeRequest, first: () => PendingAccept | ServerRefusal): Decision | Promise<Decision> {
    const o = this.options;
    try {
      if (this.#closing) throw refusalError(503, ErrorCode.Rejected, 'the server is shutting down');
      const pending = first();
      if (pending.kind !== 'pending') return pending;
      if (!o.beforeUpgrade) return pending.finish(undefined);
      const r = o.beforeUpgrade(req, { protocol: pending.protocol, origin: pending.origin });
      // Without a promise the handshake goes on in this call: no microtask, no pause.
      if (!isThenable(r)) return conclude(pending, r);
      return Promise.resolve(r).then((v) => {
        try {
          return conclude(pending, v);
        } catch (err) {
          return failure(err);
        }
      }, failure);
    } catch (err) {
      return failure(err);
    }
  }

  /** Takes an accepted WebSocket in: tracked, announced, then reading. */
  #adopt(ws: WebSocket, req: UpgradeRequest, emit: boolean, rest: Uint8Array): void {
    const host = hostOf(ws)!;
    this.clients.add(ws);
    opened(host, this, req);
    if (emit) {
      // After the 101, a listener's throw can only close this connection (1011).
      try {
        this.emit('connection', ws, req);
      } catch (err) {
        host.listenerThrew(err, 'connection');
      }
      host.start(rest);
    } else {
      // handleUpgrade: after the caller's `await` has resumed.
      setImmediate(() => host.start(rest));
    }
  }

  /** What the HTTP/2 host (http2/server.ts) may do with this server. */
  #http2Host(): Http2Host {
    return (this.#h2 ??= {
      options: this.options,
      closing: () => this.#closing !== undefined,
      decide: (req, first) => this.#decide(req, first),
      accept: (stream, url, decision, req) => {
        const settings = this.#settings;
        const codec = decision.deflate ? new NodeDeflateCodec(decision.deflate, settings.deflate) : undefined;
        const ws = acceptConnection(stream, url, decision.protocol, decision.extensions, codec, settings, false) as WebSocket;
        this.#adopt(ws, req, true, new Uint8Array(0));
      },
      refused: (err, req) => this.#refused(err, req),
    });
  }

  /** Reports a refused handshake (counters, 'handshakeError'). */
  #refused(err: HandshakeError, req: UpgradeRequest | undefined): void {
    refused(this.#counters, this, err, req);
    if (this.listenerCount('handshakeError') > 0) this.emit('handshakeError', err, req);
  }

  #refuse(socket: Duplex, err: HandshakeError, req?: UpgradeRequest, response?: string): void {
    refuse(socket, err, response);
    this.#refused(err, req);
  }

  /**
   * Sends one message to every open client, framed once (RFC 6455 frames from a server are
   * unmasked, so the same bytes serve all). A client over `maxBroadcastBacklog` is skipped
   * or closed (`broadcastOverflow`). Returns how many clients it was written to.
   */
  broadcast(data: SendData, options: { binary?: boolean; except?: WebSocket } = {}): number {
    const binary = options.binary ?? typeof data !== 'string';
    const frame = prepareSharedFrame(binary ? Opcode.Binary : Opcode.Text, toBytes(data));
    const limit = this.options.maxBroadcastBacklog ?? DEFAULT_MAX_BROADCAST_BACKLOG;
    const overflow = this.options.broadcastOverflow ?? 'close';
    let n = 0;
    for (const ws of this.clients) if (ws !== options.except && hostOf(ws)?.sendPrepared(frame, limit, overflow)) n++;
    return n;
  }

  // ── Topics (registry, delivery and the broker's use in topics.ts) ──

  /** The broker `publish` goes through (the `broker` option, or the local one). */
  get broker(): Broker {
    return this.#topics.broker;
  }

  /**
   * Sends a message to every subscriber of `topic`: this server's own subscribers at once
   * (framed once, compressed once per shareable permessage-deflate agreement unless
   * `compress: false`, with the same slow-subscriber policy as `broadcast`), then, through
   * the broker, those of other processes. Returns how many local subscribers it reached.
   * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for a topic that is not a non-empty
   *   string, bad data, or bytes sent as text that are not UTF-8; WS_ERR_TOPIC_TOO_LONG over `maxTopicLength`
   */
  publish(topic: string, data: SendData, options: PublishOptions = {}): number {
    // Nobody to reach, here or (with the local broker) anywhere: no bytes, no frame.
    if (this.#topics.unheard(topic, data, options)) return 0;
    return this.#topics.publish(topic, toBytes(data), options.binary ?? typeof data !== 'string', options, typeof data === 'string');
  }

  // ── End of topics. ──

  /**
   * A snapshot of this server's counters: connections, topics, messages and bytes in and
   * out, close codes, refusals by status, backpressure, publishes, broker failures (see
   * docs/API.md, "Observability"). Counting costs a few increments per message.
   */
  stats(): ServerStats {
    return snapshot(this.#counters, this.clients.size, this.#topics);
  }

  /**
   * Graceful shutdown: stop accepting, send 1001 to every client, wait up to `timeout` ms
   * (default closeTimeout) for the closing handshakes, then terminate the rest.
   */
  close(options: { code?: number; reason?: string; timeout?: number } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      clearInterval(this.#heartbeat);
      const srv = this.#net;
      const netClosed = srv ? new Promise<void>((r) => srv.close(() => r())) : Promise.resolve();
      if (this.options.server) routers.get(this.options.server)?.delete(this);
      for (const s of this.#pending) s.destroy();
      const open = [...this.clients];
      const closed = open.map((ws) => new Promise<void>((r) => (ws.readyState === WebSocket.CLOSED ? r() : ws.once('close', () => r()))));
      for (const ws of open) ws.close(options.code ?? 1001, options.reason ?? 'server shutting down');
      const t = setTimeout(() => {
        for (const ws of open) ws.terminate();
      }, options.timeout ?? this.options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT);
      await Promise.all(closed);
      clearTimeout(t);
      // HTTP/2: once no endpoint is left on the server, GOAWAY the sessions that carried WebSockets.
      const srv2 = this.options.server;
      if (srv2 && isHttp2Server(srv2) && routers.get(srv2)?.size === 0) goawayHttp2(srv2);
      await netClosed;
      await this.#topics.close();
      this.emit('close');
    })();
    return this.#closing;
  }
}

type Decision = ServerAccept | ServerRefusal;
type Outcome = WebSocket | HandshakeError;

/** What `beforeUpgrade` returned, applied to the core's pending acceptance. */
function conclude(pending: PendingAccept, r: UpgradeDecision | void | undefined): Decision {
  return r && r.status !== undefined ? pending.refuse({ ...r, status: r.status }) : pending.finish(r?.headers);
}

/** A refusal for what a hook or the core threw: its own status, else 500. */
function failure(err: unknown): Decision {
  return err instanceof HandshakeError && err.status !== undefined ? refusal(err) : internal(err);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Clears the handshake timer once `r` is settled: at once for a value, after the promise otherwise. */
function clearWhenSettled<T>(r: T | Promise<T>, timer: NodeJS.Timeout | undefined): T | Promise<T> {
  if (r instanceof Promise) return r.finally(() => clearTimeout(timer));
  clearTimeout(timer);
  return r;
}

/** Error listener for sockets not yet (or no longer) owned by a WebSocket: errors end them anyway. */
function ignore(): void {}

function refuse(socket: Duplex, err: HandshakeError, response = formatRejection(err)): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.end(response);
  setTimeout(() => socket.destroy(), REFUSAL_LINGER).unref();
}

/** The path of a request target, origin-form or absolute-form (RFC 9112 §3.2). */
export function pathOf(target: string): string {
  if (!target.startsWith('/')) {
    try {
      return new URL(target).pathname;
    } catch {
      return target;
    }
  }
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}
