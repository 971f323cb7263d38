// Integration tests of the WebSocket class (src/node/websocket.ts): WHATWG surface, sending,
// control frames, async iteration, flow control, closing and failures. Real sockets.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  HandshakeError,
  WebSocket,
  WebSocketError,
  WebSocketServer,
  WsCloseEvent,
  WsMessageEvent,
} from '../../src/node/index.js';
import type { WsEvent } from '../../src/node/index.js';
import { RawClient, expectedAccept, messages, next, sleep, within } from './helpers.js';

const T = { timeout: 8000 };

let server: WebSocketServer;
let base: string;
let port: number;
/** What the server does with the next connection (set by each test). */
let onConnection: (ws: WebSocket, url: string) => void = () => {};
const clients: WebSocket[] = [];
const raws: RawClient[] = [];
const netServers: net.Server[] = [];

before(async () => {
  server = new WebSocketServer({ closeTimeout: 300, protocols: ['chat'], origins: ['https://good.example'] });
  server.on('connection', (ws, req) => onConnection(ws, req.url ?? ''));
  ({ port } = await server.listen(0, '127.0.0.1'));
  base = `ws://127.0.0.1:${port}`;
});

after(async () => {
  for (const c of clients) c.terminate();
  for (const r of raws) r.destroy();
  await server.close({ timeout: 200 });
  await Promise.all(netServers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** Connects a client and returns it with its server-side peer. */
async function pair(path = '/', options: Parameters<typeof WebSocket.connect>[1] = {}): Promise<[WebSocket, WebSocket]> {
  const peer = new Promise<WebSocket>((resolve) => (onConnection = (ws) => resolve(ws)));
  const ws = await within(WebSocket.connect(`${base}${path}`, { closeTimeout: 300, ...options }), 3000, 'connect');
  clients.push(ws);
  return [ws, await within(peer, 3000, 'the server-side socket')];
}

/** A net server that answers the upgrade itself, then runs `then` on the socket. */
async function rawServer(then: (socket: net.Socket) => void, answer = true): Promise<number> {
  const srv = net.createServer((socket) => {
    socket.on('error', () => {});
    let buf = '';
    socket.on('data', function onData(chunk) {
      buf += chunk.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!answer) return then(socket);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(buf)![1]!;
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${expectedAccept(key)}\r\n\r\n`,
      );
      then(socket);
    });
  });
  netServers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return (srv.address() as net.AddressInfo).port;
}

function unmaskedFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}

describe('WHATWG surface', () => {
  test('readyState goes CONNECTING -> OPEN -> CLOSING -> CLOSED; url, protocol, extensions, bufferedAmount', T, async () => {
    onConnection = () => {};
    const ws = new WebSocket(`${base}/state?a=1`, ['chat']);
    clients.push(ws);
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    assert.equal(ws.readyState, 0);
    assert.equal(ws.CONNECTING, 0);
    assert.equal(ws.url, `${base}/state?a=1`);
    assert.equal(ws.protocol, '');
    assert.equal(ws.binaryType, 'nodebuffer');
    assert.equal(typeof ws.bufferedAmount, 'number');
    assert.equal(ws.bufferedAmount, 0);
    const states: number[] = [];
    ws.on('open', () => states.push(ws.readyState));
    await next(ws, 'open');
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(ws.protocol, 'chat');
    assert.equal(ws.extensions, '');
    assert.equal(typeof ws.bufferedAmount, 'number');
    ws.send('x'.repeat(1000));
    assert.ok(ws.bufferedAmount >= 0);
    const closed = next<[number, string, boolean]>(ws, 'close');
    ws.close(1000, 'bye');
    assert.equal(ws.readyState, WebSocket.CLOSING);
    assert.equal(ws.readyState, 2);
    const [code, reason, clean] = await closed;
    assert.equal(ws.readyState, WebSocket.CLOSED);
    assert.equal(ws.readyState, 3);
    assert.deepEqual(states, [1]);
    assert.equal(code, 1000);
    // The server echoes the code (RFC 6455 §5.5.1); echoing the reason too is allowed.
    assert.ok(reason === '' || reason === 'bye', `reason ${JSON.stringify(reason)}`);
    assert.equal(clean, true);
    assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
  });

  test('http: and https: URLs map to ws: and wss:', T, async () => {
    onConnection = () => {};
    const ws = new WebSocket(`http://127.0.0.1:${port}/h`);
    clients.push(ws);
    assert.equal(ws.url, `ws://127.0.0.1:${port}/h`);
    await next(ws, 'open');
    ws.terminate();
  });

  test("binaryType 'nodebuffer' (default) gives a Buffer; text stays a string", T, async () => {
    const [ws, peer] = await pair();
    peer.on('message', (d) => peer.send(String(d) === 'text' ? 'text back' : Buffer.from([1, 2, 3, 250])));
    ws.send('go');
    const [b, isBinary] = await next<[unknown, boolean]>(ws, 'message');
    assert.ok(Buffer.isBuffer(b));
    assert.deepEqual([...b], [1, 2, 3, 250]);
    assert.equal(isBinary, true);
    ws.send('text');
    assert.deepEqual(await next(ws, 'message'), ['text back', false]);
  });

  test("binaryType 'arraybuffer' gives an ArrayBuffer holding exactly the message", T, async () => {
    const [ws, peer] = await pair();
    peer.on('message', () => peer.send(Buffer.from([1, 2, 3, 250])));
    ws.binaryType = 'arraybuffer';
    assert.equal(ws.binaryType, 'arraybuffer');
    ws.send('go');
    const [ab, isBinary] = await next<[unknown, boolean]>(ws, 'message');
    assert.equal(isBinary, true);
    assert.ok(ab instanceof ArrayBuffer);
    assert.ok(!Buffer.isBuffer(ab));
    assert.equal(ab.byteLength, 4);
    assert.deepEqual([...new Uint8Array(ab)], [1, 2, 3, 250]);
  });

  test("binaryType 'blob' gives a Blob", T, async () => {
    const [ws, peer] = await pair();
    peer.on('message', () => peer.send(Buffer.from([1, 2, 3, 250])));
    ws.binaryType = 'blob';
    ws.send('go');
    const [blob, isBinary] = await next<[unknown, boolean]>(ws, 'message');
    assert.equal(isBinary, true);
    assert.ok(blob instanceof Blob);
    assert.equal(blob.size, 4);
    assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())], [1, 2, 3, 250]);
  });

  test('event names that are Object.prototype keys are plain names; state constants on instances and the prototype', T, async () => {
    const [ws] = await pair();
    // The listener table has no inherited keys (it replaces EventEmitter's null-prototype object).
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
      assert.equal(ws.listenerCount(name), 0, name);
      const got: unknown[] = [];
      const f = (x: unknown): void => void got.push(x);
      ws.on(name, f);
      assert.equal(ws.emit(name, 42), true, name);
      assert.deepEqual(got, [42], name);
      assert.ok(ws.eventNames().includes(name), name);
      ws.off(name, f);
      assert.equal(ws.listenerCount(name), 0, name);
      assert.equal(ws.emit(name, 43), false, name);
    }
    assert.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
    assert.equal(Object.hasOwn(ws, 'OPEN'), false, 'not a field of each connection');
    assert.equal((WebSocket.prototype as unknown as { OPEN: number }).OPEN, 1);
  });

  test('addEventListener / removeEventListener / once, with event objects', T, async () => {
    const [ws, peer] = await pair();
    const all: unknown[] = [];
    const onceOnly: unknown[] = [];
    const removed: unknown[] = [];
    let target: unknown;
    let type = '';
    const listener = (ev: WsEvent): void => {
      assert.ok(ev instanceof WsMessageEvent);
      all.push(ev.data);
      target = ev.target;
      type = ev.type;
    };
    const removedListener = (ev: WsEvent): void => void removed.push((ev as WsMessageEvent).data);
    const handlerObject = { got: [] as unknown[], handleEvent(ev: WsEvent) { this.got.push((ev as WsMessageEvent).data); } };
    ws.addEventListener('message', listener);
    ws.addEventListener('message', listener); // a duplicate is ignored
    ws.addEventListener('message', (ev) => onceOnly.push((ev as WsMessageEvent).data), { once: true });
    ws.addEventListener('message', removedListener);
    ws.addEventListener('message', handlerObject);
    ws.removeEventListener('message', removedListener);

    peer.send('one');
    peer.send('two');
    await within((async () => { while (all.length < 2) await sleep(5); })(), 2000, '2 messages');
    assert.deepEqual(all, ['one', 'two']);
    assert.deepEqual(onceOnly, ['one']);
    assert.deepEqual(removed, []);
    assert.deepEqual(handlerObject.got, ['one', 'two']);
    assert.equal(target, ws);
    assert.equal(type, 'message');

    ws.removeEventListener('message', listener);
    peer.send('three');
    await next(ws, 'message');
    assert.deepEqual(all, ['one', 'two']);
    assert.deepEqual(handlerObject.got, ['one', 'two', 'three']);
  });

  test('onopen, onmessage, onclose with code, reason, wasClean', T, async () => {
    let peer: WebSocket | undefined;
    onConnection = (p) => {
      peer = p;
      p.on('message', (d) => (String(d) === 'close me' ? p.close(4000, 'as asked') : p.send(`re:${String(d)}`)));
    };
    const ws = new WebSocket(`${base}/on`);
    clients.push(ws);
    const log: string[] = [];
    let closeEv: WsCloseEvent | undefined;
    const done = new Promise<void>((resolve) => {
      ws.onopen = (ev) => {
        log.push(`open:${ev.type}`);
        ws.send('hello');
      };
      ws.onmessage = (ev) => {
        log.push(`message:${String(ev.data)}`);
        ws.send('close me');
      };
      ws.onclose = (ev) => {
        closeEv = ev;
        resolve();
      };
    });
    assert.equal(typeof ws.onopen, 'function');
    await within(done, 3000, 'onclose');
    assert.deepEqual(log, ['open:open', 'message:re:hello']);
    assert.ok(closeEv instanceof WsCloseEvent);
    assert.equal(closeEv.type, 'close');
    assert.equal(closeEv.code, 4000);
    assert.equal(closeEv.reason, 'as asked');
    assert.equal(closeEv.wasClean, true);
    assert.ok(peer);
    ws.onmessage = null;
    assert.equal(ws.onmessage, null);
  });
});

