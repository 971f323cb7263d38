// The opening handshake through the core alone (RFC 6455 §4, RFC 7692 §5): a ClientHandshake's
// request goes to negotiate(), the 101 comes back to the client's judgement, and two core
// Connections wired to each other exchange a compressed message. Nothing exercised here needs
// node:* (no sockets, no zlib, no crypto): the compression is a tiny stored-block DEFLATE
// codec written below, behind the core's DeflateCodec interface.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientHandshake,
  Connection,
  ErrorCode,
  HeadReader,
  InflateLimitError,
  Opcode,
  acceptKey,
  negotiate,
  parseRequestHead,
  type ClientDecision,
  type ClientHandshakeInit,
  type CodecCallback,
  type DeflateCodec,
  type PendingAccept,
  type ServerPolicy,
  type ServerRefusal,
} from '../../src/protocol/index.js';
import { concatBytes } from './support.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
/** A fixed nonce: the host would draw it from its CSPRNG. */
const NONCE = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0xff);

/** The server's side, as a host does it: read the head, parse it, decide. */
function serve(request: string, policy: ServerPolicy): PendingAccept | ServerRefusal {
  const r = new HeadReader(16384).push(ascii(request));
  assert.equal(r.kind, 'done');
  if (r.kind !== 'done') throw new Error('unreachable');
  return negotiate(parseRequestHead(r.head), policy);
}

/** The client's side: read the response head from `bytes` and judge it. */
function judge(hs: ClientHandshake, bytes: Uint8Array): ClientDecision {
  const r = new HeadReader(16384).push(bytes);
  if (r.kind !== 'done') throw new Error(`head: ${r.kind}`);
  return hs.receiveHead(r.head, r.rest);
}

const client = (init: Partial<ClientHandshakeInit> = {}): ClientHandshake =>
  new ClientHandshake({ host: 'example.com', target: '/chat?room=1', nonce: NONCE, ...init });

/**
 * DEFLATE with stored blocks only (RFC 1951 §3.2.4): valid permessage-deflate data that any
 * inflater reads. compress: non-final stored blocks, and at a message's end the empty block
 * of a sync flush less its 00 00 ff ff (RFC 7692 §7.2.1), i.e. one 00 byte.
 */
class StoredDeflate implements DeflateCodec {
  #in: Uint8Array[] = [];
  compress(data: Uint8Array, fin: boolean, done: CodecCallback): void {
    const out: Uint8Array[] = [];
    for (let off = 0; off < data.length; off += 0xffff) {
      const n = Math.min(0xffff, data.length - off);
      out.push(Uint8Array.of(0, n & 0xff, n >> 8, ~n & 0xff, (~n >> 8) & 0xff), data.subarray(off, off + n));
    }
    if (fin) out.push(Uint8Array.of(0));
    done(null, out);
  }
  decompress(data: Uint8Array, fin: boolean, limit: number, done: CodecCallback): void {
    this.#in.push(data.slice());
    if (!fin) return done(null, []);
    // RFC 7692 §7.2.2: append 00 00 ff ff, then inflate.
    const all = concatBytes(...this.#in, Uint8Array.of(0, 0, 0xff, 0xff));
    this.#in = [];
    const out: Uint8Array[] = [];
    let size = 0;
    for (let i = 0; i < all.length; ) {
      if (((all[i]! >> 1) & 3) !== 0) return done(new Error('only stored blocks here'), []);
      const n = all[i + 1]! | (all[i + 2]! << 8);
      out.push(all.subarray(i + 5, i + 5 + n));
      if ((size += n) > limit) return done(new InflateLimitError('over the limit'), []);
      i += 5 + n;
    }
    done(null, out);
  }
  close(): void {}
}


/** A core Connection whose writes are queued, and what it received. */
function endpoint(role: 'client' | 'server', deflate: DeflateCodec | undefined) {
  const out: Uint8Array[] = [];
  const got: string[] = [];
  let shut = false;
  let mask = 0;
  const conn = new Connection(
    {
      role,
      ...(deflate ? { deflate } : {}),
      // Deterministic masks: the host's CSPRNG in real use.
      maskSource: (dst, off) => dst.set([++mask, 0x5a, 0xa5, mask >> 8], off),
    },
    {
      write: (data, done) => {
        out.push(data.slice());
        done?.(null);
      },
      message: (data, isText) => got.push(isText ? text(data) : `binary:${data.length}`),
      ping: () => {},
      pong: () => {},
      error: (err) => got.push(`error:${err.code}`),
      shutdown: () => {
        shut = true;
      },
    },
  );
  return { conn, out, got, isShut: () => shut };
}

/** Moves queued bytes both ways, in 3-byte pieces, until neither side has more to say. */
function pump(a: ReturnType<typeof endpoint>, b: ReturnType<typeof endpoint>): void {
  for (let moved = true; moved; ) {
    moved = false;
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const bytes = concatBytes(...from.out.splice(0));
      for (let i = 0; i < bytes.length; i += 3) to.conn.receiveData(bytes.subarray(i, i + 3));
      moved ||= bytes.length > 0;
    }
  }
}

