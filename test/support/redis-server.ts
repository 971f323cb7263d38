// A redis-server for the tests that need one (peer-gated with peerTest(['redis'], …)):
// started on a free port without persistence, stopped (or killed) by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { REDIS_SERVER } from './peers-available.js';

export { freePort } from './ports.js';

/** redis-server on `port`, without persistence; resolves once it accepts connections. */
export async function startRedis(port: number): Promise<ChildProcess> {
  const p = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await withinMs(
    new Promise<void>((resolve, reject) => {
      p.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
      const check = (): void => (out.includes('Ready to accept connections') ? resolve() : void setTimeout(check, 20));
      check();
    }),
    10_000,
    'redis-server to start',
  ).catch((err: unknown) => {
    p.kill('SIGKILL');
    throw err;
  });
  return p;
}

export function stopRedis(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    p.once('exit', () => r());
    p.kill(signal);
  });
}

function withinMs<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
