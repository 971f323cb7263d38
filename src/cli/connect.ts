// ws13 connect URL: a client for terminals and scripts. Lines from stdin (or -x) are sent;
// received messages alone go to stdout, so `ws13 connect URL | jq` works; ws13's own notes
// go to stderr. Markers ("< ") only when stdout is a terminal.
import { HandshakeError, WebSocket, WebSocketError, type ClientOptions } from '../node/index.js';
import { EXIT_FAILURE, UsageError, headers as parseHeaders, int, list, parse, readPem, wsUrl } from './args.js';
import { formatMessage, readInput, runLine, type InputMode } from './connect-io.js';
import { colorEnabled, palette } from './term.js';
import { VERSION } from './version.js';

export const EXIT_ABNORMAL = 3;

export const CONNECT_USAGE = `Usage: ws13 connect URL [options]

Opens a WebSocket to URL (ws://, wss://, http:// or https://; without a scheme, ws:// is
used and a note says so). Each line read from stdin is sent as a text message; every message
received is printed on stdout alone (text as is, binary as "[binary N bytes] <hex>"), so the
output can be piped (ws13 connect URL | jq). ws13's own notes ("* ...") go to stderr. On a
terminal, received messages are marked "< ".
When stdin ends (or after the -x messages), ws13 waits for answers (see --wait), then closes
with 1000 and exits.

Commands typed on stdin (text mode):
  /ping [text]            Send a ping; prints the pong's round-trip time
  /close [code] [reason]  Start the closing handshake (default 1000)
  /binary HEX             Send a binary message (hex digits, spaces allowed)
  //text                  Send "/text" (a line starting with "/")
  /help                   List these commands

Options:
  -H, --header 'Name: value'  Request header (repeatable). Host, Origin, Authorization, Cookie,
                          User-Agent and the like may be set (Host and Origin replace ws13's);
                          Upgrade, Connection, Sec-WebSocket-* are refused (use the options)
  -s, --protocol LIST     Subprotocol(s) to offer (repeatable or comma-separated)
  -o, --origin ORIGIN     Send this Origin header (as a browser on that page would)
      --auth USER:PASS    HTTP Basic authentication (Authorization: Basic ...)
      --no-deflate        Do not offer permessage-deflate (offered by default)
  -x, --execute MSG       Send MSG once connected (repeatable); stdin is not read
  -w, --wait SECONDS      After the input ends, wait this long for answers, then close
                          (default: until 1 second passes with no message)
  -1, --one-message       Print the first message received, then close and exit
  -b, --binary            stdin is raw bytes: each chunk read is one binary message;
                          binary messages are written to stdout as raw bytes
      --base64            stdin: one base64 binary message a line; binary messages print as base64
  -q, --quiet             No notes on stderr (errors still are)
  -v, --verbose           Print the handshake ("> " request, "< " response) and the server's
                          pings on stderr
      --ping-interval S   Ping the server every S seconds
      --ping-timeout S    With --ping-interval: give up (exit 3) when no pong comes within S
                          seconds (default: the interval)
  -L, --follow-redirects  Follow 301/302/303/307/308 answers (browsers never do for WebSockets)
      --max-redirects N   At most N redirects (default 5)
      --proxy URL         Go through this HTTP(S) proxy (a CONNECT tunnel; http://user:pass@host:port)
      --proxy-env         Take the proxy from HTTPS_PROXY / HTTP_PROXY, honouring NO_PROXY
  -k, --insecure          wss: do not verify the server's certificate
      --ca FILE           wss: trust the CA certificate(s) in this PEM file
      --cert FILE         wss: client certificate (PEM)
      --key FILE          wss: the client certificate's private key (PEM)
      --passphrase P      wss: the passphrase of --key
      --timeout MS        Time for TCP, TLS and the handshake (default 10000)
      --http2             Open the WebSocket as an HTTP/2 stream (RFC 8441); fail if the server does not offer it
  -V, --version           Print ws13's version
  -h, --help              Show this help

Exit codes:
  0  the connection closed cleanly (a closing handshake with 1000, 1001, no code, or an
     application code 3000-4999), or stdout was closed by its reader
  1  the handshake failed (refused, network or TLS error, timeout); try 'ws13 doctor URL'
  2  usage error
  3  the connection closed abnormally (no closing handshake, a protocol or server error code
     such as 1002, 1009 or 1011, or no pong within --ping-timeout)
`;

