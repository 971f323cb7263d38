// ws13 serve --metrics PORT: server.stats() over HTTP in the Prometheus text exposition
// format (version 0.0.4): GET /metrics. Its own listener, so it can stay off the public port.
// With --workers, the primary alone listens and answers each scrape with every worker's
// snapshot, each sample labelled worker="N" (see clusterPrometheusText).
import http from 'node:http';
import type net from 'node:net';
import type { ServerStats, WebSocketServer } from '../node/index.js';

/** The exposition format's media type (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Kind = 'counter' | 'gauge';
type Labels = Array<[name: string, value: string]>;
type Sample = [labels: Labels, value: number];

/** Label values escaped as the format requires (backslash, double quote, line feed). */
const esc = (v: string): string => v.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n');
const fmt = (labels: Labels): string => (labels.length ? `{${labels.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}` : '');

/** Collects metric families: each announced once (HELP, TYPE), then its samples. */
class Exposition {
  readonly #out: string[] = [];
  metric(name: string, kind: Kind, help: string, samples: Sample[]): void {
    this.#out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
    for (const [labels, value] of samples) this.#out.push(`${name}${fmt(labels)} ${value}`);
  }
  text(): string {
    return `${this.#out.join('\n')}\n`;
  }
}

/** The `ws13_…` families of one or more snapshots, each with its own labels (none, or worker="N"). */
function statsFamilies(x: Exposition, rows: Array<[Labels, ServerStats]>): void {
  const each = (name: string, kind: Kind, help: string, pick: (s: ServerStats) => number): void =>
    x.metric(name, kind, help, rows.map(([l, s]) => [l, pick(s)]));
  const by = (name: string, help: string, label: string, pick: (s: ServerStats) => Record<string, number>): void =>
    x.metric(name, 'counter', help, rows.flatMap(([l, s]) => Object.entries(pick(s)).map(([k, v]): Sample => [[...l, [label, k]], v])));

  each('ws13_connections', 'gauge', 'Open WebSocket connections.', (s) => s.connections);
  each('ws13_connections_opened_total', 'counter', 'WebSocket connections accepted.', (s) => s.connectionsTotal);
  by('ws13_connections_closed_total', 'Closed connections by close code (1006: no close frame).', 'code', (s) => s.closeCodes);
  by('ws13_handshake_refusals_total', 'Opening handshakes refused, by HTTP status.', 'status', (s) => s.refusals);
  each('ws13_messages_received_total', 'counter', 'Data messages received.', (s) => s.messagesIn);
  each('ws13_messages_sent_total', 'counter', 'Data messages sent (each delivery of a publish or broadcast).', (s) => s.messagesOut);
  each('ws13_received_bytes_total', 'counter', 'Bytes read from connections after the handshake.', (s) => s.bytesIn);
  each('ws13_sent_bytes_total', 'counter', 'Bytes written to connections after the handshake.', (s) => s.bytesOut);
  by('ws13_backpressure_total', 'Reads paused for maxBackpressure; deliveries skipped or connections closed for maxBroadcastBacklog.', 'kind', (s) => s.backpressure);
  each('ws13_topics', 'gauge', 'Topics with at least one local subscriber.', (s) => s.topics);
  each('ws13_subscribers', 'gauge', 'Connections in at least one topic.', (s) => s.subscribers);
  each('ws13_subscriptions', 'gauge', 'Connection-topic pairs.', (s) => s.subscriptions);
  each('ws13_publishes_total', 'counter', 'server.publish calls.', (s) => s.publish.calls);
  each('ws13_publishes_unheard_total', 'counter', 'Publishes with nobody to reach (no frame built).', (s) => s.publish.unheard);
  each('ws13_publish_frames_built_total', 'counter', 'Frames built for publishes (once per message and compression).', (s) => s.publish.framesBuilt);
  each('ws13_broker_errors_total', 'counter', 'Broker publish, subscribe or unsubscribe failures.', (s) => s.broker.errors);
  each('ws13_broker_ignored_total', 'counter', 'Messages from the broker ignored as malformed.', (s) => s.broker.ignored);
  each('ws13_broker_dropped_total', 'counter', 'Publishes the broker dropped.', (s) => s.broker.dropped);
}

/** Renders a stats snapshot as Prometheus metrics named `ws13_…`. */
export function prometheusText(s: ServerStats): string {
  const x = new Exposition();
  statsFamilies(x, [[[], s]]);
  return x.text();
}

