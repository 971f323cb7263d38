// The demo behind `npm start`: an HTTP server with one page, and a ws13 WebSocketServer attached
// to it at /ws. The page is a chat room shared by every open page and an inspector of its own
// opening handshake (the server reports back the request headers it received and its answer).
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, acceptKey, type WebSocket, type UpgradeRequest } from '../node/index.js';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './page.js';

/** RFC 6455 §1.3: appended to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The page's subprotocol: JSON messages. A client offering none speaks plain text lines. */
export const SUBPROTOCOL = 'chat.v1';
export const WS_PATH = '/ws';

const MAX_NAME = 24;
const MAX_TEXT = 500;
const HISTORY = 20;

export interface DemoOptions {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Log connections and departures (default false). */
  log?: (line: string) => void;
}

export interface Demo {
  /** The page, e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  /** The WebSocket endpoint, e.g. ws://127.0.0.1:8080/ws */
  readonly wsUrl: string;
  readonly port: number;
  readonly http: http.Server;
  readonly wss: WebSocketServer;
  /** Sends 1001 to every client, waits briefly for the closing handshakes, stops listening. */
  close(): Promise<void>;
}

/** One header as received or sent: [name, value]. */
type Header = [string, string];

/** What the server tells a page about that page's own opening handshake. */
export interface HandshakeReport {
  type: 'handshake';
  request: { method: string; url: string; httpVersion: string; headers: Header[] };
  response: { status: 101; statusText: 'Switching Protocols'; headers: Header[] };
  accept: { key: string; guid: string; concatenated: string; sha1Hex: string; base64: string };
  server: { protocol: string; extensions: string };
}

interface Member {
  readonly ws: WebSocket;
  readonly id: number;
  name: string;
  joined: boolean;
  /** Speaks chat.v1 (JSON); otherwise plain text lines. */
  readonly json: boolean;
}

interface ChatLine {
  type: 'chat';
  id: number;
  name: string;
  text: string;
  at: number;
}

type RoomEvent =
  | ChatLine
  | { type: 'join'; id: number; name: string; users: string[]; at: number }
  | { type: 'leave'; id: number; name: string; users: string[]; at: number }
  | { type: 'rename'; id: number; from: string; to: string; users: string[]; at: number };

/** The report for one connection: the request as received, the 101 as ws13 wrote it. */
export function handshakeReport(ws: WebSocket, req: UpgradeRequest): HandshakeReport {
  const headers: Header[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  const key = String(req.headers['sec-websocket-key'] ?? '');
  const concatenated = key + WEBSOCKET_GUID;
  const digest = createHash('sha1').update(concatenated, 'latin1').digest();
  // The Accept as the library computed it for the 101 it wrote.
  const accept = acceptKey(key);
  const answer: Header[] = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', accept],
  ];
  if (ws.protocol) answer.push(['Sec-WebSocket-Protocol', ws.protocol]);
  if (ws.extensions) answer.push(['Sec-WebSocket-Extensions', ws.extensions]);
  return {
    type: 'handshake',
    request: { method: req.method ?? 'GET', url: req.url ?? '/', httpVersion: req.httpVersion, headers },
    response: { status: 101, statusText: 'Switching Protocols', headers: answer },
    accept: { key, guid: WEBSOCKET_GUID, concatenated, sha1Hex: digest.toString('hex'), base64: digest.toString('base64') },
    server: { protocol: ws.protocol, extensions: ws.extensions },
  };
}

function cleanName(v: unknown, fallback: string): string {
  if (typeof v !== 'string') return fallback;
  // No control characters, one space between words.
  const s = v.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').replace(/\s+/g, ' ').trim().slice(0, MAX_NAME);
  return s || fallback;
}

function plainLine(e: RoomEvent): string {
  switch (e.type) {
    case 'chat':
      return `${e.name}: ${e.text}`;
    case 'join':
      return `* ${e.name} joined`;
    case 'leave':
      return `* ${e.name} left`;
    case 'rename':
      return `* ${e.from} is now ${e.to}`;
  }
}

const PAGE_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const ASSETS: Record<string, { type: string; body: string }> = {
  '/': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
  '/index.html': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
  '/app.js': { type: 'text/javascript; charset=utf-8', body: PAGE_JS },
  '/app.css': { type: 'text/css; charset=utf-8', body: PAGE_CSS },
};

