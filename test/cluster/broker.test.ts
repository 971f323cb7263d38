// ws13/cluster across real processes: this test process is the cluster primary (with the hub),
// and forks three workers (fixture-worker.ts), each a WebSocketServer with the cluster broker
// on its own port, so the test knows which worker each client is on. Under both IPC
// serializations: publishes cross workers in order per publisher, binary-exact, never twice;
// a worker killed leaves its topics and the others keep serving; malformed messages are
// counted and ignored on both sides.
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '../../src/node/index.js';
import { createClusterBroker, startClusterHub, type ClusterHub } from '../../src/cluster/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { freePort } from '../support/ports.js';
import { next, within } from '../node/helpers.js';
import { sleep, until } from '../support/ws13-serve.js';

const FIXTURE = fileURLToPath(new URL('./fixture-worker.js', import.meta.url));
const T = { timeout: 60_000 };

async function startWorker(): Promise<{ worker: Worker; port: number; port2: number; port3: number }> {
  const [port, port2, port3] = [await freePort(), await freePort(), await freePort()];
  const worker = cluster.fork({ PORT: String(port), PORT2: String(port2), PORT3: String(port3) });
  await within(
    new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { fixture?: string }) => m.fixture === 'listening' && resolve());
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    }),
    20_000,
    'a worker to listen',
  );
  return { worker, port, port2, port3 };
}

function stopWorker(w: Worker): Promise<void> {
  if (w.isDead()) return Promise.resolve();
  return new Promise((r) => {
    w.once('exit', () => r());
    w.process.kill('SIGKILL');
  });
}

/** A client on a topic (its path), collecting what it receives. */
async function client(port: number, topic: string) {
  const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/${topic}`, { heartbeat: false });
  const got: Array<[string | Buffer, boolean]> = [];
  ws.on('message', (d, bin) => got.push([d as string | Buffer, bin]));
  return Object.assign(ws, { got });
}

test('createClusterBroker outside a cluster worker: a typed error', () => {
  assert.throws(() => createClusterBroker(), { code: ErrorCode.InvalidState });
});

for (const serialization of ['json', 'advanced'] as const) {
  test(`${serialization} IPC: a publish in one worker reaches the subscribers in the others, in order per publisher, binary-exact, once; a killed worker leaves its topics`, T, async () => {
    cluster.setupPrimary({ exec: FIXTURE, serialization, silent: false });
    const hub: ClusterHub = startClusterHub();
    const workers: Worker[] = [];
    const clients: WebSocket[] = [];
    try {
      const [w1, w2, w3] = await Promise.all([startWorker(), startWorker(), startWorker()]);
      workers.push(w1!.worker, w2!.worker, w3!.worker);
      const a = await client(w1!.port, 'room');
      const b = await client(w2!.port, 'room');
      const c = await client(w3!.port, 'room');
      const d = await client(w3!.port, 'other');
      clients.push(a, b, c, d);
      await until(() => hub.workersOn('room') === 3 && hub.workersOn('other') === 1, 10_000, 'the subscriptions at the primary');

      // Two publishers at once; text (non-ASCII) and binary (every byte value, empty too).
      const sent: Array<Array<[string | Buffer, boolean]>> = [[], []];
      for (let i = 0; i < 300; i++) {
        for (const [k, from] of [[0, a], [1, b]] as const) {
          const m: [string | Buffer, boolean] = i % 3 === 0 ? [`${k}:${i}:héllo ✓`, false] : [Buffer.concat([Buffer.from([k]), randomBytes((i * 37) % 5000)]), true];
          sent[k]!.push(m);
          from.send(m[0]);
        }
      }
      await until(() => a.got.length === 300 && b.got.length === 300 && c.got.length === 600, 20_000, 'every message');
      await sleep(200); // nothing more comes: no message twice
      assert.deepEqual(a.got, sent[1], "a has b's messages, in order and exact");
      assert.deepEqual(b.got, sent[0], "b has a's messages, in order and exact");
      for (const k of [0, 1]) {
        const mine = c.got.filter(([m, bin]) => (bin ? (m as Buffer)[0] === k : (m as string).startsWith(`${k}:`)));
        assert.deepEqual(mine, sent[k], `c has publisher ${k}'s messages in order`);
      }
      assert.equal(c.got.length, 600);
      assert.equal(d.got.length, 0, 'another topic hears nothing');

      // Two more servers in worker 3: one on the same channel hears a publish of worker 3's
      // first server (directly) and of worker 1 (through the primary); one on another channel
      // hears neither.
      const same = await client(w3!.port2, 'room');
      const other = await client(w3!.port3, 'room');
      clients.push(same, other);
      await until(() => hub.workersOn('room', 'elsewhere') === 1, 10_000, 'the other channel at the primary');
      c.send('from c');
      a.send('from a');
      await until(() => same.got.length === 2, 10_000, 'both publishes on the second server');
      assert.deepEqual(same.got.map(([m]) => m).sort(), ['from a', 'from c']);
      await sleep(200);
      assert.equal(other.got.length, 0, 'another channel hears nothing');
      await until(() => a.got.length === 301 && b.got.length === 302 && c.got.length === 601, 10_000, "c's and a's publishes");
      a.got.length = 0;
      b.got.length = 0;
      c.got.length = 600; // drop "from a": the checks below count from 600

      // Malformed messages: counted and ignored by the primary and by a worker.
      w1!.worker.send({ fixture: 'malformed' });
      await until(() => hub.ignored === 1, 5000, 'the hub to count a malformed message');
      w3!.worker.send({ ws13c: 'pub', ch: 'ws13', topic: 'room', bin: 'yes' });
      w3!.worker.send({ fixture: 'stats' });
      const [stats] = await next<[{ fixture: string; ignored: number }]>(w3!.worker, 'message', 5000);
      assert.equal(stats.ignored, 1);

      // Worker 2 killed: its client is cut, the primary forgets its topics, the others go on.
      const cut = next<[number]>(b, 'close', 10_000);
      await stopWorker(w2!.worker);
      assert.equal((await cut)[0], 1006);
      await until(() => hub.workersOn('room') === 2, 5000, 'the primary to drop the dead worker');
      const before = hub.forwarded;
      a.send('after');
      await until(() => c.got.length === 601, 10_000, 'a publish after the kill');
      assert.equal(c.got[600]![0], 'after');
      assert.equal(hub.forwarded, before + 1, 'relayed to the one live subscriber worker');
      assert.equal(a.readyState, WebSocket.OPEN);

      // The last subscriber of a topic gone: its worker leaves it at the primary.
      d.close();
      await until(() => hub.workersOn('other') === 0, 5000, 'the unsubscription at the primary');
    } finally {
      for (const ws of clients) ws.terminate();
      await Promise.all(workers.map(stopWorker));
      hub.close();
    }
  });
}

