// The error model over real sockets: every error is a WebSocketError with a stable code, and
// its class says the kind (HandshakeError, ProtocolError, LimitError, NetworkError).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, acceptKey, ErrorCode, HandshakeError, LimitError, NetworkError, ProtocolError, WebSocketError } from '../../src/node/index.js';
import { InflateLimitError } from '../../src/protocol/index.js';
import { RawClient, next, within } from './helpers.js';

async function serverWith(options: ConstructorParameters<typeof WebSocketServer>[0]): Promise<{ wss: WebSocketServer; port: number }> {
  const wss = new WebSocketServer(options);
  const { port } = await wss.listen(0, '127.0.0.1');
  return { wss, port };
}

test('a protocol violation is a ProtocolError (1002), seen by the server', async () => {
  const { wss, port } = await serverWith({ heartbeat: false });
  try {
    const conn = next<[WebSocket]>(wss, 'connection');
    const raw = await RawClient.connect(port);
    const [ws] = await conn;
    const errored = next<[WebSocketError]>(ws, 'error');
    raw.socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4])); // reserved opcode 3 (RFC 6455 §5.2)
    const [err] = await errored;
    assert.ok(err instanceof ProtocolError, `got ${err?.name}`);
    assert.ok(err instanceof WebSocketError);
    assert.equal(err.code, ErrorCode.InvalidOpcode);
    assert.equal(err.closeCode, 1002);
    raw.destroy();
  } finally {
    await wss.close({ timeout: 500 });
  }
});

test('a message over maxPayload is a LimitError (1009); for await throws it', async () => {
  const { wss, port } = await serverWith({ heartbeat: false, maxPayload: 100 });
  try {
    const conn = next<[WebSocket]>(wss, 'connection');
    const raw = await RawClient.connect(port);
    const [ws] = await conn;
    const drained = (async () => {
      try {
        for await (const m of ws) void m;
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    raw.send(0x2, Buffer.alloc(101));
    const err = await within(drained, 3000, 'for await to end');
    assert.ok(err instanceof LimitError, `got ${String(err)}`);
    assert.equal((err as LimitError).code, ErrorCode.MessageTooBig);
    assert.equal((err as LimitError).closeCode, 1009);
    await raw.until(() => raw.frames.some((f) => f.opcode === 0x8), 3000, 'the close frame');
    assert.equal(raw.frames.find((f) => f.opcode === 0x8)!.payload.readUInt16BE(0), 1009);
    raw.destroy();
  } finally {
    await wss.close({ timeout: 500 });
  }
});

test('InflateLimitError, the codec limit error of ws13/protocol, is a LimitError', () => {
  const e = new InflateLimitError('over');
  assert.ok(e instanceof LimitError && e instanceof WebSocketError);
  assert.equal(e.code, ErrorCode.MessageTooBig);
  assert.equal(e.closeCode, 1009);
});

test('a peer that stops answering pings is dropped with a NetworkError (heartbeat)', async () => {
  const { wss, port } = await serverWith({ heartbeat: { interval: 150 } });
  try {
    const conn = next<[WebSocket]>(wss, 'connection');
    const raw = await RawClient.connect(port);
    const [ws] = await conn;
    // The raw client reads but never answers a ping: after two ticks it is dropped.
    const [err] = await next<[WebSocketError]>(ws, 'error', 5000);
    assert.ok(err instanceof NetworkError, `got ${err?.name}`);
    assert.equal(err.code, ErrorCode.HeartbeatTimeout);
    const [code] = await next<[number]>(ws, 'close', 5000);
    assert.equal(code, 1006);
    raw.destroy();
  } finally {
    await wss.close({ timeout: 500 });
  }
});

test('a closing handshake the server never finishes ends after closeTimeout with WS_ERR_CLOSE_TIMEOUT', async () => {
  // A server that answers the opening handshake, then never answers a close frame nor closes TCP.
  const hold = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', (d) => {
      const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(d.toString('latin1'))![1]!;
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
    });
  });
  await new Promise<void>((r) => hold.listen(0, '127.0.0.1', r));
  const port = (hold.address() as net.AddressInfo).port;
  try {
    const ws = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { closeTimeout: 300, perMessageDeflate: false });
    assert.equal(ws.readyState, WebSocket.OPEN);
    const ended = (async () => {
      try {
        for await (const m of ws) void m;
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    ws.close(1000);
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const err = await within(ended, 5000, 'for await to end');
    assert.ok(err instanceof NetworkError, `got ${String(err)}`);
    assert.equal((err as NetworkError).code, ErrorCode.CloseTimeout);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  } finally {
    hold.close();
  }
});

test('a client gone before the 101 makes handleUpgrade reject with WS_ERR_CLIENT_GONE, no status', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // beforeUpgrade waits until the client has left.
  const wss = new WebSocketServer({ heartbeat: false, beforeUpgrade: () => gate });
  const srv = http.createServer();
  const settled = new Promise<unknown>((resolve) => {
    srv.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('close', () => release());
      wss.handleUpgrade(req, socket, head).then(resolve, resolve);
      // Read on, so that the client's leaving is seen (a paused socket would not notice).
      socket.resume();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const raw = await RawClient.connect((srv.address() as net.AddressInfo).port);
    // A reset: the server's socket is destroyed (an HTTP server's sockets stay half-open on a FIN).
    setTimeout(() => raw.socket.resetAndDestroy(), 50);
    const err = await within(settled, 5000, 'handleUpgrade to settle');
    assert.ok(err instanceof HandshakeError, `got ${String(err)}`);
    assert.equal((err as HandshakeError).code, ErrorCode.ClientGone);
    assert.equal((err as HandshakeError).status, undefined);
  } finally {
    srv.close();
    await wss.close({ timeout: 500 });
  }
});
