// ws13 connect URL: an interactive client. Lines from stdin are sent as text messages;
// received messages are printed (text as is, binary as hex); a few /commands.
import readline from 'node:readline';
import { HandshakeError, WebSocket, WebSocketError, type ClientOptions } from '../node/index.js';
import { EXIT_FAILURE, UsageError, headers as parseHeaders, int, list, parse, readCa } from './args.js';
import { palette } from './term.js';

export const EXIT_ABNORMAL = 3;

export const CONNECT_USAGE = `Usage: ws13 connect URL [options]

Opens a WebSocket to URL (ws://, wss://, http:// or https://). Each line read from stdin
is sent as a text message; every message received is printed on stdout: text as is,
binary as "[binary N bytes] <hex>". Lines starting with "* " are ws13's own notes.
When stdin ends, the connection is closed with 1000 and ws13 exits.

Commands typed on stdin:
  /ping [text]            Send a ping; prints the pong's round-trip time
  /close [code] [reason]  Start the closing handshake (default 1000)
  /binary HEX             Send a binary message (hex digits, spaces allowed)
  //text                  Send "/text" (a line starting with "/")
  /help                   List these commands

Options:
  -H, --header 'Name: value'  Extra request header (repeatable)
      --protocol LIST     Subprotocol(s) to offer (repeatable or comma-separated)
      --origin ORIGIN     Send this Origin header (as a browser on that page would)
      --no-deflate        Do not offer permessage-deflate (offered by default)
      --insecure          wss: do not verify the server's certificate
      --ca FILE           wss: trust the CA certificate(s) in this PEM file
      --timeout MS        Time for TCP, TLS and the handshake (default 10000)
      --http2             Open the WebSocket as an HTTP/2 stream (RFC 8441); fail if the server does not offer it
  -v, --verbose           Print the handshake request ("> ") and response ("< ") headers
  -h, --help              Show this help

Exit codes:
  0  the connection closed cleanly (closing handshake with 1000, 1001 or no code)
  1  the handshake failed (refused, network or TLS error, timeout); try 'ws13 doctor URL'
  2  usage error
  3  the connection closed abnormally (no closing handshake, or an error close code)
`;

function hex(b: Buffer): string {
  return b.toString('hex');
}

function parseHex(s: string): Buffer | undefined {
  const digits = s.replace(/\s+/g, '').replace(/^0x/i, '');
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) return undefined;
  return Buffer.from(digits, 'hex');
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(String(data));
}

