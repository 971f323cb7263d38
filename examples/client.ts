// A client: sends one message, prints the echo, closes.
import { WebSocket } from 'ws13';

const ws = await WebSocket.connect(process.env.URL ?? 'ws://127.0.0.1:8080/', { protocols: ['chat'] });
ws.send('hello');
for await (const message of ws) {          // ends on close 1000/1001/1005, throws otherwise
  console.log(message);                    // text arrives as a string, binary as a Buffer
  ws.close(1000, 'done');
}
