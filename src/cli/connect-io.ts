// ws13 connect's two ends: what comes in on stdin (text lines with /commands, raw binary,
// or one base64 message a line) and how a received message is printed on stdout.
import readline from 'node:readline';
import type { WebSocket } from '../node/index.js';

/** How stdin becomes messages and messages become stdout. */
export type InputMode = 'text' | 'binary' | 'base64';

function parseHex(s: string): Buffer | undefined {
  const digits = s.replace(/\s+/g, '').replace(/^0x/i, '');
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) return undefined;
  return Buffer.from(digits, 'hex');
}

export function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  return Buffer.from(String(data));
}

/** A received message as printed: text as is; binary as hex, base64, or raw bytes. */
export function formatMessage(data: unknown, isBinary: boolean, mode: InputMode): Buffer | string {
  if (!isBinary) return `${String(data)}\n`;
  const b = toBuffer(data);
  if (mode === 'binary') return b;
  if (mode === 'base64') return `${b.toString('base64')}\n`;
  return `[binary ${b.length} bytes] ${b.toString('hex')}\n`;
}

export interface Commands {
  ping(payload: string | undefined): void;
  close(code: number, reason: string | undefined): void;
  note(s: string): void;
  error(s: string): void;
}

/** One line typed in text mode: a message, or a /command. */
export function runLine(ws: WebSocket, line: string, cmd: Commands): void {
  if (!line.startsWith('/') || line.startsWith('//')) {
    ws.send(line.startsWith('//') ? line.slice(1) : line);
    return;
  }
  const [, name, rest] = /^\/(\S+)\s?(.*)$/.exec(line) as unknown as [string, string, string];
  switch (name) {
    case 'ping':
      return cmd.ping(rest !== '' ? rest : undefined);
    case 'close': {
      const cm = /^(\d+)?\s*(.*)$/.exec(rest)!;
      return cmd.close(cm[1] !== undefined ? Number(cm[1]) : 1000, cm[2] || undefined);
    }
    case 'binary': {
      const b = parseHex(rest);
      if (!b) return cmd.error(`/binary takes hex digits, not ${JSON.stringify(rest)}`);
      ws.send(b);
      return;
    }
    case 'help':
      return cmd.note('commands: /ping [text], /close [code] [reason], /binary HEX, //text sends "/text"');
    default:
      cmd.error(`unknown command /${name} (try /help; //text sends "/text")`);
  }
}

/**
 * Reads stdin in `mode` and hands each message to `send` (text lines go through `line`);
 * calls `end` once stdin is done. Returns a function that stops reading.
 */
export function readInput(
  mode: InputMode,
  line: (text: string) => void,
  send: (data: Buffer) => void,
  bad: (why: string) => void,
  end: () => void,
): () => void {
  const stdin = process.stdin;
  if (mode === 'binary') {
    // Each chunk read is one binary message (as websocat's binary mode does).
    const onData = (c: Buffer): void => send(c);
    stdin.on('data', onData);
    stdin.once('end', end);
    return () => {
      stdin.off('data', onData);
      stdin.off('end', end);
      stdin.destroy();
    };
  }
  const rl = readline.createInterface({ input: stdin, terminal: false, crlfDelay: Infinity });
  rl.on('line', (l) => {
    if (mode === 'text') return line(l);
    const t = l.trim();
    if (t === '') return;
    // One base64 message a line; a line that is not base64 is refused, not guessed at.
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(t) || t.replace(/=+$/, '').length % 4 === 1) return bad(`not base64: ${JSON.stringify(t.slice(0, 40))}`);
    send(Buffer.from(t, 'base64'));
  });
  rl.once('close', end);
  return () => {
    rl.off('close', end);
    rl.close();
    stdin.destroy();
  };
}
