// Regression: tiny fragments exhausted memory. A message in progress kept one view per
// fragment, each holding its socket chunk alive: a million one-byte continuation frames cost
// +155 MB, forty million killed the process. Now a fragmented message is copied into one
// growing buffer, so what it holds follows its payload bytes (RFC 6455 §5.4 allows any
// number of fragments; §10.4 asks for limits on what a peer can make us hold).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { WebSocket, WebSocketServer } from '../../src/node/index.js';
import { RawPeer, RawServer, accept, frame, upgradeRequest } from '../support/raw.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Heap and array-buffer bytes in use after a full collection. */
function usedMemory(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const MB = 1024 * 1024;
const FRAGMENTS = 1_000_000;

/** `n` one-byte fragments of a binary message (not final), byte i being i & 0xff; masked when `mask`. */
function oneByteFragments(n: number, mask: boolean): Buffer {
  const size = mask ? 7 : 3;
  const out = Buffer.alloc(n * size);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    out[o] = i === 0 ? 0x02 : 0x00; // FIN clear: binary first, then continuations
    if (mask) {
      out[o + 1] = 0x81;
      // Mask key 0: the payload byte is sent as it is.
      out[o + 6] = i & 0xff;
    } else {
      out[o + 1] = 0x01;
      out[o + 2] = i & 0xff;
    }
  }
  return out;
}

function checkPattern(data: Buffer, n: number): void {
  assert.equal(data.length, n);
  for (let i = 0; i < n; i++) if (data[i] !== (i & 0xff)) assert.fail(`byte ${i} is ${data[i]}`);
}

test('server: a message in 1,000,000 one-byte fragments holds a few MB while in progress, then echoes exactly', { timeout: 60_000 }, async () => {
  const server = new WebSocketServer({ heartbeat: false });
  server.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d as Buffer, { binary })));
  const { port } = await server.listen(0, '127.0.0.1');
  const wire = oneByteFragments(FRAGMENTS, true);
  const peer = await RawPeer.connect(port);
  try {
    peer.write(upgradeRequest());
    await peer.head();
    const before = usedMemory();
    peer.write(wire);
    // A ping after the fragments (allowed between them, §5.4): its pong says all were parsed.
    peer.write(frame({ opcode: 0x9, payload: 'parsed', mask: true }));
    const pong = await peer.nextFrame(30_000);
    assert.equal(pong.opcode, 0xa);
    const held = usedMemory() - before;
    assert.ok(held < 8 * MB, `a message in progress of ${FRAGMENTS} one-byte fragments holds ${(held / MB).toFixed(1)} MB`);
    peer.write(frame({ opcode: 0x0, payload: Buffer.alloc(0), mask: true }));
    const echo = await peer.nextFrame(30_000);
    assert.equal(echo.opcode, 0x2);
    checkPattern(echo.payload, FRAGMENTS);
  } finally {
    peer.destroy();
    await server.close();
  }
});

test('server: 4 MiB in 64-byte fragments (65,536 frames, as Autobahn 9.3/9.4) echoes exactly', { timeout: 60_000 }, async () => {
  const server = new WebSocketServer({ heartbeat: false });
  server.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d as Buffer, { binary })));
  const { port } = await server.listen(0, '127.0.0.1');
  const payload = Buffer.alloc(4 * MB);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 9)) & 0xff;
  const frames: Buffer[] = [];
  for (let off = 0; off < payload.length; off += 64) {
    const last = off + 64 >= payload.length;
    frames.push(frame({ opcode: off === 0 ? 0x2 : 0x0, fin: last, payload: payload.subarray(off, off + 64), mask: true }));
  }
  const peer = await RawPeer.connect(port);
  try {
    peer.write(upgradeRequest());
    await peer.head();
    peer.write(Buffer.concat(frames));
    const echo = await peer.nextFrame(30_000);
    assert.equal(echo.opcode, 0x2);
    assert.ok(echo.payload.equals(payload), 'the echo is the message, byte for byte');
  } finally {
    peer.destroy();
    await server.close();
  }
});

test('client: a server sending 1,000,000 one-byte fragments costs the client a few MB, and the message arrives exactly', { timeout: 60_000 }, async () => {
  const raw = await RawServer.listen();
  const wire = oneByteFragments(FRAGMENTS, false);
  const ws = new WebSocket(raw.url(), { perMessageDeflate: false });
  const got = new Promise<Buffer>((resolve) => ws.once('message', (d) => resolve(d as Buffer)));
  const pongSeen = new Promise<void>((resolve) => ws.once('ping', () => resolve()));
  try {
    const peer = await raw.accept();
    const head = await peer.head();
    const key = /sec-websocket-key: *(\S+)/i.exec(head)![1]!;
    peer.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`);
    await new Promise<void>((r) => ws.once('open', () => r()));
    const before = usedMemory();
    peer.write(wire);
    peer.write(frame({ opcode: 0x9, payload: 'parsed' }));
    await pongSeen;
    const held = usedMemory() - before;
    assert.ok(held < 8 * MB, `a message in progress of ${FRAGMENTS} one-byte fragments holds ${(held / MB).toFixed(1)} MB`);
    peer.write(frame({ opcode: 0x0, payload: Buffer.alloc(0) }));
    checkPattern(await got, FRAGMENTS);
    // The pong went back masked, with the ping's payload.
    const pong = await peer.nextFrame();
    assert.equal(pong.opcode, 0xa);
    assert.equal(pong.masked, true);
    assert.equal(pong.payload.toString(), 'parsed');
  } finally {
    ws.terminate();
    await raw.close();
  }
});
