// Bun server for the benchmark (uWebSockets inside), run only when the driver is given a Bun
// binary (BENCH_BUN): `bun dist/bench/servers/bun.js [--mode echo|broadcast] [--deflate]`.
// Prints "listening PORT". Echo: each message back to its sender. Broadcast: every
// connection subscribes to one topic and each message is published to it (Bun's publish
// skips the sender). Deflate: `perMessageDeflate: true` and every reply sent compressed.
interface BunSocket {
  send(data: unknown, compress?: boolean): number;
  subscribe(topic: string): void;
  publish(topic: string, data: unknown): number;
}
interface BunServer {
  port: number;
  upgrade(req: unknown): boolean;
}
const Bun = (globalThis as unknown as { Bun: { serve(o: Record<string, unknown>): BunServer } }).Bun;
const broadcast = process.argv.includes('broadcast');
// Bun compresses a message only when `send` is asked to (its second argument).
const deflate = process.argv.includes('--deflate');
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(req: unknown, srv: BunServer) {
    if (srv.upgrade(req)) return undefined;
    return new Response('WebSocket only', { status: 400 });
  },
  websocket: {
    perMessageDeflate: deflate,
    open(ws: BunSocket) {
      if (broadcast) ws.subscribe('all');
    },
    message(ws: BunSocket, data: unknown) {
      if (broadcast) ws.publish('all', data);
      else ws.send(data, deflate);
    },
  },
});
process.stdout.write(`listening ${server.port}\n`);
process.on('SIGTERM', () => process.exit(0));
