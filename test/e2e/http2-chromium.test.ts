// Chromium (Debian, driven by playwright-core) against a ws13 HTTP/2 server: the page comes
// over HTTPS with ALPN h2, then `new WebSocket('wss://same-origin/…')`. Chromium opens it as
// an extended CONNECT (RFC 8441) on the connection it already has, because the server
// advertised SETTINGS_ENABLE_CONNECT_PROTOCOL; the server counts which path each WebSocket
// took, and the test asserts HTTP/2 was used. Echo, close codes, permessage-deflate.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { chromium, type Browser } from 'playwright-core';
import { WebSocketServer, http2Stats } from '../../src/node/index.js';
import { CHROMIUM, peerTest } from '../support/peers-available.js';
import { closeServer, listen, selfSigned, trackSessions } from '../node/http2/fixtures.js';

const PAGE = `<!doctype html><meta charset="utf-8"><title>h2 ws</title><script>
window.run = async () => {
  const out = {};
  const ws = new WebSocket('wss://' + location.host + '/ws', ['chat']);
  await new Promise((ok, ko) => { ws.onopen = ok; ws.onerror = () => ko(new Error('error before open')); });
  out.protocol = ws.protocol;
  out.extensions = ws.extensions;
  const echo = (m) => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); ws.send(m); });
  out.text = await echo('héllo over h2');
  out.big = (await echo('x'.repeat(100000))).length;
  const closed = new Promise((ok) => { ws.onclose = (e) => ok([e.code, e.reason, e.wasClean]); });
  ws.send('close-me');
  out.close = await closed;
  const ws2 = new WebSocket('wss://' + location.host + '/ws');
  await new Promise((ok) => { ws2.onopen = ok; });
  const c2 = new Promise((ok) => { ws2.onclose = (e) => ok([e.code, e.reason, e.wasClean]); });
  ws2.close(4000, 'from page');
  out.clientClose = await c2;
  return out;
};
</script>`;

peerTest(['chromium', 'openssl'], 'Chromium opens wss:// over its HTTP/2 connection (RFC 8441): echo, close codes, permessage-deflate', { timeout: 90_000 }, async () => {
  const { key, cert } = selfSigned();
  const srv = http2.createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  const sessions = trackSessions(srv);
  const wss = new WebSocketServer({ server: srv, path: '/ws', protocols: ['chat'], perMessageDeflate: true });
  const versions: string[] = [];
  const closes: Array<[number, string]> = [];
  wss.on('connection', (ws, req) => {
    versions.push(req.httpVersion);
    ws.on('message', (d) => (String(d) === 'close-me' ? ws.close(4321, 'as asked') : ws.send(String(d))));
    ws.on('close', (code, reason) => closes.push([code, String(reason)]));
  });
  const port = await listen(srv);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--ignore-certificate-errors',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const response = await page.goto(`https://localhost:${port}/`);
    assert.equal(response?.status(), 200);
    const out = (await page.evaluate('window.run()')) as Record<string, unknown>;
    assert.equal(out.protocol, 'chat');
    assert.match(String(out.extensions), /^permessage-deflate/);
    assert.equal(out.text, 'héllo over h2');
    assert.equal(out.big, 100000);
    assert.deepEqual(out.close, [4321, 'as asked', true]);
    assert.deepEqual(out.clientClose, [4000, 'from page', true]);
    // Which path: both WebSockets were extended CONNECTs, none an HTTP/1.1 upgrade.
    assert.deepEqual(versions, ['2.0', '2.0']);
    assert.equal(http2Stats(srv)?.accepted, 2);
    // Chromium reused the page's connection: one session for the page and both WebSockets.
    assert.equal(sessions.size, 1);
    assert.ok(closes.some(([c, r]) => c === 4000 && r === 'from page'));
  } finally {
    await browser?.close();
    await wss.close({ timeout: 500 });
    await closeServer(srv, sessions);
  }
});
