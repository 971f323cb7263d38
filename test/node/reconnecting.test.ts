// The reconnecting client against real ws13 servers on 127.0.0.1: a server stopped and started
// again on the same port, servers that close with 1012 and 1008 or refuse the handshake, a port
// where nothing listens, and the queue of messages sent while disconnected.
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ErrorCode,
  ReconnectingWebSocket,
  WebSocketError,
  WebSocketServer,
  backoffDelay,
  shouldReconnect,
  type WebSocket,
} from '../../src/node/index.js';
import { freePort } from '../support/ports.js';
import { next, sleep, within } from './helpers.js';

const T = { timeout: 60_000 };

/** A server whose connections record their messages (one array per connection). */
async function recordingServer(port = 0, onConnection?: (ws: WebSocket, n: number) => void) {
  const server = new WebSocketServer({ heartbeat: false });
  const got: string[][] = [];
  server.on('connection', (ws) => {
    const mine: string[] = [];
    got.push(mine);
    ws.on('message', (d) => mine.push(String(d)));
    onConnection?.(ws, got.length);
  });
  const addr = await server.listen(port, '127.0.0.1');
  return { server, port: addr.port, got };
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  await within((async () => { while (!pred()) await sleep(10); })(), ms, what);
}

/** Every event of a client, in order, as short strings. */
function log(rws: ReconnectingWebSocket): string[] {
  const events: string[] = [];
  rws.on('connecting', ({ attempt }) => events.push(`connecting ${attempt}`));
  rws.on('open', () => events.push('open'));
  rws.on('close', (code) => events.push(`close ${code}`));
  rws.on('reconnectScheduled', ({ attempt }) => events.push(`scheduled ${attempt}`));
  rws.on('end', ({ reason, code }) => events.push(`end ${reason} ${code}`));
  rws.on('error', () => {});
  return events;
}

test('a server stopped and started again on the same port: the client comes back, onOpen runs again first, then the queued messages in order', T, async () => {
  const a = await recordingServer();
  const url = `ws://127.0.0.1:${a.port}/`;
  const hook: Array<{ attempt: number; reconnected: boolean }> = [];
  const rws = new ReconnectingWebSocket(url, {
    initialDelay: 50,
    maxDelay: 300,
    onOpen: (ws, info) => {
      hook.push(info);
      ws.send('subscribe room');
    },
  });
  const events = log(rws);
  try {
    assert.equal(rws.readyState, ReconnectingWebSocket.CONNECTING);
    rws.send('sent while connecting'); // queued: goes after the hook's message
    await next(rws, 'open', 10_000);
    assert.equal(rws.readyState, ReconnectingWebSocket.OPEN);
    rws.send('hello');
    await until(() => a.got[0]?.length === 3, 5000, 'three messages on the first server');
    assert.deepEqual(a.got[0], ['subscribe room', 'sent while connecting', 'hello']);

    const closed = next<[number]>(rws, 'close', 10_000);
    await a.server.close(); // 1001 to the client; the port is free again
    assert.equal((await closed)[0], 1001);
    assert.equal(rws.readyState, ReconnectingWebSocket.CONNECTING);
    rws.send('q1');
    rws.send(Buffer.from('q2'));
    assert.deepEqual(rws.queued, { messages: 2, bytes: 4 });
    assert.equal(rws.bufferedAmount, 4);
    // A few attempts fail against the closed port (1006 each) before the server returns.
    await until(() => events.filter((e) => e === 'close 1006').length >= 2, 15_000, 'two failed attempts');

    const b = await recordingServer(a.port);
    await next(rws, 'open', 15_000);
    await until(() => b.got[0]?.length === 3, 5000, 'three messages on the second server');
    assert.deepEqual(b.got[0], ['subscribe room', 'q1', 'q2']);
    assert.equal(b.got.length, 1, 'one connection');
    assert.deepEqual(rws.queued, { messages: 0, bytes: 0 });
    assert.equal(hook.length, 2);
    assert.deepEqual(hook[0], { attempt: 0, reconnected: false });
    assert.equal(hook[1]!.reconnected, true);
    assert.ok(hook[1]!.attempt >= 3, `attempt ${hook[1]!.attempt}`);
    // The sequence: open, closed by the server, retries that fail, open again.
    assert.deepEqual(events.slice(0, 4), ['connecting 0', 'open', 'close 1001', 'scheduled 1']);
    assert.equal(events.at(-1), 'open');

    const ended = next<[{ reason: string; code: number }]>(rws, 'end', 10_000);
    rws.close(1000, 'bye');
    assert.deepEqual((await ended)[0], { reason: 'closed', code: 1000 });
    const count = events.length;
    await sleep(500);
    assert.equal(events.length, count, 'no reconnection after close()');
    assert.equal(rws.readyState, ReconnectingWebSocket.CLOSED);
    await b.server.close();
  } finally {
    rws.close();
    await a.server.close();
  }
});

