// Client conformance: validation of the server's handshake response (RFC 6455 §4.1, §4.2.2).
// Every failure is checked twice: `WebSocket.connect()` must reject with a HandshakeError
// carrying the right `code`, and `new WebSocket()` must emit 'error' (same code) then
// 'close' with 1006, never 'open'. Either way the client must drop the TCP connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  scope,
  response101,
  frame,
  closeBytes,
  sleep,
  elapsedSince,
  OP,
  type Request,
  type RawPeer,
  type Scope,
} from './harness.js';
import { CUT_NAME, describeError, errorClasses, type CutOptions } from './cut.js';

const T = { timeout: 15_000 };

interface FailureCase {
  name: string;
  code: string;
  options?: CutOptions;
  /** Answers the request (or not). */
  respond: (peer: RawPeer, req: Request) => void | Promise<void>;
  /** Extra checks on the error. */
  check?: (err: any) => void;
  /** Upper bound for the failure to be reported, ms (default 3000). */
  within?: number;
}

const BIG = 1024 * 1024;

const cases: FailureCase[] = [
  {
    name: '403 with a body and headers',
    code: 'WS_ERR_HANDSHAKE_STATUS',
    respond: (peer) =>
      peer.write(
        'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: Nope\r\nContent-Length: 10\r\n\r\nforbidden\n',
      ),
    check: (err) => {
      assert.equal(err.status, 403);
      assert.equal(typeof err.headers, 'object');
      assert.equal(err.headers['x-reason'], 'Nope');
      assert.equal(err.headers['content-type'], 'text/plain');
      for (const k of Object.keys(err.headers)) assert.equal(k, k.toLowerCase(), `header name not lower-case: ${k}`);
      assert.equal(err.body, 'forbidden\n');
    },
  },
  {
    name: '403 with a body delimited by connection close',
    code: 'WS_ERR_HANDSHAKE_STATUS',
    respond: (peer) => {
      peer.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\ngo away');
      peer.socket.end();
    },
    check: (err) => {
      assert.equal(err.status, 403);
      assert.equal(err.body, 'go away');
    },
  },
  {
    name: '426 Upgrade Required',
    code: 'WS_ERR_HANDSHAKE_STATUS',
    respond: (peer) =>
      peer.write('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n'),
    check: (err) => {
      assert.equal(err.status, 426);
      assert.equal(err.headers['sec-websocket-version'], '13');
    },
  },
  {
    name: '200 OK',
    code: 'WS_ERR_HANDSHAKE_STATUS',
    respond: (peer) => peer.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'),
    check: (err) => {
      assert.equal(err.status, 200);
      assert.equal(err.body, 'hello');
    },
  },
  {
    name: '403 with a 1 MiB body (server keeps TCP open): body bounded to 4 KiB',
    code: 'WS_ERR_HANDSHAKE_STATUS',
    respond: (peer) => {
      peer.write(`HTTP/1.1 403 Forbidden\r\nContent-Length: ${BIG}\r\n\r\n`);
      peer.write(Buffer.alloc(BIG, 'A'));
    },
    check: (err) => {
      assert.equal(err.status, 403);
      assert.equal(typeof err.body, 'string');
      assert.ok(err.body.length > 0, 'body should hold the start of what was sent');
      assert.ok(Buffer.byteLength(err.body) <= 4096, `body is ${Buffer.byteLength(err.body)} bytes, max 4096`);
      assert.match(err.body, /^A+$/);
    },
  },
  {
    name: '302 redirect (not followed)',
    code: 'WS_ERR_HANDSHAKE_STATUS',
    respond: (peer) =>
      peer.write('HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n'),
    check: (err) => {
      assert.equal(err.status, 302);
      assert.equal(err.headers['location'], 'ws://127.0.0.1:1/elsewhere');
    },
  },
  {
    name: 'Upgrade header missing',
    code: 'WS_ERR_HANDSHAKE_UPGRADE',
    respond: (peer, req) => peer.write(response101(req, { upgrade: null })),
  },
  {
    name: 'Upgrade: h2c',
    code: 'WS_ERR_HANDSHAKE_UPGRADE',
    respond: (peer, req) => peer.write(response101(req, { upgrade: 'h2c' })),
  },
  {
    name: 'Connection header missing',
    code: 'WS_ERR_HANDSHAKE_CONNECTION',
    respond: (peer, req) => peer.write(response101(req, { connection: null })),
  },
  {
    name: 'Connection: keep-alive (no upgrade token)',
    code: 'WS_ERR_HANDSHAKE_CONNECTION',
    respond: (peer, req) => peer.write(response101(req, { connection: 'keep-alive' })),
  },
  {
    name: 'Connection: upgraded (not the upgrade token)',
    code: 'WS_ERR_HANDSHAKE_CONNECTION',
    respond: (peer, req) => peer.write(response101(req, { connection: 'upgraded' })),
  },
  {
    name: 'Sec-WebSocket-Accept missing',
    code: 'WS_ERR_HANDSHAKE_ACCEPT',
    respond: (peer, req) => peer.write(response101(req, { accept: null })),
  },
  {
    name: 'Sec-WebSocket-Accept wrong (accept of another key)',
    code: 'WS_ERR_HANDSHAKE_ACCEPT',
    respond: (peer, req) => peer.write(response101(req, { accept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' })),
  },
  {
    name: 'Sec-WebSocket-Accept echoes the key itself',
    code: 'WS_ERR_HANDSHAKE_ACCEPT',
    respond: (peer, req) => peer.write(response101(req, { accept: req.key })),
  },
  {
    name: 'Sec-WebSocket-Accept present twice (both correct)',
    code: 'WS_ERR_HANDSHAKE_ACCEPT',
    respond: (peer, req) => {
      const good = response101(req, {});
      const acceptLine = good.split('\r\n').find((l) => l.startsWith('Sec-WebSocket-Accept'))!;
      peer.write(response101(req, { extra: [acceptLine] }));
    },
  },
  {
    name: 'subprotocol not offered',
    code: 'WS_ERR_HANDSHAKE_PROTOCOL',
    options: { protocols: ['chat'] },
    respond: (peer, req) => peer.write(response101(req, { extra: ['Sec-WebSocket-Protocol: superchat'] })),
  },
  {
    name: 'subprotocol when none was offered',
    code: 'WS_ERR_HANDSHAKE_PROTOCOL',
    respond: (peer, req) => peer.write(response101(req, { extra: ['Sec-WebSocket-Protocol: chat'] })),
  },
  {
    name: 'two subprotocols selected',
    code: 'WS_ERR_HANDSHAKE_PROTOCOL',
    options: { protocols: ['chat', 'superchat'] },
    respond: (peer, req) => peer.write(response101(req, { extra: ['Sec-WebSocket-Protocol: chat, superchat'] })),
  },
  {
    name: 'Sec-WebSocket-Extensions: permessage-deflate when none was offered (perMessageDeflate: false)',
    code: 'WS_ERR_HANDSHAKE_EXTENSION',
    options: { perMessageDeflate: false },
    respond: (peer, req) => {
      assert.deepEqual(req.all('sec-websocket-extensions'), [], 'precondition: client offered no extension');
      peer.write(response101(req, { extra: ['Sec-WebSocket-Extensions: permessage-deflate'] }));
    },
  },
  {
    name: 'Sec-WebSocket-Extensions: x-unknown when none was offered',
    code: 'WS_ERR_HANDSHAKE_EXTENSION',
    respond: (peer, req) => peer.write(response101(req, { extra: ['Sec-WebSocket-Extensions: x-unknown; a=1'] })),
  },
  {
    name: 'server never answers (handshakeTimeout 300 ms)',
    code: 'WS_ERR_HANDSHAKE_TIMEOUT',
    options: { handshakeTimeout: 300 },
    respond: () => {},
  },
  {
    name: 'server sends half a response head then stalls (handshakeTimeout 300 ms)',
    code: 'WS_ERR_HANDSHAKE_TIMEOUT',
    options: { handshakeTimeout: 300 },
    respond: (peer) => peer.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'),
  },
  {
    name: 'garbage status line',
    code: 'WS_ERR_HANDSHAKE_MALFORMED',
    respond: (peer) => peer.write('SSH-2.0-OpenSSH_9.0 hello there\r\n\r\n'),
  },
  {
    name: 'non-numeric status code',
    code: 'WS_ERR_HANDSHAKE_MALFORMED',
    respond: (peer) => peer.write('HTTP/1.1 1O1 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'),
  },
  {
    name: 'header line without a colon',
    code: 'WS_ERR_HANDSHAKE_MALFORMED',
    respond: (peer, req) => {
      const good = response101(req);
      peer.write(good.replace('\r\n\r\n', '\r\nThis is not a header\r\n\r\n'));
    },
  },
  {
    name: 'response head larger than maxHeaderSize (1024)',
    code: 'WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE',
    options: { maxHeaderSize: 1024 },
    respond: (peer, req) => peer.write(response101(req, { extra: [`X-Filler: ${'f'.repeat(4096)}`] })),
  },
  {
    name: 'endless response head (never terminated) over maxHeaderSize (1024)',
    code: 'WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE',
    options: { maxHeaderSize: 1024, handshakeTimeout: 10_000 },
    respond: async (peer) => {
      peer.write('HTTP/1.1 101 Switching Protocols\r\n');
      for (let i = 0; i < 64 && !peer.ended; i++) {
        peer.write(`X-Filler-${i}: ${'f'.repeat(100)}\r\n`);
        await sleep(5);
      }
    },
  },
];

async function assertHandshakeError(err: unknown, c: FailureCase, how: string): Promise<void> {
  const info = describeError(err);
  assert.ok(err instanceof Error, `${how}: expected an Error, got ${String(err)}`);
  assert.equal(info.code, c.code, `${how}: error code (message: ${(err as Error).message})`);
  const { HandshakeError, WebSocketError } = await errorClasses();
  if (HandshakeError) assert.ok(err instanceof HandshakeError, `${how}: not a HandshakeError`);
  if (WebSocketError) assert.ok(err instanceof WebSocketError, `${how}: not a WebSocketError`);
  c.check?.(err);
}

for (const c of cases) {
  test(`[${CUT_NAME}] connect() rejects: ${c.name} -> ${c.code}`, T, async (t) => {
    const s = await scope(t);
    const t0 = process.hrtime.bigint();
    const p = s.connect(c.options ?? {});
    const { peer, req } = await s.accept();
    await c.respond(peer, req);
    const within = c.within ?? 3000;
    const outcome = await Promise.race([
      p.then(
        () => ({ kind: 'resolved' as const }),
        (err: unknown) => ({ kind: 'rejected' as const, err }),
      ),
      sleep(within).then(() => ({ kind: 'pending' as const })),
    ]);
    assert.notEqual(outcome.kind, 'pending', `connect() neither resolved nor rejected within ${within} ms`);
    assert.equal(outcome.kind, 'rejected', 'connect() must reject');
    if (c.code === 'WS_ERR_HANDSHAKE_TIMEOUT') {
      const ms = elapsedSince(t0);
      assert.ok(ms >= 250, `timed out too early: ${ms.toFixed(0)} ms < handshakeTimeout 300`);
    }
    // The client must not leave the TCP connection open.
    await peer.waitEnd(2000);
    if (outcome.kind === 'rejected') await assertHandshakeError(outcome.err, c, 'connect()');
  });

  test(`[${CUT_NAME}] new WebSocket(): ${c.name} -> 'error' ${c.code} then 'close' 1006`, T, async (t) => {
    const s = await scope(t);
    const client = await s.create(c.options ?? {});
    const { peer, req } = await s.accept();
    await c.respond(peer, req);
    const closed = await client.waitClose(c.within ?? 3000);
    assert.equal(closed.code, 1006);
    assert.equal(client.events.open, false, "'open' must not be emitted");
    assert.equal(client.events.errors.length, 1, 'exactly one error event');
    assert.deepEqual(client.events.order, ['error', 'close']);
    assert.equal(client.readyState, 3);
    await peer.waitEnd(2000);
    await assertHandshakeError(client.events.errors[0]!.error, c, "'error' event");
  });
}

test(`[${CUT_NAME}] connect() rejects with WS_ERR_HANDSHAKE_ABORTED when the signal aborts during the handshake`, T, async (t) => {
  const s = await scope(t);
  const ac = new AbortController();
  const p = s.connect({ signal: ac.signal, handshakeTimeout: 10_000 });
  const { peer } = await s.accept();
  // The request has arrived; the server stalls, then the caller gives up.
  ac.abort();
  const err = await p.then(
    () => assert.fail('connect() resolved'),
    (e: unknown) => e,
  );
  await assertHandshakeError(err, { name: 'abort', code: 'WS_ERR_HANDSHAKE_ABORTED', respond: () => {} }, 'connect()');
  await peer.waitEnd(2000);
});

test(`[${CUT_NAME}] new WebSocket(): abort during the handshake -> 'error' WS_ERR_HANDSHAKE_ABORTED then 'close' 1006`, T, async (t) => {
  const s = await scope(t);
  const ac = new AbortController();
  const client = await s.create({ signal: ac.signal, handshakeTimeout: 10_000 });
  const { peer } = await s.accept();
  ac.abort();
  const closed = await client.waitClose(3000);
  assert.equal(closed.code, 1006);
  assert.equal(client.events.open, false);
  assert.equal(client.events.errors[0]?.code, 'WS_ERR_HANDSHAKE_ABORTED');
  await peer.waitEnd(2000);
});

test(`[${CUT_NAME}] connect() with an already-aborted signal rejects with WS_ERR_HANDSHAKE_ABORTED`, T, async (t) => {
  const s = await scope(t);
  const ac = new AbortController();
  ac.abort();
  const err = await s.connect({ signal: ac.signal }).then(
    () => assert.fail('connect() resolved'),
    (e: unknown) => e,
  );
  assert.equal(describeError(err).code, 'WS_ERR_HANDSHAKE_ABORTED');
});

// ---- responses that must be accepted ----

async function acceptedWith(
  t: Parameters<typeof scope>[0],
  mode: 'connect' | 'new',
  response: Parameters<typeof response101>[1],
  options: CutOptions = {},
) {
  const s: Scope = await scope(t);
  const pending = mode === 'connect' ? s.connect(options) : s.create(options);
  const { peer, req } = await s.accept();
  peer.write(response101(req, response));
  const client = await pending;
  await client.waitOpen(3000);
  // The connection really works: a message both ways.
  peer.write(frame({ opcode: OP.TEXT, payload: 'ping?' }));
  const [m] = await client.waitMessages(1);
  assert.equal(m!.data.toString(), 'ping?');
  client.send('pong!');
  const f = await peer.nextFrame(2000);
  assert.equal(f.opcode, OP.TEXT);
  assert.equal(f.payload.toString(), 'pong!');
  return { s, client, peer, req };
}

for (const mode of ['connect', 'new'] as const) {
  test(`[${CUT_NAME}] ${mode}: accepts "Upgrade: WebSocket" (case-insensitive)`, T, async (t) => {
    const { client } = await acceptedWith(t, mode, { upgrade: 'WebSocket' });
    assert.equal(client.readyState, 1);
  });

  test(`[${CUT_NAME}] ${mode}: accepts "Connection: keep-alive, Upgrade"`, T, async (t) => {
    const { client } = await acceptedWith(t, mode, { connection: 'keep-alive, Upgrade' });
    assert.equal(client.readyState, 1);
  });

  test(`[${CUT_NAME}] ${mode}: accepts lower-case header names and "connection: upgrade"`, T, async (t) => {
    const s = await scope(t);
    const pending = mode === 'connect' ? s.connect() : s.create();
    const { peer, req } = await s.accept();
    const { accept } = await import('../../support/raw.js');
    peer.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: ${accept(req.key)}\r\n\r\n`,
    );
    const client = await pending;
    await client.waitOpen(3000);
    assert.equal(client.readyState, 1);
  });

  test(`[${CUT_NAME}] ${mode}: accepts optional whitespace around header values`, T, async (t) => {
    const s = await scope(t);
    const pending = mode === 'connect' ? s.connect() : s.create();
    const { peer, req } = await s.accept();
    const { accept } = await import('../../support/raw.js');
    peer.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade:   websocket  \r\nConnection:Upgrade\r\nSec-WebSocket-Accept: \t${accept(req.key)} \r\n\r\n`,
    );
    const client = await pending;
    await client.waitOpen(3000);
    assert.equal(client.readyState, 1);
  });

  test(`[${CUT_NAME}] ${mode}: a subprotocol that was offered is accepted and exposed as ws.protocol`, T, async (t) => {
    const { client, req } = await acceptedWith(
      t,
      mode,
      { extra: ['Sec-WebSocket-Protocol: superchat'] },
      { protocols: ['chat', 'superchat'] },
    );
    assert.ok(req.all('sec-websocket-protocol').length > 0);
    assert.equal(client.protocol, 'superchat');
  });

  test(`[${CUT_NAME}] ${mode}: frames in the same TCP write as the 101 response are delivered`, T, async (t) => {
    const s = await scope(t);
    const pending = mode === 'connect' ? s.connect() : s.create();
    const { peer, req } = await s.accept();
    peer.write(
      Buffer.concat([
        Buffer.from(response101(req)),
        frame({ opcode: OP.TEXT, payload: 'first' }),
        frame({ opcode: OP.BINARY, payload: Buffer.from([1, 2, 3]) }),
        frame({ opcode: OP.TEXT, payload: 'third' }),
      ]),
    );
    const client = await pending;
    const msgs = await client.waitMessages(3, 3000);
    assert.deepEqual(
      msgs.map((m) => [m.isBinary, m.data.toString('hex')]),
      [
        [false, Buffer.from('first').toString('hex')],
        [true, '010203'],
        [false, Buffer.from('third').toString('hex')],
      ],
    );
  });

  test(`[${CUT_NAME}] ${mode}: a close frame in the same TCP write as the 101 is honoured`, T, async (t) => {
    const s = await scope(t);
    const pending = mode === 'connect' ? s.connect() : s.create();
    const { peer, req } = await s.accept();
    peer.write(
      Buffer.concat([
        Buffer.from(response101(req)),
        frame({ opcode: OP.TEXT, payload: 'last words' }),
        frame({ opcode: OP.CLOSE, payload: closeBytes(1001, 'going away') }),
      ]),
    );
    const client = await pending.catch(() => undefined);
    // connect() may legitimately resolve (open happened first); the close echo must follow.
    const f = await peer.nextFrame(2000);
    assert.equal(f.opcode, OP.CLOSE);
    assert.equal(f.masked, true);
    assert.equal(f.payload.readUInt16BE(0), 1001);
    peer.socket.end();
    if (client) {
      const closed = await client.waitClose(2000);
      assert.equal(closed.code, 1001);
      assert.equal(closed.reason, 'going away');
      assert.deepEqual(
        client.events.messages.map((m) => m.data.toString()),
        ['last words'],
      );
    }
  });
}
