// ws13/redis against a real redis-server, started here on a free port: publishes cross
// servers (each with its own Redis connections, as separate processes would have), in
// order, binary-exact, never echoed twice; plain and sharded pub/sub; and the outage: Redis
// killed under a steady publish load and started again on the same port.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { createRedisBroker, type RedisBroker } from '../../src/redis/index.js';
import { peerTest } from '../support/peers-available.js';
import { freePort, startRedis, stopRedis } from '../support/redis-server.js';
import { next, sleep, within } from '../node/helpers.js';

const T = { timeout: 60_000 };

/** A server with a Redis broker, and a connected client subscribed to `topics`. */
async function node(url: string, topics: string[], opts: { sharded?: boolean } = {}) {
  const broker = await createRedisBroker({ url, ...opts });
  const server = new WebSocketServer({ heartbeat: false, broker });
  const { port } = await server.listen(0, '127.0.0.1');
  const side = next<[WebSocket]>(server, 'connection');
  const client = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
  const ws = (await side)[0];
  for (const t of topics) ws.subscribe(t);
  const got: Array<[string | Buffer, boolean]> = [];
  client.on('message', (d, bin) => got.push([d as string | Buffer, bin]));
  return { broker, server, client, side: ws, got };
}

/** Waits until Redis counts `n` subscribers of the channel (plain or sharded). */
async function subscribers(admin: { sendCommand(args: string[]): Promise<unknown> }, channel: string, n: number, sharded = false): Promise<void> {
  await within(
    (async () => {
      for (;;) {
        const r = sharded
          ? ((await admin.sendCommand(['PUBSUB', 'SHARDNUMSUB', channel])) as [string, number])
          : ((await admin.sendCommand(['PUBSUB', 'NUMSUB', channel])) as [string, number]);
        if (Number(r[1]) === n) return;
        await sleep(10);
      }
    })(),
    5000,
    `${n} subscribers of ${channel}`,
  );
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  await within((async () => { while (!pred()) await sleep(5); })(), ms, what);
}

for (const sharded of [false, true]) {
  peerTest(['redis'], `${sharded ? 'sharded pub/sub' : 'pub/sub'}: a publish on one server reaches the subscribers of the others, in order per publisher, binary-exact, once`, T, async () => {
    const port = await freePort();
    const redis = await startRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const admin = createClient({ url });
    await admin.connect();
    const nodes = await Promise.all([node(url, ['room'], { sharded }), node(url, ['room'], { sharded }), node(url, ['other'], { sharded })]);
    try {
      await subscribers(admin, 'ws13:room', 2, sharded);
      await subscribers(admin, 'ws13:other', 1, sharded);
      const [a, b, c] = nodes;
      // Two publishers at once, interleaved; text and binary (every byte value, empty too).
      const sent: Array<Array<[string | Buffer, boolean]>> = [[], []];
      for (let i = 0; i < 300; i++) {
        for (const [k, from] of [[0, a], [1, b]] as const) {
          // Binary messages start with the publisher's number, text ones with "k:".
          const m: [string | Buffer, boolean] = i % 3 === 0 ? [`${k}:${i}:héllo`, false] : [Buffer.concat([Buffer.from([k]), randomBytes((i * 37) % 5000)]), true];
          sent[k]!.push(m);
          assert.equal(from!.server.publish('room', m[0]), 1, 'written to its own subscriber at once');
        }
      }
      await until(() => a!.got.length === 600 && b!.got.length === 600, 10_000, 'every message on both');
      await sleep(100); // nothing more arrives: no echo delivered twice
      for (const n of [a!, b!]) {
        assert.equal(n.got.length, 600);
        // Per publisher, in order and exact.
        for (const k of [0, 1]) {
          const mine = n.got.filter(([d, bin]) => (bin ? (d as Buffer)[0] === k : (d as string).startsWith(`${k}:`)));
          assert.deepEqual(mine, sent[k]);
        }
      }
      assert.equal(c!.got.length, 0, 'not subscribed to room');
      c!.server.publish('other', 'mine alone');
      await until(() => c!.got.length === 1, 5000, 'the local message');
      assert.deepEqual(c!.got, [['mine alone', false]]);
      // The last local subscriber leaving unsubscribes from Redis.
      const closed = next(c!.side, 'close');
      c!.client.close();
      await closed;
      await subscribers(admin, 'ws13:other', 0, sharded);
      a!.side.unsubscribe('room');
      await subscribers(admin, 'ws13:room', 1, sharded);
    } finally {
      for (const n of nodes) n.client.close();
      await Promise.all(nodes.map((n) => n.server.close()));
      await admin.close();
      await stopRedis(redis);
    }
  });
}

