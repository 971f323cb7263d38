#!/usr/bin/env node
// The ws13 command-line tool.
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from '../node/server.js';
import { acceptKey } from '../protocol/handshake/http1.js';

const USAGE = `Usage: ws13 <command> [options]

Commands:
  serve        Run an echo server
  accept KEY   Print the Sec-WebSocket-Accept value for a Sec-WebSocket-Key
  key          Print a fresh random Sec-WebSocket-Key

Run 'ws13 <command> --help' for a command's options.
Exit codes: 0 success, 1 runtime error, 2 usage error.
`;

const SERVE_USAGE = `Usage: ws13 serve [--port N] [--host H] [--protocols a,b] [--origins URL,...]

Runs a WebSocket echo server: every message comes back to its sender.

Options:
  -p, --port N          Port to listen on (default 8080; 0 picks a free one)
  -H, --host H          Address to listen on (default 127.0.0.1)
      --protocols LIST  Subprotocols to accept, in preference order (comma-separated)
      --origins LIST    Allowed Origin values (comma-separated); others get 403
      --max-payload N   Largest message in bytes (default 67108864)
  -h, --help            Show this help
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`ws13: ${message}\n`);
  process.exit(code);
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

async function serve(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string', short: 'p', default: '8080' },
        host: { type: 'string', short: 'H', default: '127.0.0.1' },
        protocols: { type: 'string' },
        origins: { type: 'string' },
        'max-payload': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n\n${SERVE_USAGE}`);
  }
  if (values.help) {
    process.stdout.write(SERVE_USAGE);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid port: ${values.port}`);
  const maxPayload = values['max-payload'] === undefined ? undefined : Number(values['max-payload']);
  if (maxPayload !== undefined && !(maxPayload > 0)) fail(`invalid --max-payload: ${values['max-payload']}`);
  const protocols = list(values.protocols);
  const origins = list(values.origins);
  const server = new WebSocketServer({
    ...(protocols ? { protocols } : {}),
    ...(origins ? { origins } : {}),
    ...(maxPayload ? { maxPayload } : {}),
  });
  server.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data as string | Buffer, { binary: isBinary }));
  });
  let addr;
  try {
    addr = await server.listen(port, values.host);
  } catch (err) {
    fail(`cannot listen on ${values.host}:${port}: ${(err as Error).message}`, 1);
  }
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `ws://${host}:${addr.port}/`;
  process.stdout.write(
    `ws13 echo server listening on ${url}\n` +
      `Connect with:\n` +
      `  node -e "const ws = new WebSocket('${url}'); ws.onopen = () => ws.send('hello'); ws.onmessage = (e) => { console.log(e.data); ws.close(); }"\n` +
      `  python3 -m websockets ${url}\n` +
      `Press Ctrl+C to stop.\n`,
  );
  const stop = (): void => {
    process.stderr.write('\nshutting down: closing connections with 1001\n');
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      return serve(rest);
    case 'accept': {
      if (rest[0] === '--help' || rest[0] === '-h') {
        process.stdout.write('Usage: ws13 accept KEY\n\nPrints base64(SHA-1(KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).\n');
        return;
      }
      if (rest.length !== 1) fail('accept takes exactly one KEY');
      process.stdout.write(`${acceptKey(rest[0]!)}\n`);
      return;
    }
    case 'key':
      if (rest[0] === '--help' || rest[0] === '-h') {
        process.stdout.write('Usage: ws13 key\n\nPrints a random 16-byte Sec-WebSocket-Key, base64-encoded.\n');
        return;
      }
      process.stdout.write(`${randomBytes(16).toString('base64')}\n`);
      return;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      fail(`unknown command: ${cmd}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err) => fail((err as Error).stack ?? String(err), 1));