/** One worker slot of a `--workers` cluster at a scrape. */
export interface WorkerSample {
  /** Its slot, 1…N: a replacement takes the slot of the worker it replaces. */
  worker: number;
  /** The process in the slot now, if any. */
  pid?: number | undefined;
  /** Its snapshot, or undefined when no worker runs in the slot or it did not answer in time. */
  stats: ServerStats | undefined;
}

/** What the primary of a `--workers` cluster knows at a scrape. */
export interface ClusterSample {
  workers: WorkerSample[];
  /** Workers started again after one exited unexpectedly. */
  restarts: number;
  /** The primary's relay (absent with --redis, where Redis carries publishes). */
  relay?: { forwarded: number; dropped: number; ignored: number; topics: number } | undefined;
}

/**
 * Renders a cluster's scrape: the `ws13_…` families of every worker that answered, each sample
 * labelled `worker="N"` (totals are `sum()` over them in the query: no unlabelled total is
 * exposed beside them, so that sum() never counts twice), `ws13_worker_up{worker}` (1 answered,
 * 0 not), `ws13_worker_info{worker,pid}` (which process is in the slot), and the primary's own `ws13_workers`, `ws13_worker_restarts_total`, `ws13_relay_…`.
 */
export function clusterPrometheusText(c: ClusterSample): string {
  const x = new Exposition();
  const slot = (w: WorkerSample): Labels => [['worker', String(w.worker)]];
  x.metric('ws13_workers', 'gauge', 'Worker processes the primary keeps running.', [[[], c.workers.length]]);
  x.metric('ws13_worker_up', 'gauge', 'Whether the worker answered this scrape in time (1) or not (0: busy, stopped or restarting).', c.workers.map((w) => [slot(w), w.stats ? 1 : 0]));
  x.metric('ws13_worker_info', 'gauge', 'The process running in each worker slot (always 1).', c.workers.flatMap((w): Sample[] => (w.pid ? [[[...slot(w), ['pid', String(w.pid)]], 1]] : [])));
  x.metric('ws13_worker_restarts_total', 'counter', 'Workers started again after one exited unexpectedly.', [[[], c.restarts]]);
  if (c.relay) {
    x.metric('ws13_relay_forwarded_total', 'counter', 'Publishes the primary relayed, once per receiving worker.', [[[], c.relay.forwarded]]);
    x.metric('ws13_relay_dropped_total', 'counter', 'Publishes not relayed to a worker that had too much unread.', [[[], c.relay.dropped]]);
    x.metric('ws13_relay_ignored_total', 'counter', 'Malformed relay messages from workers (ignored).', [[[], c.relay.ignored]]);
    x.metric('ws13_relay_topics', 'gauge', 'Distinct topics with a subscriber on any worker.', [[[], c.relay.topics]]);
  }
  statsFamilies(x, c.workers.flatMap((w): Array<[Labels, ServerStats]> => (w.stats ? [[slot(w), w.stats]] : [])));
  return x.text();
}

/**
 * Serves `GET /metrics`, each answer rendered by `render` at the request, on `port`/`host`.
 * @throws the listen error (rejection), e.g. EADDRINUSE
 */
export function listenMetrics(render: () => string | Promise<string>, port: number, host?: string): Promise<http.Server> {
  const srv = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('GET or HEAD only\n');
      return;
    }
    void Promise.resolve()
      .then(render)
      .then(
        (body) => {
          res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (err: Error) => res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`metrics unavailable: ${err.message}\n`),
      );
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => {
      srv.off('error', reject);
      resolve(srv);
    });
  });
}

/** The line that tells where the metrics are. */
export function metricsLine(srv: http.Server): string {
  const m = srv.address() as net.AddressInfo;
  return `Metrics (Prometheus) at http://${m.family === 'IPv6' ? `[${m.address}]` : m.address}:${m.port}/metrics\n`;
}

/**
 * Serves `GET /metrics` for `wss` on `port`/`host` until `wss` closes.
 * @throws the listen error (rejection), e.g. EADDRINUSE
 */
export async function serveMetrics(wss: WebSocketServer, port: number, host?: string): Promise<http.Server> {
  const srv = await listenMetrics(() => prometheusText(wss.stats()), port, host);
  wss.once('close', () => {
    srv.close();
    srv.closeAllConnections();
  });
  return srv;
}
