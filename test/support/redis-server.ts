// A redis-server for the tests that need one (peer-gated with peerTest(['redis'], …)):
// started on a free port without persistence, stopped (or killed) by the test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REDIS_CLI, REDIS_SERVER } from './peers-available.js';
import { freePort } from './ports.js';

export { freePort } from './ports.js';

/** redis-server on `port`, without persistence (and `extra` arguments); resolves once it accepts connections. */
export async function startRedis(port: number, extra: string[] = []): Promise<ChildProcess> {
  const p = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** A Redis Cluster of `n` masters (no replicas) on loopback, from {@link startRedisCluster}. */
export interface RedisCluster {
  /** `redis://127.0.0.1:PORT` of each node. */
  readonly urls: string[];
  readonly nodes: ChildProcess[];
  /** Stops every node and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * Starts `n` redis-server instances with `--cluster-enabled yes` (free ports for clients and
 * for the cluster bus, node files in a temp dir, no persistence), joins them with
 * `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, and resolves once every
 * node reports `cluster_state:ok`.
 */
export async function startRedisCluster(n = 3): Promise<RedisCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws13-redis-cluster-'));
  const nodes: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((p) => stopRedis(p)));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      const bus = await freePort();
      ports.push(port);
      nodes.push(
        await startRedis(port, [
          '--cluster-enabled', 'yes',
          '--cluster-port', String(bus),
          '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
          '--dir', dir,
        ]),
      );
    }
    const create = spawnSync(REDIS_CLI, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.status}): ${create.stdout}${create.stderr}`);
    const deadline = Date.now() + 20_000;
    for (const port of ports) {
      for (;;) {
        const info = spawnSync(REDIS_CLI, ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8', timeout: 5000 });
        if (info.stdout?.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`the cluster did not come up on ${port}: ${info.stdout}${info.stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls: ports.map((p) => `redis://127.0.0.1:${p}`), nodes, stop };
}
