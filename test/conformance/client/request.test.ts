// Client conformance: the opening handshake request, byte for byte (RFC 6455 §4.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, response101, type Request } from './harness.js';
import { CUT_NAME } from './cut.js';

const T = { timeout: 10_000 };

function tokens(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

async function requestOf(t: Parameters<typeof scope>[0], options = {}, path = '/'): Promise<Request> {
  const s = await scope(t);
  const c = await s.create(options, path);
  const { peer, req } = await s.accept();
  // Select the first offered subprotocol, if any, so that any client accepts the answer.
  const offered = req.all('sec-websocket-protocol').flatMap((v) => v.split(',').map((x) => x.trim()));
  peer.write(response101(req, offered.length ? { extra: [`Sec-WebSocket-Protocol: ${offered[0]}`] } : {}));
  await c.waitOpen();
  return req;
}

test(`[${CUT_NAME}] request line is "GET /path?query HTTP/1.1"`, T, async (t) => {
  const req = await requestOf(t, {}, '/chat/room?x=1&y=%20z');
  assert.equal(req.requestLine, 'GET /chat/room?x=1&y=%20z HTTP/1.1');
});

test(`[${CUT_NAME}] request line for a URL without a path is "GET / HTTP/1.1"`, T, async (t) => {
  const s = await scope(t);
  const { create } = await import('./cut.js');
  const c = await create(`ws://127.0.0.1:${s.server.port}`);
  s.clients.push(c);
  const { peer, req } = await s.accept();
  peer.write(response101(req));
  await c.waitOpen();
  assert.equal(req.requestLine, 'GET / HTTP/1.1');
});

test(`[${CUT_NAME}] head is CRLF-terminated and carries the mandatory headers`, T, async (t) => {
  const s = await scope(t);
  const c = await s.create({}, '/p');
  const { peer, req } = await s.accept();
  // The head must end with an empty line and nothing else may precede the response.
  assert.ok(req.head.endsWith('\r\n\r\n'));
  assert.equal(peer.pending().length, 0, 'no bytes may follow the request head before the 101');
  for (const [name] of req.rawHeaders) assert.match(name, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, `bad header name ${name}`);

  assert.equal(req.get('host'), `127.0.0.1:${s.server.port}`, 'Host must carry the port');
  assert.equal(req.get('upgrade')?.toLowerCase(), 'websocket');
  assert.ok(tokens(req.all('connection').join(',')).includes('upgrade'), `Connection: ${req.all('connection')}`);
  assert.equal(req.get('sec-websocket-version'), '13');
  peer.write(response101(req));
  await c.waitOpen();
});

test(`[${CUT_NAME}] Sec-WebSocket-Key is base64 of 16 bytes and differs between attempts`, T, async (t) => {
  const s = await scope(t);
  const keys: string[] = [];
  for (let i = 0; i < 3; i++) {
    const c = await s.create();
    const { peer, req } = await s.accept();
    const key = req.get('sec-websocket-key');
    assert.ok(key, 'Sec-WebSocket-Key missing');
    assert.match(key, /^[A-Za-z0-9+/]{22}==$/, `not base64 of 16 bytes: ${key}`);
    const raw = Buffer.from(key, 'base64');
    assert.equal(raw.length, 16);
    assert.equal(raw.toString('base64'), key, 'key must be canonical base64');
    keys.push(key);
    peer.write(response101(req));
    await c.waitOpen();
  }
  assert.equal(new Set(keys).size, keys.length, `keys repeat: ${keys.join(' ')}`);
});

test(`[${CUT_NAME}] Sec-WebSocket-Protocol lists the offered subprotocols in order`, T, async (t) => {
  const req = await requestOf(t, { protocols: ['chat', 'superchat', 'v2.proto'] });
  assert.deepEqual(
    req.all('sec-websocket-protocol').flatMap((v) => v.split(',').map((x) => x.trim())),
    ['chat', 'superchat', 'v2.proto'],
  );
});

test(`[${CUT_NAME}] no Sec-WebSocket-Protocol when no subprotocol is given`, T, async (t) => {
  const req = await requestOf(t, {});
  assert.deepEqual(req.all('sec-websocket-protocol'), []);
});

test(`[${CUT_NAME}] Origin only when given`, T, async (t) => {
  const withOrigin = await requestOf(t, { origin: 'https://example.com' });
  assert.equal(withOrigin.get('origin'), 'https://example.com');
  const without = await requestOf(t, {});
  assert.deepEqual(without.all('origin'), []);
  assert.deepEqual(without.all('sec-websocket-origin'), []);
});

test(`[${CUT_NAME}] extra headers are passed through`, T, async (t) => {
  const req = await requestOf(t, { headers: { Authorization: 'Bearer abc.def', 'X-Custom-Thing': 'v1; q=2' } });
  assert.equal(req.get('authorization'), 'Bearer abc.def');
  assert.equal(req.get('x-custom-thing'), 'v1; q=2');
  // The mandatory headers are still there exactly once.
  assert.equal(req.get('sec-websocket-version'), '13');
  assert.equal(req.all('sec-websocket-key').length, 1);
  assert.equal(req.all('upgrade').length, 1);
});

test(`[${CUT_NAME}] by default permessage-deflate is offered as browsers offer it (RFC 7692 §5)`, T, async (t) => {
  const req = await requestOf(t, {});
  assert.deepEqual(req.all('sec-websocket-extensions'), ['permessage-deflate; client_max_window_bits']);
});

test(`[${CUT_NAME}] no extension is offered with perMessageDeflate: false`, T, async (t) => {
  const req = await requestOf(t, { perMessageDeflate: false });
  assert.deepEqual(req.all('sec-websocket-extensions'), []);
});
