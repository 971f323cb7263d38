// Observability from real traffic on 127.0.0.1: every ws13:* diagnostics channel, subscribed
// here as an application would, and server.stats() after the same traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { CHANNELS, WebSocket, WebSocketServer, type Broker, type HandshakeError } from '../../src/node/index.js';
import { next, sleep, within } from './helpers.js';

const T = { timeout: 30_000 };
type Msg = Record<string, unknown>;

/** Subscribes to every ws13 channel; returns what each received and a function to stop. */
function listen(): { got: Record<string, Msg[]>; stop: () => void } {
  const got: Record<string, Msg[]> = {};
  const subs: Array<[string, (m: unknown) => void]> = [];
  for (const name of Object.values(CHANNELS)) {
    got[name] = [];
    const fn = (m: unknown): void => void got[name]!.push(m as Msg);
    dc.subscribe(name, fn);
    subs.push([name, fn]);
  }
  return { got, stop: () => subs.forEach(([n, f]) => dc.unsubscribe(n, f)) };
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  await within((async () => { while (!pred()) await sleep(5); })(), ms, what);
}

test('open, messages in and out with their sizes, close with its code, a refused handshake: events and stats from real traffic', T, async () => {
  const { got, stop } = listen();
  const server = new WebSocketServer({
    heartbeat: false,
    beforeUpgrade: (req) => (req.url === '/private' ? { status: 403, body: 'no' } : undefined),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const side = next<[WebSocket]>(server, 'connection');
    const client = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const [ws] = await side;
    ws.on('message', (d, bin) => ws.send(d as Buffer, { binary: bin })); // echo
    const echoes = new Promise<void>((r) => {
      let n = 0;
      client.on('message', () => ++n === 2 && r());
    });
    client.send('héllo'); // 6 bytes
    client.send(Buffer.alloc(300, 7));
    await within(echoes, 5000, 'two echoes');
    ws.subscribe('news');
    assert.equal(server.publish('news', 'flash'), 1);
    await next(client, 'message');

    const refusedErr = await WebSocket.connect(`ws://127.0.0.1:${port}/private`).catch((e: HandshakeError) => e);
    assert.equal((refusedErr as HandshakeError).status, 403);

    const closed = next<[number]>(ws, 'close');
    client.close(1000, 'bye');
    await closed;
    // Three: both ends of the connection, and the refused client (1006, no connection).
    await until(() => got[CHANNELS.close]!.length === 3, 5000, 'three close events');
    assert.equal(got[CHANNELS.close]![0]!['code'], 1006);

    const opens = got[CHANNELS.open]!;
    assert.deepEqual(opens.map((m) => m['role']).sort(), ['client', 'server']);
    const serverOpen = opens.find((m) => m['role'] === 'server')!;
    assert.equal(serverOpen['socket'], ws);
    assert.equal(serverOpen['server'], server);
    assert.equal((serverOpen['request'] as { url: string }).url, '/');
    assert.equal(opens.find((m) => m['role'] === 'client')!['socket'], client);

    // Message sizes: payload bytes, per socket, in order.
    const sizes = (ch: string, s: WebSocket) => got[ch]!.filter((m) => m['socket'] === s).map((m) => [m['size'], m['binary']]);
    assert.deepEqual(sizes(CHANNELS.messageIn, ws), [[6, false], [300, true]]);
    assert.deepEqual(sizes(CHANNELS.messageOut, client), [[6, false], [300, true]]);
    assert.deepEqual(sizes(CHANNELS.messageOut, ws), [[6, false], [300, true], [5, false]], 'the echoes and the publish');
    assert.deepEqual(sizes(CHANNELS.messageIn, client), [[6, false], [300, true], [5, false]]);

    const closes = got[CHANNELS.close]!;
    for (const s of [ws, client]) {
      const c = closes.find((m) => m['socket'] === s)!;
      assert.equal(c['code'], 1000);
      assert.equal(c['reason'], 'bye');
      assert.equal(c['wasClean'], true);
    }
    const refused = got[CHANNELS.handshakeRefused]!;
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!['status'], 403);
    assert.equal(refused[0]!['code'], 'WS_ERR_REJECTED');
    assert.equal(refused[0]!['server'], server);

    const st = server.stats();
    assert.equal(st.connections, 0);
    assert.equal(st.connectionsTotal, 1);
    assert.equal(st.messagesIn, 2);
    assert.equal(st.messagesOut, 3);
    // Wire bytes after the handshake: frames with headers and masks, the close frames too.
    assert.ok(st.bytesIn >= 6 + 300 + 2 * 6 + 4 + 6, `bytesIn ${st.bytesIn}`);
    assert.ok(st.bytesOut >= 6 + 300 + 5 + 3 * 2 + 4, `bytesOut ${st.bytesOut}`);
    assert.deepEqual(st.closeCodes, { 1000: 1 });
    assert.deepEqual(st.refusals, { 403: 1 });
    assert.deepEqual(st.publish, { calls: 1, unheard: 0, framesBuilt: 1 });
    assert.equal(st.topics, 0, 'the subscriber left with its close');
    assert.equal(st.subscribers, 0);
  } finally {
    stop();
    await server.close();
  }
});

