// The bad-input list for WebSockets over HTTP/2 (RFC 8441), each on a session that also
// carries an open WebSocket, which must keep working: `:protocol` on a GET, huge header blocks
// (Node's limits: maxHeaderListPairs, maxHeaderListSize), a flood of streams over
// maxConcurrentStreams, and an extended CONNECT to a server that never advertised the setting.
// (A stream reset mid-message and DATA before the 200 are in server.test.ts; missing
// pseudo-headers are the core's, in test/protocol/rfc8441-handshake.test.ts, since Node's
// client fills them in.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { WebSocket, WebSocketServer } from '../../../src/node/index.js';
import { next, sleep } from '../helpers.js';
import { closeServer, listen, trackSessions } from './fixtures.js';

const T = { timeout: 30_000 };

function connectHeaders(port: number, extra: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders {
  return { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/', ':authority': `127.0.0.1:${port}`, 'sec-websocket-version': '13', ...extra };
}

/** How a stream ends before any answer: its RST_STREAM code, or the status if one came. */
function outcome(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<string> {
  return new Promise((resolve) => {
    const s = session.request(headers, { endStream: false });
    s.on('error', () => {});
    s.once('response', (h) => { resolve(`status ${h[':status']}`); s.close(); });
    s.once('close', () => resolve(`reset ${s.rstCode}`));
  });
}

async function withWitness(settings: http2.Settings, fn: (port: number, session: http2.ClientHttp2Session, witness: WebSocket) => Promise<void>): Promise<void> {
  const srv = http2.createServer({ settings });
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d as Buffer)));
  const port = await listen(srv);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    await next(session, 'remoteSettings');
    const witness = await WebSocket.connect(`ws://127.0.0.1:${port}/`, { http2: { require: true, connection: session } });
    await fn(port, session, witness);
    // The WebSocket opened before the bad input still echoes.
    witness.send('still alive');
    assert.equal(String((await next<[unknown]>(witness, 'message'))[0]), 'still alive');
    witness.close();
    await next(witness, 'close');
  } finally {
    session.destroy();
    await wss.close({ timeout: 500 });
    await closeServer(srv, sessions);
  }
}

test(':protocol on a GET is a malformed request (RFC 8441 §4): nghttp2 resets that stream with PROTOCOL_ERROR', T, async () => {
  await withWitness({}, async (port, session) => {
    assert.equal(await outcome(session, connectHeaders(port, { ':method': 'GET' })), `reset ${http2.constants.NGHTTP2_PROTOCOL_ERROR}`);
  });
});

test('a 100 kB header field: over the server\'s header list limit, that stream is reset; the session lives', T, async () => {
  await withWitness({}, async (port, session) => {
    const r = await outcome(session, connectHeaders(port, { 'x-big': 'a'.repeat(100_000) }));
    assert.match(r, /^reset [1-9]/);
  });
});

test('3000 header fields: over maxHeaderListPairs, that stream is reset; the session lives', T, async () => {
  await withWitness({}, async (port, session) => {
    const many = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x-h${i}`, 'v']));
    const r = await outcome(session, connectHeaders(port, many));
    assert.match(r, /^reset [1-9]/);
  });
});

test('a flood of 30 CONNECTs at maxConcurrentStreams 4: never more than 4 open at once; each is served or reset, none hangs', T, async () => {
  await withWitness({ maxConcurrentStreams: 4 }, async (port, session) => {
    // The witness holds one of the 4. Node 20's client queues streams beyond the limit, so all
    // are served in turn; newer ones send them, and the server resets the excess with
    // ENHANCE_YOUR_CALM or REFUSED_STREAM (RFC 9113 §5.1.2). Either way each gets an answer.
    let open = 1;
    let peak = 1;
    const one = (): Promise<string> =>
      new Promise((resolve) => {
        const s = session.request(connectHeaders(port), { endStream: false });
        s.on('error', () => {});
        let answered = false;
        s.once('close', () => {
          if (!answered) resolve(`reset ${s.rstCode}`);
        });
        s.once('response', async (h) => {
          answered = true;
          if (h[':status'] !== 200) return resolve(`status ${h[':status']}`);
          open++;
          peak = Math.max(peak, open);
          const ws = WebSocket.fromStream(s, { role: 'client' });
          ws.send('x');
          await next(ws, 'message', 10_000);
          await sleep(10);
          const closed = next(ws, 'close', 10_000);
          ws.close();
          await closed;
          open--;
          resolve('served');
        });
      });
    const results = await Promise.all(Array.from({ length: 30 }, one));
    assert.ok(peak <= 4, `peak of ${peak} concurrent streams`);
    const served = results.filter((r) => r === 'served').length;
    assert.ok(served >= 3, `only ${served} served`);
    const refused = [http2.constants.NGHTTP2_REFUSED_STREAM, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM].map((c) => `reset ${c}`);
    for (const r of results) assert.ok(r === 'served' || refused.includes(r), r);
  });
});

test('an extended CONNECT to an HTTP/2 server without the setting (no WebSocketServer attached) is reset, not served', T, async () => {
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const seen: string[] = [];
  srv.on('stream', (st, h) => { seen.push(String(h[':method'])); st.respond({ ':status': 200 }); st.end(); });
  const port = await listen(srv);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    await next(session, 'remoteSettings');
    assert.equal(session.remoteSettings.enableConnectProtocol, false);
    assert.equal(await outcome(session, connectHeaders(port)), `reset ${http2.constants.NGHTTP2_PROTOCOL_ERROR}`);
    assert.deepEqual(seen, []);
  } finally {
    session.destroy();
    await closeServer(srv, sessions);
  }
});
