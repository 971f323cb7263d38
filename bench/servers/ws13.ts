// ws13 echo server for the benchmark: `node dist/bench/servers/ws13.js [--deflate]`.
// Prints "listening PORT" when ready. Deflate: new WebSocketServer({ perMessageDeflate: true }).

// A variable, not a literal: the bench compiles whatever state src/ is in.
const ENTRY = '../../src/node/index.js';

interface Ws13Socket {
  send(data: unknown, options?: { binary?: boolean }): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
}
interface Ws13Server {
  listen(port: number, host: string): Promise<{ port: number }>;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

const { WebSocketServer } = (await import(ENTRY)) as { WebSocketServer: new (o?: Record<string, unknown>) => Ws13Server };
const options: Record<string, unknown> = {};
if (process.argv.includes('--deflate')) options.perMessageDeflate = true;
const server = new WebSocketServer(options);
server.on('connection', (ws: Ws13Socket) => {
  ws.on('message', (data: unknown, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
const { port } = await server.listen(0, '127.0.0.1');
process.stdout.write(`listening ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
