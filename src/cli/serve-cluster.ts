// `ws13 serve` beyond one process: --workers N (node:cluster, one port, the primary relays
// publishes between workers unless --redis is given) and --redis URL (ws13/redis, across
// machines). The primary forks, restarts a worker that dies, restarts them one by one on
// SIGHUP, and stops them all on SIGTERM/SIGINT; a worker closes its clients with 1012
// (Service Restart) when it is replaced and 1001 (Going Away) when the service stops.
// With --metrics, the primary serves the scrapes and asks every worker for its stats.
import cluster, { type Worker } from 'node:cluster';
import type { Broker, ServerStats } from '../node/index.js';
import { startClusterHub, createClusterBroker } from '../cluster/index.js';
import { EXIT_FAILURE, die } from './args.js';
import { clusterPrometheusText, listenMetrics, metricsLine, type WorkerSample } from './metrics.js';

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

/** The primary asks a worker for its `server.stats()` (a --metrics scrape); the worker answers with the id. */
interface StatsRequest {
  ws13serve: 'stats?';
  id: number;
}
interface StatsReply {
  ws13serve: 'stats';
  id: number;
  stats: ServerStats;
}

/** How long a scrape waits for a worker's stats before reporting it as not answering. */
export const WORKER_STATS_TIMEOUT_MS = 1000;

/** How long a worker has to close its clients before the primary kills it. */
const STOP_GRACE_MS = 10_000;

/** Dies within this long of starting: the next one waits a little (no fork storm). */
const QUICK_DEATH_MS = 1_000;

export interface ScaleOptions {
  redis?: string | undefined;
  redisSharded?: boolean | undefined;
  redisCluster?: boolean | undefined;
  /** --metrics: where the primary serves the cluster's scrapes; with quiet, its address goes to stderr. */
  metrics?: { port: number; host: string; quiet: boolean } | undefined;
  log: (line: string) => void;
}

/**
 * Runs the cluster primary: forks `n` workers, each running the same `ws13 serve` command,
 * and supervises them. Resolves once they are forked (after the --metrics port listens); the
 * process lives until SIGTERM/SIGINT. Exits (status 1) when the --metrics port is taken.
 */
export async function runPrimary(n: number, o: ScaleOptions): Promise<void> {
  cluster.setupPrimary({ serialization: 'advanced' });
  const hub = o.redis ? undefined : startClusterHub();
  let stopping = false;
  /** Workers started again after an unexpected exit. */
  let restarts = 0;
  /** Until a worker has listened, a worker that fails ends the service (a bad port, Redis down). */
  let started = false;
  cluster.on('listening', () => (started = true));
  const retiring = new Set<Worker>();
  const startedAt = new Map<number, number>();
  /** worker id → its slot (1…n), which the worker that replaces it takes over. */
  const slotOf = new Map<number, number>();
  const fork = (slot: number): Worker => {
    const w = cluster.fork();
    startedAt.set(w.id, Date.now());
    slotOf.set(w.id, slot);
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
    const slot = slotOf.get(w.id) ?? 1;
    startedAt.delete(w.id);
    slotOf.delete(w.id);
    if (retiring.delete(w) || stopping) return;
    if (!started && code !== 0) {
      process.stderr.write(`ws13: a worker failed to start (exit code ${code}): stopping\n`);
      stop(code ?? EXIT_FAILURE);
      return;
    }
    o.log(`worker ${w.process.pid} exited (${signal ?? `code ${code}`}): starting another`);
    restarts++;
    setTimeout(() => stopping || fork(slot), quick ? QUICK_DEATH_MS : 0);
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
        const fresh = fork(slotOf.get(w.id) ?? 1);
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

  let metricsAt = '';
  if (o.metrics) {
    const { port, host } = o.metrics;
    const ask = statsAsker();
    /** A slot's worker: the oldest one in it not being retired (a fresh one is still starting). */
    const inSlot = (slot: number): Worker | undefined =>
      Object.values(cluster.workers ?? {})
        .filter((w): w is Worker => w !== undefined && !retiring.has(w) && slotOf.get(w.id) === slot)
        .sort((a, b) => a.id - b.id)[0];
    const scrape = async (): Promise<string> => {
      const workers = await Promise.all(
        Array.from({ length: n }, async (_, i): Promise<WorkerSample> => {
          const w = inSlot(i + 1);
          return { worker: i + 1, pid: w?.process.pid, stats: w ? await ask(w) : undefined };
        }),
      );
      const relay = hub && { forwarded: hub.forwarded, dropped: hub.dropped, ignored: hub.ignored, topics: hub.topics };
      return clusterPrometheusText({ workers, restarts, relay });
    };
    const srv = await listenMetrics(scrape, port, host).catch((err: Error) => die(`cannot listen for --metrics on ${host}:${port}: ${err.message}`, EXIT_FAILURE));
    metricsAt = metricsLine(srv);
  }

  for (let i = 1; i <= n; i++) fork(i);
  process.stdout.write(
    `ws13 cluster primary (pid ${process.pid}): ${n} worker${n === 1 ? '' : 's'}, publishes through ${o.redis ? `Redis ${o.redis}` : 'this primary'}\n` +
      `  SIGHUP restarts the workers one by one; SIGTERM stops them all\n`,
  );
  // Quiet, the metrics address goes to stderr, as with one process.
  if (metricsAt) (o.metrics?.quiet ? process.stderr : process.stdout).write(metricsAt);
}

/**
 * In the primary: `ask(worker)` resolves the worker's stats, or undefined when it does not
 * answer within WORKER_STATS_TIMEOUT_MS (busy, stopped, still starting) or cannot be reached.
 */
function statsAsker(): (w: Worker) => Promise<ServerStats | undefined> {
  const waiting = new Map<number, (s: ServerStats | undefined) => void>();
  let next = 0;
  cluster.on('message', (_w, m: unknown) => {
    const r = m as Partial<StatsReply> | null;
    if (typeof r !== 'object' || r === null || r.ws13serve !== 'stats' || typeof r.id !== 'number') return;
    // A late answer finds nobody waiting and is dropped.
    if (typeof r.stats === 'object' && r.stats !== null) waiting.get(r.id)?.(r.stats);
  });
  return (w) =>
    new Promise((resolve) => {
      if (!w.isConnected()) return resolve(undefined);
      const id = ++next;
      const done = (s: ServerStats | undefined): void => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(s);
      };
      const timer = setTimeout(() => done(undefined), WORKER_STATS_TIMEOUT_MS);
      waiting.set(id, done);
      w.send({ ws13serve: 'stats?', id } satisfies StatsRequest, undefined, undefined, (err) => err && done(undefined));
    });
}

/** In a worker: answers the primary's requests for `stats()` (its --metrics scrapes). */
export function answerStats(stats: () => ServerStats): void {
  if (!cluster.isWorker) return;
  process.on('message', (m: unknown) => {
    const q = m as Partial<StatsRequest> | null;
    if (typeof q !== 'object' || q === null || q.ws13serve !== 'stats?' || typeof q.id !== 'number' || !process.connected) return;
    process.send!({ ws13serve: 'stats', id: q.id, stats: stats() } satisfies StatsReply);
  });
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
