// Broadcast frames of one tick are laid end to end in a shared buffer and each connection
// writes one view of them (src/node/shared-frame.ts). What arrives must be exactly what the
// general path sends: every broadcast in order, interleaved as sent with the connection's own
// messages (small, large, control), across shared-buffer boundaries, with `except` honoured,
// and intact for a reader too slow to take them as they come.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, type WebSocket } from '../../src/node/index.js';
import { RawPeer, upgradeRequest, type Frame } from '../support/raw.js';

async function serverWith(n: number, maxBroadcastBacklog?: number) {
  const server = new WebSocketServer({ heartbeat: false, maxBroadcastBacklog });
  const { port } = await server.listen(0, '127.0.0.1');
  const peers: RawPeer[] = [];
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i++) {
    const connected = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const peer = await RawPeer.connect(port);
    peer.write(upgradeRequest({}));
    assert.match(await peer.head(), /^HTTP\/1\.1 101/);
    peer.startFrames();
    peers.push(peer);
    sockets.push(await connected);
  }
  return { server, peers, sockets };
}

async function frames(peer: RawPeer, n: number, timeoutMs = 10_000): Promise<Frame[]> {
  const got: Frame[] = [];
  while (got.length < n) got.push(await peer.nextFrame(timeoutMs));
  return got;
}

const text = (i: number) => `m${i}:` + 'abcdefghij'.repeat(i % 13 === 0 ? 150 : (i % 5) * 3); // some over 1 KiB: not shared

test('broadcasts of one tick arrive in order, interleaved as sent with own small, large and control frames', async () => {
  const { server, peers, sockets } = await serverWith(3);
  try {
    // [opcode, payload] each peer must see, in order.
    const expected: Array<Array<[number, string]>> = [[], [], []];
    for (let i = 0; i < 400; i++) {
      const m = text(i);
      // Every 7th broadcast skips the first connection.
      const except = i % 7 === 0 ? sockets[0] : undefined;
      server.broadcast(m, { except });
      for (let k = 0; k < 3; k++) if (k !== 0 || !except) expected[k]!.push([1, m]);
      if (i % 25 === 0) {
        sockets[1]!.send(`own${i}`);
        expected[1]!.push([1, `own${i}`]);
      }
      if (i % 60 === 0) {
        const big = 'B'.repeat(70_000);
        sockets[1]!.send(big);
        expected[1]!.push([1, big]);
        sockets[2]!.ping(`p${i}`);
        expected[2]!.push([9, `p${i}`]);
      }
    }
    // Over 16 KiB of shared frames (those under 1 KiB): the runs cross shared buffers.
    assert.ok(expected[2]!.filter(([op, s]) => op === 1 && s.length < 1000).reduce((a, [, s]) => a + s.length, 0) > 16 * 1024);
    for (let k = 0; k < 3; k++) {
      const got = await frames(peers[k]!, expected[k]!.length);
      assert.deepEqual(
        got.map((f) => [f.opcode, f.payload.toString('utf8')]),
        expected[k],
        `connection ${k}`,
      );
      assert.ok(got.every((f) => f.fin && f.rsv === 0 && !f.masked));
    }
    assert.deepEqual(peers.map((p) => p.takeFrames().length), [0, 0, 0]);
  } finally {
    for (const p of peers) p.destroy();
    await server.close();
  }
});

test('broadcasts over many ticks reach a reader that stops reading, intact, once it reads again', async () => {
  const { server, peers, sockets } = await serverWith(2, 64 * 1024 * 1024);
  try {
    const slow = peers[0]!;
    slow.socket.pause();
    const sent: string[] = [];
    // About 12 MiB in broadcasts under 1 KiB over 800 ticks: the OS buffers fill and the rest
    // waits in the server (under maxBroadcastBacklog, raised for this).
    for (let t = 0; t < 800; t++) {
      for (let i = 0; i < 16; i++) {
        const m = `${t}/${i}:` + String.fromCharCode(97 + ((t + i) % 26)).repeat(900);
        assert.equal(server.broadcast(m), 2);
        sent.push(m);
      }
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(sockets[0]!.bufferedAmount > 0, 'the slow reader has a backlog');
    const fast = await frames(peers[1]!, sent.length);
    assert.deepEqual(fast.map((f) => f.payload.toString('utf8')), sent);
    slow.socket.resume();
    const got = await frames(slow, sent.length);
    assert.deepEqual(got.map((f) => f.payload.toString('utf8')), sent);
  } finally {
    for (const p of peers) p.destroy();
    await server.close();
  }
});
