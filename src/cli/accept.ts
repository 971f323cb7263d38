// ws13 accept KEY, ws13 key: the two halves of the Sec-WebSocket-Key/Accept proof.
import { randomBytes } from 'node:crypto';
import { acceptKey, isValidKey, WEBSOCKET_GUID } from '../protocol/index.js';
import { UsageError } from './args.js';

export const ACCEPT_USAGE = `Usage: ws13 accept KEY

Prints the Sec-WebSocket-Accept value a server must answer to Sec-WebSocket-Key KEY:
base64(SHA-1(KEY + "${WEBSOCKET_GUID}")) (RFC 6455 section 4.2.2).
A warning goes to stderr when KEY is not base64 of 16 bytes (servers refuse such keys).

Exit codes: 0 printed, 2 usage error.
`;

export const KEY_USAGE = `Usage: ws13 key

Prints a fresh random Sec-WebSocket-Key: 16 random bytes, base64-encoded.

Exit codes: 0 printed, 2 usage error.
`;

export function accept(args: string[]): number {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(ACCEPT_USAGE);
    return 0;
  }
  if (args.length !== 1 || args[0]!.startsWith('-')) throw new UsageError('accept takes exactly one KEY');
  const key = args[0]!;
  if (!isValidKey(key)) process.stderr.write(`ws13: warning: ${JSON.stringify(key)} is not base64 of 16 bytes; servers answer such a key with 400\n`);
  process.stdout.write(`${acceptKey(key)}\n`);
  return 0;
}

export function key(args: string[]): number {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(KEY_USAGE);
    return 0;
  }
  if (args.length > 0) throw new UsageError('key takes no arguments');
  process.stdout.write(`${randomBytes(16).toString('base64')}\n`);
  return 0;
}