test('a worker that does not read its IPC channel costs the primary at most maxPendingBytes; the rest are dropped and counted, the order kept', T, async () => {
  cluster.setupPrimary({ exec: FIXTURE, serialization: 'advanced', silent: false });
  const hub = startClusterHub({ maxPendingBytes: 256 * 1024 });
  const workers: Worker[] = [];
  const clients: WebSocket[] = [];
  try {
    const [w1, w2] = await Promise.all([startWorker(), startWorker()]);
    workers.push(w1!.worker, w2!.worker);
    const pub = await client(w1!.port, 'room');
    const sub = await client(w2!.port, 'room');
    clients.push(pub, sub);
    await until(() => hub.workersOn('room') === 2, 10_000, 'the subscriptions at the primary');
    w2!.worker.send({ fixture: 'block', ms: 3000 });
    await sleep(200);
    const N = 1000;
    for (let i = 0; i < N; i++) {
      const m = Buffer.alloc(8192, i & 0xff);
      m.writeUInt32BE(i, 0);
      pub.send(m);
    }
    await until(() => hub.forwarded + hub.dropped === N, 20_000, () => `every publish relayed or dropped (${hub.forwarded} + ${hub.dropped})`);
    assert.ok(hub.dropped > 0, 'some were dropped while the worker did not read');
    await until(() => sub.got.length === hub.forwarded, 20_000, () => `the relayed ones, once the worker reads again (${sub.got.length}/${hub.forwarded})`);
    const seqs = sub.got.map(([m]) => (m as Buffer).readUInt32BE(0));
    assert.ok(seqs.every((x, i) => i === 0 || x > seqs[i - 1]!), 'in order, none twice');
    for (const [m] of sub.got) assert.equal((m as Buffer)[8191], (m as Buffer).readUInt32BE(0) & 0xff, 'intact');
    // And it serves on.
    pub.send('after');
    await until(() => sub.got.at(-1)?.[0] === 'after', 10_000, 'a publish after the stall');
  } finally {
    for (const ws of clients) ws.terminate();
    await Promise.all(workers.map(stopWorker));
    hub.close();
  }
});