peerTest(['redis'], 'the publishes of one turn on a topic travel as one Redis message (a batch), cut at 64 KiB; a lone publish in the plain form', T, async () => {
  const port = await freePort();
  const redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const admin = createClient({ url });
  await admin.connect();
  // What travels on the channel, seen by a plain Redis subscriber.
  const raw = createClient({ url });
  await raw.connect();
  const wire: Buffer[] = [];
  await raw.subscribe('ws13:turn', (m: Buffer) => void wire.push(m), true);
  const [a, b] = await Promise.all([node(url, []), node(url, ['turn'])]);
  try {
    await subscribers(admin, 'ws13:turn', 2);
    const sent: Array<[string | Buffer, boolean]> = [];
    for (let i = 0; i < 10; i++) sent.push(i % 2 ? [Buffer.from([i, 0xff]), true] : [`t${i}`, false]);
    for (const [m] of sent) a.server.publish('turn', m);
    await until(() => b.got.length === 10, 5000, 'the batch');
    assert.equal(wire.length, 1, 'one Redis message');
    assert.equal(wire[0]![0], 2, 'a batch');
    assert.deepEqual(b.got, sent, 'each message with its flags, in order');
    a.server.publish('turn', 'alone');
    await until(() => b.got.length === 11, 5000, 'the lone message');
    assert.equal(wire.length, 2);
    assert.equal(wire[1]![0], 0, 'plain form, text');
    assert.equal(wire[1]!.subarray(9).toString(), 'alone');
    // 40 messages of 4 KiB in one turn: batches of at most 64 KiB of messages (15, 15, 10).
    const big = Array.from({ length: 40 }, (_, i) => Buffer.alloc(4096, i));
    for (const m of big) a.server.publish('turn', m);
    await until(() => b.got.length === 51, 5000, 'the large turn');
    assert.equal(wire.length, 5);
    assert.ok(wire.slice(2).every((m) => m[0] === 2 && m.length <= 9 + 64 * 1024), 'each batch within 64 KiB');
    b.got.slice(11).forEach(([d, bin], i) => assert.ok(bin && (d as Buffer).equals(big[i]!), `large message ${i} in order`));
  } finally {
    for (const n of [a, b]) n.client.close();
    await Promise.all([a.server.close(), b.server.close()]);
    await raw.close();
    await admin.close();
    await stopRedis(redis);
  }
});

peerTest(['redis'], 'binary-exact: messages with every byte value and sizes up to 1 MiB cross intact', T, async () => {
  const port = await freePort();
  const redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const admin = createClient({ url });
  await admin.connect();
  const [a, b] = await Promise.all([node(url, []), node(url, ['bin'])]);
  // A third server over a client made by the application (the broker subscribes on a duplicate).
  const own = createClient({ url });
  const c = await createRedisBroker({ client: own });
  assert.equal(own.isReady, true);
  const cServer = new WebSocketServer({ heartbeat: false, broker: c });
  try {
    await subscribers(admin, 'ws13:bin', 1);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const msgs = [Buffer.alloc(0), all, Buffer.concat(Array(4096).fill(all)), randomBytes(1 << 20), Buffer.from([0, 0, 0xff, 0xff])];
    // Order holds per publisher: a's first, then (once they are in) c's.
    for (const m of msgs.slice(0, 3)) assert.equal(a.server.publish('bin', m), 0);
    await until(() => b.got.length === 3, 10_000, "a's messages");
    for (const m of msgs.slice(3)) assert.equal(cServer.publish('bin', m), 0);
    cServer.publish('bin', 'text with \u0000 and 😀');
    await until(() => b.got.length === 6, 10_000, 'the messages');
    await cServer.close();
    assert.equal(own.isReady, true, "the application's client stays open");
    await own.close();
    b.got.slice(0, 5).forEach(([d, bin], i) => assert.ok(bin && Buffer.isBuffer(d) && d.equals(msgs[i]!), `message ${i}`));
    assert.deepEqual(b.got[5], ['text with \u0000 and 😀', false]);
  } finally {
    for (const n of [a, b]) n.client.close();
    await Promise.all([a.server.close(), b.server.close()]);
    await admin.close();
    await stopRedis(redis);
  }
});