export async function connect(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    'connect',
    args,
    {
      header: { type: 'string', short: 'H', multiple: true },
      protocol: { type: 'string', multiple: true },
      origin: { type: 'string' },
      'no-deflate': { type: 'boolean' },
      insecure: { type: 'boolean', short: 'k' },
      ca: { type: 'string' },
      timeout: { type: 'string' },
      http2: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(CONNECT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`connect takes exactly one URL\nRun 'ws13 connect --help' for the options.`);
  const url = positionals[0]!;
  const timeout = int('--timeout', values.timeout, 1);
  const protocols = list(values.protocol) ?? [];
  const extra = parseHeaders(values.header);
  const ca = readCa(values.ca);
  const opts: ClientOptions = {
    protocols,
    ...(values.origin !== undefined ? { origin: values.origin } : {}),
    ...(extra.length ? { headers: extra } : {}),
    ...(values['no-deflate'] ? { perMessageDeflate: false } : {}),
    ...(timeout !== undefined ? { handshakeTimeout: timeout } : {}),
    ...(values.http2 ? { http2: { require: true } } : {}),
    ...(values.insecure || ca ? { tls: { ...(values.insecure ? { rejectUnauthorized: false } : {}), ...(ca ? { ca } : {}) } } : {}),
  };
  const c = palette();
  const out = (s: string): void => void process.stdout.write(s);
  const note = (s: string): void => out(`${c.dim('*')} ${s}\n`);
  let seen: { request: string; response: string | undefined } | undefined;
  const printHead = (): void => {
    if (!values.verbose || !seen) return;
    for (const line of seen.request.split('\r\n').filter(Boolean)) out(`${c.cyan('>')} ${line}\n`);
    out(`${c.cyan('>')}\n`);
    const res = seen.response;
    for (const line of (res ?? '').split('\r\n').filter(Boolean)) out(`${c.magenta('<')} ${line}\n`);
    if (res) out(`${c.magenta('<')}\n`);
  };

  let ws: WebSocket;
  try {
    ws = new WebSocket(url, protocols, opts);
  } catch (err) {
    if (err instanceof WebSocketError) throw new UsageError(err.message);
    throw err;
  }
  ws.on('upgrade', (h) => (seen = h));
  let error: WebSocketError | undefined;
  ws.on('error', (err) => (error = err));

  const opened = await new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('close', () => resolve(false));
  });
  if (!opened) {
    printHead();
    const e = error;
    let msg = `handshake failed: ${e?.message ?? 'connection closed'}`;
    if (e instanceof HandshakeError) {
      if (e.code === 'WS_ERR_HANDSHAKE_NETWORK' && e.cause instanceof Error) {
        const code = (e.cause as NodeJS.ErrnoException).code;
        if (code && !msg.includes(code)) msg += ` (${code})`;
      }
      const body = e.body.trim();
      if (body) msg += `\n  body: ${body.split('\n').slice(0, 5).join('\n        ')}`;
    }
    process.stderr.write(`ws13: ${msg}\n  run 'ws13 doctor ${url}' for a diagnosis\n`);
    return EXIT_FAILURE;
  }

  printHead();
  const agreed = [ws.protocol && `protocol ${ws.protocol}`, ws.extensions && `extensions ${ws.extensions}`].filter(Boolean);
  note(`connected to ${ws.url}${agreed.length ? ` (${agreed.join(', ')})` : ''}`);

  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      const b = toBuffer(data);
      out(`${c.yellow(`[binary ${b.length} bytes]`)} ${hex(b)}\n`);
    } else out(`${String(data)}\n`);
  });
  const pings: Array<{ payload: string; start: bigint }> = [];
  let pingCount = 0;
  ws.on('pong', (payload) => {
    const text = payload.toString('utf8');
    const i = pings.findIndex((p) => p.payload === text);
    if (i < 0) return note(`pong ${JSON.stringify(text)} (unsolicited)`);
    const [p] = pings.splice(i, 1);
    const ms = Number(process.hrtime.bigint() - p!.start) / 1e6;
    note(`pong ${JSON.stringify(text)}: round trip ${ms.toFixed(2)} ms`);
  });

  const closed = new Promise<number>((resolve) => {
    ws.once('close', (code, reason, wasClean) => {
      const normal = wasClean && (code === 1000 || code === 1001 || code === 1005);
      const why = error && !normal ? `: ${error.message}` : '';
      note(`closed ${code}${reason ? ` ${JSON.stringify(reason)}` : ''}${wasClean ? '' : ' (abnormally, no closing handshake)'}${why}`);
      resolve(normal ? 0 : EXIT_ABNORMAL);
    });
  });

  const tryClose = (code?: number, reason?: string): void => {
    try {
      ws.close(code, reason);
    } catch (err) {
      process.stderr.write(`ws13: ${(err as Error).message}\n`);
    }
  };
  const command = (line: string): void => {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (!line.startsWith('/') || line.startsWith('//')) {
      ws.send(line.startsWith('//') ? line.slice(1) : line);
      return;
    }
    const m = /^\/(\S+)\s?(.*)$/.exec(line)!;
    const [, name, rest] = m as unknown as [string, string, string];
    switch (name) {
      case 'ping': {
        const payload = rest !== '' ? rest : `ws13-${++pingCount}`;
        if (Buffer.byteLength(payload) > 125) return void process.stderr.write('ws13: a ping carries at most 125 bytes\n');
        pings.push({ payload, start: process.hrtime.bigint() });
        ws.ping(payload);
        return;
      }
      case 'close': {
        const cm = /^(\d+)?\s*(.*)$/.exec(rest)!;
        const code = cm[1] !== undefined ? Number(cm[1]) : 1000;
        tryClose(code, cm[2] || undefined);
        return;
      }
      case 'binary': {
        const b = parseHex(rest);
        if (!b) return void process.stderr.write(`ws13: /binary takes hex digits, not ${JSON.stringify(rest)}\n`);
        ws.send(b);
        return;
      }
      case 'help':
        note('commands: /ping [text], /close [code] [reason], /binary HEX, //text sends "/text"');
        return;
      default:
        process.stderr.write(`ws13: unknown command /${name} (try /help; //text sends "/text")\n`);
    }
  };
  const rl = readline.createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity });
  rl.on('line', command);
  rl.on('close', () => {
    if (ws.readyState === WebSocket.OPEN) tryClose(1000);
  });
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted || ws.readyState !== WebSocket.OPEN) return ws.terminate();
    interrupted = true;
    tryClose(1000);
  });
  const code = await closed;
  rl.off('close', () => {});
  rl.close();
  process.stdin.destroy();
  return code;
}
