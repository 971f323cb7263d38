// maxBackpressure: a peer that floods pings and never reads. RFC 6455 §5.5.2 has us answer
// every ping with a pong; without a limit those pongs pile up in our write buffer. The
// server stops reading once more than maxBackpressure bytes wait to be written, so TCP holds
// the peer back; when the peer reads again, every ping gets its pong (nothing is lost).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { WebSocketServer, type WebSocket } from '../../src/node/index.js';
import { frame, parseFrames, upgradeRequest } from '../support/raw.js';
import { sleep, within } from './helpers.js';

const LIMIT = 256 * 1024;

test('a peer that sends pings and never reads is held back: the write buffer stays near maxBackpressure, then every ping is answered', { timeout: 60_000 }, async () => {
  const server = new WebSocketServer({ maxBackpressure: LIMIT, heartbeat: false });
  let serverWs: WebSocket | undefined;
  let pingsSeen = 0;
  server.on('connection', (ws: WebSocket) => {
    serverWs = ws;
    ws.on('ping', () => pingsSeen++);
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  try {
    // The handshake, then no more reading.
    sock.write(upgradeRequest());
    let head = Buffer.alloc(0);
    await within(
      new Promise<void>((resolve) => {
        const onData = (d: Buffer): void => {
          head = Buffer.concat([head, d]);
          if (head.includes('\r\n\r\n')) {
            sock.off('data', onData);
            sock.pause();
            resolve();
          }
        };
        sock.on('data', onData);
      }),
      3000,
      'the 101',
    );
    assert.match(head.toString('latin1'), /^HTTP\/1\.1 101 /);
    assert.equal(head.length, head.indexOf('\r\n\r\n') + 4, 'nothing after the 101 yet');

    // 32 MiB of pings with 125-byte payloads; their pongs would be about as large.
    const ping = frame({ opcode: 0x9, payload: Buffer.alloc(125, 0x61), mask: true });
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    const batches = 256;
    for (let i = 0; i < batches; i++) sock.write(batch);
    const total = batches * 1000;

    // Wait until the server stops taking pings (its reading is held back).
    let maxBuffered = 0;
    let last = -1;
    let stableSince = Date.now();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      await sleep(50);
      maxBuffered = Math.max(maxBuffered, serverWs?.bufferedAmount ?? 0);
      if (pingsSeen !== last) {
        last = pingsSeen;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > 600) break;
    }
    assert.ok(serverWs, 'the server accepted the connection');
    assert.ok(pingsSeen < total, `the server stopped reading (${pingsSeen} of ${total} pings read)`);
    assert.ok(sock.writableLength > 0, 'TCP holds the peer back: its own writes wait');
    // Bounded: the limit plus the pongs for what one turn of the event loop read (a 64 KiB
    // read and what the stream had buffered); without the cap it reaches many MiB.
    assert.ok(maxBuffered <= LIMIT + 256 * 1024, `server write buffer peaked at ${maxBuffered} bytes`);

    // Now read: every ping is answered, in order, and the server catches up.
    let pongs = 0;
    let rest: Buffer = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      const { frames, rest: r } = parseFrames(rest.length ? Buffer.concat([rest, d]) : d);
      rest = r;
      for (const f of frames) {
        assert.equal(f.opcode, 0xa, 'only pongs come back');
        assert.equal(f.payload.length, 125);
        pongs++;
      }
    });
    sock.resume();
    await within(
      (async () => {
        while (pongs < total) await sleep(20);
      })(),
      30_000,
      `all ${total} pongs`,
    );
    assert.equal(pingsSeen, total);
    assert.equal(pongs, total);
    assert.equal(serverWs.readyState, 1, 'still open');
  } finally {
    sock.destroy();
    await server.close({ timeout: 500 });
  }
});
