// `ws` echo server for the benchmark: `node dist/bench/servers/ws.js [--deflate]`.
// Prints "listening PORT" when ready. Deflate: new WebSocketServer({ perMessageDeflate: true }).
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const deflate = process.argv.includes('--deflate');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: deflate });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => {
  process.stdout.write(`listening ${(wss.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
