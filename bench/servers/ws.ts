// `ws` server for the benchmark: `node dist/bench/servers/ws.js [--mode echo|broadcast] [--deflate]`.
// Prints "listening PORT" when ready. Echo: each message back to its sender. Broadcast: each
// message sent to every other open client in a loop (the usual `ws` idiom). Deflate:
// `perMessageDeflate: true`. Native addons (bufferutil, utf-8-validate) are used when installed
// unless WS_NO_BUFFER_UTIL / WS_NO_UTF_8_VALIDATE are set: the driver runs both ways and prints
// which one it got ("addons …" on stderr). SIGUSR2: gc() (with --expose-gc), then prints "gc".
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

const deflate = process.argv.includes('--deflate');
const broadcast = process.argv.includes('broadcast');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate });
wss.on('connection', (ws) => {
  if (broadcast) {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients) {
        if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data as Buffer, { binary: isBinary });
      }
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  }
  ws.on('error', () => {});
});
wss.on('listening', () => {
  process.stdout.write(`listening ${(wss.address() as AddressInfo).port} addons:${addons()}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write('gc\n');
});

/** Which native addons `ws` loads (it tries them unless told not to, as here). */
function addons(): string {
  const require = createRequire(import.meta.url);
  const found: string[] = [];
  for (const [name, off] of [['bufferutil', 'WS_NO_BUFFER_UTIL'], ['utf-8-validate', 'WS_NO_UTF_8_VALIDATE']] as const) {
    if (process.env[off]) continue;
    try {
      require(name);
      found.push(name);
    } catch {
      // not installed
    }
  }
  return found.length ? found.join('+') : 'none';
}
