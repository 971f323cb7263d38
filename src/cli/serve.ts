// ws13 serve: an echo or broadcast WebSocket server, optionally serving static files over
// HTTP(S) on the same port, with every server option as a flag.
import cluster from 'node:cluster';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import type net from 'node:net';
import { WebSocketServer, WebSocketError, type ServerOptions, type WebSocket } from '../node/index.js';
import { EXIT_FAILURE, UsageError, die, headers as parseHeaders, int, list, parse } from './args.js';
import { bridge, children, kill, type ExecMode } from './serve-exec.js';
import { plain, serveFile } from './serve-static.js';
import { palette } from './term.js';
import { VERSION } from './version.js';
import { metricsLine, serveMetrics } from './metrics.js';
import { BROADCAST_TOPIC, SCALE_USAGE, answerStats, onRetire, runPrimary, scaleBroker } from './serve-cluster.js';

export const SERVE_USAGE = `Usage: ws13 serve [options]

Runs a WebSocket server. Modes:
  echo (default)        every message comes back to its sender
  --broadcast           every message goes to every connected client
  --static DIR          also serve the files of DIR over HTTP(S) on the same port
                        (WebSocket upgrades are taken on that port too)
  --exec CMD            each connection talks to its own process, run by /bin/sh -c CMD:
                        messages go to its stdin, its stdout comes back (see below)

Options:
  -p, --port N              Port to listen on (default 8080; 0 picks a free one)
      --host H              Address to listen on (default 127.0.0.1)
  -H, --header 'Name: value'  Extra header on every 101 answer (repeatable)
      --path P              Only take upgrades on this path (others get 404)
      --protocols LIST      Subprotocols to accept, in preference order (comma-separated)
      --require-protocol    Refuse (400) clients that offer none of --protocols
      --origins LIST        Allowed Origin values (comma-separated); others get 403
      --deflate             Accept permessage-deflate (compression; off by default)
      --max-payload N       Largest message in bytes (default 67108864); larger closes with 1009
      --handshake-timeout MS  Time for the whole opening handshake (default 10000): 408
      --max-header-size N   Largest request head in bytes (default 16384): 431
      --heartbeat MS        Ping idle clients every MS and drop silent ones (default 30000; 0 = off)
      --tls-cert FILE       PEM certificate: serve https:// and wss:// (needs --tls-key)
      --tls-key FILE        PEM private key for --tls-cert
      --http2               Serve WebSockets over HTTP/2 too (RFC 8441): with TLS, h2 and
                            HTTP/1.1 on one port; without, h2c with prior knowledge only
      --metrics PORT        Serve server.stats() as Prometheus metrics at http://HOST:PORT/metrics
                            (with --workers: the primary serves it, each worker's labelled worker="N")
      --exec-mode MODE      lines (default): a text message is a line on stdin, a line of
                            stdout is a text message; raw: bytes as they are, stdout chunks
                            sent as binary messages
      --max-procs N         With --exec: at most N processes at once (default 16); more
                            clients are refused with 503
${SCALE_USAGE}  -q, --quiet               Print only the URL (one line); do not log connections
  -V, --version             Print ws13's version
  -h, --help                Show this help

Without --static, plain HTTP requests get 426 Upgrade Required.
Stops on SIGINT/SIGTERM, closing every client with 1001 (with --workers: a worker
replaced on SIGHUP closes its clients with 1012, Service Restart).

--exec puts a program on the network: anyone who can connect runs it, with this user's
rights. Keep it on 127.0.0.1, or use --origins, a reverse proxy with authentication, or
--tls-cert; prefer a program that does one thing over a shell. Clients never choose the
command; it learns who connected from WS13_PEER (address:port) and WS13_TARGET (path and
query) in its environment. The process is killed (SIGTERM, then SIGKILL after 2 s) when its
connection closes; the connection closes with 1000 when it exits with 0, else 1011.

Exit codes: 0 stopped by a signal, 1 cannot listen or read a file, 2 usage error.
`;

function readFile(option: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    die(`cannot read ${option} ${file}: ${(err as Error).message}`, EXIT_FAILURE);
  }
}

