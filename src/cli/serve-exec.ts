// ws13 serve --exec CMD: each WebSocket connection gets its own child process. Lines mode:
// each text message is a line on the child's stdin, each line of its stdout a text message.
// Raw mode: message bytes go to stdin as they are; each chunk of stdout is a binary message.
// The child is killed when the connection closes; the connection closes when the child exits.
import { spawn, type ChildProcess } from 'node:child_process';
import type { WebSocket } from '../node/index.js';

export type ExecMode = 'lines' | 'raw';

export interface ExecOptions {
  /** The command line, run by /bin/sh -c (it is the operator's, never a client's). */
  readonly command: string;
  readonly mode: ExecMode;
  /** Log a line (the server's log). */
  readonly log: (line: string) => void;
}

/** A line of stdout longer than this is sent as it is, without waiting for its newline. */
const MAX_LINE = 1 << 20;
/** Stop reading the child's stdout while this much waits to go to the client. */
const HIGH_WATER = 1 << 20;
/** Time a child gets between SIGTERM and SIGKILL. */
const KILL_GRACE = 2000;

/** Running children, to bound them (--max-procs) and to stop them all on shutdown. */
export const children = new Set<ChildProcess>();

/** Kills a child: SIGTERM, then SIGKILL if it is still there after a grace period. */
export function kill(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE);
  t.unref();
  child.once('exit', () => clearTimeout(t));
}

/** Bridges one connection to a new child process. */
export function bridge(ws: WebSocket, who: string, target: string, o: ExecOptions): void {
  const child = spawn('/bin/sh', ['-c', o.command], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // The client is described to the child in the environment, never on its command line.
    env: { ...process.env, WS13_PEER: who, WS13_TARGET: target },
  });
  children.add(child);
  child.stdin.on('error', () => {});
  child.stderr.on('data', (c: Buffer) => {
    for (const line of c.toString('utf8').split('\n').filter(Boolean)) o.log(`  [${child.pid}] ${line}`);
  });
  child.on('error', (err) => {
    o.log(`  --exec failed: ${err.message}`);
    if (ws.readyState === 1) ws.close(1011, 'the command could not start');
  });

  // Child to client, held back while the client is slow to read.
  const send = (data: string | Buffer, binary: boolean): void => {
    if (ws.readyState !== 1) return;
    ws.send(data, { binary });
    if (ws.bufferedAmount > HIGH_WATER && !child.stdout.isPaused()) {
      child.stdout.pause();
      const wait = (): void => {
        if (ws.readyState !== 1 || ws.bufferedAmount <= HIGH_WATER / 2) child.stdout.resume();
        else setTimeout(wait, 10);
      };
      setTimeout(wait, 10);
    }
  };
  let pending = '';
  child.stdout.on('data', (c: Buffer) => {
    if (o.mode === 'raw') return send(c, true);
    pending += c.toString('utf8');
    let i: number;
    while ((i = pending.indexOf('\n')) >= 0) {
      send(pending.slice(0, i).replace(/\r$/, ''), false);
      pending = pending.slice(i + 1);
    }
    if (pending.length > MAX_LINE) {
      send(pending, false);
      pending = '';
    }
  });
  child.stdout.on('end', () => {
    if (o.mode === 'lines' && pending) send(pending, false);
    pending = '';
  });

  // Client to child, the client held back while the child is slow to read.
  ws.on('message', (data, isBinary) => {
    const b = typeof data === 'string' ? Buffer.from(data) : Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    const ok = o.mode === 'raw' || isBinary ? child.stdin.write(b) : child.stdin.write(Buffer.concat([b, Buffer.from('\n')]));
    if (!ok) {
      ws.pause();
      child.stdin.once('drain', () => ws.resume());
    }
  });
  ws.on('close', () => {
    child.stdin.end();
    kill(child);
  });
  child.on('close', (code, signal) => {
    children.delete(child);
    if (ws.readyState !== 1) return;
    // 1000 when the command ended well, 1011 (an error on the server's side) otherwise.
    if (code === 0) ws.close(1000, 'the command exited');
    else ws.close(1011, signal ? `the command was killed (${signal})` : `the command exited with ${code}`);
  });
}