describe('sending', () => {
  test('send with a callback, sendAsync resolving, in order', T, async () => {
    const [ws, peer] = await pair();
    const got = messages(peer, 4);
    const cbErr = await new Promise<unknown>((resolve) => ws.send('first', (err) => resolve(err ?? 'no error')));
    assert.equal(cbErr, 'no error');
    const r = await ws.sendAsync(Buffer.from('second'));
    assert.equal(r, undefined);
    await ws.sendAsync('third', { binary: true });
    await ws.sendAsync(new Uint8Array([0x66, 0x6f, 0x75, 0x72]).buffer, { binary: false });
    const m = await got;
    assert.deepEqual(
      m.map(([d, b]) => [Buffer.isBuffer(d) ? d.toString() : d, b]),
      [
        ['first', false],
        ['second', true],
        ['third', true],
        ['four', false],
      ],
    );
  });

  test('send while CONNECTING throws WS_ERR_INVALID_STATE', T, async () => {
    onConnection = () => {};
    const ws = new WebSocket(`${base}/early`);
    clients.push(ws);
    assert.throws(
      () => ws.send('too early'),
      (err: unknown) => err instanceof WebSocketError && err.code === 'WS_ERR_INVALID_STATE',
    );
    assert.throws(() => ws.ping(), (err: unknown) => err instanceof WebSocketError && err.code === 'WS_ERR_INVALID_STATE');
    await next(ws, 'open');
    ws.terminate();
  });

  test('send after close gives the callback an error; sendAsync rejects', T, async () => {
    const [ws] = await pair();
    const closed = next(ws, 'close');
    ws.close();
    // While CLOSING too.
    const whileClosing = await new Promise<unknown>((resolve) => ws.send('late', (err) => resolve(err)));
    assert.ok(whileClosing instanceof WebSocketError);
    assert.equal(whileClosing.code, 'WS_ERR_INVALID_STATE');
    await closed;
    const err = await new Promise<unknown>((resolve) => ws.send('later', (e) => resolve(e)));
    assert.ok(err instanceof WebSocketError);
    assert.equal(err.code, 'WS_ERR_INVALID_STATE');
    await assert.rejects(ws.sendAsync('async'), (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_INVALID_STATE');
  });

  test('fragments sent with fin: false arrive as one message', T, async () => {
    const [ws, peer] = await pair();
    const got = messages(peer, 2);
    ws.send('hel', { fin: false });
    ws.send('lo ', { fin: false });
    ws.send('wörld');
    ws.send(Buffer.from([1, 2]), { fin: false });
    ws.ping('between');
    ws.send(Buffer.from([3]), { fin: true });
    const m = await got;
    assert.equal(m[0]![0], 'hello wörld');
    assert.equal(m[0]![1], false);
    assert.deepEqual([...(m[1]![0] as Buffer)], [1, 2, 3]);
    assert.equal(m[1]![1], true);
  });
});

describe('control frames', () => {
  test("ping(data) -> 'pong' with the same payload; the peer sees 'ping'", T, async () => {
    const [ws, peer] = await pair();
    const pinged = next<[Buffer]>(peer, 'ping');
    const ponged = next<[Buffer]>(ws, 'pong');
    ws.ping('are you there');
    const [p] = await pinged;
    assert.ok(Buffer.isBuffer(p));
    assert.equal(p.toString(), 'are you there');
    const [q] = await ponged;
    assert.equal(q.toString(), 'are you there');

    // And the other way, binary payload.
    const payload = randomBytes(125);
    const cping = next<[Buffer]>(ws, 'ping');
    const spong = next<[Buffer]>(peer, 'pong');
    peer.ping(payload);
    assert.deepEqual((await cping)[0], payload);
    assert.deepEqual((await spong)[0], payload);

    assert.throws(() => ws.ping(Buffer.alloc(126)), (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_INVALID_ARGUMENT');
  });
});

describe('async iteration', () => {
  test('for await yields messages in order and ends when the peer closes with 1000', T, async () => {
    const [ws, peer] = await pair();
    const want = Array.from({ length: 100 }, (_, i) => `m${i}`);
    for (const m of want) peer.send(m);
    peer.close(1000);
    const got: unknown[] = [];
    await within(
      (async () => {
        for await (const m of ws) got.push(m);
      })(),
      3000,
      'the iteration to end',
    );
    assert.deepEqual(got, want);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });

  test('for await throws a WebSocketError when the connection is terminated (1006)', T, async () => {
    const [ws, peer] = await pair();
    peer.send('before');
    const got: unknown[] = [];
    let caught: unknown;
    const loop = (async () => {
      try {
        for await (const m of ws) {
          got.push(m);
          peer.terminate();
        }
      } catch (err) {
        caught = err;
      }
    })();
    await within(loop, 3000, 'the iteration to throw');
    assert.deepEqual(got, ['before']);
    assert.ok(caught instanceof WebSocketError, `caught ${String(caught)}`);
    assert.equal(caught.closeCode, 1006);
  });
});

describe('flow control', () => {
  test("pause(): no 'message' while paused; resume() delivers all in order", T, async () => {
    const [ws, peer] = await pair();
    const want = Array.from({ length: 20 }, (_, i) => `p${i}`);
    const sent = new Promise<void>((resolve) => {
      peer.on('message', async () => {
        for (const m of want) await peer.sendAsync(m);
        resolve();
      });
    });
    const got: unknown[] = [];
    ws.on('message', (d) => got.push(d));
    ws.pause();
    assert.equal(ws.isPaused, true);
    ws.send('go'); // writing still works while paused
    await within(sent, 3000, 'the server to send');
    await sleep(200);
    assert.deepEqual(got, []);
    ws.resume();
    assert.equal(ws.isPaused, false);
    await within((async () => { while (got.length < want.length) await sleep(5); })(), 3000, 'the messages');
    assert.deepEqual(got, want);
  });
});

describe('closing', () => {
  test("close(code, reason) reaches the peer's 'close' listener", T, async () => {
    const [ws, peer] = await pair();
    const peerClosed = next<[number, string, boolean]>(peer, 'close');
    const closed = next<[number, string, boolean]>(ws, 'close');
    ws.close(4001, 'done here ✓');
    assert.deepEqual(await peerClosed, [4001, 'done here ✓', true]);
    const [code, , clean] = await closed;
    assert.equal(code, 4001);
    assert.equal(clean, true);
  });

  test('close() with an invalid code or reason throws', T, async () => {
    const [ws] = await pair();
    assert.throws(() => ws.close(1005), (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_INVALID_CLOSE_CODE');
    assert.throws(() => ws.close(999), (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_INVALID_CLOSE_CODE');
    assert.throws(
      () => ws.close(1000, 'x'.repeat(124)),
      (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_INVALID_CLOSE_REASON',
    );
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close(1000, 'x'.repeat(123));
    await next(ws, 'close');
  });

  test('terminate() gives close 1006 on both sides', T, async () => {
    const [ws, peer] = await pair();
    const peerClosed = next<[number, string, boolean]>(peer, 'close');
    const closed = next<[number, string, boolean]>(ws, 'close');
    ws.terminate();
    assert.deepEqual(await closed, [1006, '', false]);
    assert.deepEqual(await peerClosed, [1006, '', false]);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    assert.equal(peer.readyState, WebSocket.CLOSED);
  });
});

describe('failures never crash the process', () => {
  test('invalid UTF-8 from a raw client: server side closes with 1007, no error listener needed', T, async () => {
    const peer = new Promise<WebSocket>((resolve) => (onConnection = (ws) => resolve(ws)));
    const r = await RawClient.connect(port);
    raws.push(r);
    assert.match(await r.waitHead(), /^HTTP\/1\.1 101/);
    const sws = await within(peer, 3000, 'the connection');
    assert.equal(sws.listenerCount('error'), 0);
    const closed = next<[number, string, boolean]>(sws, 'close');
    r.send(0x1, Buffer.from([0x68, 0xff, 0xfe]));
    await r.until(() => r.frames.some((f) => f.opcode === 0x8), 3000, 'a close frame');
    assert.equal(r.frames.find((f) => f.opcode === 0x8)!.payload.readUInt16BE(0), 1007);
    r.destroy();
    const [code] = await closed;
    assert.equal(code, 1006); // the close frame was ours; the raw peer never answered
    assert.equal(sws.readyState, WebSocket.CLOSED);
  });

  test('invalid UTF-8 from a raw server: client closes with 1007; error event when listened to', T, async () => {
    const serverSaw: Buffer[] = [];
    const rport = await rawServer((socket) => {
      socket.on('data', (c) => serverSaw.push(c));
      socket.write(unmaskedFrame(0x1, Buffer.from([0xc3, 0x28])));
    });
    const ws = await within(WebSocket.connect(`ws://127.0.0.1:${rport}/`, { closeTimeout: 300 }), 3000, 'connect');
    clients.push(ws);
    const [code] = await next<[number]>(ws, 'close');
    assert.equal(code, 1006);
    const all = Buffer.concat(serverSaw);
    // The client's close frame: masked, opcode 8, code 1007.
    assert.equal(all[0], 0x88);
    const mask = all.subarray(2, 6);
    assert.equal(((all[6]! ^ mask[0]!) << 8) | (all[7]! ^ mask[1]!), 1007);

    const ws2 = new WebSocket(`ws://127.0.0.1:${rport}/`, { closeTimeout: 300 });
    clients.push(ws2);
    const [err] = await next<[WebSocketError]>(ws2, 'error');
    assert.ok(err instanceof WebSocketError);
    assert.equal(err.code, 'WS_ERR_INVALID_UTF8');
    assert.equal(err.closeCode, 1007);
  });
});

describe('client handshake failures', () => {
  test('WebSocket.connect rejects with HandshakeError 403 for a forbidden origin', T, async () => {
    const err = await WebSocket.connect(`${base}/`, { origin: 'https://evil.example' }).then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof HandshakeError);
    assert.equal(err.code, 'WS_ERR_HANDSHAKE_STATUS');
    assert.equal(err.status, 403);
    assert.match(err.body, /origin/);
    const ok = await within(WebSocket.connect(`${base}/`, { origin: 'https://good.example' }), 3000, 'connect');
    clients.push(ok);
    assert.equal(ok.readyState, WebSocket.OPEN);
  });

  test('an AbortSignal aborts the handshake', T, async () => {
    const rport = await rawServer(() => {}, false); // never answers
    const ac = new AbortController();
    const ws = new WebSocket(`ws://127.0.0.1:${rport}/`, { signal: ac.signal });
    clients.push(ws);
    const errors: string[] = [];
    ws.on('error', (e) => errors.push(e.code));
    const closed = next<[number, string, boolean]>(ws, 'close');
    setTimeout(() => ac.abort(), 50);
    assert.deepEqual(await closed, [1006, '', false]);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    assert.deepEqual(errors, ['WS_ERR_HANDSHAKE_ABORTED']);

    const ac2 = new AbortController();
    const p = WebSocket.connect(`ws://127.0.0.1:${rport}/`, { signal: ac2.signal });
    setTimeout(() => ac2.abort(), 50);
    await assert.rejects(within(p, 3000, 'rejection'), (e: unknown) => e instanceof HandshakeError && e.code === 'WS_ERR_HANDSHAKE_ABORTED');

    await assert.rejects(
      within(WebSocket.connect(`ws://127.0.0.1:${rport}/`, { signal: AbortSignal.abort() }), 3000, 'rejection'),
      (e: unknown) => e instanceof HandshakeError && e.code === 'WS_ERR_HANDSHAKE_ABORTED',
    );
  });

  test('invalid URLs throw WS_ERR_INVALID_URL', T, async () => {
    for (const url of ['ftp://127.0.0.1/', `ws://127.0.0.1:${port}/#frag`, 'not a url', 'file:///tmp/x']) {
      assert.throws(
        () => new WebSocket(url),
        (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_INVALID_URL',
        url,
      );
    }
    await assert.rejects(WebSocket.connect('ftp://127.0.0.1/'), (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_INVALID_URL');
  });

  test('duplicate or malformed subprotocols throw WS_ERR_INVALID_ARGUMENT', T, async () => {
    for (const protocols of [['chat', 'chat'], ['a b'], ['']]) {
      assert.throws(
        () => new WebSocket(`${base}/`, protocols),
        (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_INVALID_ARGUMENT',
        JSON.stringify(protocols),
      );
    }
    await assert.rejects(
      WebSocket.connect(`${base}/`, { protocols: ['x', 'x'] }),
      (e: unknown) => e instanceof WebSocketError && e.code === 'WS_ERR_INVALID_ARGUMENT',
    );
  });
});