describe('RFC 6455 §4 and RFC 7692 §5: both handshakes and a connection, without I/O', () => {
  test('subprotocol, permessage-deflate, extra headers; then a compressed message each way and a clean close', () => {
    const hs = client({ protocols: ['v2.chat', 'chat'], origin: 'https://app.example', headers: { 'X-Trace': '7' } });
    assert.match(hs.request, /^GET \/chat\?room=1 HTTP\/1\.1\r\nHost: example\.com\r\n/);
    assert.match(hs.request, /\r\nSec-WebSocket-Protocol: v2\.chat, chat\r\n/);
    assert.match(hs.request, /\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n/);
    assert.match(hs.request, /\r\nOrigin: https:\/\/app\.example\r\nX-Trace: 7\r\n\r\n$/);

    const policy: ServerPolicy = {
      origins: [/^https:\/\/[a-z]+\.example$/g],
      protocols: ['chat', 'v2.chat'],
      perMessageDeflate: { clientMaxWindowBits: 12 },
      headers: { 'X-Served-By': 'core' },
    };
    const pending = serve(hs.request, policy);
    assert.equal(pending.kind, 'pending');
    if (pending.kind !== 'pending') return;
    // The host's asynchronous hook runs here: it sees the choice, and may add headers.
    assert.equal(pending.protocol, 'chat', "the server's preference among those offered");
    assert.equal(pending.origin, 'https://app.example');
    const accepted = pending.finish({ 'Set-Cookie': 'sid=1' });
    assert.equal(accepted.kind, 'accept');
    if (accepted.kind !== 'accept') return;
    assert.equal(accepted.protocol, 'chat');
    assert.equal(accepted.extensions, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=12');
    assert.equal(
      accepted.response,
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(hs.key)}\r\nSec-WebSocket-Protocol: chat\r\n` +
        `Sec-WebSocket-Extensions: ${accepted.extensions}\r\nX-Served-By: core\r\nSet-Cookie: sid=1\r\n\r\n`,
    );

    // The server speaks first, its frame right behind the 101: the client keeps it as `rest`.
    const server = endpoint('server', new StoredDeflate());
    server.conn.send(Opcode.Text, utf8('welcome'), true, undefined, true);
    const greeting = concatBytes(...server.out.splice(0));
    assert.equal(greeting[0]! & 0x40, 0x40, 'RSV1: compressed (RFC 7692 §6)');
    const opened = judge(hs, concatBytes(ascii(accepted.response), greeting));
    assert.equal(opened.kind, 'open');
    if (opened.kind !== 'open') return;
    assert.equal(opened.protocol, 'chat');
    assert.equal(opened.extensions, accepted.extensions);
    // Each side's agreement is the other's mirror image.
    const s = accepted.deflate!;
    const c = opened.deflate!;
    assert.deepEqual(
      [c.localNoContextTakeover, c.remoteNoContextTakeover, c.localMaxWindowBits, c.remoteMaxWindowBits],
      [s.remoteNoContextTakeover, s.localNoContextTakeover, s.remoteMaxWindowBits, s.localMaxWindowBits],
    );
    assert.equal(c.localMaxWindowBits, 12);

    const cli = endpoint('client', new StoredDeflate());
    cli.conn.receiveData(opened.rest);
    assert.deepEqual(cli.got, ['welcome']);
    cli.conn.send(Opcode.Text, utf8('héllo, core'), true, undefined, true);
    pump(cli, server);
    assert.deepEqual(server.got, ['héllo, core']);
    server.conn.send(Opcode.Text, utf8('écho: héllo, core'), true, undefined, true);
    cli.conn.close(1000, 'bye');
    pump(cli, server);
    assert.deepEqual(cli.got, ['welcome', 'écho: héllo, core']);
    assert.ok(server.isShut() && cli.isShut(), 'the closing handshake completed on both sides');
    const st = cli.conn.state;
    assert.equal(st.kind, 'closed');
    if (st.kind === 'closed') assert.deepEqual(st.received, { code: 1000, reason: 'bye' });
  });

  test('no permessage-deflate when the server does not compress, nor when the client does not offer it', () => {
    const plain = serve(client().request, { perMessageDeflate: false });
    assert.ok(plain.kind === 'pending' && plain.deflate === undefined);
    const noOffer = client({ perMessageDeflate: false });
    assert.doesNotMatch(noOffer.request, /Sec-WebSocket-Extensions/);
    const p = serve(noOffer.request, { perMessageDeflate: true });
    assert.ok(p.kind === 'pending');
    const a = p.finish();
    assert.ok(a.kind === 'accept');
    const d = judge(noOffer, ascii(a.response));
    assert.ok(d.kind === 'open' && d.deflate === undefined && d.extensions === '' && d.protocol === '');
  });
});

describe('RFC 6455 §4.2.1, §4.2.2, §10.2: refusals, and how the client takes them', () => {
  /** The refusal for this request, and the client's error once it read the body. */
  function refused(hs: ClientHandshake, request: string, policy: ServerPolicy) {
    const r = serve(request, policy);
    assert.equal(r.kind, 'refuse');
    if (r.kind !== 'refuse') throw new Error('unreachable');
    const d = judge(hs, ascii(r.response));
    assert.equal(d.kind, 'refused');
    if (d.kind !== 'refused') throw new Error('unreachable');
    assert.equal(d.response.status, r.status);
    const err = hs.refused(d.response, text(d.rest));
    assert.equal(err.code, ErrorCode.HandshakeStatus);
    assert.equal(err.status, r.status);
    assert.equal(err.body, r.body);
    return r;
  }

  test('403: an Origin not on the list (a RegExp with the g flag decides the same every time)', () => {
    const policy: ServerPolicy = { origins: ['https://good.example', /^https:\/\/ok\./g] };
    for (let i = 0; i < 3; i++) assert.equal(serve(client({ origin: 'https://ok.example' }).request, policy).kind, 'pending');
    const hs = client({ origin: 'https://evil.example' });
    const r = refused(hs, hs.request, policy);
    assert.equal(r.status, 403);
    assert.equal(r.error.code, ErrorCode.ForbiddenOrigin);
    assert.match(r.response, /^HTTP\/1\.1 403 Forbidden\r\n/);
    // Without Origin (not a browser), a list lets it through (RFC 6455 §10.2 is about browsers).
    assert.equal(serve(client().request, policy).kind, 'pending');
  });

  test('426: a version other than 13, answered with the version we speak (§4.2.2 item 4)', () => {
    const hs = client();
    const r = refused(hs, hs.request.replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8'), {});
    assert.equal(r.status, 426);
    assert.equal(r.error.code, ErrorCode.UnsupportedVersion);
    assert.equal(r.headers['Sec-WebSocket-Version'], '13');
    assert.match(r.response, /\r\nSec-WebSocket-Version: 13\r\n/);
  });

  test('400: requireProtocol and none of ours offered; a subprotocol is no longer optional', () => {
    const hs = client({ protocols: ['mqtt'] });
    const r = refused(hs, hs.request, { protocols: ['chat'], requireProtocol: true });
    assert.equal(r.status, 400);
    assert.equal(r.error.code, ErrorCode.SubprotocolRequired);
  });

  test('405 for another method; 500 when protocols() picks one not offered or a policy function throws', () => {
    const hs = client({ protocols: ['a'] });
    const post = serve(hs.request.replace(/^GET/, 'POST'), {});
    assert.ok(post.kind === 'refuse' && post.status === 405 && post.headers['Allow'] === 'GET');
    const bad = serve(hs.request, { protocols: () => 'b' });
    assert.ok(bad.kind === 'refuse' && bad.status === 500 && bad.error.code === ErrorCode.Internal);
    assert.equal(bad.body, 'internal error\n', 'no details to the peer');
    const threw = serve(hs.request, {
      origins: () => {
        throw new Error('boom');
      },
    });
    assert.ok(threw.kind === 'refuse' && threw.status === 500);
  });

  test("the hook's refusal: its status when 400-599, else 500; a header with CR LF refuses with 500", () => {
    const p = serve(client().request, {});
    assert.ok(p.kind === 'pending');
    const r = p.refuse({ status: 401, headers: { 'WWW-Authenticate': 'Bearer' }, body: 'who are you?\n' });
    assert.equal(r.status, 401);
    assert.equal(r.error.code, ErrorCode.Rejected);
    assert.match(r.response, /^HTTP\/1\.1 401 Unauthorized\r\n[^]*WWW-Authenticate: Bearer\r\n\r\nwho are you\?\n$/);
    assert.equal(p.refuse({ status: 200 }).status, 500);
    const split = p.finish({ 'X-A': 'x\r\nSet-Cookie: evil=1' });
    assert.ok(split.kind === 'refuse' && split.status === 500);
  });
});

describe('RFC 6455 §4.1, RFC 7692 §7.1: the client fails a 101 that does not fit its request', () => {
  const answer = (hs: ClientHandshake, extra: string, accept = acceptKey(hs.key)) =>
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;
  const fails = (hs: ClientHandshake, response: string, code: string) => {
    const d = judge(hs, ascii(response));
    assert.equal(d.kind, 'fail');
    if (d.kind === 'fail') assert.equal(d.error.code, code);
  };

  test('a wrong Accept, a subprotocol not offered, an extension not offered, a deflate answer that does not fit', () => {
    const hs = client({ protocols: ['chat'], perMessageDeflate: { serverMaxWindowBits: 10 } });
    fails(hs, answer(hs, '', acceptKey('x'.repeat(22) + '==')), ErrorCode.HandshakeAccept);
    fails(hs, answer(hs, 'Sec-WebSocket-Protocol: mqtt\r\n'), ErrorCode.HandshakeProtocol);
    fails(hs, answer(hs, 'Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n'), ErrorCode.HandshakeExtension);
    // §7.1.2.1: we asked for server_max_window_bits=10; an answer without it does not fit.
    fails(hs, answer(hs, 'Sec-WebSocket-Extensions: permessage-deflate\r\n'), ErrorCode.HandshakeExtension);
    fails(hs, 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n', ErrorCode.HandshakeUpgrade);
    fails(hs, 'HTTP/1.1 10x\r\n\r\n', ErrorCode.HandshakeMalformed);
  });

  test('a nonce that is not 16 bytes, or repeated subprotocols, are refused before any byte is sent', () => {
    assert.throws(() => client({ nonce: new Uint8Array(8) }), { code: ErrorCode.InvalidArgument });
    assert.throws(() => client({ protocols: ['a', 'a'] }), { code: ErrorCode.InvalidArgument });
    assert.throws(() => client({ protocols: ['a b'] }), { code: ErrorCode.InvalidArgument });
  });

  test('a CR or LF in a hand-set Host, the origin option or an extra header is refused: no injected lines', () => {
    assert.throws(() => client({ headers: { Host: 'a.example\r\nX-Injected: 1' } }), { code: ErrorCode.InvalidArgument });
    assert.throws(() => client({ origin: 'https://a.example\r\nX-Injected: 1' }), { code: ErrorCode.InvalidArgument });
    assert.throws(() => client({ headers: { Origin: 'https://a.example\nX-Injected: 1' } }), { code: ErrorCode.InvalidArgument });
    assert.throws(() => client({ headers: { 'X-Note': 'a\r\nX-Injected: 1' } }), { code: ErrorCode.InvalidArgument });
    assert.match(client({ headers: { Host: 'b.example:8080' } }).request, /^Host: b\.example:8080\r$/m);
  });
});
