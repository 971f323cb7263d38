// The ws13 server both clients of the differential test talk to. The path chooses what it does.
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer, type WebSocket, type UpgradeRequest } from '../../src/node/index.js';
import { freePort } from '../support/ports.js';
import type { Urls } from './scenarios.js';

/** Messages of 64 KiB the server sends on /flood (32 MiB). */
export const FLOOD = 512;

export interface TestServer {
  urls: Urls;
  server: WebSocketServer;
  /** The server side of each connection, in order of arrival, with its path. */
  connections: { path: string; ws: WebSocket }[];
  /** An empty page on the same origin, for the browser. */
  page: string;
  close(): Promise<void>;
}

/**
 * /echo: echoes each message as it came (text as text, binary as binary); agrees to 'chat'.
 * /server-close: closes with 4002 'server says bye' once open.
 * /drop-fin, /drop-rst: ends TCP without a close frame 100 ms after the 101 (FIN, or RST).
 * /flood: sends FLOOD × 64 KiB then 'end' at once.
 * /refuse: answers 403. /slow: answers after 500 ms. /hold: never reads (streams backpressure).
 */
export async function startServer(): Promise<TestServer> {
  const connections: { path: string; ws: WebSocket }[] = [];
  // The page is served from the same origin: Chromium blocks about:blank from loopback
  // (Local Network Access checks).
  const web = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>ws13 differential test</title>');
  });
  const server = new WebSocketServer({
    server: web,
    protocols: ['chat'],
    async beforeUpgrade(req) {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/refuse') return { status: 403, body: 'no' };
      if (path === '/slow') await new Promise((r) => setTimeout(r, 500));
      return undefined;
    },
  });
  server.on('connection', (ws: WebSocket, req: UpgradeRequest) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    connections.push({ path, ws });
    ws.on('error', () => {});
    const socket = req.socket as net.Socket;
    switch (path) {
      case '/server-close':
        ws.close(4002, 'server says bye');
        break;
      case '/drop-fin':
        setTimeout(() => socket.destroy(), 100);
        break;
      case '/flood':
        // FLOOD messages of 64 KiB, numbered, all at once: what the client does not read waits here.
        for (let i = 0; i < FLOOD; i++) ws.send(Buffer.alloc(64 * 1024, i & 0xff));
        ws.send('end');
        break;
      case '/drop-rst':
        setTimeout(() => socket.resetAndDestroy(), 100);
        break;
      default:
        ws.on('message', (data, isBinary) => ws.send(data as string | Buffer, { binary: isBinary }));
    }
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  const { port } = web.address() as net.AddressInfo;
  const refusedPort = await freePort();
  return {
    urls: { base: `ws://127.0.0.1:${port}`, refused: `ws://127.0.0.1:${refusedPort}/` },
    server,
    connections,
    page: `http://127.0.0.1:${port}/`,
    close: async () => {
      await server.close({ timeout: 1000 });
      web.closeAllConnections();
      await new Promise((resolve) => web.close(resolve));
    },
  };
}
