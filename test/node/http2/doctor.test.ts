// ws13 doctor's HTTP/2 checks (RFC 8441) against real servers started here: ws13's own
// HTTP/2 server (TLS with ALPN, and h2c), node:http2 servers built the ways that break
// WebSockets over HTTP/2 (a 'request' listener alone: 405; the setting advertised with no
// handler: a hanging stream; a 404 for every CONNECT; a reset), servers without HTTP/2, and
// nghttpx in front of a backend that does or does not speak WebSocket.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type net from 'node:net';
import { WebSocketServer, http2Stats } from '../../../src/node/index.js';
import { assertPeers, skipWithout } from '../../support/peers-available.js';
import { startNghttpx, stop } from '../../support/nghttpx.js';
import { cleanup, run } from '../../cli/helpers.js';
import { closeServer, listen, selfSigned, trackSessions } from './fixtures.js';

const T = { timeout: 60_000 };
after(cleanup);

interface Check {
  id: string;
  status: string;
  message: string;
  details?: string[];
}
interface Report {
  verdict: string;
  summary: string;
  checks: Check[];
  fixes: string[];
  response: { status: number } | null;
  http2?: {
    via: string;
    negotiated: boolean;
    alpn?: string | null;
    advertised: boolean | null;
    settings: Record<string, unknown> | null;
    request: string[];
    response: string[] | null;
    timings: Record<string, number>;
  };
}

async function doctor(args: string[]): Promise<{ code: number | null; report: Report }> {
  const r = await run(['doctor', ...args, '--json'], { timeout: 40_000 });
  assert.equal(r.stderr, '');
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

function check(r: Report, id: string): Check {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id} in ${JSON.stringify(r.checks, null, 1)}`);
  return c;
}

const text = (c: Check): string => [c.message, ...(c.details ?? [])].join('\n');

/** An echo endpoint. */
function echo(wss: WebSocketServer): WebSocketServer {
  wss.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d as Buffer, { binary })));
  return wss;
}

/** A TLS http2 server with allowHTTP1, its HTTP/1.1 upgrades taken by a ws13 WebSocketServer of its own. */
function http1Upgrades(srv: http2.Http2SecureServer): WebSocketServer {
  const wss = echo(new WebSocketServer({ heartbeat: false }));
  // With allowHTTP1, HTTP/1.1 requests go through node:http, whose 'upgrade' reaches this server.
  (srv as unknown as http.Server).on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    wss.handleUpgrade(req, socket, head).then(
      (ws) => ws.on('message', (d, binary) => ws.send(d as Buffer, { binary })),
      () => {},
    );
  });
  return wss;
}

test("ws13's HTTP/2 server over TLS: h2 by ALPN, the setting, a WebSocket over extended CONNECT with ping and close", { ...T, ...skipWithout('openssl') }, async () => {
  assertPeers('openssl');
  const { key, cert, certFile } = selfSigned();
  const srv = http2.createSecureServer({ key, cert, allowHTTP1: true });
  const sessions = trackSessions(srv);
  const wss = echo(new WebSocketServer({ server: srv, path: '/ws', protocols: ['chat'], heartbeat: false }));
  const port = await listen(srv);
  try {
    const url = `wss://127.0.0.1:${port}/ws`;
    const { code, report } = await doctor([url, '--ca', certFile, '--protocol', 'chat']);
    assert.equal(code, 0, JSON.stringify(report.checks, null, 1));
    assert.equal(report.verdict, 'ok');
    // HTTP/1.1 first, as before.
    assert.equal(check(report, 'status').status, 'ok');
    assert.equal(check(report, 'ping').status, 'ok');
    // Then HTTP/2.
    assert.equal(check(report, 'h2').status, 'ok');
    assert.match(check(report, 'h2').message, /negotiated by ALPN/);
    assert.equal(check(report, 'h2-settings').status, 'ok');
    assert.match(check(report, 'h2-settings').message, /SETTINGS_ENABLE_CONNECT_PROTOCOL = 1/);
    assert.equal(check(report, 'h2-connect').status, 'ok');
    assert.match(text(check(report, 'h2-connect')), /:status 200[\s\S]*Sec-WebSocket-Protocol: chat/);
    assert.equal(check(report, 'h2-ping').status, 'ok');
    assert.match(check(report, 'h2-close').message, /server answered 1000\), then the server ended the stream \(END_STREAM\)/);
    assert.equal(check(report, 'h2-close').status, 'ok');
    const h = report.http2!;
    assert.equal(h.via, 'alpn');
    assert.equal(h.alpn, 'h2');
    assert.equal(h.advertised, true);
    assert.ok(h.request.includes(':protocol: websocket') && h.request.includes(':method: CONNECT'), h.request.join('\n'));
    assert.ok(h.request.includes(':scheme: https') && h.request.includes(':path: /ws'));
    assert.equal(h.response?.[0], ':status: 200');
    for (const k of ['settingsMs', 'handshakeMs', 'pingMs']) assert.equal(typeof h.timings[k], 'number', k);
    assert.match(report.summary, /healthy \(over HTTP\/1\.1 and HTTP\/2\)/);
    // The server saw the extended CONNECT (and only doctor's one).
    assert.deepEqual({ ...http2Stats(srv) }, { connectStreams: 1, accepted: 1 });

    // The text report shows the HTTP/2 request and answer.
    const r = await run(['doctor', url, '--ca', certFile, '--protocol', 'chat'], { timeout: 40_000 });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /HTTP\/2 request \(extended CONNECT\)\n {2}> :method: CONNECT\n {2}> :protocol: websocket/);
    assert.match(r.stdout, /HTTP\/2 response\n {2}< :status: 200/);
    assert.match(r.stdout, /HTTP\/2: {3}.*SETTINGS [\d.]+ ms, extended CONNECT [\d.]+ ms, ping round trip [\d.]+ ms/);
  } finally {
    await wss.close({ timeout: 200 });
    await closeServer(srv, sessions);
  }
});

