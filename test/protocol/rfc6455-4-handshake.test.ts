// RFC 6455 §4 (opening handshake over HTTP/1.1): Sec-WebSocket-Accept, key syntax, reading
// and parsing heads, the server's checks of the request (§4.2.1) and the client's checks of
// the response (§4.1), and the heads both sides write.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  ErrorCode,
  HandshakeError,
  HeadReader,
  HeaderList,
  acceptKey,
  checkUpgradeRequest,
  checkUpgradeResponse,
  formatRejection,
  formatSwitchingProtocols,
  formatUpgradeRequest,
  isValidKey,
  parseRequestHead,
  parseResponseHead,
  reasonPhrase,
  WebSocketError,
} from '../../src/protocol/index.js';
import type { HeadResult } from '../../src/protocol/index.js';
import { base64Encode, sha1 } from '../../src/protocol/sha1.js';
import { concatBytes, hex } from './support.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function nodeAccept(key: string): string {
  return createHash('sha1').update(key + GUID, 'latin1').digest('base64');
}

const latin1Bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** Asserts that `f` throws a HandshakeError with these properties. */
function throwsHandshake(
  f: () => unknown,
  want: { code: string; status?: number; headers?: Record<string, string> },
): HandshakeError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError, got ${String(caught)}`);
  assert.equal(caught.code, want.code);
  if ('status' in want) assert.equal(caught.status, want.status);
  if (want.headers) assert.deepEqual(caught.headers, want.headers);
  return caught;
}

describe('RFC 6455 §4.2.2 Sec-WebSocket-Accept', () => {
  test('§4.2.2 (§1.3 example): acceptKey("dGhlIHNhbXBsZSBub25jZQ==") is "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="', () => {
    assert.equal(acceptKey(SAMPLE_KEY), SAMPLE_ACCEPT);
    assert.equal(nodeAccept(SAMPLE_KEY), SAMPLE_ACCEPT, 'the independent computation agrees');
  });

  test('§4.2.2: acceptKey of 64 random keys equals base64(SHA-1(key + GUID)) from node:crypto', () => {
    for (let i = 0; i < 64; i++) {
      const key = randomBytes(16).toString('base64');
      assert.equal(acceptKey(key), nodeAccept(key), key);
    }
    // A few fixed ones, so a failure is reproducible.
    for (const key of ['AAAAAAAAAAAAAAAAAAAAAA==', '/////////////////////w==', 'x3JJHMbDL1EzLkh9GBhXDw==', 'E4WSEcseoWr4csPLS2QJHA==']) {
      assert.equal(acceptKey(key), nodeAccept(key), key);
    }
  });

  test('§4.2.2: SHA-1 across block boundaries (message lengths 0–200) matches node:crypto', () => {
    for (let n = 0; n <= 200; n++) {
      const msg = new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff);
      assert.equal(hex(sha1(msg)), createHash('sha1').update(msg).digest('hex'), `length ${n}`);
    }
    // acceptKey with keys of any length: key + GUID spans 36..176 bytes.
    for (let n = 0; n <= 140; n++) {
      const key = 'k'.repeat(n);
      assert.equal(acceptKey(key), nodeAccept(key), `key length ${n}`);
    }
  });

  test('RFC 4648 §4: base64Encode matches Buffer for lengths 0–50', () => {
    for (let n = 0; n <= 50; n++) {
      const data = new Uint8Array(n).map((_, i) => (i * 37 + 250) & 0xff);
      assert.equal(base64Encode(data), Buffer.from(data).toString('base64'), `length ${n}`);
    }
  });
});

describe('RFC 6455 §4.1 item 7 isValidKey', () => {
  test('§4.1: base64 of 16 bytes is a valid key', () => {
    assert.equal(isValidKey(SAMPLE_KEY), true);
    for (let i = 0; i < 32; i++) assert.equal(isValidKey(randomBytes(16).toString('base64')), true);
  });

  test('§4.1: other lengths, missing padding and non-base64 characters are invalid', () => {
    for (const key of [
      '',
      'dGhlIHNhbXBsZSBub25jZQ=', // 23 characters
      'dGhlIHNhbXBsZSBub25jZQ', // no padding
      'dGhlIHNhbXBsZSBub25jZQ===',
      'AdGhlIHNhbXBsZSBub25jZQ==', // 17 bytes
      randomBytes(15).toString('base64'),
      randomBytes(17).toString('base64'),
      randomBytes(32).toString('base64'),
      'dGhlIHNhbXBsZSBub25jZ-==', // base64url character
      'dGhlIHNhbXBsZSBub25j ZQ==',
      ' dGhlIHNhbXBsZSBub25jZQ==',
      'dGhlIHNhbXBsZSBub25jZQ==\n',
    ]) {
      assert.equal(isValidKey(key), false, JSON.stringify(key));
    }
  });
});

describe('RFC 9112 §2 HeadReader', () => {
  const request =
    'GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n`;
  const frameBytes = Uint8Array.of(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58);
  const wire = concatBytes(latin1Bytes(request + '\r\n'), frameBytes);

  test('§4.1: a whole head is returned with the bytes that followed it', () => {
    const r = new HeadReader(8192).push(wire.slice());
    assert.equal(r.kind, 'done');
    assert.equal(r.kind === 'done' && r.head, request.slice(0, -2));
    assert.equal(r.kind === 'done' && hex(r.rest), hex(frameBytes));
  });

  test('§4.1: a head split at every position gives the same head; rest plus unfed bytes are the frames', () => {
    for (let split = 1; split < wire.length; split++) {
      const reader = new HeadReader(8192);
      let r: HeadResult = reader.push(wire.slice(0, split));
      let unfed = wire.slice(split);
      if (r.kind === 'more') {
        r = reader.push(unfed);
        unfed = new Uint8Array(0);
      }
      assert.equal(r.kind, 'done', `split at ${split}`);
      if (r.kind !== 'done') continue;
      assert.equal(r.head, request.slice(0, -2), `split at ${split}`);
      assert.equal(hex(concatBytes(r.rest, unfed)), hex(frameBytes), `split at ${split}`);
    }
  });

  test('§4.1: a head fed byte by byte is done exactly at its final LF, with no rest', () => {
    const reader = new HeadReader(8192);
    const headLen = request.length + 2;
    for (let i = 0; i < headLen; i++) {
      const r = reader.push(wire.slice(i, i + 1));
      if (i < headLen - 1) assert.equal(r.kind, 'more', `byte ${i}`);
      else {
        assert.equal(r.kind, 'done');
        assert.equal(r.kind === 'done' && r.head, request.slice(0, -2));
        assert.equal(r.kind === 'done' && r.rest.length, 0);
      }
    }
  });

  test('§4.1: a head over maxSize is too-large, whole or in pieces', () => {
    const big = latin1Bytes('GET / HTTP/1.1\r\nX: ' + 'a'.repeat(100) + '\r\n\r\n');
    assert.deepEqual(new HeadReader(64).push(big.slice()), { kind: 'too-large' });
    const reader = new HeadReader(64);
    const results: string[] = [];
    for (let i = 0; i < 80; i++) results.push(reader.push(big.slice(i, i + 1)).kind);
    assert.deepEqual(results.slice(0, 64), new Array(64).fill('more'));
    // Refused once no CRLFCRLF can end within maxSize + 4 bytes (at the latest).
    const first = results.indexOf('too-large');
    assert.ok(first >= 64 && first <= 67, `too-large at byte ${first}`);
  });

  test('§4.1: a head of exactly maxSize bytes (terminator not counted) is accepted whole and in 1-byte chunks', () => {
    const head = 'GET / HTTP/1.1\r\nHost: h';
    const bytes = latin1Bytes(head + '\r\n\r\n');
    const max = head.length;
    const whole = new HeadReader(max).push(bytes.slice());
    assert.deepEqual({ kind: whole.kind, head: whole.kind === 'done' ? whole.head : '' }, { kind: 'done', head });
    const reader = new HeadReader(max);
    let last: HeadResult = { kind: 'more' };
    for (let i = 0; i < bytes.length && last.kind === 'more'; i++) last = reader.push(bytes.slice(i, i + 1));
    assert.deepEqual(
      { kind: last.kind, head: last.kind === 'done' ? last.head : '' },
      { kind: 'done', head },
      'the same bytes must give the same answer whatever the chunking',
    );
  });

  test('RFC 9112 §2.2: a bare LF makes the head malformed', () => {
    assert.deepEqual(new HeadReader(1024).push(latin1Bytes('GET / HTTP/1.1\nHost: x\n\n')), { kind: 'malformed' });
    assert.deepEqual(new HeadReader(1024).push(latin1Bytes('\n')), { kind: 'malformed' });
    const reader = new HeadReader(1024);
    assert.deepEqual(reader.push(latin1Bytes('GET / HTTP/1.1\r\nHost: x\r')), { kind: 'more' });
    assert.deepEqual(reader.push(latin1Bytes('\n\n')), { kind: 'malformed' });
  });

  test('§4.1: an empty head (just CRLF CRLF) and Latin-1 bytes in values', () => {
    const r = new HeadReader(64).push(latin1Bytes('\r\n\r\nXY'));
    assert.equal(r.kind, 'done');
    assert.equal(r.kind === 'done' && r.head, '');
    assert.equal(r.kind === 'done' && hex(r.rest), '5859');
    const l1 = new HeadReader(64).push(concatBytes(latin1Bytes('X: '), Uint8Array.of(0xe9, 0xff), latin1Bytes('\r\n\r\n')));
    assert.equal(l1.kind === 'done' && l1.head, 'X: \u00e9\u00ff');
  });
});