peerTest(['redis'], 'Redis killed under load and restarted: clients stay open, the outage is reported, delivery resumes by itself', T, async () => {
  const port = await freePort();
  let redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const admin = createClient({ url });
  admin.on('error', () => {});
  await admin.connect();
  const [a, b] = await Promise.all([node(url, ['load']), node(url, ['load'])]);
  const brokerErrors: unknown[] = [];
  a.server.on('brokerError', (err) => brokerErrors.push(err));
  const events: string[] = [];
  for (const [name, n] of [['a', a], ['b', b]] as const) {
    n.broker.on('down', () => events.push(`${name} down`));
    n.broker.on('up', () => events.push(`${name} up`));
  }
  try {
    await subscribers(admin, 'ws13:load', 2);
    await admin.close();
    // A steady load: one publish every 2 ms from server a.
    let seq = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        a.server.publish('load', String(seq++));
        await sleep(2);
      }
    })();
    const remote = (): number[] => b.got.map(([d]) => Number(d));
    await until(() => remote().length > 50, 5000, 'delivery before the outage');
    await stopRedis(redis, 'SIGKILL');
    await until(() => events.includes('a down') && events.includes('b down'), 5000, "'down' on both brokers");
    await until(() => a.broker.dropped > 20, 5000, 'publishes dropped during the outage');
    const droppedInOutage = a.broker.dropped;
    assert.ok(brokerErrors.length >= droppedInOutage - 1, `${brokerErrors.length} 'brokerError' events for ${droppedInOutage} drops`);
    assert.equal((brokerErrors[0] as { code?: string }).code, 'WS_ERR_BROKER_UNAVAILABLE');
    // The WebSocket clients never noticed.
    for (const n of [a, b]) {
      assert.equal(n.client.readyState, WebSocket.OPEN);
      assert.equal(n.side.readyState, WebSocket.OPEN);
    }
    const beforeRestart = remote().length;
    redis = await startRedis(port);
    await until(() => events.includes('a up') && events.includes('b up'), 10_000, "'up' on both brokers");
    const resumedFrom = seq;
    await until(() => remote().some((s) => s > resumedFrom + 20), 10_000, 'delivery after the restart');
    stop = true;
    await load;
    const last = seq - 1;
    // Local delivery never stopped: a's own subscriber got every message, in order.
    await until(() => a.got.length === seq, 5000, 'every local message');
    assert.deepEqual(a.got.map(([d]) => Number(d)), Array.from({ length: seq }, (_, i) => i));
    // Remote: at most once and in order; a gap around the outage only.
    await sleep(200);
    const r = remote();
    for (let i = 1; i < r.length; i++) assert.ok(r[i]! > r[i - 1]!, `in order, once: ${r[i - 1]} then ${r[i]}`);
    assert.ok(beforeRestart > 50 && r.length > beforeRestart, 'delivered before and after');
    assert.ok(r.at(-1) === last, `the last message arrived (${r.at(-1)} of ${last})`);
    // Dropped, not queued: the outage's messages never arrive later.
    assert.ok(seq - r.length >= droppedInOutage / 2, `${seq - r.length} never arrived; ${droppedInOutage} were dropped`);
    assert.deepEqual(events.slice(0, 2).sort(), ['a down', 'b down']);
  } finally {
    for (const n of [a, b]) n.client.close();
    await Promise.all([a.server.close(), b.server.close()]);
    await stopRedis(redis);
  }
});
