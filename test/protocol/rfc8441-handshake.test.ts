// RFC 8441 through the core alone: an extended CONNECT checked by negotiateConnect() with the
// same policy as HTTP/1.1, the 200's fields, and the client's fields and judgement of the
// answer. Missing pseudo-headers are tested here: Node's client fills them in, so no socket
// test can send a CONNECT without them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientHandshake,
  ErrorCode,
  HeaderList,
  acceptKey,
  checkConnectRequest,
  formatConnectAccept,
  negotiateConnect,
  type ConnectRequest,
  type HandshakeError,
} from '../../src/protocol/index.js';

function req(over: Partial<ConnectRequest> = {}, headers: Array<[string, string]> = [['sec-websocket-version', '13']]): ConnectRequest {
  return { method: 'CONNECT', protocol: 'websocket', scheme: 'https', path: '/chat', authority: 'example.com', headers: new HeaderList(headers), ...over };
}

function refusedWith(r: ConnectRequest): HandshakeError {
  try {
    checkConnectRequest(r);
  } catch (err) {
    return err as HandshakeError;
  }
  throw new Error('accepted');
}

describe('RFC 8441 §4: the extended CONNECT', () => {
  test('a valid request offers what HTTP/1.1 would; no key is needed', () => {
    const offer = checkConnectRequest(req({}, [['sec-websocket-version', '13'], ['sec-websocket-protocol', 'a, b'], ['origin', 'https://x']]));
    assert.deepEqual([offer.key, offer.origin, offer.protocols], ['', 'https://x', ['a', 'b']]);
  });
  for (const missing of ['scheme', 'path', 'authority'] as const) {
    test(`without :${missing}: 400`, () => {
      const e = refusedWith(req({ [missing]: undefined }));
      assert.deepEqual([e.status, e.code], [400, ErrorCode.BadRequest]);
    });
  }
  test('another :protocol: 501 WS_ERR_UNSUPPORTED_PROTOCOL; the token compares case-insensitively', () => {
    const e = refusedWith(req({ protocol: 'connect-udp' }));
    assert.deepEqual([e.status, e.code], [501, ErrorCode.UnsupportedProtocol]);
    assert.doesNotThrow(() => checkConnectRequest(req({ protocol: 'WebSocket' })));
  });
  test('not a CONNECT, or a CONNECT without :protocol: 405', () => {
    assert.equal(refusedWith(req({ method: 'GET' })).status, 405);
    assert.equal(refusedWith(req({ protocol: undefined })).status, 405);
  });
  test('version 8 or none: 426 with sec-websocket-version: 13', () => {
    for (const h of [[['sec-websocket-version', '8']], []] as Array<Array<[string, string]>>) {
      const e = refusedWith(req({}, h));
      assert.deepEqual([e.status, e.headers['sec-websocket-version']], [426, '13']);
    }
  });
  test('repeated Origin, malformed subprotocols: 400', () => {
    assert.equal(refusedWith(req({}, [['sec-websocket-version', '13'], ['origin', 'a'], ['origin', 'b']])).status, 400);
    assert.equal(refusedWith(req({}, [['sec-websocket-version', '13'], ['sec-websocket-protocol', 'a b']])).status, 400);
  });
});

describe('RFC 8441 §5: the answer', () => {
  test('negotiateConnect applies the policy: origin 403, subprotocol and permessage-deflate chosen as for HTTP/1.1', () => {
    const policy = { origins: ['https://ok'], protocols: ['b'], perMessageDeflate: true, headers: { 'X-Policy': '1', Connection: 'close' } };
    const denied = negotiateConnect(req({}, [['sec-websocket-version', '13'], ['origin', 'https://evil']]), policy);
    assert.equal(denied.kind === 'refuse' && denied.status, 403);
    const p = negotiateConnect(
      req({}, [['sec-websocket-version', '13'], ['origin', 'https://ok'], ['sec-websocket-protocol', 'a, b'], ['sec-websocket-extensions', 'permessage-deflate']]),
      policy,
    );
    assert.equal(p.kind, 'pending');
    if (p.kind !== 'pending') return;
    const a = p.finish({ 'x-hook': 'h' });
    assert.equal(a.kind, 'accept');
    if (a.kind !== 'accept') return;
    assert.deepEqual([a.transport, a.response, a.protocol], ['h2', '', 'b']);
    assert.match(a.extensions, /^permessage-deflate/);
    // Lower-case names, no Accept without a key, connection-specific fields dropped (RFC 9113 §8.2.2).
    assert.deepEqual(a.fields, [
      ['sec-websocket-protocol', 'b'],
      ['sec-websocket-extensions', a.extensions],
      ['x-policy', '1'],
      ['x-hook', 'h'],
    ]);
  });
  test('a client that sends a key anyway gets its Accept', () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    assert.deepEqual(formatConnectAccept(key, undefined, undefined), [['sec-websocket-accept', acceptKey(key)]]);
  });
  test('a header value with CR LF from the hook refuses with 500', () => {
    const p = negotiateConnect(req(), {});
    assert.ok(p.kind === 'pending');
    const r = p.finish({ 'x-bad': 'a\r\nb' });
    assert.equal(r.kind === 'refuse' && r.status, 500);
  });
});

describe('RFC 8441: the client', () => {
  const hs = new ClientHandshake({ host: 'example.com:8443', target: '/c?x=1', protocols: ['chat'], origin: 'https://o', nonce: new Uint8Array(16) });
  test('the fields: pseudo-headers first, no key', () => {
    const f = hs.connectFields('https');
    assert.deepEqual(f.slice(0, 5), [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'https'], [':authority', 'example.com:8443'], [':path', '/c?x=1']]);
    assert.ok(!f.some(([k]) => k === 'sec-websocket-key'));
    assert.ok(f.some(([k, v]) => k === 'sec-websocket-protocol' && v === 'chat'));
  });
  test('a 200 with an offered subprotocol and permessage-deflate opens', () => {
    const d = hs.judgeConnect(200, new HeaderList([['sec-websocket-protocol', 'chat'], ['sec-websocket-extensions', 'permessage-deflate']]));
    assert.equal(d.kind, 'open');
    assert.equal(d.kind === 'open' && d.protocol, 'chat');
  });
  test('a subprotocol not offered fails; a 403 is a refusal with its body', () => {
    const bad = hs.judgeConnect(200, new HeaderList([['sec-websocket-protocol', 'other']]));
    assert.equal(bad.kind === 'fail' && bad.error.code, ErrorCode.HandshakeProtocol);
    const no = hs.judgeConnect(403, new HeaderList([]));
    assert.equal(no.kind, 'refused');
    if (no.kind === 'refused') assert.deepEqual([hs.refusedConnect(no.response, 'nope').status, hs.refusedConnect(no.response, 'nope').body], [403, 'nope']);
  });
});
