// permessage-deflate negotiation, client role (RFC 7692 §5, §7.1): the client's offer, and
// its handling of answers that do or do not fit the offer (WS_ERR_HANDSHAKE_EXTENSION).
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, response101, expectQuiet } from '../client/harness.js';
import { describeError } from '../client/cut.js';
import { openClient, ServerDriver, pmdOptions, offerOf } from './client-side.js';
import { OP, PMD, param, prose, windowProbe } from './common.js';
import { PEER } from './env.js';

const T = { timeout: 20_000 };

test('default offer: exactly "permessage-deflate; client_max_window_bits"', T, async (t) => {
  const sc = await scope(t);
  await sc.create(pmdOptions(undefined));
  const { req } = await sc.accept();
  const lines = req.all('sec-websocket-extensions');
  assert.equal(lines.length, 1, `Sec-WebSocket-Extensions lines: ${JSON.stringify(lines)}`);
  const offer = offerOf(req);
  assert.equal(offer.length, 1);
  assert.equal(offer[0]!.name, PMD);
  assert.deepEqual(offer[0]!.params, [['client_max_window_bits', true]]);
});

test('perMessageDeflate: false: no Sec-WebSocket-Extensions', T, async (t) => {
  const sc = await scope(t);
  await sc.create({ perMessageDeflate: false });
  const { req } = await sc.accept();
  assert.deepEqual(req.all('sec-websocket-extensions'), []);
});

const offerCases: Array<[string, Record<string, unknown>, Array<[string, string | true]>]> = [
  ['serverNoContextTakeover', { serverNoContextTakeover: true }, [['server_no_context_takeover', true], ['client_max_window_bits', true]]],
  ['clientNoContextTakeover', { clientNoContextTakeover: true }, [['client_no_context_takeover', true], ['client_max_window_bits', true]]],
  ['serverMaxWindowBits: 10', { serverMaxWindowBits: 10 }, [['server_max_window_bits', '10'], ['client_max_window_bits', true]]],
  ['clientMaxWindowBits: 11', { clientMaxWindowBits: 11 }, [['client_max_window_bits', '11']]],
  [
    'all four',
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 9 },
    [['server_no_context_takeover', true], ['client_no_context_takeover', true], ['server_max_window_bits', '12'], ['client_max_window_bits', '9']],
  ],
];
for (const [name, opts, want] of offerCases) {
  test(`offer with ${name}`, T, async (t) => {
    const sc = await scope(t);
    await sc.create({ perMessageDeflate: opts });
    const { req } = await sc.accept();
    const offer = offerOf(req);
    assert.equal(offer.length, 1, `offer: ${req.all('sec-websocket-extensions').join(' | ')}`);
    const sort = (x: Array<[string, string | true]>): Array<[string, string | true]> => [...x].sort((a, b) => a[0].localeCompare(b[0]));
    assert.deepEqual(sort(offer[0]!.params), sort(want));
  });
}

// Answers that do not fit the offer: the handshake fails with WS_ERR_HANDSHAKE_EXTENSION.
interface Bad {
  name: string;
  answer: string[];
  options?: Record<string, unknown>;
}
const bad: Bad[] = [
  { name: 'unknown parameter', answer: [`${PMD}; foo`] },
  { name: 'unknown parameter with a value', answer: [`${PMD}; foo=1`] },
  { name: 'duplicate parameter', answer: [`${PMD}; server_no_context_takeover; server_no_context_takeover`] },
  { name: 'duplicate client_max_window_bits', answer: [`${PMD}; client_max_window_bits=10; client_max_window_bits=10`] },
  { name: 'server_max_window_bits above the offered 10', answer: [`${PMD}; server_max_window_bits=11`], options: { serverMaxWindowBits: 10 } },
  { name: 'server_max_window_bits=7', answer: [`${PMD}; server_max_window_bits=7`] },
  { name: 'server_max_window_bits=16', answer: [`${PMD}; server_max_window_bits=16`] },
  { name: 'server_max_window_bits without a value', answer: [`${PMD}; server_max_window_bits`] },
  { name: 'server_max_window_bits=abc', answer: [`${PMD}; server_max_window_bits=abc`] },
  { name: 'client_max_window_bits when not offered', answer: [`${PMD}; client_max_window_bits=10`], options: { clientMaxWindowBits: false } },
  { name: 'client_max_window_bits above the offered 10', answer: [`${PMD}; client_max_window_bits=12`], options: { clientMaxWindowBits: 10 } },
  { name: 'client_max_window_bits without a value', answer: [`${PMD}; client_max_window_bits`] },
  { name: 'client_max_window_bits=7', answer: [`${PMD}; client_max_window_bits=7`] },
  { name: 'client_max_window_bits=16', answer: [`${PMD}; client_max_window_bits=16`] },
  { name: 'server_no_context_takeover with a value', answer: [`${PMD}; server_no_context_takeover=1`] },
  { name: 'two permessage-deflate answers in one header', answer: [`${PMD}, ${PMD}`] },
  { name: 'two permessage-deflate answers on two header lines', answer: [PMD, `${PMD}; server_no_context_takeover`] },
  { name: 'another extension name', answer: ['x-webkit-deflate-frame'] },
  { name: 'permessage-deflate plus another extension', answer: [`${PMD}, x-foo`] },
  { name: 'an extension when none was offered', answer: [PMD], options: { perMessageDeflate: false } },
];
for (const b of bad) {
  test(`answer with ${b.name}: HandshakeError WS_ERR_HANDSHAKE_EXTENSION, TCP dropped`, T, async (t) => {
    const sc = await scope(t);
    const opts = b.options && 'perMessageDeflate' in b.options ? b.options : pmdOptions(b.options);
    const pending = sc.connect(opts);
    const { peer, req } = await sc.accept();
    if (b.name.startsWith('client_max_window_bits when not offered')) {
      assert.equal(param(offerOf(req)[0]!, 'client_max_window_bits'), undefined, 'clientMaxWindowBits: false still offers client_max_window_bits');
    }
    peer.write(response101(req, { extra: b.answer.map((a) => `Sec-WebSocket-Extensions: ${a}`) }));
    let err: unknown;
    try {
      await pending;
      assert.fail(`the client accepted the answer ${JSON.stringify(b.answer)}`);
    } catch (e) {
      err = e;
    }
    const info = describeError(err);
    assert.equal(info.code, 'WS_ERR_HANDSHAKE_EXTENSION', `error: ${String((err as Error)?.message ?? err)}`);
    assert.equal((err as Error).name, 'HandshakeError');
    await peer.waitEnd(2000);
    assert.deepEqual(peer.takeFrames(), [], 'the client sent frames after a failed handshake');
  });
}

