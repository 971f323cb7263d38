// Topics on one server: subscribe/unsubscribe, publish (text, binary, except, from an HTTP
// handler), cleanup on close, the slow-subscriber policy, and compression shared between
// subscribers. Real sockets on 127.0.0.1; every message is checked byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import zlib, { inflateRawSync } from 'node:zlib';
import { WebSocket, WebSocketServer, type Broker, type BrokerHandler } from '../../src/node/index.js';
import { RawPeer, upgradeRequest, type Frame } from '../support/raw.js';
import { messages, next, sleep, within } from './helpers.js';
import { serverWithClients } from './server-with-clients.js';

const T = { timeout: 30_000 };
const MB = 1024 * 1024;

/** A broker written as a user would: it records what the server asks of it. */
class RecordingBroker implements Broker {
  calls: string[] = [];
  handler: BrokerHandler | undefined;
  published: Array<[string, Buffer, boolean]> = [];
  publish(topic: string, payload: Uint8Array, binary: boolean): void {
    this.published.push([topic, Buffer.from(payload), binary]);
  }
  subscribe(topic: string): void {
    this.calls.push(`+${topic}`);
  }
  unsubscribe(topic: string): void {
    this.calls.push(`-${topic}`);
  }
  onMessage(handler: BrokerHandler): void {
    this.handler = handler;
  }
  close(): void {
    this.calls.push('close');
  }
}

const setup = (n: number, options: ConstructorParameters<typeof WebSocketServer>[0] = {}) =>
  serverWithClients(n, options, { perMessageDeflate: false });

test('publish reaches the subscribers of the topic only, in order, text as text and binary exact', T, async () => {
  const { server, clients, sides } = await setup(3);
  try {
    assert.equal(sides[0]!.subscribe('news'), true);
    assert.equal(sides[0]!.subscribe('news'), false, 'already subscribed');
    sides[1]!.subscribe('news');
    sides[1]!.subscribe('sport');
    sides[2]!.subscribe('sport');
    assert.deepEqual(sides[1]!.topics, ['news', 'sport']);
    assert.equal(sides[0]!.isSubscribed('news'), true);
    assert.equal(sides[0]!.isSubscribed('sport'), false);

    const bin = randomBytes(70_000);
    const got = clients.map((c) => messages(c, c === clients[2] ? 2 : 3));
    assert.equal(server.publish('news', 'héllo'), 2);
    assert.equal(server.publish('news', bin), 2);
    assert.equal(server.publish('sport', 'goal', { except: sides[1] }), 1);
    assert.equal(server.publish('news', Buffer.from('as text'), { binary: false }), 2);
    assert.equal(server.publish('sport', new Uint8Array([0, 255, 1]).buffer), 2);
    assert.equal(server.publish('nobody', 'x'), 0);
    const [a, b, c] = await Promise.all(got);
    assert.deepEqual(a, [['héllo', false], [bin, true], ['as text', false]]);
    assert.deepEqual(b, [['héllo', false], [bin, true], ['as text', false]]);
    assert.deepEqual(c, [['goal', false], [Buffer.from([0, 255, 1]), true]]);
  } finally {
    for (const c of clients) c.close();
    await server.close();
  }
});

