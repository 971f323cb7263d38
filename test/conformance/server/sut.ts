// The server under test for the server conformance suite.
//
// Default: ws13 (src/node/index.ts, loaded dynamically so that this suite compiles
// before the implementation exists). With SUT=ws: the `ws` package, with the ws13
// options emulated around it, to check the harness itself against a mature server.
//
// With `http2` (ws13 only), the same endpoint is also served over HTTP/2 cleartext (RFC 8441).
//
// Either way the server is an echo server: every message is sent back with the
// same type (`ws.send(data, { binary: isBinary })`).
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export interface SutOptions {
  maxPayload?: number;
  origins?: Array<string | RegExp> | ((origin: string, req: unknown) => boolean);
  protocols?: string[] | ((offered: string[], req: unknown) => string | undefined);
  requireProtocol?: boolean;
  maxHeaderSize?: number;
  handshakeTimeout?: number;
  beforeUpgrade?: (req: unknown) => BeforeUpgradeResult | Promise<BeforeUpgradeResult>;
  headers?: Record<string, string> | ((req: unknown) => Record<string, string>);
  /** permessage-deflate settings as ws13 takes them (mapped onto ws's options for SUT=ws). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * Replaces the echo: called for every message with a `send(data, options)` bound to the
   * connection (options as ws13/ws take them: binary, compress).
   */
  onMessage?: (send: (data: unknown, options: { binary?: boolean; compress?: boolean }) => void, data: unknown, isBinary: boolean) => void;
}

export interface PerMessageDeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
  level?: number;
  memLevel?: number;
  threshold?: number;
}

/** A refusal ({ status, headers?, body? }), extra 101 headers ({ headers }), or nothing. */
export type BeforeUpgradeResult = undefined | { status?: number; headers?: Record<string, string>; body?: string };

export interface Sut {
  port: number;
  /** With `http2`: the port of an h2c server where the same endpoint takes extended CONNECTs (RFC 8441). */
  h2Port?: number;
  close(): Promise<void>;
}

/** Which implementation runs: 'ws13' (default) or 'ws'. */
export const SUT_NAME: 'ws' | 'ws13' = process.env.SUT === 'ws' ? 'ws' : 'ws13';

/**
 * Starts the echo server; with `http2`, ws13 also serves the same endpoint (same options) over
 * HTTP/2 cleartext on a second port (the `ws` package has no RFC 8441: no h2Port then).
 */
export function startServer(options: SutOptions = {}, http2 = false): Promise<Sut> {
  return SUT_NAME === 'ws' ? startWs(options) : startWs13(options, http2);
}

/** Runs `p` but gives up after `ms` (server shutdown must never hang a test run). */
function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}

// ---------------------------------------------------------------------------- ws13

/** With SUT_DEBUG=1, server-side errors are printed (to help diagnose a failing case). */
function debug(what: string): (err: unknown) => void {
  return process.env.SUT_DEBUG ? (err) => console.error(`[sut] ${what}:`, err) : () => {};
}

