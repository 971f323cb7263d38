// A cluster worker for test/cluster/broker.test.ts: a WebSocketServer with the cluster broker
// on its own port (PORT); a client's path is its topic, and what it sends is published there
// to everyone else. Answers the primary's { fixture } requests.
import { WebSocketServer } from '../../src/node/index.js';
import { createClusterBroker } from '../../src/cluster/index.js';

const broker = createClusterBroker();
const server = new WebSocketServer({ heartbeat: false, broker });
// A second server in the same worker, on the same channel (PORT2), and a third on another (PORT3).
const second = new WebSocketServer({ heartbeat: false, broker: createClusterBroker() });
const third = new WebSocketServer({ heartbeat: false, broker: createClusterBroker({ channel: 'elsewhere' }) });
for (const s of [server, second, third]) {
  s.on('connection', (ws) => {
    const topic = decodeURIComponent(ws.url.slice(1));
    ws.subscribe(topic);
    ws.on('message', (data, binary) => s.publish(topic, data as Buffer | string, { binary, except: ws }));
  });
}
process.on('message', (m: { fixture?: string; ms?: number }) => {
  if (m.fixture === 'block') {
    // A worker stuck in synchronous work: it reads nothing from its IPC channel meanwhile.
    const end = Date.now() + m.ms!;
    while (Date.now() < end);
  }
  if (m.fixture === 'malformed') process.send!({ ws13c: 'pub', ch: 42, topic: 'room' });
  if (m.fixture === 'stats') process.send!({ fixture: 'stats', ignored: broker.ignored, dropped: broker.dropped });
});
const { port } = await server.listen(Number(process.env['PORT']), '127.0.0.1');
await second.listen(Number(process.env['PORT2']), '127.0.0.1');
await third.listen(Number(process.env['PORT3']), '127.0.0.1');
process.send!({ fixture: 'listening', port });
