#!/usr/bin/env node
// `npm start`: runs the demo on http://127.0.0.1:8080/ (PORT and HOST from the environment).
import { startDemo, SUBPROTOCOL } from './server.js';

const portText = process.env.PORT ?? '8080';
const port = Number(portText);
if (!/^\d+$/.test(portText) || port > 65535) {
  process.stderr.write(`ws13 demo: PORT must be a number from 0 to 65535, not ${JSON.stringify(portText)}\n`);
  process.exit(2);
}
const host = process.env.HOST || '127.0.0.1';

let demo;
try {
  demo = await startDemo({ port, host, log: (line) => process.stdout.write(`  ${line}\n`) });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  const hint = e.code === 'EADDRINUSE' ? ` (port ${port} is taken: try PORT=8081 npm start)` : '';
  process.stderr.write(`ws13 demo: cannot listen on ${host}:${port}: ${e.message}${hint}\n`);
  process.exit(1);
}

process.stdout.write(
  `ws13 demo listening\n` +
    `  Open ${demo.url} in a browser (open it in two tabs to chat with yourself).\n` +
    `  WebSocket endpoint: ${demo.wsUrl} (subprotocol ${SUBPROTOCOL}: JSON; permessage-deflate on)\n` +
    `  From a terminal, plain text without a subprotocol:  python3 -m websockets ${demo.wsUrl}\n` +
    `  Ctrl+C stops the server; restart it and the page reconnects by itself.\n`,
);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) process.exit(130); // a second Ctrl+C: now
  stopping = true;
  process.stdout.write(`ws13 demo: ${signal}, closing connections (1001)\n`);
  demo.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
