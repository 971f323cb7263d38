// The opening handshake at byte level (RFC 6455 §4.2), with ws13's decisions for refusals:
// each refusal is a status line, a short text/plain body, and the server closing the socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { BeforeUpgradeResult } from './sut.js';
import { serverFixture, connectRaw, cf, send, nextFrame, expectEcho, writePieces, describe, OP, T } from './helpers.js';
import { accept, parseHead, header, sleep, type RawPeer } from '../../support/raw.js';

const SEED_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SEED_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const base = serverFixture();
const originList = serverFixture({ origins: ['https://ok.example', /^https:\/\/[a-z]+\.example\.com$/] });
const originFn = serverFixture({ origins: (origin: string) => origin === 'https://fn.example' });
const protos = serverFixture({ protocols: ['chat', 'superchat'] });
const protosRequired = serverFixture({ protocols: ['chat', 'superchat'], requireProtocol: true });
const protosFn = serverFixture({ protocols: (offered: string[]) => (offered.includes('b') ? 'b' : undefined) });
const gate = serverFixture({
  beforeUpgrade: (req: unknown): BeforeUpgradeResult => {
    const url = (req as { url?: string }).url ?? '';
    if (url.startsWith('/deny')) return { status: 401, headers: { 'WWW-Authenticate': 'Basic' }, body: 'no' };
    if (url.startsWith('/extra')) return { headers: { 'X-Extra': 'yes' } };
    return undefined;
  },
});
const cookie = serverFixture({ headers: { 'Set-Cookie': 'a=b' } });
const cookieFn = serverFixture({ headers: () => ({ 'X-From-Function': 'ok' }) });
const small = serverFixture({ maxHeaderSize: 1024 });
const quick = serverFixture({ handshakeTimeout: 300 });

const SEED_LINES = [
  'GET /chat HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${SEED_KEY}`,
  'Sec-WebSocket-Version: 13',
];

/** The seed request with lines replaced (by header name, case-insensitive), removed (value null) or added. */
function seed(change: Record<string, string | null> = {}, add: string[] = [], requestLine?: string): string {
  const names = Object.keys(change).map((k) => k.toLowerCase());
  const lines = SEED_LINES.slice(1).flatMap((l) => {
    const name = l.slice(0, l.indexOf(':')).toLowerCase();
    const i = names.indexOf(name);
    if (i < 0) return [l];
    const v = Object.values(change)[i];
    return v === null ? [] : [`${l.slice(0, l.indexOf(':'))}: ${v}`];
  });
  return [requestLine ?? SEED_LINES[0], ...lines, ...add, '', ''].join('\r\n');
}

interface Response {
  peer: RawPeer;
  statusLine: string;
  status: number;
  headers: Array<[string, string]>;
  body: string;
}

/** Sends `request` and reads the response head; for a refusal, also the body up to the server's EOF. */
async function exchange(port: number, request: string | Buffer, pieces?: number): Promise<Response> {
  const peer = await connectRaw(port);
  if (pieces) await writePieces(peer, typeof request === 'string' ? Buffer.from(request, 'latin1') : request, pieces);
  else peer.write(request);
  const head = await peer.head(5000);
  const { statusLine, status, headers } = parseHead(head);
  let body = '';
  if (status !== 101) {
    try {
      await peer.waitEnd(2000);
    } catch {
      assert.fail(`${statusLine}: the server did not close the socket within 2 s after refusing`);
    }
    body = peer.rawBytes().subarray(Buffer.byteLength(head, 'latin1')).toString('utf8');
  }
  return { peer, statusLine, status, headers, body };
}

function one(r: Response, name: string): string {
  const v = header(r.headers, name);
  assert.equal(v.length, 1, `expected exactly one ${name} header in:\n${r.statusLine}\n${r.headers.map((h) => h.join(': ')).join('\n')}`);
  return v[0]!;
}

function none(r: Response, name: string): void {
  assert.deepEqual(header(r.headers, name), [], `unexpected ${name} header`);
}

