// The soak test's echo server, in a process of its own (started with --expose-gc) so that
// its RSS is the server's alone. It tells its parent the port, then answers 'measure' with
// its RSS after garbage collection and the number of connections it still holds.
import { WebSocketServer } from '../../src/node/index.js';

const server = new WebSocketServer({ perMessageDeflate: true, maxPayload: 1024 * 1024, heartbeat: false });
let errors = 0;
server.on('connection', (ws) => {
  // Echo every message as it came: text as text, binary as binary.
  ws.on('message', (data, isBinary) => {
    try {
      ws.send(data as string | Buffer, { binary: isBinary });
    } catch {
      // The client went away (terminated): nothing to echo to.
    }
  });
  ws.on('error', () => errors++);
});
const { port } = await server.listen(0, '127.0.0.1');
process.send!({ port });

const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'measure') {
    // Several collections, with a turn of the event loop between (finalizers, zlib handles).
    let n = 0;
    const step = (): void => {
      gc?.();
      if (++n < 4) setTimeout(step, 50);
      else {
        const m = process.memoryUsage();
        process.send!({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, clients: server.clients.size, errors, gc: gc !== undefined });
      }
    };
    step();
  } else if (m.cmd === 'stop') {
    void server.close({ timeout: 500 }).then(() => process.exit(0));
  }
});