test('unsubscribe and close leave topics; the broker hears of a topic\'s first and last subscriber only', T, async () => {
  const broker = new RecordingBroker();
  const { server, clients, sides } = await setup(3, { broker });
  sides[0]!.subscribe('a');
  sides[1]!.subscribe('a');
  sides[1]!.subscribe('b');
  sides[2]!.subscribe('b');
  assert.deepEqual(broker.calls, ['+a', '+b']);
  assert.equal(sides[0]!.unsubscribe('a'), true);
  assert.equal(sides[0]!.unsubscribe('a'), false);
  assert.deepEqual(sides[0]!.topics, []);
  assert.deepEqual(broker.calls, ['+a', '+b'], 'a still has a subscriber');
  // Closing (either side) leaves every topic.
  const closed = next(sides[1]!, 'close');
  clients[1]!.close();
  await closed;
  assert.deepEqual(sides[1]!.topics, []);
  assert.equal(sides[1]!.subscribe('c'), false, 'a closed socket cannot subscribe');
  assert.deepEqual(broker.calls, ['+a', '+b', '-a']);
  const gone = next(sides[2]!, 'close');
  sides[2]!.terminate();
  await gone;
  assert.deepEqual(broker.calls, ['+a', '+b', '-a', '-b']);
  assert.equal(server.publish('a', 'x'), 0);
  assert.equal(server.publish('b', 'x'), 0);
  // Every publish went to the broker too, as sent.
  assert.deepEqual(broker.published.map(([t, p, bin]) => [t, p.toString(), bin]), [['a', 'x', false], ['b', 'x', false]]);
  // A publish from another process, through the broker, reaches local subscribers.
  sides[0]!.subscribe('remote');
  const got = messages(clients[0]!, 2);
  broker.handler!('remote', Buffer.from('from afar'), false);
  broker.handler!('remote', Uint8Array.of(1, 2, 3), true);
  assert.deepEqual(await got, [['from afar', false], [Buffer.from([1, 2, 3]), true]]);
  clients[0]!.close();
  await server.close();
  assert.equal(broker.calls.at(-1), 'close', 'server.close() closes its broker');
});