/** Starts the server; resolves undefined (it runs until a signal). */
export async function serve(args: string[]): Promise<number | undefined> {
  const { values } = parse('serve', args, {
    port: { type: 'string', short: 'p', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    header: { type: 'string', short: 'H', multiple: true },
    path: { type: 'string' },
    protocols: { type: 'string', multiple: true },
    'require-protocol': { type: 'boolean' },
    origins: { type: 'string', multiple: true },
    deflate: { type: 'boolean' },
    'max-payload': { type: 'string' },
    'handshake-timeout': { type: 'string' },
    'max-header-size': { type: 'string' },
    heartbeat: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    http2: { type: 'boolean' },
    broadcast: { type: 'boolean' },
    static: { type: 'string' },
    exec: { type: 'string' },
    'exec-mode': { type: 'string' },
    'max-procs': { type: 'string' },
    metrics: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    version: { type: 'boolean', short: 'V' },
    help: { type: 'boolean', short: 'h' },
    workers: { type: 'string' },
    redis: { type: 'string' },
    'redis-sharded': { type: 'boolean' },
    'redis-cluster': { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`ws13 ${VERSION}\n`);
    return 0;
  }
  const port = int('--port', values.port, 0, 65535)!;
  const maxPayload = int('--max-payload', values['max-payload'], 1);
  const handshakeTimeout = int('--handshake-timeout', values['handshake-timeout'], 1);
  const maxHeaderSize = int('--max-header-size', values['max-header-size'], 256);
  const heartbeat = int('--heartbeat', values.heartbeat, 0);
  const metricsPort = int('--metrics', values.metrics, 0, 65535);
  const protocols = list(values.protocols);
  const origins = list(values.origins);
  let extra: Array<[string, string]>;
  try {
    extra = parseHeaders(values.header);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n(serve -H is a response header; the address to listen on is --host)`);
  }
  const execMode = (values['exec-mode'] ?? 'lines') as ExecMode;
  if (execMode !== 'lines' && execMode !== 'raw') throw new UsageError(`--exec-mode is lines or raw, not ${JSON.stringify(values['exec-mode'])}`);
  const maxProcs = int('--max-procs', values['max-procs'], 1, 10000) ?? 16;
  if (values.exec === undefined && (values['exec-mode'] !== undefined || values['max-procs'] !== undefined)) throw new UsageError('--exec-mode and --max-procs go with --exec');
  if (values.exec !== undefined && values.broadcast) throw new UsageError('--exec and --broadcast: choose one');
  if (values['require-protocol'] && !protocols?.length) throw new UsageError('--require-protocol needs --protocols');
  if (values.path !== undefined && !values.path.startsWith('/')) throw new UsageError(`--path must start with /: ${values.path}`);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  let root: string | undefined;
  if (values.static !== undefined) {
    root = path.resolve(values.static);
    if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--static: not a directory: ${values.static}`);
  }
  const workers = int('--workers', values.workers, 1, 1024);
  for (const o of ['redis-sharded', 'redis-cluster'] as const) if (values[o] && values.redis === undefined) throw new UsageError(`--${o} needs --redis`);
  const tls = values['tls-cert'] !== undefined ? { cert: readFile('--tls-cert', values['tls-cert']), key: readFile('--tls-key', values['tls-key']!) } : undefined;
  const c = palette();
  const quiet = values.quiet === true;
  const log = (line: string): void => {
    if (!quiet) process.stdout.write(`${c.dim(new Date().toISOString().slice(11, 23))}${cluster.isWorker ? ` [pid ${process.pid}]` : ''} ${line}\n`);
  };

  const metrics = metricsPort !== undefined ? { port: metricsPort, host: values.host, quiet } : undefined;
  const scale = { redis: values.redis, redisSharded: values['redis-sharded'], redisCluster: values['redis-cluster'], metrics, log };
  if (workers !== undefined && cluster.isPrimary) return void (await runPrimary(workers, scale));
  const broker = await scaleBroker(scale);

  const options: ServerOptions = {
    ...(broker ? { broker } : {}),
    ...(protocols?.length ? { protocols } : {}),
    ...(values['require-protocol'] ? { requireProtocol: true } : {}),
    ...(origins?.length ? { origins } : {}),
    ...(values.deflate ? { perMessageDeflate: true } : {}),
    ...(maxPayload !== undefined ? { maxPayload } : {}),
    ...(handshakeTimeout !== undefined ? { handshakeTimeout } : {}),
    ...(maxHeaderSize !== undefined ? { maxHeaderSize } : {}),
    ...(heartbeat !== undefined ? { heartbeat: heartbeat === 0 ? false : { interval: heartbeat } } : {}),
    ...(values.path !== undefined ? { path: values.path } : {}),
    ...(extra.length ? { headers: extra } : {}),
    // --exec: a bounded number of processes; past it, 503 before the upgrade.
    ...(values.exec !== undefined
      ? { beforeUpgrade: () => (children.size >= maxProcs ? { status: 503, body: `at most ${maxProcs} --exec processes at once; try later\n` } : undefined) }
      : {}),
  };

  // Standalone (the library parses the handshake itself) unless HTTP must be served too.
  let httpServer: http.Server | https.Server | http2.Http2Server | undefined;
  // A cluster worker serves through its own HTTP server, so that on retirement it can stop
  // listening first and let the handshakes already under way finish (see `stop`).
  if (tls || root || values.http2 || cluster.isWorker) {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      if (root) return serveFile(root, req, res);
      // HTTP/2 has no Upgrade or Connection fields (RFC 9113 §8.2.2); it opens with CONNECT.
      const h1: Record<string, string> = req.httpVersionMajor === 1 ? { Upgrade: 'websocket', Connection: 'Upgrade' } : {};
      plain(res, 426, 'this is a WebSocket endpoint: connect with Upgrade: websocket\n', { ...h1, 'Sec-WebSocket-Version': '13' });
    };
    const httpOpts = maxHeaderSize !== undefined ? { maxHeaderSize } : {};
    if (values.http2) {
      const h2 = tls ? http2.createSecureServer({ ...tls, allowHTTP1: true }, onRequest as never) : http2.createServer(onRequest as never);
      httpServer = h2 as http2.Http2Server;
    } else {
      const h1 = tls ? https.createServer({ ...httpOpts, ...tls }, onRequest) : http.createServer(httpOpts, onRequest);
      if (handshakeTimeout !== undefined) h1.headersTimeout = handshakeTimeout;
      httpServer = h1;
    }
    options.server = httpServer;
  }
  // Connections accepted and not yet upgraded (or refused): a retiring worker waits for them.
  const unsettled = new Set<net.Socket>();
  if (cluster.isWorker && httpServer) {
    httpServer.on('connection', (s: net.Socket) => {
      unsettled.add(s);
      s.once('close', () => unsettled.delete(s));
    });
  }
  const wss = new WebSocketServer(options);
  // In a cluster, the primary serves --metrics and asks each worker for its stats.
  if (metrics && cluster.isWorker) answerStats(() => wss.stats());
  const mode = values.exec !== undefined ? 'exec' : values.broadcast ? 'broadcast' : 'echo';
  const peer = (ws: WebSocket, req: { socket: { remoteAddress?: string; remotePort?: number } }): string =>
    `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}${ws.url && ws.url !== '/' ? ` ${ws.url}` : ''}`;
  wss.on('connection', (ws, req) => {
    unsettled.delete(req.socket as net.Socket);
    const who = peer(ws, req as unknown as { socket: net.Socket });
    const details = [ws.protocol && `protocol ${ws.protocol}`, ws.extensions && ws.extensions].filter(Boolean).join(', ');
    log(`${c.green('+')} ${who}${details ? ` (${details})` : ''}, ${wss.clients.size} connected`);
    // With a broker (--workers, --redis), --broadcast reaches the clients of every process.
    if (broker && mode === 'broadcast') ws.subscribe(BROADCAST_TOPIC);
    if (values.exec !== undefined) {
      const r = req as unknown as { socket: net.Socket; url?: string };
      bridge(ws, `${r.socket.remoteAddress ?? '?'}:${r.socket.remotePort ?? '?'}`, r.url ?? ws.url ?? '/', { command: values.exec, mode: execMode, log });
    } else {
      ws.on('message', (data, isBinary) => {
        if (mode === 'broadcast' && broker) wss.publish(BROADCAST_TOPIC, data as string | Buffer, { binary: isBinary });
        else if (mode === 'broadcast') wss.broadcast(data as string | Buffer, { binary: isBinary });
        else ws.send(data as string | Buffer, { binary: isBinary });
      });
    }
    // A connection this server failed (1009 message too big, 1002, 1007...) is logged with the
    // code it sent, not as the 1006 its close event reports.
    let failed: WebSocketError | undefined;
    ws.on('error', (err) => (failed = err));
    ws.on('close', (code, reason) => {
      const sent = failed?.closeCode !== undefined && code === 1006 ? failed.closeCode : undefined;
      const shown = sent !== undefined ? `${sent} (${failed!.message})` : `${code}${reason ? ` ${JSON.stringify(reason)}` : ''}`;
      log(`${c.yellow('-')} ${who} closed ${shown}`);
    });
  });
  wss.on('handshakeError', (err, req) => {
    const who = req ? `${(req.socket as net.Socket).remoteAddress ?? '?'} ${req.url ?? ''}` : '?';
    log(`${c.red('x')} ${who} refused ${err.status ?? ''}: ${err.message}`);
  });
  wss.on('error', (err) => log(`${c.red('error')} ${err.message}`));

  let addr: net.AddressInfo;
  try {
    if (httpServer) {
      const srv = httpServer;
      addr = await new Promise<net.AddressInfo>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, values.host, () => {
          srv.off('error', reject);
          resolve(srv.address() as net.AddressInfo);
        });
      });
    } else {
      addr = await wss.listen(port, values.host);
    }
  } catch (err) {
    die(`cannot listen on ${values.host}:${port}: ${(err as Error).message}`, EXIT_FAILURE);
  }
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  if (metricsPort !== undefined && !cluster.isWorker) {
    const m = await serveMetrics(wss, metricsPort, values.host).catch((err: Error) => die(`cannot listen for --metrics on ${values.host}:${metricsPort}: ${err.message}`, EXIT_FAILURE));
    // Quiet, stdout holds the URL alone: the metrics address goes to stderr.
    (quiet ? process.stderr : process.stdout).write(metricsLine(m));
  }
  const url = `${tls ? 'wss' : 'ws'}://${host}:${addr.port}${values.path ?? '/'}`;
  process.stdout.write(banner(values.quiet ? undefined : c, mode, url, { protocols, required: values['require-protocol'] === true, origins, deflate: values.deflate === true, heartbeatOff: heartbeat === 0, tls: tls !== undefined, root, host, port: addr.port, exec: values.exec, http2: values.http2 === true }));
  let stopping = false;
  const stop = (code = 1001): void => {
    if (stopping) return;
    stopping = true;
    if (!quiet) process.stderr.write(`\nshutting down: closing connections with ${code}\n`);
    for (const child of children) kill(child);
    void settle()
      .then(() => wss.close({ code, reason: code === 1012 ? 'service restart' : 'server shutting down' }))
      .then(
        () =>
          new Promise<void>((r) => {
            if (!httpServer?.listening) return r();
            httpServer.close(() => r());
            if ('closeAllConnections' in httpServer) httpServer.closeAllConnections();
          }),
      )
      .then(() => process.exit(0));
  };
  // A worker stops listening first (the primary then hands new connections to the others), and
  // lets the handshakes it already took finish, at most 2 s: those clients are then closed with
  // the code like the rest, instead of being cut mid-handshake.
  const settle = async (): Promise<void> => {
    if (!cluster.isWorker || !httpServer) return;
    httpServer.close();
    const until = Date.now() + 2000;
    while (unsettled.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  };
  process.once('SIGINT', () => stop());
  process.once('SIGTERM', () => stop());
  onRetire(stop);
  return undefined;
}

