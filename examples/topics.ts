// Topics: subscribers on any server connected to the same Redis get what any of them publishes.
import { WebSocketServer } from 'ws13';
import { createRedisBroker } from 'ws13/redis';

const broker = await createRedisBroker({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const server = new WebSocketServer({ broker });
server.on('connection', (ws, req) => {
  ws.subscribe(new URL(req.url ?? '/', 'http://x').searchParams.get('room') ?? 'lobby');
  ws.on('message', (data) => {
    for (const room of ws.topics) server.publish(room, data as string | Buffer, { except: ws });
  });
});
broker.on('down', () => console.warn('Redis unreachable: publishes are dropped until it is back'));
const { port } = await server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1');
console.log(`listening on ws://127.0.0.1:${port}/?room=…`);
