// Slow and hostile readers: a healthy slow reader is never dropped by the heartbeat and gets
// everything; what waits for compression counts in bufferedAmount and holds reading back;
// a subscriber that never reads costs a bounded amount of memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib, { deflateRawSync, inflateRawSync } from 'node:zlib';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { RawPeer, frame, upgradeRequest } from '../support/raw.js';
import { sleep } from './helpers.js';

const MB = 1024 * 1024;

test('heartbeat: a client reading steadily at 4 MiB/s, behind 24 MiB of queued data, is not dropped and gets every byte', { timeout: 60_000 }, async () => {
  // The interval is short, but longer than what the kernel's socket buffers (a few MB on
  // loopback) take to drain at this rate: a ping written behind them is answered in time.
  const server = new WebSocketServer({ heartbeat: { interval: 1000 } });
  const total = 24 * MB;
  const piece = 64 * 1024;
  const serverErrors: string[] = [];
  server.on('connection', (ws) => {
    ws.on('error', (e) => serverErrors.push(e.code));
    // All at once: far more than maxBackpressure (1 MiB), so the server stops reading this
    // socket, pongs included, until the client has read most of it.
    for (let off = 0; off < total; off += piece) {
      const b = Buffer.alloc(piece, (off / piece) & 0xff);
      ws.send(b);
    }
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  let received = 0;
  let index = 0;
  let wrong = 0;
  const start = Date.now();
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  const done = new Promise<void>((resolve) => {
    ws.on('message', (d) => {
      const b = d as Buffer;
      if (b.length !== piece || b[0] !== (index & 0xff) || b[piece - 1] !== (index & 0xff)) wrong++;
      index++;
      received += b.length;
      if (received === total) resolve();
      // Read at 4 MiB/s: pause until this much data is due.
      const due = start + (received / (4 * MB)) * 1000;
      const wait = due - Date.now();
      if (wait > 5) {
        ws.pause();
        setTimeout(() => ws.resume(), wait);
      }
    });
  });
  const outcome = await Promise.race([done.then(() => 'complete'), closed.then((c) => `closed ${c}`)]);
  assert.equal(outcome, 'complete', `received ${(received / MB).toFixed(1)} of 24 MiB; server errors: ${serverErrors.join(', ')}`);
  assert.equal(wrong, 0);
  assert.deepEqual(serverErrors, []);
  ws.close(1000);
  await closed;
  await server.close();
});

test('bufferedAmount counts messages waiting for compression, in payload bytes', async () => {
  const server = new WebSocketServer({ perMessageDeflate: { threshold: 0 }, heartbeat: false });
  const opened = new Promise<import('../../src/node/index.js').WebSocket>((r) => server.once('connection', r));
  const { port } = await server.listen(0, '127.0.0.1');
  const client = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
  const ws = await opened;
  assert.match(ws.extensions, /permessage-deflate/);
  const sizes = [1 * MB, 2 * MB + 17, 3 * MB + 5, 100, 1];
  let sum = 0;
  const arrived: number[] = [];
  const all = new Promise<void>((r) =>
    client.on('message', (d) => {
      arrived.push((d as Buffer).length);
      if (arrived.length === sizes.length) r();
    }),
  );
  for (const n of sizes) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4096) b[i] = i & 0xff;
    ws.send(b);
    sum += n;
    assert.equal(ws.bufferedAmount, sum, 'every byte accepted by send() counts until written');
  }
  await all;
  assert.deepEqual(arrived, sizes);
  // Everything was written: nothing counts any more.
  await sleep(50);
  assert.equal(ws.bufferedAmount, 0);
  client.close(1000);
  await server.close();
});

