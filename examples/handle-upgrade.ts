// Inside a framework that hands you the upgrade: the framework's HTTP server, our handshake.
import http from 'node:http';
import { WebSocketServer, type UpgradeRequest } from 'ws13';

const authorized = async (req: UpgradeRequest): Promise<boolean> => req.headers['authorization'] === 'Bearer let-me-in';

const wss = new WebSocketServer({
  beforeUpgrade: async (req) => ((await authorized(req)) ? undefined : { status: 401, body: 'log in first' }),
});
const httpServer = http.createServer((req, res) => res.end('hello'));
httpServer.on('upgrade', async (req, socket, head) => {
  try {
    const ws = await wss.handleUpgrade(req, socket, head);
    ws.send(`welcome to ${req.url}`);
  } catch {
    // already answered: 401 from beforeUpgrade, or 400/426/… for a bad request
  }
});
httpServer.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => console.log('listening'));
