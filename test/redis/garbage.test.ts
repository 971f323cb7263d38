// Another application publishing on ws13's Redis channels: a real redis-server, a plain Redis
// client publishing garbage on the channel of a topic that a ws13 server listens to. Every such
// message is ignored and counted (stats, diagnostics channel); none reaches a client, nothing
// crashes, and a well-formed message published after them still arrives.
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { CHANNELS, WebSocket, WebSocketServer } from '../../src/node/index.js';
import { createRedisBroker } from '../../src/redis/index.js';
import { peerTest } from '../support/peers-available.js';
import { freePort, startRedis, stopRedis } from '../support/redis-server.js';
import { next, sleep, within } from '../node/helpers.js';

peerTest(['redis'], 'malformed messages on a topic channel are ignored and counted, never delivered, never a crash', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const redis = await startRedis(port);
  const url = `redis://127.0.0.1:${port}`;
  const other = createClient({ url });
  await other.connect();
  const broker = await createRedisBroker({ url });
  const server = new WebSocketServer({ heartbeat: false, broker });
  const brokerErrors: unknown[] = [];
  server.on('brokerError', (e) => brokerErrors.push(e));
  const seen: Array<Record<string, unknown>> = [];
  const onIgnored = (m: unknown): void => void seen.push(m as Record<string, unknown>);
  dc.subscribe(CHANNELS.brokerIgnored, onIgnored);
  try {
    const { port: wsPort } = await server.listen(0, '127.0.0.1');
    const side = next<[WebSocket]>(server, 'connection');
    const client = await WebSocket.connect(`ws://127.0.0.1:${wsPort}/`);
    const [ws] = await side;
    ws.subscribe('room');
    const got: string[] = [];
    client.on('message', (d) => got.push(String(d)));
    // Wait for the subscription to be in place at Redis.
    await within(
      (async () => {
        for (;;) {
          const r = (await other.sendCommand(['PUBSUB', 'NUMSUB', 'ws13:room'])) as [string, number];
          if (Number(r[1]) === 1) return;
          await sleep(10);
        }
      })(),
      5000,
      'the subscription',
    );
    const origin = randomBytes(8);
    const garbage: Buffer[] = [
      Buffer.alloc(0), // empty
      Buffer.from('hello'), // plain text from another app: shorter than the header
      Buffer.from('{"type":"chat","text":"a JSON message from another app"}'), // first byte '{': unknown flags
      Buffer.concat([Buffer.from([0x80]), origin, Buffer.from('a later format')]), // a flag bit ws13 does not know
      Buffer.concat([Buffer.from([0]), origin, Buffer.from([0xff, 0xfe, 0x41])]), // text that is not UTF-8
      randomBytes(64 * 1024).fill(0xff, 0, 1), // 64 KiB of noise
      Buffer.concat([Buffer.from([2]), origin]), // a batch with nothing in it
      Buffer.concat([Buffer.from([2]), origin, Buffer.from([0, 0, 0, 0, 10]), Buffer.from('short')]), // a batched message cut short
      Buffer.concat([Buffer.from([2]), origin, Buffer.from([0, 0, 0, 0, 1, 0x41, 4, 0, 0, 0, 1, 0x42])]), // a batched message with unknown flags
      Buffer.concat([Buffer.from([3]), origin, Buffer.from([0, 0, 0, 0, 1, 0x41])]), // batch and binary: no such format
    ];
    for (const g of garbage) await other.publish('ws13:room', g);
    // A well-formed message from another publisher (a ws13 format header, text flag) after them.
    await other.publish('ws13:room', Buffer.concat([Buffer.from([0]), origin, Buffer.from('valid')]));
    // And a well-formed batch: a text message and a binary one.
    await other.publish('ws13:room', Buffer.concat([Buffer.from([2]), origin, Buffer.from([0, 0, 0, 0, 2]), Buffer.from('b1'), Buffer.from([1, 0, 0, 0, 1, 0x42])]));
    await within((async () => { while (got.length < 3) await sleep(5); })(), 5000, 'the valid messages');
    await sleep(100);
    assert.deepEqual(got, ['valid', 'b1', 'B'], 'only the well-formed messages reached the client');
    assert.equal(client.readyState, WebSocket.OPEN);
    assert.equal(broker.ignored, 9, 'counted by the broker: the malformed frames');
    assert.equal(server.stats().broker.ignored, 10, 'and by the server: the text that is not UTF-8');
    assert.equal(seen.length, 10);
    assert.deepEqual(
      seen.map((m) => m['reason']),
      ['too short', 'too short', 'unknown flags', 'unknown flags', 'text not UTF-8', 'unknown flags', 'malformed batch', 'malformed batch', 'malformed batch', 'unknown flags'],
    );
    assert.ok(seen.every((m) => m['topic'] === 'room'));
    assert.equal(seen[5]!['size'], 64 * 1024);
    assert.equal(brokerErrors.length, 1);
    assert.equal((brokerErrors[0] as { code: string }).code, 'WS_ERR_INVALID_UTF8');
    client.terminate();
  } finally {
    dc.unsubscribe(CHANNELS.brokerIgnored, onIgnored);
    await server.close({ timeout: 500 });
    await other.close();
    await stopRedis(redis);
  }
});