async function startWs13(options: SutOptions, withHttp2: boolean): Promise<Sut> {
  const modulePath = '../../../src/node/index.js';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const mod: any = await import(modulePath);
  const { onMessage, ...serverOptions } = options;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const echo = (server: any): void => {
    server.on('error', debug('server error'));
    server.on('handshakeError', debug('handshakeError'));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    server.on('connection', (ws: any) => {
      ws.on('error', debug('connection error'));
      ws.on('message', (data: unknown, isBinary: boolean) => {
        try {
          if (onMessage) onMessage((d, o) => ws.send(d, o), data, isBinary);
          else ws.send(data, { binary: isBinary });
        } catch {
          /* the connection may be closing */
        }
      });
    });
  };
  const server = new mod.WebSocketServer({ ...serverOptions, heartbeat: false });
  echo(server);
  const addr: AddressInfo = await server.listen(0, '127.0.0.1');
  if (!withHttp2) {
    return {
      port: addr.port,
      close: () => bounded(Promise.resolve().then(() => server.close()), 8000),
    };
  }
  // The same endpoint on an h2c server: a second WebSocketServer with the same options.
  const h2 = http2.createServer();
  const sessions = new Set<http2.Http2Session>();
  h2.on('session', (s: http2.Http2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  const server2 = new mod.WebSocketServer({ ...serverOptions, server: h2, heartbeat: false });
  echo(server2);
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  return {
    port: addr.port,
    h2Port: (h2.address() as AddressInfo).port,
    close: () =>
      bounded(
        Promise.all([server.close(), server2.close()]).then(
          () =>
            new Promise<void>((resolve) => {
              for (const s of sessions) s.destroy();
              h2.close(() => resolve());
            }),
        ),
        8000,
      ),
  };
}

// ---------------------------------------------------------------------------- ws

function plainResponse(socket: Duplex, status: number, extra: Record<string, string> = {}, body?: string): void {
  const text = body ?? `${status} ${http.STATUS_CODES[status] ?? ''}\n`;
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Unknown'}`];
  const hasType = Object.keys(extra).some((k) => k.toLowerCase() === 'content-type');
  if (!hasType) lines.push('Content-Type: text/plain; charset=utf-8');
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
  lines.push(`Content-Length: ${Buffer.byteLength(text)}`, 'Connection: close', '', '');
  socket.end(lines.join('\r\n') + text);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function offeredProtocols(req: http.IncomingMessage): string[] | null | undefined {
  const raw = req.headers['sec-websocket-protocol'];
  if (raw === undefined) return undefined;
  const list = raw.split(',').map((s) => s.trim());
  if (list.some((s) => !TOKEN.test(s))) return null;
  return list;
}

function choose(options: SutOptions, offered: string[], req: unknown): string | undefined {
  if (!options.protocols) return undefined;
  if (typeof options.protocols === 'function') return options.protocols(offered, req);
  return options.protocols.find((p) => offered.includes(p));
}

function originAllowed(options: SutOptions, origin: string | undefined, req: unknown): boolean {
  if (!options.origins) return true;
  if (origin === undefined) return false;
  if (typeof options.origins === 'function') return options.origins(origin, req);
  return options.origins.some((o) => (typeof o === 'string' ? o === origin : o.test(origin)));
}

/** ws13's permessage-deflate options (and defaults) expressed as ws's. */
function wsDeflateOptions(o: SutOptions['perMessageDeflate']): false | Record<string, unknown> {
  if (!o) return false;
  const d: PerMessageDeflateOptions = o === true ? {} : o;
  const r: Record<string, unknown> = {
    serverNoContextTakeover: d.serverNoContextTakeover ?? true,
    clientNoContextTakeover: d.clientNoContextTakeover ?? false,
    threshold: d.threshold ?? 1024,
  };
  // ws declines offers that do not allow its configured windows; 15 is the default anyway.
  if (d.serverMaxWindowBits !== undefined && d.serverMaxWindowBits !== 15) r.serverMaxWindowBits = d.serverMaxWindowBits;
  if (d.clientMaxWindowBits !== undefined && d.clientMaxWindowBits !== 15) r.clientMaxWindowBits = d.clientMaxWindowBits;
  if (d.level !== undefined || d.memLevel !== undefined) {
    r.zlibDeflateOptions = { ...(d.level !== undefined ? { level: d.level } : {}), ...(d.memLevel !== undefined ? { memLevel: d.memLevel } : {}) };
  }
  return r;
}

async function startWs(options: SutOptions): Promise<Sut> {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: wsDeflateOptions(options.perMessageDeflate),
    maxPayload: options.maxPayload ?? 64 * 1024 * 1024,
    handleProtocols: (set: Set<string>, req: http.IncomingMessage) => choose(options, [...set], req) ?? false,
  });
  const extraHeaders = new WeakMap<http.IncomingMessage, Record<string, string>>();
  wss.on('headers', (headers: string[], req: http.IncomingMessage) => {
    const h = typeof options.headers === 'function' ? options.headers(req) : options.headers;
    for (const [k, v] of Object.entries({ ...(h ?? {}), ...(extraHeaders.get(req) ?? {}) })) headers.push(`${k}: ${v}`);
  });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (options.onMessage) options.onMessage((d, o) => ws.send(d as Buffer, o), data, isBinary);
      else ws.send(data as Buffer, { binary: isBinary });
    });
  });
  const timeout = options.handshakeTimeout ?? 10_000;
  const server = http.createServer({
    ...(options.maxHeaderSize !== undefined ? { maxHeaderSize: options.maxHeaderSize } : {}),
    headersTimeout: timeout,
    requestTimeout: timeout,
    connectionsCheckingInterval: Math.min(100, timeout),
  });
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' });
    res.end('426 Upgrade Required\n');
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    void (async () => {
      if (!originAllowed(options, req.headers.origin, req)) return plainResponse(socket, 403);
      const offered = offeredProtocols(req);
      if (offered === null) return plainResponse(socket, 400);
      if (options.requireProtocol && choose(options, offered ?? [], req) === undefined) return plainResponse(socket, 400);
      if (options.beforeUpgrade) {
        const r = await options.beforeUpgrade(req);
        if (r && r.status !== undefined) return plainResponse(socket, r.status, r.headers, r.body);
        if (r && r.headers) extraHeaders.set(req, r.headers);
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    })();
  });
  const sockets = new Set<Duplex>();
  server.on('connection', (s: Duplex) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      bounded(
        new Promise<void>((resolve) => {
          for (const c of wss.clients) c.terminate();
          for (const s of sockets) s.destroy();
          wss.close();
          server.close(() => resolve());
        }),
        5000,
      ),
  };
}
