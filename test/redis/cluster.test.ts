// ws13/redis on a real Redis Cluster (three redis-server masters joined by
// `redis-cli --cluster create`, started here on free ports): sharded pub/sub, the topics'
// channels spread over every node, a publish on one server reaching the others in order per
// topic, binary-exact, never echoed; and `ws13 serve --redis URL,URL,URL` across processes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { createClient } from 'redis';
import WsClient from 'ws';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { createRedisBroker } from '../../src/redis/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { peerTest } from '../support/peers-available.js';
import { freePort } from '../support/ports.js';
import { startRedisCluster } from '../support/redis-server.js';
import { killServes, serve, sleep, until, warmUp } from '../support/ws13-serve.js';
import { next, within } from '../node/helpers.js';

const T = { timeout: 90_000 };
after(killServes);
const TOPICS = Array.from({ length: 12 }, (_, i) => `room-${i}`);

/** A server whose broker is on the cluster, and a client subscribed to `topics`. */
async function node(urls: string[], topics: string[]) {
  const broker = await createRedisBroker({ cluster: urls });
  const server = new WebSocketServer({ heartbeat: false, broker });
  const { port } = await server.listen(0, '127.0.0.1');
  const side = next<[WebSocket]>(server, 'connection');
  const client = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { heartbeat: false });
  const ws = (await side)[0];
  for (const t of topics) ws.subscribe(t);
  const got: Array<[string | Buffer, boolean]> = [];
  client.on('message', (d, bin) => got.push([d as string | Buffer, bin]));
  return { broker, server, client, got };
}

type Admin = { sendCommand(args: string[]): Promise<unknown> };

/** The sharded channels a node holds subscribers for. */
async function shardChannels(admin: Admin): Promise<string[]> {
  return (await admin.sendCommand(['PUBSUB', 'SHARDCHANNELS'])) as string[];
}

/** Subscribers of a sharded channel, summed over the nodes (only its slot's owner has any). */
async function shardNumSub(admins: Admin[], channel: string): Promise<number> {
  let n = 0;
  for (const admin of admins) n += Number(((await admin.sendCommand(['PUBSUB', 'SHARDNUMSUB', channel])) as [string, number])[1]);
  return n;
}

test('a cluster with no node, or a node that is not a URL: typed errors', async () => {
  await assert.rejects(createRedisBroker({ cluster: [] }), { code: ErrorCode.InvalidArgument });
  await assert.rejects(createRedisBroker({ cluster: ['not a url'] }), { code: ErrorCode.InvalidArgument });
});

peerTest(['redis'], 'Redis Cluster, sharded pub/sub: channels spread over every node; a publish on one server reaches the others, in order per topic, binary-exact, once', T, async () => {
  const cluster = await startRedisCluster(3);
  const nodes: Array<Awaited<ReturnType<typeof node>>> = [];
  const admins = cluster.urls.map((url) => createClient({ url }));
  try {
    await Promise.all(admins.map((a) => a.connect()));
    nodes.push(await node(cluster.urls, TOPICS), await node([cluster.urls[1]!], TOPICS), await node([cluster.urls[2]!], TOPICS.slice(0, 1)));
    const [a, b, c] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]];
    // Each node holds the channels of the slots it owns: all three hold some.
    const subscribed = async (): Promise<void> => {
      for (;;) {
        const counts = await Promise.all(TOPICS.map((t) => shardNumSub(admins, `ws13:${t}`)));
        if (counts.every((n, i) => n === (i === 0 ? 3 : 2))) return;
        await sleep(20);
      }
    };
    await within(subscribed(), 20_000, 'every subscription in place');
    const held = await Promise.all(admins.map(shardChannels));
    assert.equal(held.flat().length, TOPICS.length);
    held.forEach((chs, i) => assert.ok(chs.length > 0, `node ${cluster.urls[i]} holds channels`));

    const sent = new Map<string, Array<[string | Buffer, boolean]>>();
    for (let i = 0; i < 240; i++) {
      const topic = TOPICS[i % TOPICS.length]!;
      const m: [string | Buffer, boolean] = i % 2 ? [`${topic}:${i}:héllo`, false] : [randomBytes(i * 13), true];
      if (!sent.has(topic)) sent.set(topic, []);
      sent.get(topic)!.push(m);
      assert.equal(a.server.publish(topic, m[0]), 1, 'its own subscriber at once');
    }
    await until(() => b.got.length === 240 && c.got.length === 20, 20_000, () => `every message (b ${b.got.length}/240, c ${c.got.length}/20)`);
    await sleep(200); // and nothing twice
    assert.equal(b.got.length, 240);
    assert.equal(a.got.length, 240, 'no echo of its own publishes');
    // Per topic, in order and exact (topics on different shards are not ordered together).
    for (const [topic, msgs] of sent) {
      const mine = b.got.filter(([d, bin]) => (bin ? msgs.some(([m]) => Buffer.isBuffer(m) && m.equals(d as Buffer)) : (d as string).startsWith(`${topic}:`)));
      assert.deepEqual(mine, msgs, topic);
    }
    assert.deepEqual(c.got, sent.get(TOPICS[0]!));
  } finally {
    for (const n of nodes) n.client.close();
    await Promise.all(nodes.map((n) => n.server.close()));
    await Promise.all(admins.map((a) => a.isOpen && a.close()));
    await cluster.stop();
  }
});

peerTest(['redis'], 'ws13 serve --redis URL,URL,URL: a broadcast crosses two processes over a Redis Cluster', T, async () => {
  const cluster = await startRedisCluster(3);
  try {
    const [p1, p2] = [await freePort(), await freePort()];
    const one = await serve(['--broadcast', '--redis', cluster.urls.join(','), '--port', String(p1)]);
    const two = await serve(['--broadcast', '--redis', cluster.urls[0]!, '--redis-cluster', '--port', String(p2)]);
    const clients = await Promise.all([p1, p2].map(async (port) => {
      const ws = new WsClient(`ws://127.0.0.1:${port}/`);
      const got: Array<string> = [];
      ws.on('message', (d) => got.push(String(d)));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return { ws, got };
    }));
    const [x, y] = clients as [typeof clients[0], typeof clients[0]];
    await warmUp((m) => x.ws.send(m), [x, y]);
    await warmUp((m) => y.ws.send(m), [x, y]);
    x.ws.send('from one');
    y.ws.send('from two');
    await until(() => x.got.length === 2 && y.got.length === 2, 10_000, 'both messages on both');
    for (const c of clients) assert.deepEqual([...c.got].sort(), ['from one', 'from two']);
    for (const c of clients) c.ws.close();
    one.child.kill('SIGTERM');
    two.child.kill('SIGTERM');
    assert.equal(await one.exited, 0);
    assert.equal(await two.exited, 0);
  } finally {
    await cluster.stop();
  }
});