test('1012 (Service Restart) is retried; 1008 (Policy Violation) ends it', T, async () => {
  const s = await recordingServer(0, (ws, n) => {
    setImmediate(() => ws.close(n === 1 ? 1012 : 1008, n === 1 ? 'restarting' : 'go away'));
  });
  const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${s.port}/`, { initialDelay: 50 });
  const events = log(rws);
  try {
    const [end] = await next<[{ reason: string; code: number }]>(rws, 'end', 15_000);
    assert.deepEqual(end, { reason: 'no-retry', code: 1008 });
    assert.deepEqual(events, ['connecting 0', 'open', 'close 1012', 'scheduled 1', 'connecting 1', 'open', 'close 1008', 'end no-retry 1008']);
    await sleep(300);
    assert.equal(s.got.length, 2, 'no third connection');
  } finally {
    rws.close();
    await s.server.close();
  }
});

test('a handshake refused with 403 is not retried, one refused with 503 is', T, async () => {
  let refusals = 0;
  const server = new WebSocketServer({
    heartbeat: false,
    beforeUpgrade: (req) => (req.url === '/forbidden' ? { status: 403 } : ++refusals <= 2 ? { status: 503 } : undefined),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const forbidden = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/forbidden`, { initialDelay: 20 });
  const busy = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/busy`, { initialDelay: 20 });
  const errors: unknown[] = [];
  forbidden.on('error', (e) => errors.push(e));
  busy.on('error', () => {});
  try {
    const [end] = await next<[{ reason: string }]>(forbidden, 'end', 10_000);
    assert.equal(end.reason, 'no-retry');
    assert.equal((errors[0] as WebSocketError).status, 403);
    await next(busy, 'open', 10_000);
    assert.equal(refusals, 3, 'two 503s, then accepted');
  } finally {
    forbidden.close();
    busy.close();
    await server.close();
  }
});

test('maxAttempts: gives up after that many retries against a port where nothing listens', T, async () => {
  const port = await freePort();
  const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, { initialDelay: 20, maxDelay: 40, maxAttempts: 3 });
  const events = log(rws);
  const delays: number[] = [];
  rws.on('reconnectScheduled', ({ delay }) => delays.push(delay));
  const sent: Array<Error | null | undefined> = [];
  rws.send('never sent', (err) => sent.push(err));
  const [end] = await next<[{ reason: string; code: number }]>(rws, 'end', 15_000);
  assert.deepEqual(end, { reason: 'max-attempts', code: 1006 });
  assert.equal(events.filter((e) => e.startsWith('connecting')).length, 4, 'the first attempt and 3 retries');
  assert.equal(delays.length, 3);
  assert.ok(delays.every((d, i) => d >= 0 && d < Math.min(40, 20 * 2 ** i)), String(delays));
  await sleep(50);
  assert.equal((sent[0] as WebSocketError).code, ErrorCode.InvalidState, 'a queued message fails when the client gives up');
});

test('the signal option: an abort while waiting to retry stops the client', T, async () => {
  const port = await freePort();
  const ac = new AbortController();
  const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, { initialDelay: 5000, signal: ac.signal });
  const events = log(rws);
  await next(rws, 'reconnectScheduled', 10_000);
  const ended = next<[{ reason: string }]>(rws, 'end');
  ac.abort();
  assert.equal((await ended)[0].reason, 'closed');
  assert.equal(rws.readyState, ReconnectingWebSocket.CLOSED);
  assert.deepEqual(events.filter((e) => e.startsWith('connecting')), ['connecting 0']);
  const pre = new AbortController();
  pre.abort();
  const never = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, { initialDelay: 10, signal: pre.signal });
  never.on('error', () => {});
  assert.equal((await next<[{ reason: string }]>(never, 'end', 10_000))[0].reason, 'no-retry', 'an aborted handshake is not retried');
});

test('queue limits: WS_ERR_QUEUE_FULL by count and by bytes; drop-oldest keeps the newest', T, async () => {
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/`;
  const byCount = new ReconnectingWebSocket(url, { maxQueuedMessages: 3, initialDelay: 50 });
  byCount.on('error', () => {});
  for (let i = 0; i < 3; i++) byCount.send(`m${i}`);
  assert.throws(() => byCount.send('one more'), (e: unknown) => e instanceof WebSocketError && e.code === ErrorCode.QueueFull);
  assert.equal(byCount.queued.messages, 3);
  byCount.close();

  const byBytes = new ReconnectingWebSocket(url, { maxQueuedBytes: 10, initialDelay: 50 });
  byBytes.on('error', () => {});
  byBytes.send('aaaaaa');
  assert.throws(() => byBytes.send('ééé'), { code: ErrorCode.QueueFull }); // 6 UTF-8 bytes: 12 > 10
  byBytes.send(new Uint8Array(4));
  assert.deepEqual(byBytes.queued, { messages: 2, bytes: 10 });
  byBytes.close();

  const dropping = new ReconnectingWebSocket(url, { maxQueuedMessages: 2, maxQueuedBytes: 8, queueOverflow: 'drop-oldest', initialDelay: 20, maxDelay: 100 });
  dropping.on('error', () => {});
  const dropped: string[] = [];
  dropping.on('drop', (d) => dropped.push(String(d)));
  const results: Array<[string, Error | null | undefined]> = [];
  for (const m of ['a', 'b', 'c', 'dddddd']) dropping.send(m, (err) => results.push([m, err]));
  assert.deepEqual(dropped, ['a', 'b'], 'a for c (count), b for dddddd (count); c + dddddd fit in 8 bytes');
  assert.throws(() => dropping.send('123456789'), { code: ErrorCode.QueueFull }, 'one message over maxQueuedBytes never fits');
  const s = await recordingServer(port);
  try {
    await next(dropping, 'open', 15_000);
    await until(() => s.got[0]?.length === 2, 5000, 'the queued messages');
    assert.deepEqual(s.got[0], ['c', 'dddddd']);
    await until(() => results.length === 4, 5000, 'every callback');
    assert.deepEqual(
      results.map(([m, e]) => [m, (e as WebSocketError | undefined)?.code]),
      [['a', ErrorCode.QueueFull], ['b', ErrorCode.QueueFull], ['c', undefined], ['dddddd', undefined]],
    );
  } finally {
    dropping.close();
    await s.server.close();
  }
});