/** A successful 101 for `key`, and (unless told otherwise) no subprotocol/extension header. */
function assert101(r: Response, key = SEED_KEY, protocol?: string): void {
  assert.equal(r.statusLine, 'HTTP/1.1 101 Switching Protocols', `expected 101, got "${r.statusLine}" ${r.body}`);
  assert.equal(one(r, 'upgrade').toLowerCase(), 'websocket');
  assert.equal(one(r, 'connection').toLowerCase(), 'upgrade');
  assert.equal(one(r, 'sec-websocket-accept'), accept(key));
  if (protocol === undefined) none(r, 'sec-websocket-protocol');
  else assert.equal(one(r, 'sec-websocket-protocol'), protocol);
  none(r, 'sec-websocket-extensions');
}

/** A refusal: exact status, a short text/plain body, no Sec-WebSocket-Accept, socket closed by the server. */
function assertRefused(r: Response, status: number, textPlain = true): void {
  assert.match(r.statusLine, new RegExp(`^HTTP/1\\.1 ${status} \\S`), `expected ${status}, got "${r.statusLine}"`);
  none(r, 'sec-websocket-accept');
  if (textPlain) {
    assert.match(one(r, 'content-type'), /^text\/plain/i, 'refusal body must be text/plain');
    assert.ok(r.body.length > 0, 'refusal must carry a short reason body');
    assert.ok(r.body.length <= 1024, `refusal body should be short, got ${r.body.length} bytes`);
  }
  const cl = header(r.headers, 'content-length');
  if (cl.length) assert.equal(Number(cl[0]), Buffer.byteLength(r.body), 'Content-Length must match the body');
  assert.ok(r.peer.ended, 'server must close the socket after a refusal');
}

// ------------------------------------------------------------------ success

test('handshake: the seed request gets exactly the RFC 101 response', T, async () => {
  const r = await exchange(base.port, seed());
  assert101(r);
  assert.equal(one(r, 'sec-websocket-accept'), SEED_ACCEPT);
  // nothing after the head, and the connection works
  await sleep(100);
  assert.equal(r.peer.pending().length, 0, 'no bytes may follow the 101 head');
  send(r.peer, cf({ opcode: OP.PING, payload: 'after 101' }));
  const f = await nextFrame(r.peer);
  assert.equal(f.opcode, OP.PONG, `expected pong, got ${describe(f)}`);
  assert.equal(f.payload.toString(), 'after 101');
});