test('compression pile-up: while an echo waits for compression, the server reads no further; every echo arrives', { timeout: 60_000 }, async () => {
  // Each message is 8 KiB on the wire and 8 MiB once inflated; the server echoes it, and
  // compressing 8 MiB takes a while (zlib, slice by slice). Without a limit, all 40 would be
  // read, inflated and queued for compression at once (the same with 64 MiB bombs: gigabytes).
  const server = new WebSocketServer({ perMessageDeflate: { threshold: 0 }, heartbeat: false, maxBackpressure: MB });
  let seen = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  server.on('connection', (ws) =>
    ws.on('message', (d, binary) => {
      seen++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      inFlight++;
      ws.send(d as Buffer, { binary }, () => inFlight--);
    }),
  );
  const { port } = await server.listen(0, '127.0.0.1');
  const peer = await RawPeer.connect(port);
  try {
    peer.write(upgradeRequest({ extra: ['Sec-WebSocket-Extensions: permessage-deflate'] }));
    const head = await peer.head();
    assert.match(head, /permessage-deflate/i);
    // RFC 7692 §7.2.1: a sync flush, without its 00 00 ff ff.
    const bomb = deflateRawSync(Buffer.alloc(8 * MB, 0x41), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const body = bomb.subarray(0, bomb.length - 4);
    const msg = frame({ opcode: 0x2, rsv1: true, payload: body, mask: true });
    peer.socket.write(Buffer.concat(Array.from({ length: 40 }, () => msg)));
    const echoes = [];
    for (let i = 0; i < 40; i++) echoes.push(await peer.nextFrame(40_000));
    assert.equal(seen, 40);
    assert.ok(maxInFlight <= 1, `${maxInFlight} echoes were waiting for compression when the next message was read`);
    for (const e of echoes) {
      assert.equal(e.rsv & 4, 4, 'compressed (RSV1)');
      assert.equal(inflateRawSync(Buffer.concat([e.payload, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).length, 8 * MB);
    }
  } finally {
    peer.destroy();
    await server.close();
  }
});

test('broadcast: a client that never reads is closed with 1013 past maxBroadcastBacklog; the others get every message', { timeout: 30_000 }, async () => {
  const limit = 2 * MB;
  const server = new WebSocketServer({ heartbeat: false, maxBroadcastBacklog: limit, closeTimeout: 500 });
  const { port } = await server.listen(0, '127.0.0.1');
  const stuckClosed = new Promise<void>((r) => server.once('connection', (ws) => ws.once('close', () => r())));
  const stuck = await RawPeer.connect(port);
  stuck.write(upgradeRequest());
  await stuck.head();
  stuck.socket.pause();
  const readers = await Promise.all([0, 1, 2].map(() => WebSocket.connect(`ws://127.0.0.1:${port}/`)));
  const counts = readers.map(() => 0);
  readers.forEach((r, i) => r.on('message', () => counts[i]!++));
  await sleep(50);
  assert.equal(server.clients.size, 4);
  const msg = Buffer.alloc(64 * 1024, 0x5a);
  const n = 400; // 25 MiB each
  let maxBacklog = 0;
  for (let i = 0; i < n; i++) {
    server.broadcast(msg);
    for (const c of server.clients) maxBacklog = Math.max(maxBacklog, c.bufferedAmount);
    // The readers keep up (they are in this process): give them their turn.
    if (i % 16 === 15) await readersDone(counts, i + 1);
  }
  // The readers get all of them; the stuck one was closed and dropped.
  await readersDone(counts, n);
  // Closed with 1013, and dropped after closeTimeout since it never reads the close frame.
  await stuckClosed;
  assert.equal(server.clients.size, 3);
  // The limit is judged on what the OS has not taken from earlier turns: at most one turn's
  // broadcasts (16 here) come on top of it.
  assert.ok(maxBacklog <= limit + 16 * msg.length, `a client's backlog reached ${(maxBacklog / MB).toFixed(1)} MB; the limit is 2 MB`);
  for (const r of readers) r.close(1000);
  await server.close();
  stuck.destroy();
});

test("broadcast with broadcastOverflow 'skip': a client that never reads stays open, misses messages, and its backlog stays bounded", { timeout: 30_000 }, async () => {
  const limit = 1 * MB;
  const server = new WebSocketServer({ heartbeat: false, maxBroadcastBacklog: limit, broadcastOverflow: 'skip' });
  const { port } = await server.listen(0, '127.0.0.1');
  const stuck = await RawPeer.connect(port);
  stuck.write(upgradeRequest());
  await stuck.head();
  stuck.socket.pause();
  const reader = await WebSocket.connect(`ws://127.0.0.1:${port}/`);
  let got = 0;
  reader.on('message', () => got++);
  await sleep(50);
  const msg = Buffer.alloc(32 * 1024, 0x33);
  const n = 600; // about 19 MiB
  let maxBacklog = 0;
  let reached = 0;
  for (let i = 0; i < n; i++) {
    reached += server.broadcast(msg);
    for (const c of server.clients) maxBacklog = Math.max(maxBacklog, c.bufferedAmount);
    if (i % 16 === 15) await readersDone([got], i + 1, () => [got]);
  }
  await readersDone([got], n, () => [got]);
  assert.equal(server.clients.size, 2, 'the stuck client is still open');
  assert.ok(reached < 2 * n, 'some broadcasts skipped the stuck client');
  assert.ok(maxBacklog <= limit + 16 * msg.length, `backlog ${(maxBacklog / MB).toFixed(1)} MB`);
  reader.close(1000);
  stuck.destroy();
  await server.close();
});

async function readersDone(counts: number[], n: number, read: () => number[] = () => counts): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (read().some((c) => c < n)) {
    if (Date.now() > deadline) assert.fail(`readers got ${read().join(', ')} of ${n}`);
    await sleep(20);
  }
}