/** Exit status of a close: 0 for a clean close with a normal or application code. */
export function closeStatus(code: number, wasClean: boolean): number {
  const normal = code === 1000 || code === 1001 || code === 1005 || (code >= 3000 && code <= 4999);
  return wasClean && normal ? 0 : EXIT_ABNORMAL;
}

const seconds = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 86400) throw new UsageError(`invalid ${name}: ${JSON.stringify(v)} (seconds, from 0 to 86400)`);
  return n * 1000;
};

export async function connect(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    'connect',
    args,
    {
      header: { type: 'string', short: 'H', multiple: true },
      protocol: { type: 'string', short: 's', multiple: true },
      origin: { type: 'string', short: 'o' },
      auth: { type: 'string' },
      'no-deflate': { type: 'boolean' },
      execute: { type: 'string', short: 'x', multiple: true },
      wait: { type: 'string', short: 'w' },
      'one-message': { type: 'boolean', short: '1' },
      binary: { type: 'boolean', short: 'b' },
      base64: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      verbose: { type: 'boolean', short: 'v' },
      'ping-interval': { type: 'string' },
      'ping-timeout': { type: 'string' },
      'follow-redirects': { type: 'boolean', short: 'L' },
      'max-redirects': { type: 'string' },
      proxy: { type: 'string' },
      'proxy-env': { type: 'boolean' },
      insecure: { type: 'boolean', short: 'k' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      passphrase: { type: 'string' },
      timeout: { type: 'string' },
      http2: { type: 'boolean' },
      version: { type: 'boolean', short: 'V' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(CONNECT_USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`ws13 ${VERSION}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`connect takes exactly one URL\nRun 'ws13 connect --help' for the options.`);
  const quiet = values.quiet === true;
  const c = palette(colorEnabled(process.stderr));
  const err = (s: string): void => void process.stderr.write(s);
  const note = (s: string): void => {
    if (!quiet) err(`${c.dim('*')} ${s}\n`);
  };
  const url = wsUrl(positionals[0]!, note);
  const timeout = int('--timeout', values.timeout, 1);
  const protocols = list(values.protocol) ?? [];
  const extra = parseHeaders(values.header);
  if (values.auth !== undefined) {
    if (!values.auth.includes(':')) throw new UsageError('--auth takes USER:PASS');
    if (extra.some(([n]) => n.toLowerCase() === 'authorization')) throw new UsageError('--auth and an Authorization header: give one');
    extra.push(['Authorization', `Basic ${Buffer.from(values.auth).toString('base64')}`]);
  }
  if (values.binary && values.base64) throw new UsageError('--binary and --base64: choose one');
  const mode: InputMode = values.binary ? 'binary' : values.base64 ? 'base64' : 'text';
  const wait = seconds('--wait', values.wait);
  const pingInterval = seconds('--ping-interval', values['ping-interval']);
  const pingTimeout = seconds('--ping-timeout', values['ping-timeout']);
  if (pingTimeout !== undefined && pingInterval === undefined) throw new UsageError('--ping-timeout needs --ping-interval');
  if (pingInterval === 0) throw new UsageError('--ping-interval must be more than 0');
  const maxRedirects = int('--max-redirects', values['max-redirects'], 0, 100);
  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError('--cert and --key go together');
  const ca = readPem('--ca', values.ca);
  const cert = readPem('--cert', values.cert);
  const key = readPem('--key', values.key);
  const tls = {
    ...(values.insecure ? { rejectUnauthorized: false } : {}),
    ...(ca ? { ca } : {}),
    ...(cert && key ? { cert, key } : {}),
    ...(values.passphrase !== undefined ? { passphrase: values.passphrase } : {}),
  };
  const opts: ClientOptions = {
    protocols,
    ...(values.origin !== undefined ? { origin: values.origin } : {}),
    ...(extra.length ? { headers: extra } : {}),
    ...(values['no-deflate'] ? { perMessageDeflate: false } : {}),
    ...(timeout !== undefined ? { handshakeTimeout: timeout } : {}),
    ...(values.http2 ? { http2: { require: true } } : {}),
    ...(Object.keys(tls).length ? { tls } : {}),
    ...(values['follow-redirects'] ? { followRedirects: true } : {}),
    ...(maxRedirects !== undefined ? { maxRedirects } : {}),
    ...(values.proxy !== undefined ? { proxy: values.proxy } : {}),
    ...(values['proxy-env'] ? { proxyFromEnvironment: true } : {}),
  };

  // Received messages alone on stdout. A reader that goes away (| head -1) ends ws13 quietly.
  let stdoutGone = false;
  let ws: WebSocket | undefined;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') return err(`ws13: stdout: ${e.message}\n`);
    stdoutGone = true;
    if (ws && ws.readyState === WebSocket.OPEN) ws.close(1000);
    else ws?.terminate();
  });
  const tty = process.stdout.isTTY === true;
  const out = (s: string | Buffer): void => {
    if (!stdoutGone) process.stdout.write(s);
  };
  const printHead = (seen: { request: string; response: string | undefined } | undefined): void => {
    if (!values.verbose || !seen) return;
    for (const line of seen.request.split('\r\n').filter(Boolean)) err(`${c.cyan('>')} ${line}\n`);
    err(`${c.cyan('>')}\n`);
    for (const line of (seen.response ?? '').split('\r\n').filter(Boolean)) err(`${c.magenta('<')} ${line}\n`);
    if (seen.response) err(`${c.magenta('<')}\n`);
  };

  try {
    ws = new WebSocket(url, protocols, opts);
  } catch (e) {
    if (e instanceof WebSocketError) throw new UsageError(`${e.message} (${e.code})`);
    throw e;
  }
  const sock = ws;
  let seen: { request: string; response: string | undefined } | undefined;
  sock.on('upgrade', (h) => {
    printHead(seen);
    seen = h;
  });
  sock.on('redirect', (to: string, status: number) => note(`redirected (${status}) to ${to}`));
  let error: WebSocketError | undefined;
  sock.on('error', (e) => (error = e));

  const opened = await new Promise<boolean>((resolve) => {
    sock.once('open', () => resolve(true));
    sock.once('close', () => resolve(false));
  });
  printHead(seen);
  if (!opened) {
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
    // The hint carries the options that change the route, so doctor takes the same one.
    const route = [values.proxy !== undefined && `--proxy ${values.proxy}`, values['proxy-env'] && '--proxy-env', values['follow-redirects'] && '-L'].filter(Boolean);
    err(`ws13: ${msg}\n  run 'ws13 doctor ${url.href}${route.length ? ` ${route.join(' ')}` : ''}' for a diagnosis\n`);
    return EXIT_FAILURE;
  }

  const agreed = [sock.protocol && `protocol ${sock.protocol}`, sock.extensions && `extensions ${sock.extensions}`].filter(Boolean);
  note(`connected to ${sock.url}${agreed.length ? ` (${agreed.join(', ')})` : ''}`);

  // After the input ends: a fixed wait (-w), or until a second passes without a message.
  let inputDone = false;
  let waitTimer: NodeJS.Timeout | undefined;
  const armWait = (): void => {
    if (!inputDone || sock.readyState !== WebSocket.OPEN) return;
    if (wait !== undefined && waitTimer) return;
    clearTimeout(waitTimer);
    waitTimer = setTimeout(() => tryClose(1000), wait ?? 1000);
  };
  let first = true;
  sock.on('message', (data, isBinary) => {
    if (values['one-message'] && !first) return;
    first = false;
    const m = formatMessage(data, isBinary, mode);
    out(tty && typeof m === 'string' ? `${c.magenta('<')} ${m}` : m);
    if (values['one-message']) return tryClose(1000);
    armWait();
  });
  const pings: Array<{ payload: string; start: bigint }> = [];
  let pingCount = 0;
  sock.on('pong', (payload) => {
    const text = payload.toString('utf8');
    const i = pings.findIndex((p) => p.payload === text);
    if (i < 0) return note(`pong ${JSON.stringify(text)} (unsolicited)`);
    const [p] = pings.splice(i, 1);
    const ms = Number(process.hrtime.bigint() - p!.start) / 1e6;
    if (!p!.payload.startsWith('ws13-auto-') || values.verbose) note(`pong ${JSON.stringify(text)}: round trip ${ms.toFixed(2)} ms`);
  });
  if (values.verbose) sock.on('ping', (payload) => note(`ping from the server ${JSON.stringify(payload.toString('utf8'))} (answered)`));
  const ping = (payload: string): void => {
    if (Buffer.byteLength(payload) > 125) return err('ws13: a ping carries at most 125 bytes\n');
    pings.push({ payload, start: process.hrtime.bigint() });
    sock.ping(payload);
  };
  let pingTimer: NodeJS.Timeout | undefined;
  let pingLost = false;
  if (pingInterval !== undefined) {
    // One ping every interval while the last one was answered; none answered within the
    // timeout (default: the interval) ends the connection.
    const limit = pingTimeout ?? pingInterval;
    let sentAt = 0;
    let waiting = false;
    sock.on('pong', () => (waiting = false));
    pingTimer = setInterval(() => {
      const now = Date.now();
      if (waiting && now - sentAt >= limit) {
        pingLost = true;
        err(`ws13: no pong within ${limit / 1000} s: giving up\n`);
        return sock.terminate();
      }
      if (!waiting && now - sentAt >= pingInterval) {
        sentAt = now;
        waiting = true;
        ping(`ws13-auto-${++pingCount}`);
      }
    }, Math.max(10, Math.min(pingInterval, limit) / 4));
  }

  const closed = new Promise<number>((resolve) => {
    sock.once('close', (code, reason, wasClean) => {
      clearTimeout(waitTimer);
      clearInterval(pingTimer);
      const status = stdoutGone ? 0 : pingLost ? EXIT_ABNORMAL : closeStatus(code, wasClean);
      const why = error && status !== 0 ? `: ${error.message}` : '';
      note(`closed ${code}${reason ? ` ${JSON.stringify(reason)}` : ''}${wasClean ? '' : ' (abnormally, no closing handshake)'}${why}`);
      resolve(status);
    });
  });

  function tryClose(code?: number, reason?: string): void {
    if (sock.readyState !== WebSocket.OPEN) return;
    try {
      sock.close(code, reason);
    } catch (e) {
      err(`ws13: ${(e as Error).message}\n`);
    }
  }
  const onEnd = (): void => {
    inputDone = true;
    armWait();
  };
  let stop = (): void => {};
  if (values.execute) {
    for (const m of values.execute) runLine(sock, m, { ping: (p) => ping(p ?? `ws13-${++pingCount}`), close: tryClose, note, error: (s) => err(`ws13: ${s}\n`) });
    onEnd();
  } else {
    stop = readInput(
      mode,
      (line) => {
        if (sock.readyState !== WebSocket.OPEN) return;
        runLine(sock, line, { ping: (p) => ping(p ?? `ws13-${++pingCount}`), close: tryClose, note, error: (s) => err(`ws13: ${s}\n`) });
      },
      (data) => {
        if (sock.readyState === WebSocket.OPEN) sock.send(data, { binary: true });
      },
      (why) => err(`ws13: ${why}\n`),
      onEnd,
    );
  }
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted || sock.readyState !== WebSocket.OPEN) return sock.terminate();
    interrupted = true;
    tryClose(1000);
  });
  const code = await closed;
  stop();
  return code;
}
