// An echo server: text comes back as text, binary as binary.
import { WebSocketServer } from 'ws13';

const server = new WebSocketServer({
  protocols: ['chat'],                      // subprotocols, in our order of preference
  origins: ['https://app.example.com'],     // other browsers' origins get 403
});
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
const { port } = await server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1');
console.log(`listening on ws://127.0.0.1:${port}/`);