for (const [name, change, add] of [
  ['Connection: keep-alive, Upgrade', { Connection: 'keep-alive, Upgrade' }, []],
  ['Connection: Upgrade, keep-alive', { Connection: 'Upgrade, keep-alive' }, []],
  ['Connection: upgrade (lower case)', { Connection: 'upgrade' }, []],
  ['Upgrade: WebSocket', { Upgrade: 'WebSocket' }, []],
  ['Upgrade: WEBSOCKET', { Upgrade: 'WEBSOCKET' }, []],
  ['Upgrade: foo/1, websocket (websocket token in a list)', { Upgrade: 'foo/1, websocket' }, []],
  ['extra whitespace around values', { Upgrade: '   websocket  ', Connection: '  Upgrade ' }, []],
  [
    'extra unrelated headers',
    {},
    ['User-Agent: conformance/1.0', 'Accept: */*', 'Accept-Encoding: gzip, deflate', 'Cookie: x=y', 'Cache-Control: no-cache', 'Pragma: no-cache', 'X-Custom: 1'],
  ],
  ['an Origin header on a server without origins', {}, ['Origin: https://anything.example']],
  ['an extension offer (not negotiated)', {}, ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits']],
  ['a subprotocol offer on a server without protocols', {}, ['Sec-WebSocket-Protocol: chat']],
] as Array<[string, Record<string, string>, string[]]>) {
  test(`handshake: accepted variation: ${name} -> 101`, T, async () => {
    assert101(await exchange(base.port, seed(change, add)));
  });
}

test('handshake: header names in lower case -> 101', T, async () => {
  const req = seed().replace(/^([A-Za-z-]+):/gm, (_, n: string) => `${n.toLowerCase()}:`);
  assert101(await exchange(base.port, req));
});

test('handshake: header names in upper case -> 101', T, async () => {
  const req = seed().replace(/^([A-Za-z-]+):/gm, (_, n: string) => `${n.toUpperCase()}:`);
  assert101(await exchange(base.port, req));
});

test('handshake: path with a query string -> 101', T, async () => {
  assert101(await exchange(base.port, seed({}, [], 'GET /chat?room=1&x=%20 HTTP/1.1')));
});

test('handshake: another (random) key gets its own accept value', T, async () => {
  const key = randomBytes(16).toString('base64');
  assert101(await exchange(base.port, seed({ 'Sec-WebSocket-Key': key })), key);
});

test('handshake: request head delivered in 1-byte pieces -> 101', T, async () => {
  assert101(await exchange(base.port, seed(), 1));
});

test('handshake: a frame in the same write as the request head is not lost (echoed after the 101)', T, async () => {
  const peer = await connectRaw(base.port);
  peer.write(Buffer.concat([Buffer.from(seed(), 'latin1'), cf({ opcode: OP.TEXT, payload: 'eager' })]));
  const { statusLine } = parseHead(await peer.head());
  assert.equal(statusLine, 'HTTP/1.1 101 Switching Protocols');
  await expectEcho(peer, OP.TEXT, 'eager');
});

// ------------------------------------------------------------------ refusals

test('handshake: POST -> 405 with Allow: GET', T, async () => {
  const r = await exchange(base.port, seed({}, ['Content-Length: 0'], 'POST /chat HTTP/1.1'));
  assertRefused(r, 405);
  assert.equal(one(r, 'allow'), 'GET');
});

test('handshake: PUT -> 405 with Allow: GET', T, async () => {
  const r = await exchange(base.port, seed({}, ['Content-Length: 0'], 'PUT /chat HTTP/1.1'));
  assertRefused(r, 405);
  assert.equal(one(r, 'allow'), 'GET');
});

test('handshake: HTTP/1.0 -> 400', T, async () => {
  assertRefused(await exchange(base.port, seed({}, [], 'GET /chat HTTP/1.0')), 400);
});

test('handshake: missing Host -> 400', T, async () => {
  assertRefused(await exchange(base.port, seed({ Host: null })), 400);
});

for (const [name, change] of [
  ['Upgrade header missing', { Upgrade: null }],
  ['Upgrade: h2c', { Upgrade: 'h2c' }],
  ['Upgrade: websocketx', { Upgrade: 'websocketx' }],
] as Array<[string, Record<string, string | null>]>) {
  test(`handshake: ${name} -> 426 with Upgrade: websocket`, T, async () => {
    const r = await exchange(base.port, seed(change));
    assertRefused(r, 426);
    assert.equal(one(r, 'upgrade').toLowerCase(), 'websocket');
  });
}

for (const [name, change] of [
  ['Connection: keep-alive (no upgrade token)', { Connection: 'keep-alive' }],
  ['Connection header missing', { Connection: null }],
  ['Connection: upgrades (not the token)', { Connection: 'upgrades' }],
] as Array<[string, Record<string, string | null>]>) {
  test(`handshake: ${name} -> 400`, T, async () => {
    assertRefused(await exchange(base.port, seed(change)), 400);
  });
}

for (const [name, change, add] of [
  ['Sec-WebSocket-Key missing', { 'Sec-WebSocket-Key': null }, []],
  ['Sec-WebSocket-Key present twice', {}, [`Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`]],
  ['Sec-WebSocket-Key not base64', { 'Sec-WebSocket-Key': 'not base64 at all!!!!!!!' }, []],
  ['Sec-WebSocket-Key with an invalid character', { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25j*Q==' }, []],
  ['Sec-WebSocket-Key decoding to 15 bytes', { 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAA' }, []],
  ['Sec-WebSocket-Key decoding to 17 bytes', { 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAAAAA=' }, []],
  ['Sec-WebSocket-Key empty', { 'Sec-WebSocket-Key': '' }, []],
] as Array<[string, Record<string, string | null>, string[]]>) {
  test(`handshake: ${name} -> 400`, T, async () => {
    assertRefused(await exchange(base.port, seed(change, add)), 400);
  });
}

for (const v of [null, '8', '12', '14', '13, 8', '0', 'abc']) {
  test(`handshake: Sec-WebSocket-Version ${v === null ? 'missing' : JSON.stringify(v)} -> 426 with Sec-WebSocket-Version: 13`, T, async () => {
    const r = await exchange(base.port, seed({ 'Sec-WebSocket-Version': v }));
    assertRefused(r, 426);
    assert.equal(one(r, 'sec-websocket-version'), '13');
  });
}

for (const [name, req] of [
  ['garbage request line', 'HELLO\r\n\r\n'],
  ['bad HTTP version token', seed({}, [], 'GET /chat HTTX/1.1')],
  ['request line without a version', seed({}, [], 'GET /chat')],
  ['header line without a colon', seed({}, ['This is not a header'])],
] as Array<[string, string]>) {
  test(`handshake: ${name} -> 400`, T, async () => {
    assertRefused(await exchange(base.port, req), 400);
  });
}

// ------------------------------------------------------------------ origins

for (const [origin, ok] of [
  ['https://ok.example', true],
  ['https://sub.example.com', true],
  ['https://evil.example', false],
  ['https://ok.example.evil', false],
  ['https://sub.example.com.evil', false],
  ['null', false],
] as Array<[string, boolean]>) {
  test(`handshake: origins [string, RegExp]: Origin ${origin} -> ${ok ? 101 : 403}`, T, async () => {
    const r = await exchange(originList.port, seed({}, [`Origin: ${origin}`]));
    if (ok) assert101(r);
    else assertRefused(r, 403);
  });
}

for (const [origin, ok] of [
  ['https://fn.example', true],
  ['https://other.example', false],
] as Array<[string, boolean]>) {
  test(`handshake: origins function: Origin ${origin} -> ${ok ? 101 : 403}`, T, async () => {
    const r = await exchange(originFn.port, seed({}, [`Origin: ${origin}`]));
    if (ok) assert101(r);
    else assertRefused(r, 403);
  });
}

// ------------------------------------------------------------------ subprotocols

for (const [offer, chosen] of [
  ['superchat, chat', 'chat'],
  ['chat, superchat', 'chat'],
  ['superchat', 'superchat'],
  ['other, superchat', 'superchat'],
  ['other', undefined],
] as Array<[string, string | undefined]>) {
  test(`handshake: protocols [chat, superchat], offer "${offer}" -> 101 with ${chosen ?? 'no Sec-WebSocket-Protocol'}`, T, async () => {
    assert101(await exchange(protos.port, seed({}, [`Sec-WebSocket-Protocol: ${offer}`])), SEED_KEY, chosen);
  });
}

test('handshake: protocols [chat, superchat], no offer -> 101 without Sec-WebSocket-Protocol', T, async () => {
  assert101(await exchange(protos.port, seed()));
});

for (const offer of ['ch@t', 'chat superchat', 'chat/1', '"chat"', 'chat, sup{er}chat']) {
  test(`handshake: malformed Sec-WebSocket-Protocol ${JSON.stringify(offer)} (not a token) -> 400`, T, async () => {
    assertRefused(await exchange(protos.port, seed({}, [`Sec-WebSocket-Protocol: ${offer}`])), 400);
  });
}

// RFC 9110 §5.6.1.2: a recipient MUST accept empty list elements and ignore them.
for (const offer of ['chat, , superchat', 'chat,', ', chat']) {
  test(`handshake: Sec-WebSocket-Protocol with an empty element ${JSON.stringify(offer)} -> 101 with chat (RFC 9110 §5.6.1.2)`, T, async () => {
    assert101(await exchange(protos.port, seed({}, [`Sec-WebSocket-Protocol: ${offer}`])), SEED_KEY, 'chat');
  });
}

test('handshake: requireProtocol, offer "other" -> 400', T, async () => {
  assertRefused(await exchange(protosRequired.port, seed({}, ['Sec-WebSocket-Protocol: other'])), 400);
});

test('handshake: requireProtocol, no offer -> 400', T, async () => {
  assertRefused(await exchange(protosRequired.port, seed()), 400);
});

test('handshake: requireProtocol, offer "superchat, chat" -> 101 with chat', T, async () => {
  assert101(await exchange(protosRequired.port, seed({}, ['Sec-WebSocket-Protocol: superchat, chat'])), SEED_KEY, 'chat');
});

test('handshake: protocols function picks "b" from "a, b, c"', T, async () => {
  assert101(await exchange(protosFn.port, seed({}, ['Sec-WebSocket-Protocol: a, b, c'])), SEED_KEY, 'b');
});

test('handshake: protocols function returning undefined -> 101 without Sec-WebSocket-Protocol', T, async () => {
  assert101(await exchange(protosFn.port, seed({}, ['Sec-WebSocket-Protocol: a, c'])));
});

// ------------------------------------------------------------------ hooks and extra headers

test('handshake: beforeUpgrade refusal {401, WWW-Authenticate: Basic, body "no"} is sent exactly', T, async () => {
  const r = await exchange(gate.port, seed({}, [], 'GET /deny HTTP/1.1'));
  assertRefused(r, 401, false);
  assert.equal(one(r, 'www-authenticate'), 'Basic');
  assert.equal(r.body, 'no');
});

test('handshake: beforeUpgrade returning nothing -> 101', T, async () => {
  assert101(await exchange(gate.port, seed()));
});

test('handshake: beforeUpgrade returning { headers } -> those headers on the 101', T, async () => {
  const r = await exchange(gate.port, seed({}, [], 'GET /extra HTTP/1.1'));
  assert101(r);
  assert.equal(one(r, 'x-extra'), 'yes');
});

test('handshake: headers { Set-Cookie: a=b } -> on the 101', T, async () => {
  const r = await exchange(cookie.port, seed());
  assert101(r);
  assert.equal(one(r, 'set-cookie'), 'a=b');
});

test('handshake: headers as a function -> on the 101', T, async () => {
  const r = await exchange(cookieFn.port, seed());
  assert101(r);
  assert.equal(one(r, 'x-from-function'), 'ok');
});

// ------------------------------------------------------------------ limits

test('handshake: maxHeaderSize 1024, head of ~2.1 KB -> 431', T, async () => {
  assertRefused(await exchange(small.port, seed({}, [`X-Pad: ${'p'.repeat(2000)}`])), 431);
});

test('handshake: maxHeaderSize 1024, unfinished head growing past 1024 bytes -> 431 without waiting for its end', T, async () => {
  const partial = seed({}, [`X-Pad: ${'p'.repeat(2000)}`]).slice(0, -4); // no blank line yet
  assertRefused(await exchange(small.port, partial), 431);
});

test('handshake: maxHeaderSize 1024, head of ~700 bytes -> 101', T, async () => {
  const req = seed({}, [`X-Pad: ${'p'.repeat(700 - seed().length)}`]);
  assert.ok(req.length <= 710);
  assert101(await exchange(small.port, req));
});

test('handshake: handshakeTimeout 300 ms, half a head sent -> 408 after ~300 ms', T, async () => {
  const req = seed();
  const started = Date.now();
  const r = await exchange(quick.port, req.slice(0, Math.floor(req.length / 2)));
  const elapsed = Date.now() - started;
  assertRefused(r, 408);
  assert.ok(elapsed >= 250, `408 came after ${elapsed} ms, before the 300 ms timeout`);
  assert.ok(elapsed <= 2000, `408 came after ${elapsed} ms`);
});

test('handshake: handshakeTimeout 300 ms, full head in pieces within 200 ms -> 101', T, async () => {
  const peer = await connectRaw(quick.port);
  const req = Buffer.from(seed(), 'latin1');
  await writePieces(peer, req, 40, 10);
  const { statusLine } = parseHead(await peer.head());
  assert.equal(statusLine, 'HTTP/1.1 101 Switching Protocols');
});
