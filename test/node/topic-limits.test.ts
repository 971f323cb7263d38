// Bad input for topics: names and counts bounded with typed errors, and a publish that nobody
// can hear builds no frame (counted by server.stats(), not timed). Real sockets on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, WebSocket, WebSocketError, WebSocketServer, type Broker } from '../../src/node/index.js';
import { next } from './helpers.js';
import { serverWithClients } from './server-with-clients.js';

const T = { timeout: 30_000 };

const setup = (n: number, options: ConstructorParameters<typeof WebSocketServer>[0] = {}) =>
  serverWithClients(n, options);

const code = (c: string) => (e: unknown) => e instanceof WebSocketError && e.code === c;

test('topic names over maxTopicLength (default 256) throw WS_ERR_TOPIC_TOO_LONG on subscribe and publish', T, async () => {
  const { server, sides } = await setup(1);
  try {
    const ws = sides[0]!;
    assert.equal(ws.subscribe('x'.repeat(256)), true, 'the default allows 256');
    assert.throws(() => ws.subscribe('x'.repeat(257)), code(ErrorCode.TopicTooLong));
    assert.throws(() => server.publish('y'.repeat(257), 'm'), code(ErrorCode.TopicTooLong));
    assert.throws(() => ws.subscribe(''), code(ErrorCode.InvalidArgument));
    assert.throws(() => ws.subscribe(42 as unknown as string), code(ErrorCode.InvalidArgument));
    assert.equal(ws.unsubscribe('z'.repeat(1000)), false, 'leaving a topic one cannot be in is simply false');
    assert.deepEqual(ws.topics, ['x'.repeat(256)]);
  } finally {
    await server.close({ timeout: 500 });
  }
  const small = await setup(1, { maxTopicLength: 8 });
  try {
    assert.equal(small.sides[0]!.subscribe('12345678'), true);
    assert.throws(() => small.sides[0]!.subscribe('123456789'), code(ErrorCode.TopicTooLong));
  } finally {
    await small.server.close({ timeout: 500 });
  }
});

test('maxTopicsPerSocket: one topic more throws WS_ERR_TOO_MANY_TOPICS; leaving one makes room', T, async () => {
  const { server, sides, clients } = await setup(1, { maxTopicsPerSocket: 3 });
  try {
    const ws = sides[0]!;
    for (const t of ['a', 'b', 'c']) assert.equal(ws.subscribe(t), true);
    assert.equal(ws.subscribe('a'), false, 'already in: not an error at the limit');
    assert.throws(() => ws.subscribe('d'), code(ErrorCode.TooManyTopics));
    assert.deepEqual(ws.topics, ['a', 'b', 'c']);
    ws.unsubscribe('b');
    assert.equal(ws.subscribe('d'), true);
    assert.equal(ws.readyState, WebSocket.OPEN, 'the connection is not affected');
    const got = next<[Buffer]>(clients[0]!, 'message');
    assert.equal(server.publish('d', 'still here'), 1);
    assert.equal(String((await got)[0]), 'still here');
    const st = server.stats();
    assert.equal(st.topics, 3);
    assert.equal(st.subscribers, 1);
    assert.equal(st.subscriptions, 3);
  } finally {
    await server.close({ timeout: 500 });
  }
});

test('a publish to a topic with no subscribers builds no frame; one with three builds one', T, async () => {
  const { server, sides, clients } = await setup(3);
  try {
    const before = server.stats();
    for (let i = 0; i < 1000; i++) {
      assert.equal(server.publish('empty', `message ${i}`), 0);
      assert.equal(server.publish('empty', Buffer.alloc(1024)), 0);
    }
    let st = server.stats();
    assert.deepEqual(st.publish, { calls: 2000, unheard: 2000, framesBuilt: 0 });
    assert.equal(st.messagesOut, before.messagesOut);
    assert.equal(st.bytesOut, before.bytesOut, 'nothing written');
    // Bad input still gets its answer when nobody listens.
    assert.throws(() => server.publish('empty', 42 as unknown as string), code(ErrorCode.InvalidArgument));
    assert.throws(() => server.publish('empty', Buffer.from([0xff]), { binary: false }), code(ErrorCode.InvalidArgument));

    for (const ws of sides) ws.subscribe('full');
    const got = Promise.all(clients.map((c) => next<[Buffer]>(c, 'message')));
    assert.equal(server.publish('full', 'to three'), 3);
    assert.deepEqual((await got).map(([d]) => String(d)), ['to three', 'to three', 'to three']);
    st = server.stats();
    assert.equal(st.publish.framesBuilt, 1, 'framed once for three subscribers');
    assert.equal(st.messagesOut, before.messagesOut + 3);
  } finally {
    await server.close({ timeout: 500 });
  }
});

test('with a broker that reaches other processes, a publish with no local subscriber still goes to the broker, unframed', T, async () => {
  const published: string[] = [];
  const broker: Broker = {
    publish: (topic) => void published.push(topic),
    subscribe() {},
    unsubscribe() {},
    onMessage() {},
    close() {},
  };
  const { server } = await setup(0, { broker });
  try {
    assert.equal(server.publish('elsewhere', 'hi'), 0);
    assert.deepEqual(published, ['elsewhere']);
    assert.deepEqual(server.stats().publish, { calls: 1, unheard: 0, framesBuilt: 0 });
  } finally {
    await server.close();
  }
});
