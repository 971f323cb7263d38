// WebSocket.fromStream: the protocol over a transport whose handshake happened elsewhere.
// Over a real HTTP/2 stream (a CONNECT to the server, as RFC 8441 builds on) and over an
// in-memory Duplex pair; the role decides masking (RFC 6455 §5.1) and the closing handshake
// runs over the stream (END_STREAM instead of a TCP FIN).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { Duplex, PassThrough } from 'node:stream';
import { ErrorCode, WebSocket, WebSocketError } from '../../src/node/index.js';
import { next } from './helpers.js';

const T = { timeout: 10_000 };

function duplexPair(): [Duplex, Duplex] {
  const aToB = new PassThrough();
  const bToA = new PassThrough();
  return [Duplex.from({ readable: bToA, writable: aToB }), Duplex.from({ readable: aToB, writable: bToA })];
}

test('over an HTTP/2 CONNECT stream: text, binary and ping both ways, then a clean close 1000 on both ends', T, async () => {
  const server = http2.createServer();
  const serverSide = new Promise<WebSocket>((resolve) => {
    server.on('stream', (stream, headers) => {
      assert.equal(headers[':method'], 'CONNECT');
      stream.respond({ ':status': 200 });
      const ws = WebSocket.fromStream(stream, { role: 'server', url: String(headers[':authority']) });
      ws.on('message', (data, isBinary) => ws.send(data as string | Buffer, { binary: isBinary }));
      resolve(ws);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const req = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${port}` });
    const [headers] = await next<[http2.IncomingHttpHeaders]>(req, 'response');
    assert.equal(headers[':status'], 200);
    const client = WebSocket.fromStream(req, { role: 'client', protocol: 'chat' });
    assert.equal(client.readyState, WebSocket.OPEN);
    assert.equal(client.protocol, 'chat');
    const srv = await serverSide;

    client.send('héllo over h2');
    const [text, textBinary] = await next<[unknown, boolean]>(client, 'message');
    assert.equal(text, 'héllo over h2');
    assert.equal(textBinary, false);
    const blob = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i & 0xff));
    client.send(blob);
    const [bin, isBinary] = await next<[Buffer, boolean]>(client, 'message');
    assert.equal(isBinary, true);
    assert.ok(Buffer.compare(bin, blob) === 0, 'the 70,000-byte message comes back intact');
    client.ping(Buffer.from('p'));
    const [pong] = await next<[Buffer]>(client, 'pong');
    assert.equal(pong.toString(), 'p');

    const serverClosed = next<[number, string, boolean]>(srv, 'close');
    const clientClosed = next<[number, string, boolean]>(client, 'close');
    client.close(1000, 'done');
    const [sc, sr, sClean] = await serverClosed;
    const [cc, cr, cClean] = await clientClosed;
    assert.deepEqual([sc, sr, sClean], [1000, 'done', true]);
    assert.deepEqual([cc, cr, cClean], [1000, 'done', true]);
  } finally {
    session.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('over an in-memory Duplex pair: bytes that came with the handshake (head) are read first', T, async () => {
  const [a, b] = duplexPair();
  // A masked text frame "first" (as a client would send it), handed over as `head`.
  const key = [1, 2, 3, 4];
  const payload = Buffer.from('first');
  const head = Buffer.from([0x81, 0x80 | payload.length, ...key, ...payload.map((x, i) => x ^ key[i & 3]!)]);
  const server = WebSocket.fromStream(a, { role: 'server', head });
  const client = WebSocket.fromStream(b, { role: 'client' });
  const got: unknown[] = [];
  server.on('message', (d) => got.push(d));
  client.send('second');
  while (got.length < 2) await next(server, 'message');
  assert.deepEqual(got, ['first', 'second']);
  const closed = next<[number]>(client, 'close');
  server.close(1001);
  assert.equal((await closed)[0], 1001);
});

test('the role decides masking: a "server" receiving unmasked frames from another fails with WS_ERR_EXPECTED_MASK', T, async () => {
  const [a, b] = duplexPair();
  const x = WebSocket.fromStream(a, { role: 'server' });
  const y = WebSocket.fromStream(b, { role: 'server' });
  x.on('error', () => {});
  const yError = next<[WebSocketError]>(y, 'error');
  const closed = Promise.all([next<[number]>(x, 'close'), next<[number]>(y, 'close')]);
  x.send('unmasked, as servers send');
  const [err] = await yError;
  assert.equal(err.code, ErrorCode.ExpectedMask);
  assert.equal(err.closeCode, 1002);
  await closed;
});

test('a role other than client or server is refused with WS_ERR_INVALID_ARGUMENT', () => {
  const [a] = duplexPair();
  assert.throws(
    () => WebSocket.fromStream(a, { role: 'peer' as 'client' }),
    (err: unknown) => err instanceof WebSocketError && err.code === ErrorCode.InvalidArgument,
  );
});