test('onOpen failing closes that connection with 1011 and retries; the browser-shaped surface', T, async () => {
  const closes: number[] = [];
  const s = await recordingServer(0, (ws) => ws.on('close', (code) => closes.push(code)));
  let calls = 0;
  const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${s.port}/`, {
    initialDelay: 20,
    onOpen: async () => {
      await sleep(5);
      if (++calls === 1) throw new Error('cannot restore');
    },
  });
  const errors: string[] = [];
  rws.onerror = (ev) => errors.push(ev.message);
  const opened: string[] = [];
  rws.addEventListener('open', (ev) => opened.push(ev.type));
  const got: unknown[] = [];
  rws.onmessage = (ev) => got.push(ev.data);
  try {
    await until(() => opened.length === 1, 10_000, 'open');
    assert.equal(calls, 2);
    assert.deepEqual(errors, ['cannot restore']);
    await until(() => closes.length === 1, 5000, 'the first connection closed');
    assert.deepEqual(closes, [1011]);
    rws.binaryType = 'arraybuffer';
    for (const ws of s.server.clients) ws.send(Buffer.from([1, 2, 3]));
    await until(() => got.length === 1, 5000, 'a message');
    assert.ok(got[0] instanceof ArrayBuffer);
    assert.equal(rws.protocol, '');
    assert.equal(rws.OPEN, 1);
  } finally {
    rws.close();
    await s.server.close();
  }
});

test('backoff with full jitter: uniform below initialDelay × factor^(retry−1), capped at maxDelay', () => {
  const o = { initialDelay: 100, maxDelay: 1000, factor: 3 };
  assert.equal(backoffDelay(1, o, () => 0), 0);
  assert.equal(backoffDelay(1, o, () => 0.5), 50);
  assert.equal(backoffDelay(2, o, () => 0.5), 150);
  assert.equal(backoffDelay(3, o, () => 0.5), 450);
  assert.equal(backoffDelay(4, o, () => 0.5), 500, 'capped');
  assert.equal(backoffDelay(50, o, () => 0.999), 999);
  assert.equal(backoffDelay(1, {}, () => 0.5), 250, 'defaults: 500 ms first bound');
  const info = (code: number) => ({ code, reason: '', wasClean: true, error: undefined });
  for (const c of [1000, 1001, 1006, 1009, 1011, 1012, 1013, 1014, 4000, 4999]) assert.equal(shouldReconnect(info(c)), true, String(c));
  for (const c of [1002, 1003, 1007, 1008, 1010]) assert.equal(shouldReconnect(info(c)), false, String(c));
});

test('a redirect loop (followRedirects) is not retried: WS_ERR_TOO_MANY_REDIRECTS ends it', T, async () => {
  let hits = 0;
  const loop = http.createServer();
  loop.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    hits++;
    socket.end(`HTTP/1.1 302 Found\r\nLocation: ${req.url}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await new Promise<void>((r) => loop.listen(0, '127.0.0.1', r));
  const { port } = loop.address() as net.AddressInfo;
  const rws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/loop`, { initialDelay: 20, followRedirects: true, maxRedirects: 2 });
  const errors: WebSocketError[] = [];
  rws.on('error', (e) => errors.push(e as WebSocketError));
  const redirects: Array<[string, number]> = [];
  rws.on('redirect', (url, status) => redirects.push([url, status]));
  try {
    const [end] = await next<[{ reason: string }]>(rws, 'end', 10_000);
    assert.equal(end.reason, 'no-retry');
    assert.equal(errors[0]?.code, ErrorCode.TooManyRedirects);
    assert.equal(hits, 3, 'one attempt: the first request and two redirects');
    const to = `ws://127.0.0.1:${port}/loop`;
    assert.deepEqual(redirects, [[to, 302], [to, 302]], "each redirect followed is passed on as the WebSocket's 'redirect'");
  } finally {
    rws.close();
    await new Promise<void>((r) => loop.close(() => r()));
  }
});
