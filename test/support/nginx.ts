// An nginx for the tests that need one (peer-gated with peerTest(['nginx'], …)): its own
// config and prefix in a temp dir, listening on a free loopback port, in the foreground
// (daemon off) so that the child's PID is the master's; stopped by that PID.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NGINX } from './peers-available.js';
import { freePort } from './ports.js';

export interface Nginx {
  readonly port: number;
  readonly process: ChildProcess;
  /** What nginx wrote to its error log so far. */
  errorLog(): string;
  /** SIGTERM (fast shutdown) to the master, then the temp dir removed. */
  stop(): Promise<void>;
}

/**
 * The proxy settings a WebSocket needs behind nginx: HTTP/1.1 to the upstream, the hop-by-hop
 * Upgrade and Connection headers passed on, and the timeouts (`readTimeout`, e.g. '2s').
 */
export function websocketProxy(upstream: string, readTimeout: string): string {
  return `
      proxy_pass http://${upstream};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout ${readTimeout};
      proxy_send_timeout ${readTimeout};`;
}

/**
 * Starts nginx with `http` as the body of its http block (upstreams and a `server` whose
 * `listen` is written `listen PORT` (with `ssl` after it or not), PORT replaced here by a free
 * port on 127.0.0.1).
 */
export async function startNginx(http: string): Promise<Nginx> {
  const port = await freePort();
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-nginx-'));
  const p = (f: string): string => path.join(prefix, f);
  const conf = `
daemon off;
worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('error.log')} info;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${p('body')};
  proxy_temp_path ${p('proxy')};
  fastcgi_temp_path ${p('fastcgi')};
  uwsgi_temp_path ${p('uwsgi')};
  scgi_temp_path ${p('scgi')};
  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }
${http.replace('listen PORT', `listen 127.0.0.1:${port}`)}
}
`;
  fs.writeFileSync(p('nginx.conf'), conf);
  const child = spawn(NGINX, ['-p', prefix, '-c', p('nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const errorLog = (): string => {
    try {
      return fs.readFileSync(p('error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill('SIGTERM');
      });
    }
    fs.rmSync(prefix, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`nginx exited with ${child.exitCode}: ${out}${errorLog()}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not listen within 10 s: ${out}${errorLog()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, process: child, errorLog, stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
