// nghttpx (Debian nghttp2-proxy) started on a free loopback port with a cleartext frontend,
// in front of one backend; for the tests that put an HTTP/2 proxy nobody here wrote in the way.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { NGHTTPX } from './peers-available.js';
import { freePort } from './ports.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts nghttpx on a free port (cleartext frontend) in front of `backend`; resolves once it listens. */
export async function startNghttpx(backendPort: number, proto: 'h2' | 'http/1.1'): Promise<{ port: number; child: ChildProcess; log: () => string }> {
  const port = await freePort();
  const child = spawn(NGHTTPX, [
    '--conf=/dev/null',
    `--frontend=127.0.0.1,${port};no-tls`,
    `--backend=127.0.0.1,${backendPort};;proto=${proto}`,
    '--workers=1',
    '--errorlog-file=/dev/stderr',
    '--accesslog-file=/dev/null',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nghttpx exited: ${log}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`nghttpx did not listen: ${log}`);
    await sleep(100);
  }
  return { port, child, log: () => log };
}

export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}