test('h2c (ws13 on http2.createServer): HTTP/1.1 finds HTTP/2 frames and h2c is named; --http2 checks it alone', T, async () => {
  const srv = http2.createServer();
  const sessions = trackSessions(srv);
  const wss = echo(new WebSocketServer({ server: srv, heartbeat: false }));
  const port = await listen(srv);
  try {
    const url = `ws://127.0.0.1:${port}/`;
    const both = await doctor([url]);
    assert.equal(both.code, 1);
    assert.equal(check(both.report, 'status').status, 'fail');
    assert.match(text(check(both.report, 'status')), /an HTTP\/2 SETTINGS frame: this port speaks HTTP\/2 only/);
    assert.equal(check(both.report, 'h2').status, 'ok');
    assert.match(check(both.report, 'h2').message, /h2c with prior knowledge/);
    assert.ok(both.report.fixes.some((f) => f.includes(`ws13 doctor --http2 ${url}`)), both.report.fixes.join('\n'));
    assert.equal(check(both.report, 'h2-connect').status, 'ok');

    const only = await doctor(['--http2', url]);
    assert.equal(only.code, 0, JSON.stringify(only.report.checks, null, 1));
    assert.ok(!only.report.checks.some((c) => c.id === 'status'), 'no HTTP/1.1 handshake with --http2');
    assert.deepEqual(
      only.report.checks.map((c) => `${c.id} ${c.status}`),
      ['dns ok', 'tcp ok', 'h2 ok', 'h2-settings ok', 'h2-connect ok', 'h2-ping ok', 'h2-close ok'],
    );
    assert.equal(only.report.http2?.via, 'h2c');
    assert.match(only.report.summary, /healthy \(over HTTP\/2\)/);
    assert.equal(http2Stats(srv)?.accepted, 2);
  } finally {
    await wss.close({ timeout: 200 });
    await closeServer(srv, sessions);
  }
});

