// The server's fast path for small messages: frames of up to 125 bytes (or 125 UTF-16
// units) are written straight into the tick's output buffer. What arrives on the wire must be
// exactly what the general path sends: the right header form (7-bit, or 16-bit when the
// UTF-8 form passes 125 bytes), the text as UTF-8 (a lone surrogate as U+FFFD), and the
// order of everything sent, small, large, control frames and compressed, as sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, type WebSocket } from '../../src/node/index.js';
import { RawPeer, frame, upgradeRequest, type Frame } from '../support/raw.js';
import { Inflater } from '../conformance/deflate/codec.js';

async function open(options: ConstructorParameters<typeof WebSocketServer>[0], extensions?: string) {
  const server = new WebSocketServer({ heartbeat: false, ...options });
  const connected = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const { port } = await server.listen(0, '127.0.0.1');
  const peer = await RawPeer.connect(port);
  peer.write(upgradeRequest(extensions ? { extra: [`Sec-WebSocket-Extensions: ${extensions}`] } : {}));
  const head = await peer.head();
  assert.match(head, /^HTTP\/1\.1 101/);
  peer.startFrames();
  const ws = await connected;
  return { server, peer, ws, head };
}

async function frames(peer: RawPeer, n: number): Promise<Frame[]> {
  const got: Frame[] = [];
  while (got.length < n) got.push(await peer.nextFrame());
  return got;
}

test('small sends: header forms, UTF-8, binary, and their order with large and control frames', async () => {
  const { server, peer, ws } = await open({});
  try {
    const euro = '€'.repeat(125); // 125 units, 375 bytes: a 16-bit length
    const sent: Array<[number, Buffer]> = [
      [1, Buffer.from('')],
      [1, Buffer.from('a')],
      [1, Buffer.from('x'.repeat(125))],
      [1, Buffer.from(euro)],
      [2, Buffer.from([0, 1, 2, 255])],
      [1, Buffer.from('ü'.repeat(60))],
      [2, Buffer.alloc(5000, 7)], // the general path, between small ones
      [1, Buffer.from('after large')],
      [1, Buffer.from('\uFFFD')], // what a lone surrogate becomes
      [2, Buffer.alloc(125, 9)],
      [1, Buffer.from('y'.repeat(126))], // over the fast path's limit
    ];
    ws.send('');
    ws.send('a');
    ws.send('x'.repeat(125));
    ws.send(euro);
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.send('ü'.repeat(60));
    ws.send(Buffer.alloc(5000, 7));
    ws.send('after large');
    ws.send('\uD800');
    ws.send(new Uint8Array(125).fill(9));
    ws.send('y'.repeat(126));
    ws.ping(Buffer.from('p'));
    ws.send('last', { binary: true });
    const got = await frames(peer, sent.length + 2);
    sent.forEach(([opcode, payload], i) => {
      const f = got[i]!;
      assert.equal(f.opcode, opcode, `frame ${i} opcode`);
      assert.ok(f.fin && !f.masked && f.rsv === 0, `frame ${i} flags`);
      assert.ok(f.payload.equals(payload), `frame ${i} payload`);
      assert.equal(f.lengthBits, payload.length < 126 ? 7 : 16, `frame ${i} length form`);
    });
    assert.equal(got[sent.length]!.opcode, 9);
    assert.equal(got[sent.length]!.payload.toString(), 'p');
    assert.equal(got[sent.length + 1]!.opcode, 2);
    assert.equal(got[sent.length + 1]!.payload.toString(), 'last');
  } finally {
    peer.destroy();
    await server.close();
  }
});

test('small sends: bufferedAmount counts them until the tick ends; callbacks still run', async () => {
  const { server, peer, ws } = await open({});
  try {
    ws.send('abc');
    ws.send(Buffer.from('de'));
    // Payload bytes, as browsers count them: no frame headers.
    assert.equal(ws.bufferedAmount, 5);
    await new Promise<void>((resolve, reject) => ws.send('with callback', (err) => (err ? reject(err) : resolve())));
    const got = await frames(peer, 3);
    assert.deepEqual(
      got.map((f) => f.payload.toString()),
      ['abc', 'de', 'with callback'],
    );
  } finally {
    peer.destroy();
    await server.close();
  }
});

test('small sends with permessage-deflate: under the threshold as is, and in order with compressed ones', async () => {
  const { server, peer, ws, head } = await open({ perMessageDeflate: { threshold: 100 } }, 'permessage-deflate');
  try {
    assert.match(head, /permessage-deflate/i);
    const big = 'z'.repeat(3000);
    ws.send('small');
    ws.send(big);
    ws.send('small again');
    ws.send('x'.repeat(120), { compress: false });
    const got = await frames(peer, 4);
    assert.deepEqual(
      got.map((f) => f.rsv),
      [0, 4, 0, 0],
    );
    assert.equal(got[0]!.payload.toString(), 'small');
    assert.equal(new Inflater(false).inflate(got[1]!.payload).toString(), big);
    assert.equal(got[2]!.payload.toString(), 'small again');
    assert.equal(got[3]!.payload.toString(), 'x'.repeat(120));
  } finally {
    peer.destroy();
    await server.close();
  }
});

test('small sends after close(): dropped like any other, nothing after the close frame', async () => {
  const { server, peer, ws } = await open({});
  try {
    ws.send('before');
    ws.close(1000);
    ws.send('after');
    const got = await frames(peer, 2);
    assert.equal(got[0]!.payload.toString(), 'before');
    assert.equal(got[1]!.opcode, 8);
    peer.write(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]), mask: true }));
    await peer.waitEnd();
    assert.equal(peer.takeFrames().length, 0);
  } finally {
    peer.destroy();
    await server.close();
  }
});
