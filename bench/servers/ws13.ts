// ws13 server for the benchmark: `node dist/bench/servers/ws13.js [--mode echo|broadcast] [--deflate] [--entry PATH]`.
// Prints "listening PORT" when ready. Echo: each message back to its sender. Broadcast:
// each message to every other client with `server.broadcast` (framed once). Deflate:
// `perMessageDeflate: true`. Everything else at its defaults (heartbeat included).
// --entry: the ws13 build to load (default: this checkout's), for A/B runs against another build.
// SIGUSR2: runs gc() when started with --expose-gc and prints "gc".
import { pathToFileURL } from 'node:url';

const at = process.argv.indexOf('--entry');
// A variable, not a literal: the bench compiles whatever state src/ is in.
const ENTRY = at > 0 ? pathToFileURL(process.argv[at + 1]!).href : '../../src/node/index.js';

interface Ws13Socket {
  send(data: unknown, options?: { binary?: boolean }): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
}
interface Ws13Server {
  listen(port: number, host: string): Promise<{ port: number }>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  broadcast(data: unknown, options?: { binary?: boolean; except?: Ws13Socket }): number;
}

const { WebSocketServer } = (await import(ENTRY)) as { WebSocketServer: new (o?: Record<string, unknown>) => Ws13Server };
const broadcast = process.argv.includes('broadcast');
const options: Record<string, unknown> = {};
if (process.argv.includes('--deflate')) options.perMessageDeflate = true;
const server = new WebSocketServer(options);
server.on('connection', (ws: Ws13Socket) => {
  if (broadcast) ws.on('message', (data: unknown, isBinary: boolean) => server.broadcast(data, { binary: isBinary, except: ws }));
  else ws.on('message', (data: unknown, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
const { port } = await server.listen(0, '127.0.0.1');
process.stdout.write(`listening ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  process.stdout.write('gc\n');
});
