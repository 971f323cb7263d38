// `ws13 serve` beyond one process: --workers N (node:cluster, one port, the primary relays
// publishes between workers unless --redis is given) and --redis URL (ws13/redis, across
// machines). The primary forks, restarts a worker that dies, restarts them one by one on
// SIGHUP, and stops them all on SIGTERM/SIGINT; a worker closes its clients with 1012
// (Service Restart) when it is replaced and 1001 (Going Away) when the service stops.
import cluster, { type Worker } from 'node:cluster';
import type { Broker } from '../node/index.js';
import { startClusterHub, createClusterBroker } from '../cluster/index.js';
import { EXIT_FAILURE, die } from './args.js';

export const SCALE_USAGE = `      --workers N           Run N worker processes on the one port (node:cluster); --broadcast
                            reaches the clients of every worker (through the primary, or --redis).
                            SIGHUP restarts the workers one by one (their clients closed with 1012)
      --redis URL[,URL…]    Carry publishes through Redis (ws13/redis), across machines;
                            several URLs are nodes of one Redis Cluster
      --redis-cluster       With --redis: it is a Redis Cluster (sharded pub/sub)
      --redis-sharded       With --redis: sharded pub/sub (SPUBLISH/SSUBSCRIBE) on one server
`;

/** The topic every client joins in --broadcast mode when publishes leave the process. */
export const BROADCAST_TOPIC = 'broadcast';

/** The message the primary sends a worker it retires: close clients with `code`, exit. */
interface ShutdownMessage {
  ws13serve: 'shutdown';
  code: number;
}

/** How long a worker has to close its clients before the primary kills it. */
const STOP_GRACE_MS = 10_000;

/** Dies within this long of starting: the next one waits a little (no fork storm). */
const QUICK_DEATH_MS = 1_000;

export interface ScaleOptions {
  redis?: string | undefined;
  redisSharded?: boolean | undefined;
  redisCluster?: boolean | undefined;
  log: (line: string) => void;
}

/**
 * Runs the cluster primary: forks `n` workers, each running the same `ws13 serve` command,
 * and supervises them. Returns at once; the process lives until SIGTERM/SIGINT.
 */
export function runPrimary(n: number, o: ScaleOptions): void {
  cluster.setupPrimary({ serialization: 'advanced' });
  if (!o.redis) startClusterHub();
  let stopping = false;
  /** Until a worker has listened, a worker that fails ends the service (a bad port, Redis down). */
  let started = false;
  cluster.on('listening', () => (started = true));
  const retiring = new Set<Worker>();
  const startedAt = new Map<number, number>();
  const fork = (): Worker => {
    const w = cluster.fork();
    startedAt.set(w.id, Date.now());
    return w;
  };
  const retire = (w: Worker, code: number): Promise<void> =>
    new Promise((resolve) => {
      if (w.isDead()) return resolve();
      retiring.add(w);
      const kill = setTimeout(() => w.process.kill('SIGKILL'), STOP_GRACE_MS);
      w.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      if (w.isConnected()) w.send({ ws13serve: 'shutdown', code } satisfies ShutdownMessage);
      else w.process.kill('SIGTERM');
    });

  cluster.on('exit', (w, code, signal) => {
    const quick = Date.now() - (startedAt.get(w.id) ?? 0) < QUICK_DEATH_MS;
    startedAt.delete(w.id);
    if (retiring.delete(w) || stopping) return;
    if (!started && code !== 0) {
      process.stderr.write(`ws13: a worker failed to start (exit code ${code}): stopping\n`);
      stop(code ?? EXIT_FAILURE);
      return;
    }
    o.log(`worker ${w.process.pid} exited (${signal ?? `code ${code}`}): starting another`);
    setTimeout(() => stopping || fork(), quick ? QUICK_DEATH_MS : 0);
  });

  let rolling = false;
  process.on('SIGHUP', () => {
    if (rolling || stopping) return;
    rolling = true;
    void (async () => {
      const old = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      o.log(`SIGHUP: restarting ${old.length} workers one by one`);
      for (const w of old) {
        if (stopping) break;
        const fresh = fork();
        // The new one takes connections before the old one goes: the port never goes dark.
        const up = await new Promise<boolean>((resolve) => {
          fresh.once('listening', () => resolve(true));
          fresh.once('exit', () => resolve(false));
        });
        if (!up) {
          o.log('a new worker died before listening: rolling restart stopped');
          break;
        }
        await retire(w, 1012);
      }
      rolling = false;
      o.log('rolling restart done');
    })();
  });

  function stop(status = 0): void {
    if (stopping) return;
    stopping = true;
    if (status === 0) process.stderr.write('\nshutting down: workers close their connections with 1001\n');
    const all = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    void Promise.all(all.map((w) => retire(w, 1001))).then(() => process.exit(status));
  }
  process.once('SIGINT', () => stop());
  process.once('SIGTERM', () => stop());

  for (let i = 0; i < n; i++) fork();
  process.stdout.write(
    `ws13 cluster primary (pid ${process.pid}): ${n} worker${n === 1 ? '' : 's'}, publishes through ${o.redis ? `Redis ${o.redis}` : 'this primary'}\n` +
      `  SIGHUP restarts the workers one by one; SIGTERM stops them all\n`,
  );
}

/**
 * The broker for this process: Redis with --redis, the cluster's in a worker, none otherwise.
 * Exits (status 1) when Redis cannot be reached or its client is not installed.
 */
export async function scaleBroker(o: ScaleOptions): Promise<Broker | undefined> {
  if (o.redis) {
    const { createRedisBroker } = await import('../redis/index.js');
    try {
      const urls = o.redis.split(',').map((u) => u.trim()).filter(Boolean);
      const broker = await createRedisBroker(
        o.redisCluster || urls.length > 1 ? { cluster: urls } : { url: o.redis, sharded: o.redisSharded === true },
      );
      broker.on('down', (err) => o.log(`Redis lost (${err.message}): publishes dropped until it is back`));
      broker.on('up', () => o.log('Redis is back: publishes flow again'));
      return broker;
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      die(`cannot use Redis at ${o.redis}: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`, EXIT_FAILURE);
    }
  }
  return cluster.isWorker ? createClusterBroker() : undefined;
}

/** In a worker: runs `stop(code)` when the primary retires this worker. */
export function onRetire(stop: (code: number) => void): void {
  if (!cluster.isWorker) return;
  process.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && (m as ShutdownMessage).ws13serve === 'shutdown') {
      stop((m as ShutdownMessage).code === 1012 ? 1012 : 1001);
    }
  });
}