function serveAsset(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  if (path === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  const asset = ASSETS[path];
  if (!asset) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  const body = Buffer.from(asset.body, 'utf8');
  res.writeHead(200, { ...PAGE_HEADERS, 'Content-Type': asset.type, 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Starts the demo: resolves once it listens. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  const httpServer = http.createServer(serveAsset);
  const wss = new WebSocketServer({
    server: httpServer,
    path: WS_PATH,
    protocols: [SUBPROTOCOL],
    perMessageDeflate: true,
    maxPayload: 64 * 1024,
    // Browsers on other sites may not join (cross-site WebSocket hijacking): the page's origin
    // must name this very host. Clients without Origin (not browsers) are let in.
    origins: (origin, req) => {
      if (origin === undefined) return true;
      try {
        return new URL(origin).host === String(req.headers.host ?? '').toLowerCase();
      } catch {
        return false;
      }
    },
  });

  const members = new Map<WebSocket, Member>();
  const history: ChatLine[] = [];
  let nextId = 1;

  const names = (): string[] => [...members.values()].filter((m) => m.joined).map((m) => m.name);
  const sendTo = (m: Member, e: RoomEvent): void => {
    m.ws.send(m.json ? JSON.stringify(e) : plainLine(e));
  };
  const emit = (e: RoomEvent): void => {
    const all = [...members.values()];
    if (all.every((m) => m.json)) wss.broadcast(JSON.stringify(e)); // framed once for everyone
    else for (const m of all) sendTo(m, e);
  };
  const join = (m: Member): void => {
    m.joined = true;
    emit({ type: 'join', id: m.id, name: m.name, users: names(), at: Date.now() });
  };

  wss.on('connection', (ws, req) => {
    const json = ws.protocol === SUBPROTOCOL;
    const m: Member = { ws, id: nextId++, name: `${json ? 'guest' : 'terminal'}-${nextId - 1}`, joined: false, json };
    members.set(ws, m);
    log(`connection #${m.id} from ${req.headers.origin ?? 'no Origin'}: protocol ${ws.protocol || '(none)'}, extensions ${ws.extensions || '(none)'}`);
    ws.on('error', () => {}); // close follows; nothing to add
    ws.on('close', (code) => {
      members.delete(ws);
      log(`connection #${m.id} closed (${code})`);
      if (m.joined) emit({ type: 'leave', id: m.id, name: m.name, users: names(), at: Date.now() });
    });

    if (json) {
      ws.send(JSON.stringify(handshakeReport(ws, req)));
    } else {
      ws.send(`ws13 demo chat. You are ${m.name}; type a line to say it, "/name NEW" to rename.`);
      join(m);
    }

    ws.on('message', (data, isBinary) => {
      if (isBinary || typeof data !== 'string') return;
      let msg: { type?: unknown; name?: unknown; text?: unknown };
      if (json) {
        try {
          msg = JSON.parse(data) as typeof msg;
        } catch {
          ws.send(JSON.stringify({ type: 'error', message: 'chat.v1 messages are JSON objects' }));
          return;
        }
        if (typeof msg !== 'object' || msg === null) return;
      } else {
        const rename = /^\/name\s+(.+)$/.exec(data.trim());
        msg = rename ? { type: 'name', name: rename[1] } : { type: 'chat', text: data };
      }
      switch (msg.type) {
        case 'hello': {
          if (m.joined) return;
          m.name = cleanName(msg.name, m.name);
          ws.send(JSON.stringify({ type: 'welcome', id: m.id, name: m.name, users: [...names(), m.name], history }));
          join(m);
          return;
        }
        case 'name': {
          const to = cleanName(msg.name, m.name);
          if (to === m.name || !m.joined) return;
          const from = m.name;
          m.name = to;
          emit({ type: 'rename', id: m.id, from, to, users: names(), at: Date.now() });
          return;
        }
        case 'chat': {
          if (!m.joined || typeof msg.text !== 'string') return;
          const text = msg.text.trim().slice(0, MAX_TEXT);
          if (!text) return;
          const line: ChatLine = { type: 'chat', id: m.id, name: m.name, text, at: Date.now() };
          history.push(line);
          if (history.length > HISTORY) history.shift();
          emit(line);
          return;
        }
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? 8080, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostPart}:${port}/`,
    wsUrl: `ws://${hostPart}:${port}${WS_PATH}`,
    port,
    http: httpServer,
    wss,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((r) => httpServer.close(() => r()));
        await wss.close({ code: 1001, reason: 'server restarting', timeout: 1000 });
        httpServer.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