test("405: node:http2 with a 'request' listener alone and the setting advertised (nodejs/node#36977)", { ...T, ...skipWithout('openssl') }, async () => {
  assertPeers('openssl');
  const { key, cert, certFile } = selfSigned();
  const srv = http2.createSecureServer({ key, cert, allowHTTP1: true, settings: { enableConnectProtocol: true } }, (_req, res) => res.end('a page\n'));
  const sessions = trackSessions(srv);
  const wss = http1Upgrades(srv);
  const port = await listen(srv);
  try {
    const { code, report } = await doctor([`wss://127.0.0.1:${port}/`, '--ca', certFile]);
    assert.equal(code, 1);
    // HTTP/1.1 works; the HTTP/2 path is what is broken.
    assert.equal(check(report, 'status').status, 'ok');
    assert.equal(check(report, 'ping').status, 'ok');
    assert.equal(check(report, 'h2-settings').status, 'ok');
    const c = check(report, 'h2-connect');
    assert.equal(c.status, 'fail');
    assert.match(c.message, /^405 in [\d.]+ ms: the CONNECT reached a handler that takes only ordinary requests/);
    assert.match(text(c), /nodejs\/node#36977/);
    assert.match(text(c), /over HTTP\/1\.1 the same URL upgrades \(101\)/);
    assert.equal(report.http2?.response?.[0], ':status: 405');
    assert.ok(report.fixes.some((f) => /new WebSocketServer\(\{ server: h2server, path \}\)/.test(f) && /enableConnectProtocol/.test(f)), report.fixes.join('\n'));
    assert.ok(!report.checks.some((x) => x.id === 'h2-ping'), 'no frames after a refusal');
  } finally {
    await wss.close({ timeout: 200 });
    await closeServer(srv, sessions);
  }
});

test('RST_STREAM PROTOCOL_ERROR: sent without the setting (info, as a client that does not check), and by a peer that advertises it (fail)', { ...T, ...skipWithout('openssl') }, async () => {
  assertPeers('openssl');
  const { key, cert, certFile } = selfSigned();
  // Not advertised: nghttp2 itself resets a :protocol it did not allow (RFC 8441 §3).
  const plain = http2.createSecureServer({ key, cert, allowHTTP1: true }, (_req, res) => res.end('a page\n'));
  const plainSessions = trackSessions(plain);
  const wss = http1Upgrades(plain);
  const plainPort = await listen(plain);
  // Advertised, then every stream reset with PROTOCOL_ERROR.
  const liar = http2.createServer({ settings: { enableConnectProtocol: true } });
  const liarSessions = trackSessions(liar);
  liar.on('stream', (s) => {
    s.on('error', () => {});
    s.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
  });
  const liarPort = await listen(liar);
  try {
    const url = `wss://127.0.0.1:${plainPort}/`;
    const { code, report } = await doctor([url, '--ca', certFile]);
    assert.equal(code, 0, JSON.stringify(report.checks, null, 1));
    assert.equal(report.verdict, 'ok');
    assert.equal(check(report, 'h2').status, 'ok');
    const st = check(report, 'h2-settings');
    assert.equal(st.status, 'info');
    assert.match(st.message, /not advertised: WebSockets to this server use HTTP\/1\.1/);
    const c = check(report, 'h2-connect');
    assert.equal(c.status, 'info');
    assert.match(c.message, /sent anyway, as a client that does not wait for the setting would: RST_STREAM PROTOCOL_ERROR/);
    assert.match(text(c), /Node http2 client/);
    assert.deepEqual(report.http2?.response, ['RST_STREAM PROTOCOL_ERROR']);
    assert.equal(report.http2?.advertised, false);
    // --http2 asks for WebSockets over HTTP/2: not advertised is then a failure.
    const required = await doctor(['--http2', url, '--ca', certFile]);
    assert.equal(required.code, 1);
    assert.equal(check(required.report, 'h2-settings').status, 'fail');

    const l = await doctor(['--http2', `ws://127.0.0.1:${liarPort}/`]);
    assert.equal(l.code, 1);
    const lc = check(l.report, 'h2-connect');
    assert.equal(lc.status, 'fail');
    assert.match(lc.message, /RST_STREAM PROTOCOL_ERROR although the setting is advertised: the peer rejects :protocol/);
    assert.ok(l.report.fixes.some((f) => f.includes('golang/go#71128')));
  } finally {
    await wss.close({ timeout: 200 });
    await closeServer(plain, plainSessions);
    await closeServer(liar, liarSessions);
  }
});

test('advertised but not handled: a CONNECT stream that hangs, and one answered 404 where HTTP/1.1 upgrades', { ...T, ...skipWithout('openssl') }, async () => {
  assertPeers('openssl');
  // The setting and no handler at all: the stream is never answered.
  const mute = http2.createServer({ settings: { enableConnectProtocol: true } });
  const muteSessions = trackSessions(mute);
  const mutePort = await listen(mute);
  // The setting, a 'stream' listener answering 404 to everything, HTTP/1.1 upgrades served.
  const { key, cert, certFile } = selfSigned();
  const h404 = http2.createSecureServer({ key, cert, allowHTTP1: true, settings: { enableConnectProtocol: true } });
  const h404Sessions = trackSessions(h404);
  h404.on('stream', (s) => {
    s.on('error', () => {});
    s.respond({ ':status': 404 });
    s.end('not found\n');
  });
  const wss = http1Upgrades(h404);
  const port404 = await listen(h404);
  try {
    const m = await doctor(['--http2', `ws://127.0.0.1:${mutePort}/`, '--timeout', '1500']);
    assert.equal(m.code, 1);
    const mc = check(m.report, 'h2-connect');
    assert.equal(mc.status, 'fail');
    assert.match(mc.message, /^advertised but not handled: no answer to the extended CONNECT in 1500 ms: the stream hangs/);
    assert.match(text(mc), /Chromium .* never falls back to HTTP\/1\.1/);
    assert.match(text(mc), /golang\/go#71128/);
    assert.ok(m.report.fixes.some((f) => /only where a WebSocket endpoint takes extended CONNECTs/.test(f) && /GODEBUG=http2xconnect=0/.test(f)));

    const n = await doctor([`wss://127.0.0.1:${port404}/`, '--ca', certFile]);
    assert.equal(n.code, 1);
    assert.equal(check(n.report, 'status').status, 'ok');
    const nc = check(n.report, 'h2-connect');
    assert.equal(nc.status, 'fail');
    assert.match(nc.message, /^advertised but not handled: the extended CONNECT got 404/);
    assert.match(text(nc), /body: not found/);
    assert.match(text(nc), /over HTTP\/1\.1 the same URL upgrades \(101\)/);
  } finally {
    await wss.close({ timeout: 200 });
    await closeServer(mute, muteSessions);
    await closeServer(h404, h404Sessions);
  }
});

test('no HTTP/2: h2c refused by an HTTP/1.1 server, ALPN choosing http/1.1: info, verdict OK; --http2 makes it a failure', { ...T, ...skipWithout('openssl') }, async () => {
  assertPeers('openssl');
  const wss = echo(new WebSocketServer({ heartbeat: false }));
  const { port } = await wss.listen(0, '127.0.0.1');
  const { key, cert, certFile } = selfSigned();
  const tlsServer = https.createServer({ key, cert, ALPNProtocols: ['http/1.1'] });
  const wssTls = echo(new WebSocketServer({ server: tlsServer, heartbeat: false }));
  const tlsPort = await new Promise<number>((resolve) => tlsServer.listen(0, '127.0.0.1', () => resolve((tlsServer.address() as net.AddressInfo).port)));
  try {
    const plain = await doctor([`ws://127.0.0.1:${port}/`]);
    assert.equal(plain.code, 0, JSON.stringify(plain.report.checks, null, 1));
    const h = check(plain.report, 'h2');
    assert.equal(h.status, 'info');
    assert.match(h.message, /^not offered: tried h2c with prior knowledge/);
    assert.match(h.message, /the answer to the HTTP\/2 preface is not HTTP\/2/);
    assert.match(text(h), /browsers never use cleartext HTTP\/2/);
    assert.ok(!plain.report.checks.some((c) => c.id === 'h2-settings'));
    assert.equal(plain.report.http2?.negotiated, false);
    assert.match(plain.report.summary, /healthy \(over HTTP\/1\.1\)/);

    const overTls = await doctor([`wss://127.0.0.1:${tlsPort}/`, '--ca', certFile]);
    assert.equal(overTls.code, 0, JSON.stringify(overTls.report.checks, null, 1));
    const t = check(overTls.report, 'h2');
    assert.equal(t.status, 'info');
    assert.match(t.message, /tried ALPN \(offered h2, http\/1\.1\); the server chose http\/1\.1 by ALPN/);
    assert.equal(overTls.report.http2?.alpn, 'http/1.1');

    const required = await doctor(['--http2', `ws://127.0.0.1:${port}/`]);
    assert.equal(required.code, 1);
    assert.equal(check(required.report, 'h2').status, 'fail');
    // --no-http2: HTTP/1.1 alone, as before.
    const off = await doctor(['--no-http2', `ws://127.0.0.1:${port}/`]);
    assert.equal(off.code, 0);
    assert.ok(!off.report.checks.some((c) => c.id.startsWith('h2')));
    assert.equal(off.report.http2, undefined);
    const both = await run(['doctor', '--http2', '--no-http2', `ws://127.0.0.1:${port}/`]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--http2 and --no-http2 exclude each other/);
  } finally {
    await wss.close({ timeout: 200 });
    await wssTls.close({ timeout: 200 });
    tlsServer.closeAllConnections();
    tlsServer.close();
  }
});

test('nghttpx in front: of a ws13 HTTP/1.1 server, healthy; of a backend without WebSocket, a 200 carrying a page', { ...T, ...skipWithout('nghttpx') }, async () => {
  assertPeers('nghttpx');
  const wss = echo(new WebSocketServer({ heartbeat: false }));
  const { port: wsPort } = await wss.listen(0, '127.0.0.1');
  const page = http.createServer((_req, res) => res.end('a page\n'));
  const pagePort = await new Promise<number>((resolve) => page.listen(0, '127.0.0.1', () => resolve((page.address() as net.AddressInfo).port)));
  const good = await startNghttpx(wsPort, 'http/1.1');
  const bad = await startNghttpx(pagePort, 'http/1.1');
  try {
    const g = await doctor(['--http2', `ws://127.0.0.1:${good.port}/`]);
    assert.equal(g.code, 0, `${JSON.stringify(g.report.checks, null, 1)}\n${good.log()}`);
    assert.equal(check(g.report, 'h2-connect').status, 'ok');
    assert.equal(check(g.report, 'h2-ping').status, 'ok');
    // nghttpx's own SETTINGS (its stream limit), not Node's.
    assert.equal(g.report.http2?.settings?.['maxConcurrentStreams'], 100);

    const b = await doctor(['--http2', `ws://127.0.0.1:${bad.port}/`, '--timeout', '1500']);
    assert.equal(b.code, 1);
    assert.equal(check(b.report, 'h2-connect').status, 'ok');
    assert.match(text(check(b.report, 'h2-ping')), /it sent "a page\\n": text, not WebSocket frames/);
    const u = check(b.report, 'h2-unhandled');
    assert.equal(u.status, 'fail');
    assert.match(u.message, /advertised but not handled: the 200 carried an ordinary HTTP body/);
    assert.match(text(u), /nghttpx/);
    assert.match(b.report.summary, /advertised but not handled/);
  } finally {
    await stop(good.child);
    await stop(bad.child);
    await wss.close({ timeout: 200 });
    page.closeAllConnections();
    page.close();
  }
});
