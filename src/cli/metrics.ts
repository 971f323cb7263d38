// ws13 serve --metrics PORT: server.stats() over HTTP in the Prometheus text exposition
// format (version 0.0.4): GET /metrics. Its own listener, so it can stay off the public port.
import http from 'node:http';
import type net from 'node:net';
import type { ServerStats, WebSocketServer } from '../node/index.js';

/** The exposition format's media type (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Kind = 'counter' | 'gauge';

/** Renders a stats snapshot as Prometheus metrics named `ws13_…`. */
export function prometheusText(s: ServerStats): string {
  const out: string[] = [];
  const metric = (name: string, kind: Kind, help: string, samples: Array<[labels: string, value: number]>): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${value}`);
  };
  const one = (name: string, kind: Kind, help: string, value: number): void => metric(name, kind, help, [['', value]]);
  const by = (label: string, rec: Record<string, number>): Array<[string, number]> =>
    Object.entries(rec).map(([k, v]) => [`{${label}="${k.replace(/[\\"]/g, '\\$&')}"}`, v]);

  one('ws13_connections', 'gauge', 'Open WebSocket connections.', s.connections);
  one('ws13_connections_opened_total', 'counter', 'WebSocket connections accepted.', s.connectionsTotal);
  metric('ws13_connections_closed_total', 'counter', 'Closed connections by close code (1006: no close frame).', by('code', s.closeCodes));
  metric('ws13_handshake_refusals_total', 'counter', 'Opening handshakes refused, by HTTP status.', by('status', s.refusals));
  one('ws13_messages_received_total', 'counter', 'Data messages received.', s.messagesIn);
  one('ws13_messages_sent_total', 'counter', 'Data messages sent (each delivery of a publish or broadcast).', s.messagesOut);
  one('ws13_received_bytes_total', 'counter', 'Bytes read from connections after the handshake.', s.bytesIn);
  one('ws13_sent_bytes_total', 'counter', 'Bytes written to connections after the handshake.', s.bytesOut);
  metric('ws13_backpressure_total', 'counter', 'Reads paused for maxBackpressure; deliveries skipped or connections closed for maxBroadcastBacklog.', by('kind', s.backpressure));
  one('ws13_topics', 'gauge', 'Topics with at least one local subscriber.', s.topics);
  one('ws13_subscribers', 'gauge', 'Connections in at least one topic.', s.subscribers);
  one('ws13_subscriptions', 'gauge', 'Connection-topic pairs.', s.subscriptions);
  one('ws13_publishes_total', 'counter', 'server.publish calls.', s.publish.calls);
  one('ws13_publishes_unheard_total', 'counter', 'Publishes with nobody to reach (no frame built).', s.publish.unheard);
  one('ws13_publish_frames_built_total', 'counter', 'Frames built for publishes (once per message and compression).', s.publish.framesBuilt);
  one('ws13_broker_errors_total', 'counter', 'Broker publish, subscribe or unsubscribe failures.', s.broker.errors);
  one('ws13_broker_ignored_total', 'counter', 'Messages from the broker ignored as malformed.', s.broker.ignored);
  one('ws13_broker_dropped_total', 'counter', 'Publishes the broker dropped.', s.broker.dropped);
  return `${out.join('\n')}\n`;
}

/**
 * Serves `GET /metrics` for `wss` on `port`/`host` until `wss` closes.
 * @throws the listen error (rejection), e.g. EADDRINUSE
 */
export function serveMetrics(wss: WebSocketServer, port: number, host?: string): Promise<net.AddressInfo> {
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
    const body = prometheusText(wss.stats());
    res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  wss.once('close', () => {
    srv.close();
    srv.closeAllConnections();
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => {
      srv.off('error', reject);
      resolve(srv.address() as net.AddressInfo);
    });
  });
}