test('publish works from an HTTP handler of an attached server; only server connections have topics', T, async () => {
  const app = http.createServer();
  const wss = new WebSocketServer({ server: app, path: '/ws', heartbeat: false });
  app.on('request', (req, res) => {
    const n = wss.publish('prices', JSON.stringify({ path: req.url }));
    res.end(String(n));
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const port = (app.address() as { port: number }).port;
  try {
    wss.on('connection', (ws) => ws.subscribe('prices'));
    const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/ws`);
    await sleep(20);
    const got = messages(ws, 1);
    const res = await fetch(`http://127.0.0.1:${port}/tick`);
    assert.equal(await res.text(), '1');
    assert.deepEqual(await got, [['{"path":"/tick"}', false]]);
    assert.throws(() => ws.subscribe('prices'), { code: 'WS_ERR_INVALID_STATE' });
    assert.throws(() => wss.publish('', 'x'), { code: 'WS_ERR_INVALID_ARGUMENT' });
    assert.throws(() => wss.publish('t', Buffer.from([0xff]), { binary: false }), { code: 'WS_ERR_INVALID_ARGUMENT' });
    ws.close();
    await wss.close();
  } finally {
    app.closeAllConnections();
    await new Promise((r) => app.close(r));
  }
});

/** A raw client that subscribes (on connection) and never reads. */
async function stuckSubscriber(server: WebSocketServer, port: number, topic: string): Promise<{ peer: RawPeer; side: WebSocket }> {
  const side = next<[WebSocket]>(server, 'connection');
  const peer = await RawPeer.connect(port);
  peer.write(upgradeRequest());
  await peer.head();
  peer.socket.pause();
  const ws = (await side)[0];
  ws.subscribe(topic);
  return { peer, side: ws };
}

test("a subscriber that never reads is closed with 1013 past maxBroadcastBacklog ('close'), or skipped ('skip'); readers get every message", { timeout: 60_000 }, async () => {
  for (const overflow of ['close', 'skip'] as const) {
    const limit = 1 * MB;
    const { server, port, clients, sides } = await setup(1, { maxBroadcastBacklog: limit, broadcastOverflow: overflow, closeTimeout: 300 });
    sides[0]!.subscribe('feed');
    const { peer, side } = await stuckSubscriber(server, port, 'feed');
    const stuckClose = next<[number]>(side, 'close', 10_000);
    const received: Buffer[] = [];
    clients[0]!.on('message', (d) => received.push(d as Buffer));
    const n = 400;
    let maxBacklog = 0;
    for (let i = 0; i < n; i++) {
      server.publish('feed', Buffer.alloc(32 * 1024, i & 0xff));
      maxBacklog = Math.max(maxBacklog, side.bufferedAmount);
      if (i % 16 === 15) await within((async () => { while (received.length < i + 1) await sleep(2); })(), 10_000, 'the reader');
    }
    await within((async () => { while (received.length < n) await sleep(2); })(), 10_000, 'the reader');
    received.forEach((m, i) => assert.ok(m.length === 32 * 1024 && m[0] === (i & 0xff) && m[m.length - 1] === (i & 0xff), `message ${i}`));
    assert.ok(maxBacklog <= limit + 16 * 32 * 1024, `backlog ${(maxBacklog / MB).toFixed(1)} MB`);
    if (overflow === 'close') {
      // 1013 was queued behind the backlog; the peer never reads it, so it is dropped after closeTimeout.
      await stuckClose;
      assert.deepEqual(side.topics, []);
    } else {
      assert.equal(side.readyState, WebSocket.OPEN);
      assert.deepEqual(side.topics, ['feed']);
    }
    peer.destroy();
    clients[0]!.close();
    await server.close();
  }
});

/** A raw client offering permessage-deflate with these parameters, subscribed to `topic`. */
async function rawDeflateSubscriber(server: WebSocketServer, port: number, topic: string, offer: string) {
  const side = next<[WebSocket]>(server, 'connection');
  const peer = await RawPeer.connect(port);
  peer.write(upgradeRequest({ extra: [`Sec-WebSocket-Extensions: ${offer}`] }));
  const head = await peer.head();
  (await side)[0].subscribe(topic);
  return { peer, head };
}

function inflate(f: Frame): Buffer {
  return inflateRawSync(Buffer.concat([f.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
}

test('compress: one compression per distinct permessage-deflate agreement, sent with RSV1; others get it uncompressed', T, async () => {
  const server = new WebSocketServer({ heartbeat: false, perMessageDeflate: true });
  const { port } = await server.listen(0, '127.0.0.1');
  const a = await rawDeflateSubscriber(server, port, 't', 'permessage-deflate');
  const b = await rawDeflateSubscriber(server, port, 't', 'permessage-deflate; server_max_window_bits=10');
  const plain = await rawDeflateSubscriber(server, port, 't', 'x-unknown');
  assert.match(a.head, /permessage-deflate/);
  assert.match(b.head, /server_max_window_bits=10/);
  assert.doesNotMatch(plain.head, /permessage-deflate/);
  // A ws13 client too: what it receives decompresses to the exact message.
  const side = next<[WebSocket]>(server, 'connection');
  const client = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
  (await side)[0].subscribe('t');
  const json = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}` })));
  const big = Buffer.from(JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ i })))); // > 64 KiB: zlib
  const got = messages(client, 4);
  assert.equal(server.publish('t', json), 4);
  assert.equal(server.publish('t', big, { binary: true }), 4);
  assert.equal(server.publish('t', 'short'), 4); // under the threshold
  assert.equal(server.publish('t', json, { compress: false }), 4);
  assert.deepEqual(await got, [[json, false], [big, true], ['short', false], [json, false]]);
  for (const peer of [a.peer, b.peer, plain.peer]) {
    const frames = [await peer.nextFrame(), await peer.nextFrame(), await peer.nextFrame(), await peer.nextFrame()];
    const compressed = peer !== plain.peer;
    assert.deepEqual(frames.map((f) => f.rsv), compressed ? [4, 4, 0, 0] : [0, 0, 0, 0]);
    assert.equal((compressed ? inflate(frames[0]!) : frames[0]!.payload).toString(), json);
    assert.ok((compressed ? inflate(frames[1]!) : frames[1]!.payload).equals(big));
    assert.equal(frames[2]!.payload.toString(), 'short');
    assert.equal(frames[3]!.payload.toString(), json);
    if (compressed) assert.ok(frames[0]!.payload.length < json.length / 2, 'compressed for real');
  }
  for (const p of [a.peer, b.peer, plain.peer]) p.destroy();
  client.close();
  await server.close();
});

test('compress: subscribers whose server side keeps its context get the message uncompressed', T, async () => {
  const server = new WebSocketServer({ heartbeat: false, perMessageDeflate: { serverNoContextTakeover: false } });
  const { port } = await server.listen(0, '127.0.0.1');
  const a = await rawDeflateSubscriber(server, port, 't', 'permessage-deflate');
  assert.match(a.head, /permessage-deflate/);
  assert.doesNotMatch(a.head, /server_no_context_takeover/);
  const json = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i })));
  server.publish('t', json);
  const f = await a.peer.nextFrame();
  assert.equal(f.rsv, 0);
  assert.equal(f.payload.toString(), json);
  a.peer.destroy();
  await server.close();
});
