#!/usr/bin/env node
// The ws13 command-line tool: dispatches to one module per command.
import { EXIT_FAILURE, EXIT_USAGE, UsageError, die } from './args.js';
import { accept, key } from './accept.js';
import { serve } from './serve.js';
import { connect } from './connect.js';
import { doctor } from './doctor.js';
import { VERSION } from './version.js';

const USAGE = `Usage: ws13 <command> [options]

Commands:
  serve            Run a WebSocket server: echo (default), --broadcast, --static DIR, --exec CMD
  connect URL      Client for terminals and scripts: stdin lines (or -x) sent, messages printed
  doctor URL       Perform a handshake and explain it header by header; diagnose failures
  accept KEY       Print the Sec-WebSocket-Accept value for a Sec-WebSocket-Key
  key              Print a fresh random Sec-WebSocket-Key

Run 'ws13 <command> --help' for a command's options and exit codes;
'ws13 --version' (or -V) prints the version.

Exit codes: 0 success, 1 runtime failure (see each command), 2 usage error,
3 (connect) the connection closed abnormally.
Colours only when stdout is a terminal; never when NO_COLOR is set (FORCE_COLOR=1 forces them).
`;

/** Runs a command; resolves its exit code, or undefined when it keeps running (serve). */
async function main(argv: string[]): Promise<number | undefined> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      return serve(rest);
    case 'connect':
      return connect(rest);
    case 'doctor':
      return doctor(rest);
    case 'accept':
      return accept(rest);
    case 'key':
      return key(rest);
    case '--version':
    case '-V':
    case 'version':
      process.stdout.write(`ws13 ${VERSION}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command: ${cmd}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit once stdout has taken everything (stdin or sockets may still hold the loop).
    if (code !== undefined) process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    if (err instanceof UsageError) die(err.message, EXIT_USAGE);
    die((err as Error).stack ?? String(err), EXIT_FAILURE);
  },
);