describe('RFC 9112 §3, §4 parseRequestHead / parseResponseHead', () => {
  test('§4.1: a request head: method, target, version, lower-case names, trimmed values, order kept', () => {
    const r = parseRequestHead('GET /chat?x=1 HTTP/1.1\r\nHost:  server.example.com \r\nX-A: 1\r\nx-a:\t2\r\nEmpty:');
    assert.equal(r.method, 'GET');
    assert.equal(r.target, '/chat?x=1');
    assert.equal(r.httpVersion, '1.1');
    assert.deepEqual(r.headers.entries, [
      ['host', 'server.example.com'],
      ['x-a', '1'],
      ['x-a', '2'],
      ['empty', ''],
    ]);
    assert.equal(r.headers.get('x-a'), '1');
    assert.deepEqual(r.headers.all('x-a'), ['1', '2']);
    assert.equal(r.headers.get('missing'), undefined);
    assert.deepEqual(r.headers.toObject(), { host: 'server.example.com', 'x-a': '1, 2', empty: '' });
    const absolute = parseRequestHead('GET http://h/p HTTP/1.0');
    assert.equal(absolute.target, 'http://h/p');
    assert.equal(absolute.httpVersion, '1.0');
    assert.deepEqual(absolute.headers.entries, []);
  });

  for (const [name, head] of [
    ['no version', 'GET /'],
    ['lower-case http', 'GET / http/1.1'],
    ['two spaces', 'GET  / HTTP/1.1'],
    ['trailing space', 'GET / HTTP/1.1 '],
    ['a space in the target', 'GET /a b HTTP/1.1'],
    ['a control character in the target', 'GET /a\x01b HTTP/1.1'],
    ['a non-token method', 'G(T / HTTP/1.1'],
    ['a two-digit version', 'GET / HTTP/1.10'],
    ['white space before the colon', 'GET / HTTP/1.1\r\nHost : x'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\n  continued'],
    ['a line without a colon', 'GET / HTTP/1.1\r\nHost'],
    ['an empty field name', 'GET / HTTP/1.1\r\n: x'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: a\x00b'],
    ['a CR in a value', 'GET / HTTP/1.1\r\nHost: a\rb'],
    ['an empty line inside', 'GET / HTTP/1.1\r\n\r\nHost: x'],
    ['an empty head', ''],
  ] as const) {
    test(`RFC 9112: a request head with ${name} is refused with 400 WS_ERR_BAD_REQUEST`, () => {
      throwsHandshake(() => parseRequestHead(head), { code: ErrorCode.BadRequest, status: 400 });
    });
  }

  test('§4.1: response heads with and without a reason phrase', () => {
    const r = parseResponseHead('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade');
    assert.equal(r.httpVersion, '1.1');
    assert.equal(r.status, 101);
    assert.equal(r.statusText, 'Switching Protocols');
    assert.deepEqual(r.headers.entries, [
      ['upgrade', 'websocket'],
      ['connection', 'Upgrade'],
    ]);
    const bare = parseResponseHead('HTTP/1.1 404');
    assert.equal(bare.status, 404);
    assert.equal(bare.statusText, '');
  });

  for (const [name, head] of [
    ['a 4-digit status', 'HTTP/1.1 1011 X'],
    ['a non-numeric status', 'HTTP/1.1 abc OK'],
    ['another protocol', 'ICY 200 OK'],
    ['no status', 'HTTP/1.1'],
    ['a bad field', 'HTTP/1.1 101 OK\r\nUpgrade websocket'],
    ['an empty head', ''],
  ] as const) {
    test(`§4.1: a response head with ${name} is WS_ERR_HANDSHAKE_MALFORMED`, () => {
      throwsHandshake(() => parseResponseHead(head), { code: ErrorCode.HandshakeMalformed });
    });
  }

  test('HeaderList.fromRaw takes Node\'s rawHeaders pairs and lower-cases names', () => {
    const h = HeaderList.fromRaw(['Host', 'a', 'SEC-WebSocket-Protocol', 'x', 'sec-websocket-protocol', 'y', 'Dangling']);
    assert.deepEqual(h.entries, [
      ['host', 'a'],
      ['sec-websocket-protocol', 'x'],
      ['sec-websocket-protocol', 'y'],
    ]);
  });
});

/** A valid upgrade request with some fields replaced (undefined deletes) or added. */
function upgradeRequest(
  change: Record<string, string | string[] | undefined> = {},
  method = 'GET',
  httpVersion = '1.1',
): { method: string; httpVersion: string; headers: HeaderList } {
  const base: Record<string, string | string[] | undefined> = {
    host: 'server.example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': SAMPLE_KEY,
    'sec-websocket-version': '13',
    ...change,
  };
  const entries: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(base)) {
    if (v === undefined) continue;
    for (const x of typeof v === 'string' ? [v] : v) entries.push([k, x]);
  }
  return { method, httpVersion, headers: new HeaderList(entries) };
}

describe('RFC 6455 §4.2.1 checkUpgradeRequest', () => {
  test('§4.2.1: a valid request gives the key, origin, subprotocols and extensions', () => {
    const offer = checkUpgradeRequest(
      upgradeRequest({
        upgrade: 'WebSocket',
        connection: 'keep-alive, upgrade',
        origin: 'http://example.com',
        'sec-websocket-protocol': ['chat, superchat', 'v2'],
        'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits, x-foo',
        'content-length': '0',
      }),
    );
    assert.deepEqual(offer, {
      key: SAMPLE_KEY,
      origin: 'http://example.com',
      protocols: ['chat', 'superchat', 'v2'],
      extensions: [
        { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
        { name: 'x-foo', params: [] },
      ],
    });
    const minimal = checkUpgradeRequest(upgradeRequest());
    assert.deepEqual(minimal, { key: SAMPLE_KEY, origin: undefined, protocols: [], extensions: [] });
  });

  test('§4.2.1 item 1: a method other than GET is 405 WS_ERR_METHOD_NOT_ALLOWED with Allow: GET', () => {
    for (const method of ['POST', 'HEAD', 'get', 'CONNECT']) {
      const err = throwsHandshake(() => checkUpgradeRequest(upgradeRequest({}, method)), {
        code: ErrorCode.MethodNotAllowed,
        status: 405,
        headers: { Allow: 'GET' },
      });
      assert.equal(err.body, `${err.message}\n`);
    }
  });

  test('§4.2.1 item 1: HTTP/1.0 (or older) is 400 WS_ERR_BAD_REQUEST', () => {
    for (const v of ['1.0', '0.9']) {
      throwsHandshake(() => checkUpgradeRequest(upgradeRequest({}, 'GET', v)), {
        code: ErrorCode.BadRequest,
        status: 400,
        headers: {},
      });
    }
  });

  test('§4.2.1 item 2: a missing, empty or repeated Host is 400 WS_ERR_BAD_REQUEST', () => {
    for (const host of [undefined, '', ['a', 'b']]) {
      throwsHandshake(() => checkUpgradeRequest(upgradeRequest({ host })), { code: ErrorCode.BadRequest, status: 400 });
    }
  });

  test('§4.2.1 item 3: no Upgrade: websocket is 426 WS_ERR_UPGRADE_REQUIRED with Upgrade and Sec-WebSocket-Version', () => {
    for (const upgrade of [undefined, 'h2c', '', 'websockets']) {
      throwsHandshake(() => checkUpgradeRequest(upgradeRequest({ upgrade })), {
        code: ErrorCode.UpgradeRequired,
        status: 426,
        headers: { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' },
      });
    }
  });

  test('§4.2.1 item 4: a Connection header without Upgrade is 400 WS_ERR_INVALID_CONNECTION_HEADER', () => {
    for (const connection of [undefined, 'keep-alive', 'upgraded', '']) {
      throwsHandshake(() => checkUpgradeRequest(upgradeRequest({ connection })), {
        code: ErrorCode.InvalidConnectionHeader,
        status: 400,
        headers: {},
      });
    }
  });

  test('§4.2.1 item 6, §4.4: a missing, other or repeated version is 426 WS_ERR_UNSUPPORTED_VERSION with Sec-WebSocket-Version: 13', () => {
    for (const version of [undefined, '8', '12', '14', '13, 8', ['13', '13'], ['8', '13'], '']) {
      throwsHandshake(() => checkUpgradeRequest(upgradeRequest({ 'sec-websocket-version': version })), {
        code: ErrorCode.UnsupportedVersion,
        status: 426,
        headers: { 'Sec-WebSocket-Version': '13' },
      });
    }
  });

  test('§4.2.1 item 5: a missing, repeated or wrong-length key is 400 WS_ERR_INVALID_KEY', () => {
    for (const key of [
      undefined,
      [SAMPLE_KEY, SAMPLE_KEY],
      [SAMPLE_KEY, 'AAAAAAAAAAAAAAAAAAAAAA=='],
      'dGhlIHNhbXBsZSBub25jZQ=',
      randomBytes(20).toString('base64'),
      'not a key',
      '',
    ]) {
      throwsHandshake(() => checkUpgradeRequest(upgradeRequest({ 'sec-websocket-key': key })), {
        code: ErrorCode.InvalidKey,
        status: 400,
        headers: {},
      });
    }
  });

  test('§4.2.1 item 8: a malformed Sec-WebSocket-Protocol is 400 WS_ERR_INVALID_SUBPROTOCOL', () => {
    for (const p of ['a b', 'chat, "quoted"', 'x;y', 'é']) {
      throwsHandshake(() => checkUpgradeRequest(upgradeRequest({ 'sec-websocket-protocol': p })), {
        code: ErrorCode.InvalidSubprotocol,
        status: 400,
      });
    }
  });

  test('§4.2.1 item 9: a malformed Sec-WebSocket-Extensions is 400 WS_ERR_BAD_REQUEST', () => {
    for (const e of ['foo;', 'foo bar', ';x', 'foo; a="b c"']) {
      throwsHandshake(() => checkUpgradeRequest(upgradeRequest({ 'sec-websocket-extensions': e })), {
        code: ErrorCode.BadRequest,
        status: 400,
      });
    }
  });

  test('§4.2.1: a request with a body (Content-Length other than 0, Transfer-Encoding) is 400', () => {
    for (const change of [{ 'content-length': '5' }, { 'transfer-encoding': 'chunked' }, { 'content-length': ['0', '1'] }]) {
      throwsHandshake(() => checkUpgradeRequest(upgradeRequest(change)), { code: ErrorCode.BadRequest, status: 400 });
    }
  });

  test('§4.2.1 item 7, §10.2: a repeated Origin is 400 WS_ERR_BAD_REQUEST', () => {
    throwsHandshake(() => checkUpgradeRequest(upgradeRequest({ origin: ['http://a', 'http://b'] })), {
      code: ErrorCode.BadRequest,
      status: 400,
    });
  });
});

describe('RFC 6455 §4.2.2 / §4.1 writing heads', () => {
  test('§4.2.2 item 5: formatSwitchingProtocols writes the 101 head with the accept value', () => {
    assert.equal(
      formatSwitchingProtocols(SAMPLE_KEY, undefined, undefined),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\n\r\n`,
    );
    assert.equal(
      formatSwitchingProtocols(SAMPLE_KEY, 'chat', 'x-foo; a=1', { 'X-Extra': ['1', '2'], 'Set-Cookie': 'c=d' }),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n` +
        'Sec-WebSocket-Extensions: x-foo; a=1\r\nX-Extra: 1\r\nX-Extra: 2\r\nSet-Cookie: c=d\r\n\r\n',
    );
    assert.equal(
      formatSwitchingProtocols(SAMPLE_KEY, '', '', [['A', 'b']]),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\nA: b\r\n\r\n`,
    );
  });

  test('§4.2.2: extra header names and values are checked against injection', () => {
    const isInvalidArgument = (e: unknown): boolean => e instanceof WebSocketError && e.code === ErrorCode.InvalidArgument;
    assert.throws(() => formatSwitchingProtocols(SAMPLE_KEY, undefined, undefined, { 'X-A': 'a\r\nInjected: 1' }), isInvalidArgument);
    assert.throws(() => formatSwitchingProtocols(SAMPLE_KEY, undefined, undefined, { 'X A': 'a' }), isInvalidArgument);
    assert.throws(() => formatSwitchingProtocols(SAMPLE_KEY, undefined, undefined, [['X-B', 'a\nb']]), isInvalidArgument);
  });

  test('§4.2.2 item 4: formatRejection writes status, Connection: close, length, the error\'s headers, body', () => {
    const err = throwsHandshake(() => checkUpgradeRequest(upgradeRequest({ 'sec-websocket-version': '8' })), {
      code: ErrorCode.UnsupportedVersion,
    });
    const body = `${err.message}\n`;
    assert.equal(
      formatRejection(err),
      'HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nSec-WebSocket-Version: 13\r\n\r\n${body}`,
    );
    const custom = new HandshakeError(ErrorCode.Rejected, 'nope', { status: 403, body: 'verboten ü' });
    assert.equal(
      formatRejection(custom),
      'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 11\r\n\r\nverboten ü',
    );
    const noStatus = new HandshakeError(ErrorCode.Rejected, 'plain');
    assert.equal(
      formatRejection(noStatus),
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 6\r\n\r\nplain\n',
    );
    assert.equal(reasonPhrase(405), 'Method Not Allowed');
    assert.equal(reasonPhrase(599), 'Error');
  });

  test('§4.1: formatUpgradeRequest writes the client\'s opening handshake', () => {
    assert.equal(
      formatUpgradeRequest({ target: '/chat', host: 'server.example.com', key: SAMPLE_KEY }),
      'GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    assert.equal(
      formatUpgradeRequest({
        target: '/x?y=1',
        host: 'h:8080',
        key: SAMPLE_KEY,
        protocols: ['chat', 'superchat'],
        extensions: 'permessage-deflate',
        origin: 'http://example.com',
        headers: { Authorization: 'Bearer t' },
      }),
      'GET /x?y=1 HTTP/1.1\r\nHost: h:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n` +
        'Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n' +
        'Origin: http://example.com\r\nAuthorization: Bearer t\r\n\r\n',
    );
    // The request it writes passes the server's checks.
    const text = formatUpgradeRequest({ target: '/', host: 'h', key: SAMPLE_KEY, protocols: ['a'] });
    const head = parseRequestHead(text.slice(0, -4));
    assert.deepEqual(checkUpgradeRequest(head).protocols, ['a']);
  });
});

describe('RFC 6455 §4.1 checkUpgradeResponse (client requirements 1–6)', () => {
  const good = (extra = ''): string =>
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}` +
    extra;

  test('§4.1: a valid 101 gives the subprotocol and extensions', () => {
    assert.deepEqual(checkUpgradeResponse(parseResponseHead(good()), SAMPLE_KEY, []), { protocol: '', extensions: [] });
    assert.deepEqual(
      checkUpgradeResponse(
        parseResponseHead(good('\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: x-foo; a="1"')),
        SAMPLE_KEY,
        ['superchat', 'chat'],
        ['x-foo'],
      ),
      { protocol: 'chat', extensions: [{ name: 'x-foo', params: [['a', '1']] }] },
    );
    // Upgrade and Connection compare case-insensitively.
    const mixed = 'HTTP/1.1 101 OK\r\nUpgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\n' + `Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}`;
    assert.deepEqual(checkUpgradeResponse(parseResponseHead(mixed), SAMPLE_KEY, []), { protocol: '', extensions: [] });
  });

  test('§4.1 item 1: a status other than 101 is WS_ERR_HANDSHAKE_STATUS, with status, headers and body', () => {
    const res = parseResponseHead('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-A: 1\r\nX-A: 2');
    const err = throwsHandshake(() => checkUpgradeResponse(res, SAMPLE_KEY, [], [], 'go away'), {
      code: ErrorCode.HandshakeStatus,
      status: 403,
      headers: { 'content-type': 'text/plain', 'x-a': '1, 2' },
    });
    assert.equal(err.body, 'go away');
    throwsHandshake(() => checkUpgradeResponse(parseResponseHead('HTTP/1.1 200 OK'), SAMPLE_KEY, []), {
      code: ErrorCode.HandshakeStatus,
      status: 200,
    });
  });

  const cases: Array<[string, string, string[], string[], string]> = [
    ['no Upgrade', 'HTTP/1.1 101 X\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + SAMPLE_ACCEPT, [], [], ErrorCode.HandshakeUpgrade],
    ['Upgrade: h2c', good().replace('Upgrade: websocket', 'Upgrade: h2c'), [], [], ErrorCode.HandshakeUpgrade],
    ['two Upgrade fields', good('\r\nUpgrade: websocket'), [], [], ErrorCode.HandshakeUpgrade],
    ['no Connection', good().replace('Connection: Upgrade', 'Connection: close'), [], [], ErrorCode.HandshakeConnection],
    ['no Accept', 'HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: Upgrade', [], [], ErrorCode.HandshakeAccept],
    ['a wrong Accept', good().replace(SAMPLE_ACCEPT, nodeAccept('AAAAAAAAAAAAAAAAAAAAAA==')), [], [], ErrorCode.HandshakeAccept],
    ['two Accept fields', good(`\r\nSec-WebSocket-Accept: ${SAMPLE_ACCEPT}`), [], [], ErrorCode.HandshakeAccept],
    ['an extension not offered', good('\r\nSec-WebSocket-Extensions: x-bar'), [], ['x-foo'], ErrorCode.HandshakeExtension],
    ['a malformed extension header', good('\r\nSec-WebSocket-Extensions: x-foo;'), [], ['x-foo'], ErrorCode.HandshakeExtension],
    ['a subprotocol not offered', good('\r\nSec-WebSocket-Protocol: other'), ['chat'], [], ErrorCode.HandshakeProtocol],
    ['a subprotocol when none was offered', good('\r\nSec-WebSocket-Protocol: chat'), [], [], ErrorCode.HandshakeProtocol],
    ['two subprotocol fields', good('\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat'), ['chat'], [], ErrorCode.HandshakeProtocol],
  ];
  for (const [name, head, protocols, extensions, code] of cases) {
    test(`§4.1: a 101 with ${name} is ${code}`, () => {
      throwsHandshake(() => checkUpgradeResponse(parseResponseHead(head), SAMPLE_KEY, protocols, extensions), {
        code,
        status: 101,
      });
    });
  }
});
