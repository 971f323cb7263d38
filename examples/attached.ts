// Two endpoints on an existing HTTP server, by path.
import http from 'node:http';
import { WebSocketServer } from 'ws13';

const app = http.createServer((req, res) => res.end('hello'));
const chat = new WebSocketServer({ server: app, path: '/chat' });
const feed = new WebSocketServer({ server: app, path: '/feed' });

chat.on('connection', (ws) => {
  ws.on('message', (data) => {
    if (typeof data === 'string') chat.broadcast(data, { except: ws });   // to everyone else
  });
});
setInterval(() => feed.broadcast(JSON.stringify({ price: 42 })), 500);  // framed once, written to every client

app.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => console.log('listening'));
