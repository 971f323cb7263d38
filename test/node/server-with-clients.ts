// A ws13 server on 127.0.0.1 and `n` clients connected to it, with the server side of each
// client in the same order: the starting point of the topic tests.
import { WebSocket, WebSocketServer, type ClientOptions } from '../../src/node/index.js';
import { next } from './helpers.js';

export async function serverWithClients(
  n: number,
  options: ConstructorParameters<typeof WebSocketServer>[0] = {},
  clientOptions: ClientOptions = {},
): Promise<{ server: WebSocketServer; port: number; clients: WebSocket[]; sides: WebSocket[] }> {
  const server = new WebSocketServer({ heartbeat: false, ...options });
  const { port } = await server.listen(0, '127.0.0.1');
  const clients: WebSocket[] = [];
  const sides: WebSocket[] = [];
  for (let i = 0; i < n; i++) {
    const side = next<[WebSocket]>(server, 'connection');
    clients.push(await WebSocket.connect(`ws://127.0.0.1:${port}/`, clientOptions));
    sides.push((await side)[0]);
  }
  return { server, port, clients, sides };
}