test('backpressure: reading paused under a large send, a slow subscriber skipped; both as events and counts', T, async () => {
  const { got, stop } = listen();
  const server = new WebSocketServer({ heartbeat: false, maxBroadcastBacklog: 64 * 1024, broadcastOverflow: 'skip' });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const side = next<[WebSocket]>(server, 'connection');
    const client = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const [ws] = await side;
    client.pause(); // reads nothing: the server's output piles up
    ws.send(Buffer.alloc(8 * 1024 * 1024));
    await until(() => got[CHANNELS.backpressure]!.some((m) => m['kind'] === 'read-paused'), 5000, 'read-paused');
    const paused = got[CHANNELS.backpressure]!.find((m) => m['kind'] === 'read-paused')!;
    assert.equal(paused['socket'], ws);
    assert.ok((paused['bufferedBytes'] as number) > 1024 * 1024);
    // Later turns: the transport still holds the earlier output, so broadcasts skip it.
    for (let i = 0; i < 50 && !got[CHANNELS.backpressure]!.some((m) => m['kind'] === 'broadcast-skip'); i++) {
      server.broadcast('tick');
      await sleep(10);
    }
    const skipped = got[CHANNELS.backpressure]!.filter((m) => m['kind'] === 'broadcast-skip');
    assert.ok(skipped.length >= 1);
    const st = server.stats();
    assert.equal(st.backpressure['read-paused'], 1);
    assert.equal(st.backpressure['broadcast-skip'], skipped.length);
    assert.equal(st.backpressure['broadcast-close'], 0);
    client.terminate();
  } finally {
    stop();
    await server.close({ timeout: 500 });
  }
});

test('broker failures: ws13:broker-error and stats().broker.errors', T, async () => {
  const { got, stop } = listen();
  /** A broker as a user might write one, whose backend is down. */
  class DownBroker implements Broker {
    dropped = 0;
    publish(): Promise<void> {
      this.dropped++;
      return Promise.reject(new Error('backend down'));
    }
    subscribe(): void {
      throw new Error('cannot subscribe');
    }
    unsubscribe(): void {}
    onMessage(): void {}
    close(): void {}
  }
  const server = new WebSocketServer({ heartbeat: false, broker: new DownBroker() });
  const { port } = await server.listen(0, '127.0.0.1');
  server.on('brokerError', () => {});
  try {
    const side = next<[WebSocket]>(server, 'connection');
    const client = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
    const [ws] = await side;
    ws.subscribe('t');
    assert.equal(server.publish('t', 'x'), 1, 'local delivery goes on');
    assert.equal(server.publish('nobody-here', 'x'), 0);
    await until(() => got[CHANNELS.brokerError]!.length === 3, 5000, 'three broker errors');
    assert.deepEqual(got[CHANNELS.brokerError]!.map((m) => (m['error'] as Error).message).sort(), ['backend down', 'backend down', 'cannot subscribe']);
    assert.equal(got[CHANNELS.brokerError]![0]!['server'], server);
    const st = server.stats();
    assert.deepEqual(st.broker, { errors: 3, ignored: 0, dropped: 2 });
    assert.equal(st.publish.unheard, 0, 'with a remote broker, others may listen: the publish goes out');
    client.terminate();
  } finally {
    stop();
    await server.close({ timeout: 500 });
  }
});

test('with nobody subscribed, the channels report no subscribers (the guard every publish checks)', () => {
  for (const name of Object.values(CHANNELS)) {
    assert.match(name, /^ws13:[a-z-]+$/);
    assert.equal(dc.channel(name).hasSubscribers, false, name);
  }
});
