// ws13 against `ws` 8 from npm, in both directions.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import { killAllChildren, startEchoServer } from './peers.js';
import { registerPair } from './scenarios.js';

after(killAllChildren);

registerPair('ws13', 'ws');
registerPair('ws', 'ws13');

// The scenarios turn compression off on the `ws` side. With its default options `ws`
// offers permessage-deflate; ws13 must either decline it or accept it consistently, and
// messages must still round-trip.
test('ws13 server <-> ws client with default options (permessage-deflate offered)', { timeout: 30_000 }, async () => {
  const server = await startEchoServer('ws13', {});
  const client = new WebSocket(`${server.url}/deflate`);
  try {
    const received: Array<{ data: string; isBinary: boolean }> = [];
    const big = 'compressible text ✓ '.repeat(10_000);
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for echoes')), 15_000);
      client.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      client.on('message', (data, isBinary) => {
        received.push({ data: Buffer.isBuffer(data) ? data.toString(isBinary ? 'hex' : 'utf8') : String(data), isBinary });
        if (received.length === 3) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      client.once('open', resolve);
      client.once('error', reject);
    });
    client.send('héllo 🚀');
    client.send(Buffer.from([0, 1, 2, 255]));
    client.send(big);
    await done;
    assert.deepEqual(received, [
      { data: 'héllo 🚀', isBinary: false },
      { data: '000102ff', isBinary: true },
      { data: big, isBinary: false },
    ]);
    const conn = await server.log.waitFor((e) => e.event === 'connection', 'the server connection');
    const serverDeflate = String(conn.extensions ?? '').includes('permessage-deflate');
    const clientDeflate = client.extensions.includes('permessage-deflate');
    assert.equal(clientDeflate, serverDeflate, `extensions agree (client "${client.extensions}", server "${conn.extensions}")`);
    client.close(1000, 'done');
    const closed = await server.log.waitFor((e) => e.event === 'closed', 'the server close event');
    assert.deepEqual({ code: closed.code, reason: closed.reason }, { code: 1000, reason: 'done' });
  } finally {
    client.terminate();
    await server.close();
  }
});
