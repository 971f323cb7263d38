// A server process of bench/fanout.ts: `node fanout-server.js KIND PORT [REDIS_URL]`; prints
// "ready" (ws13-workers: "ready PID,PID", the workers) once it listens.
// /sub connections subscribe to the one topic; what /pub sends is published to it.
//   ws13          a WebSocketServer, with ws13/redis when REDIS_URL is given
//   ws13-workers  a node:cluster primary (ws13/cluster hub) and two workers on PORT
//   ws-redis      `ws` plus node-redis, written as `ws` users do: every process subscribes to
//                 the channel and sends each message to each of its subscribers
import cluster from 'node:cluster';
import type { WebSocket as WsSocket } from 'ws';
import { WebSocketServer, type Broker } from '../src/node/index.js';
import { createClusterBroker, startClusterHub } from '../src/cluster/index.js';
import { createRedisBroker } from '../src/redis/index.js';

const [kind, portArg, redisUrl] = process.argv.slice(2);
const port = Number(portArg);

if (kind === 'ws-redis') {
  const { WebSocketServer: WsServer } = await import('ws');
  const { createClient } = await import('redis');
  const pub = createClient({ url: redisUrl! });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const subscribers = new Set<WsSocket>();
  await sub.subscribe('fan', (msg: Buffer) => { for (const ws of subscribers) ws.send(msg); }, true);
  const wss = new WsServer({ port, host: '127.0.0.1', perMessageDeflate: false });
  wss.on('connection', (ws, req) => {
    if (req.url === '/sub') {
      subscribers.add(ws);
      ws.on('close', () => subscribers.delete(ws));
    } else ws.on('message', (data: Buffer) => void pub.publish('fan', data));
  });
  wss.on('listening', () => console.log('ready'));
} else if (kind === 'ws13-workers' && cluster.isPrimary) {
  cluster.setupPrimary({ serialization: 'advanced' });
  startClusterHub();
  let up = 0;
  const workers = [cluster.fork(), cluster.fork()];
  // The workers' pids follow "ready": the driver reads their CPU time too.
  for (const w of workers) w.on('listening', () => ++up === 2 && console.log(`ready ${workers.map((x) => x.process.pid).join(',')}`));
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    process.exit(0);
  });
} else {
  let broker: Broker | undefined;
  if (kind === 'ws13-workers') broker = createClusterBroker();
  else if (redisUrl) broker = await createRedisBroker({ url: redisUrl });
  const server = new WebSocketServer({ heartbeat: false, ...(broker ? { broker } : {}) });
  server.on('connection', (ws) => {
    if (ws.url === '/sub') ws.subscribe('fan');
    else ws.on('message', (data) => server.publish('fan', data as Buffer, { binary: true }));
  });
  await server.listen(port, '127.0.0.1');
  if (!cluster.isWorker) console.log('ready');
}
