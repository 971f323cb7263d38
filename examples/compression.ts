// permessage-deflate (RFC 7692) both ways, on a server of its own; prints what was agreed.
import { WebSocket, WebSocketServer } from 'ws13';

const server = new WebSocketServer({ perMessageDeflate: true });  // or an options object
server.on('connection', (ws) => ws.on('message', (data) => ws.send(`got ${String(data).length} characters`)));
const { port } = await server.listen(0, '127.0.0.1');

const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/`);  // clients offer permessage-deflate
console.log(ws.extensions);                  // permessage-deflate; server_no_context_takeover; …
const bigJson = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i })) });
ws.send(bigJson);                            // compressed: at least `threshold` (1024) bytes
ws.send('a-token', { compress: false });     // this one as is
let answers = 0;
for await (const message of ws) {
  console.log(message);
  if (++answers === 2) ws.close();
}
await server.close();
