// ws13 serve: an echo or broadcast WebSocket server, optionally serving static files over
// HTTP(S) on the same port, with every server option as a flag.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type net from 'node:net';
import { WebSocketServer, type ServerOptions, type WebSocket } from '../node/index.js';
import { EXIT_FAILURE, UsageError, die, int, list, parse } from './args.js';
import { palette } from './term.js';
import { serveMetrics } from './metrics.js';

export const SERVE_USAGE = `Usage: ws13 serve [options]

Runs a WebSocket server. Modes:
  echo (default)        every message comes back to its sender
  --broadcast           every message goes to every connected client
  --static DIR          also serve the files of DIR over HTTP(S) on the same port
                        (WebSocket upgrades are taken on that port too)

Options:
  -p, --port N              Port to listen on (default 8080; 0 picks a free one)
  -H, --host H              Address to listen on (default 127.0.0.1)
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
      --metrics PORT        Serve server.stats() as Prometheus metrics at http://HOST:PORT/metrics
  -q, --quiet               Do not log connections
  -h, --help                Show this help

Without --static, plain HTTP requests get 426 Upgrade Required.
Stops on SIGINT/SIGTERM, closing every client with 1001.

Exit codes: 0 stopped by a signal, 1 cannot listen or read a file, 2 usage error.
`;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

function plain(res: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

/** Serves a file under `root`; never outside it. */
function serveFile(root: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'GET or HEAD only\n', { Allow: 'GET, HEAD' });
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    return plain(res, 400, 'bad path\n');
  }
  if (pathname.includes('\0')) return plain(res, 400, 'bad path\n');
  let file = path.resolve(root, `.${pathname}`);
  const rel = path.relative(root, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return plain(res, 403, 'forbidden\n');
  fs.stat(file, (err, st) => {
    if (!err && st.isDirectory()) {
      if (!pathname.endsWith('/')) return plain(res, 301, 'moved\n', { Location: `${pathname}/` });
      file = path.join(file, 'index.html');
      return fs.stat(file, (err2, st2) => send(err2 ? undefined : st2));
    }
    send(err ? undefined : st);
  });
  const send = (st: fs.Stats | undefined): void => {
    if (!st || !st.isFile()) return plain(res, 404, 'not found\n');
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') return void res.end();
    const stream = fs.createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };
}

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
    host: { type: 'string', short: 'H', default: '127.0.0.1' },
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
    broadcast: { type: 'boolean' },
    static: { type: 'string' },
    metrics: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(SERVE_USAGE);
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
  const tls = values['tls-cert'] !== undefined ? { cert: readFile('--tls-cert', values['tls-cert']), key: readFile('--tls-key', values['tls-key']!) } : undefined;
  const c = palette();
  const quiet = values.quiet === true;
  const log = (line: string): void => {
    if (!quiet) process.stdout.write(`${c.dim(new Date().toISOString().slice(11, 23))} ${line}\n`);
  };

  const options: ServerOptions = {
    ...(protocols?.length ? { protocols } : {}),
    ...(values['require-protocol'] ? { requireProtocol: true } : {}),
    ...(origins?.length ? { origins } : {}),
    ...(values.deflate ? { perMessageDeflate: true } : {}),
    ...(maxPayload !== undefined ? { maxPayload } : {}),
    ...(handshakeTimeout !== undefined ? { handshakeTimeout } : {}),
    ...(maxHeaderSize !== undefined ? { maxHeaderSize } : {}),
    ...(heartbeat !== undefined ? { heartbeat: heartbeat === 0 ? false : { interval: heartbeat } } : {}),
    ...(values.path !== undefined ? { path: values.path } : {}),
  };

  // Standalone (the library parses the handshake itself) unless HTTP must be served too.
  let httpServer: http.Server | https.Server | undefined;
  if (tls || root) {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      if (root) return serveFile(root, req, res);
      plain(res, 426, 'this is a WebSocket endpoint: connect with Upgrade: websocket\n', {
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Sec-WebSocket-Version': '13',
      });
    };
    const httpOpts = maxHeaderSize !== undefined ? { maxHeaderSize } : {};
    httpServer = tls ? https.createServer({ ...httpOpts, ...tls }, onRequest) : http.createServer(httpOpts, onRequest);
    if (handshakeTimeout !== undefined) httpServer.headersTimeout = handshakeTimeout;
    options.server = httpServer;
  }
  const wss = new WebSocketServer(options);
  const mode = values.broadcast ? 'broadcast' : 'echo';
  const peer = (ws: WebSocket, req: { socket: { remoteAddress?: string; remotePort?: number } }): string =>
    `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}${ws.url && ws.url !== '/' ? ` ${ws.url}` : ''}`;
  wss.on('connection', (ws, req) => {
    const who = peer(ws, req as unknown as { socket: net.Socket });
    const details = [ws.protocol && `protocol ${ws.protocol}`, ws.extensions && ws.extensions].filter(Boolean).join(', ');
    log(`${c.green('+')} ${who}${details ? ` (${details})` : ''}, ${wss.clients.size} connected`);
    ws.on('message', (data, isBinary) => {
      if (mode === 'broadcast') wss.broadcast(data as string | Buffer, { binary: isBinary });
      else ws.send(data as string | Buffer, { binary: isBinary });
    });
    ws.on('error', () => {});
    ws.on('close', (code, reason) => log(`${c.yellow('-')} ${who} closed ${code}${reason ? ` ${JSON.stringify(reason)}` : ''}`));
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
  if (metricsPort !== undefined) {
    const m = await serveMetrics(wss, metricsPort, values.host).catch((err: Error) => die(`cannot listen for --metrics on ${values.host}:${metricsPort}: ${err.message}`, EXIT_FAILURE));
    process.stdout.write(`Metrics (Prometheus) at http://${m.family === 'IPv6' ? `[${m.address}]` : m.address}:${m.port}/metrics\n`);
  }
  const url = `${tls ? 'wss' : 'ws'}://${host}:${addr.port}${values.path ?? '/'}`;
  const features = [
    protocols?.length && `protocols ${protocols.join(', ')}${values['require-protocol'] ? ' (required)' : ''}`,
    origins?.length && `origins ${origins.join(', ')}`,
    values.deflate && 'permessage-deflate',
    heartbeat === 0 && 'no heartbeat',
  ].filter(Boolean);
  process.stdout.write(
    `ws13 ${mode} server listening on ${c.bold(url)}\n` +
      (features.length ? `  ${features.join('; ')}\n` : '') +
      (root ? `Serving files from ${root} at ${tls ? 'https' : 'http'}://${host}:${addr.port}/\n` : '') +
      `Connect with:\n` +
      `  ws13 connect ${url}${tls ? ' --insecure' : ''}\n` +
      `  node -e "const ws = new WebSocket('${url}'); ws.onopen = () => ws.send('hello'); ws.onmessage = (e) => { console.log(e.data); ws.close(); }"\n` +
      `  python3 -m websockets ${url}\n` +
      `Press Ctrl+C to stop.\n`,
  );
  const stop = (): void => {
    process.stderr.write('\nshutting down: closing connections with 1001\n');
    void wss
      .close()
      .then(
        () =>
          new Promise<void>((r) => {
            if (!httpServer) return r();
            httpServer.close(() => r());
            httpServer.closeAllConnections();
          }),
      )
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return undefined;
}