interface BannerInfo {
  protocols: string[] | undefined;
  required: boolean;
  origins: string[] | undefined;
  deflate: boolean;
  heartbeatOff: boolean;
  tls: boolean;
  root: string | undefined;
  host: string;
  port: number;
  exec: string | undefined;
  /** --http2: WebSockets over HTTP/2 too (without TLS: h2c only). */
  http2?: boolean;
}

/** What serve prints once listening: the URL alone when quiet (no palette), else how to connect. */
export function banner(c: ReturnType<typeof palette> | undefined, mode: string, url: string, b: BannerInfo): string {
  if (!c) return `${url}\n`;
  const features = [
    b.protocols?.length && `protocols ${b.protocols.join(', ')}${b.required ? ' (required)' : ''}`,
    b.origins?.length && `origins ${b.origins.join(', ')}`,
    b.deflate && 'permessage-deflate',
    b.heartbeatOff && 'no heartbeat',
    b.exec !== undefined && `each connection runs: ${b.exec}`,
    b.http2 && (b.tls ? 'HTTP/2 (RFC 8441) and HTTP/1.1' : 'HTTP/2 cleartext (h2c) only'),
  ].filter(Boolean);
  // With a required subprotocol, each suggested client offers the first one.
  const proto = b.required && b.protocols?.length ? b.protocols[0]! : undefined;
  const origin = b.origins?.length ? b.origins[0]! : undefined;
  const h2c = b.http2 === true && !b.tls;
  const flags = `${proto ? ` --protocol ${proto}` : ''}${origin ? ` --origin ${origin}` : ''}${b.tls ? ' --insecure' : ''}${h2c ? ' --http2' : ''}`;
  // Node 22 has a global WebSocket; Node 20 has it behind --experimental-websocket (20.10+).
  const nodeFlag = typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function' ? '' : ' --experimental-websocket';
  const nodeLine = origin || b.tls || h2c
    ? ''
    : `  node${nodeFlag} -e "const ws = new WebSocket('${url}'${proto ? `, '${proto}'` : ''}); ws.onopen = () => ws.send('hello'); ws.onmessage = (e) => { console.log(e.data); ws.close(); }"\n`;
  // python -m websockets offers no subprotocol and no Origin.
  const pythonLine = proto || origin || b.tls || h2c ? '' : `  python3 -m websockets ${url}\n`;
  return (
    `ws13 ${mode} server listening on ${c.bold(url)}\n` +
    (features.length ? `  ${features.join('; ')}\n` : '') +
    (b.root ? `Serving files from ${b.root} at ${b.tls ? 'https' : 'http'}://${b.host}:${b.port}/\n` : '') +
    `Connect with:\n` +
    `  ws13 connect ${url}${flags}\n` +
    nodeLine +
    pythonLine +
    `Press Ctrl+C to stop.\n`
  );
}