test('answer "permessage-deflate": open, ws.extensions names it', T, async (t) => {
  const s = await openClient(t, pmdOptions(undefined), PMD);
  assert.match(String(s.client.ws.extensions), /^permessage-deflate\b/);
  const d = new ServerDriver(s);
  await d.roundTrip(OP.TEXT, prose(3000));
  d.close();
});

test('no answer (server declined): open without extension, messages uncompressed', T, async (t) => {
  const s = await openClient(t, pmdOptions(undefined, {}), undefined);
  assert.equal(String(s.client.ws.extensions ?? ''), '');
  s.client.send(prose(3000).toString());
  const f = await s.peer.nextFrame(3000);
  assert.equal(f.rsv, 0, 'RSV1 set without the extension');
});

test('answer with client_no_context_takeover is honoured: every message inflates alone', T, async (t) => {
  const s = await openClient(t, pmdOptions({ threshold: 0 }), `${PMD}; client_no_context_takeover`);
  const d = new ServerDriver(s);
  assert.equal(s.agreed!.clientNoContextTakeover, true);
  const same = prose(2000, 5);
  for (let i = 0; i < 20; i++) {
    // Identical messages: a client keeping context would refer back to the previous one.
    const m = await d.roundTrip(OP.TEXT, same, `message ${i}`);
    assert.ok(m.compressed, 'threshold 0: expected a compressed message');
  }
  d.close();
});

test('answer with server_no_context_takeover is honoured: the client inflates each message alone', T, async (t) => {
  const s = await openClient(t, pmdOptions({ serverNoContextTakeover: true, threshold: 0 }), `${PMD}; server_no_context_takeover`);
  const d = new ServerDriver(s);
  for (let i = 0; i < 10; i++) await d.roundTrip(OP.BINARY, windowProbe(12, i % 2), `message ${i}`);
  d.close();
});

test('answer with server_no_context_takeover although not offered is accepted', T, async (t) => {
  const s = await openClient(t, pmdOptions(undefined), `${PMD}; server_no_context_takeover`);
  const d = new ServerDriver(s);
  await d.roundTrip(OP.TEXT, prose(5000));
  d.close();
});

test('answer with server_max_window_bits=10 although not offered is accepted', T, async (t) => {
  const s = await openClient(t, pmdOptions(undefined), `${PMD}; server_max_window_bits=10`);
  const d = new ServerDriver(s);
  await d.roundTrip(OP.BINARY, windowProbe(10));
  d.close();
});

test('a client that failed the extension sends nothing more', T, async (t) => {
  const sc = await scope(t);
  const c = await sc.create(pmdOptions(undefined));
  const { peer, req } = await sc.accept();
  peer.write(response101(req, { extra: [`Sec-WebSocket-Extensions: ${PMD}; bogus`] }));
  const closed = await c.waitClose(3000);
  assert.equal(closed.code, 1006);
  assert.equal(c.events.open, false, "'open' was emitted");
  await expectQuiet(peer, 100);
  void PEER;
});
