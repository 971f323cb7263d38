// tinyproxy (Debian) for the proxy tests (peer-gated with peerTest(['tinyproxy'], …)): started
// in the foreground on a free loopback port with its own configuration, stopped by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TINYPROXY } from './peers-available.js';
import { freePort } from './ports.js';

export interface Tinyproxy {
  readonly port: number;
  readonly url: string;
  /** What it logged so far (each CONNECT it served is in there). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts tinyproxy; `auth` adds Basic credentials, `connectPorts` limits CONNECT to those ports. */
export async function startTinyproxy(opts: { auth?: [string, string]; connectPorts?: number[] } = {}): Promise<Tinyproxy> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-tinyproxy-'));
  const conf = path.join(dir, 'tinyproxy.conf');
  fs.writeFileSync(
    conf,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 30',
      'MaxClients 50',
      'Allow 127.0.0.1',
      'LogLevel Connect',
      ...(opts.auth ? [`BasicAuth ${opts.auth[0]} ${opts.auth[1]}`] : []),
      // Without ConnectPort lines tinyproxy tunnels to any port.
      ...(opts.connectPorts ?? []).map((p) => `ConnectPort ${p}`),
      '',
    ].join('\n'),
  );
  const p: ChildProcess = spawn(TINYPROXY, ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      const t = setTimeout(() => p.kill('SIGKILL'), 2000);
      p.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.kill('SIGTERM');
    });
  // Ready once it accepts a TCP connection (bounded).
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (p.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`tinyproxy did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  return { port, url: `http://127.0.0.1:${port}`, log: () => out, stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
