// `ws13 connect --http2`: the command-line client opens its WebSocket as an extended CONNECT
// (RFC 8441), and fails when the server does not offer it instead of falling back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { WebSocketServer, http2Stats } from '../../../src/node/index.js';
import { run } from '../../cli/helpers.js';
import { closeServer, listen, trackSessions } from './fixtures.js';

const T = { timeout: 30_000 };

test('ws13 connect --http2: echo over an h2c stream, closed with 1000; an HTTP/1.1-only server is an error (exit 1)', T, async () => {
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv });
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(String(d))));
  const port = await listen(srv);
  const h1 = http.createServer();
  const wss1 = new WebSocketServer({ server: h1 });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  try {
    const r = await run(['connect', '--http2', `ws://127.0.0.1:${port}/`], { input: 'over h2\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^over h2$/m);
    assert.match(r.stdout, /\* closed 1000\n$/);
    assert.equal(http2Stats(srv)?.accepted, 1);
    const no = await run(['connect', '--http2', `ws://127.0.0.1:${(h1.address() as { port: number }).port}/`], { input: 'x\n' });
    assert.equal(no.code, 1);
    assert.match(no.stderr, /HTTP\/2 WebSocket unavailable/);
  } finally {
    await wss.close({ timeout: 500 });
    await wss1.close();
    h1.close();
    await closeServer(srv, sessions);
  }
});
