// permessage-deflate negotiation, server role (RFC 7692 §5, §7.1; Autobahn 12/13 set-up):
// a raw client sends offers, the answer must fit them, and a compressed round trip must
// then work with exactly the agreed parameters.
import './env.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverFixture } from '../server/helpers.js';
import { openPmd, EchoDriver } from './server-side.js';
import { OP, PMD, param, prose, windowProbe } from './common.js';

const T = { timeout: 20_000 };

/** Handshake with `offer`, which must be accepted; then three compressed round trips. */
async function acceptedWithRoundTrip(port: number, offer: string, accepted = offer): Promise<EchoDriver> {
  const s = await openPmd(port, offer, accepted);
  const d = new EchoDriver(s);
  try {
    const bits = s.agreed!.serverMaxWindowBits;
    await d.roundTrip(OP.TEXT, prose(2000), 'text 2000');
    await d.roundTrip(OP.BINARY, windowProbe(Math.min(bits, 14)), 'window probe');
    await d.roundTrip(OP.TEXT, prose(2000), 'same text again');
    d.checkWindow();
  } finally {
    d.close();
  }
  return d;
}

describe('server negotiation: default configuration (perMessageDeflate: true, threshold 0)', () => {
  const srv = serverFixture({ perMessageDeflate: { threshold: 0 } });

  test('offer "permessage-deflate": accepted, answer fits the offer', T, async () => {
    await acceptedWithRoundTrip(srv.port, PMD);
  });

  test('no offer: 101 without Sec-WebSocket-Extensions', T, async () => {
    const s = await openPmd(srv.port, undefined);
    assert.deepEqual(s.answerValues, []);
  });

  test('offer of another extension only: no extension', T, async () => {
    const s = await openPmd(srv.port, 'x-webkit-deflate-frame');
    assert.deepEqual(s.answerValues, []);
  });

  const singles: string[] = [
    'server_no_context_takeover',
    'client_no_context_takeover',
    ...[8, 9, 10, 11, 12, 13, 14, 15].map((n) => `server_max_window_bits=${n}`),
    'client_max_window_bits',
    ...[8, 9, 10, 11, 12, 13, 14, 15].map((n) => `client_max_window_bits=${n}`),
  ];
  for (const p of singles) {
    test(`offer "permessage-deflate; ${p}": accepted, answer fits, round trip`, T, async () => {
      await acceptedWithRoundTrip(srv.port, `${PMD}; ${p}`);
    });
  }

  const combos: string[] = [];
  for (const snct of [false, true])
    for (const cnct of [false, true])
      for (const smwb of [undefined, 9, 15])
        for (const cmwb of [undefined, true, 10]) {
          const ps: string[] = [];
          if (snct) ps.push('server_no_context_takeover');
          if (cnct) ps.push('client_no_context_takeover');
          if (smwb !== undefined) ps.push(`server_max_window_bits=${smwb}`);
          if (cmwb === true) ps.push('client_max_window_bits');
          else if (cmwb !== undefined) ps.push(`client_max_window_bits=${cmwb}`);
          if (ps.length >= 2) combos.push(ps.join('; '));
        }
  for (const c of combos) {
    test(`offer "permessage-deflate; ${c}": accepted, answer fits, round trip`, T, async () => {
      await acceptedWithRoundTrip(srv.port, `${PMD}; ${c}`);
    });
  }

  test('parameters in another order and with spaces around ";"', T, async () => {
    const offer = `${PMD} ;client_max_window_bits ;  server_max_window_bits=10;server_no_context_takeover`;
    await acceptedWithRoundTrip(srv.port, offer, `${PMD}; client_max_window_bits; server_max_window_bits=10; server_no_context_takeover`);
  });

  test('a quoted value (server_max_window_bits="10") is the value 10 (RFC 7692 §7.1)', T, async () => {
    await acceptedWithRoundTrip(srv.port, `${PMD}; server_max_window_bits="10"`, `${PMD}; server_max_window_bits=10`);
  });

  // The first offer is unacceptable; the second (server_max_window_bits=10, a marker the
  // answer must then carry with a value <= 10) must be taken.
  const bad: Array<[string, string]> = [
    ['duplicate parameter', 'server_no_context_takeover; server_no_context_takeover'],
    ['duplicate window parameter', 'client_max_window_bits=10; client_max_window_bits=10'],
    ['unknown parameter', 'foo'],
    ['unknown parameter with a value', 'x_max_window_bits=10'],
    ['server_max_window_bits=7', 'server_max_window_bits=7'],
    ['server_max_window_bits=16', 'server_max_window_bits=16'],
    ['server_max_window_bits without a value', 'server_max_window_bits'],
    ['server_max_window_bits=abc', 'server_max_window_bits=abc'],
    ['server_max_window_bits=010', 'server_max_window_bits=010'],
    ['client_max_window_bits=abc', 'client_max_window_bits=abc'],
    ['client_max_window_bits=7', 'client_max_window_bits=7'],
    ['client_max_window_bits=16', 'client_max_window_bits=16'],
    ['server_no_context_takeover with a value', 'server_no_context_takeover=1'],
    ['client_no_context_takeover with a value', 'client_no_context_takeover=true'],
  ];
  for (const [name, params] of bad) {
    test(`first offer unacceptable (${name}): the second is taken`, T, async () => {
      const second = `${PMD}; server_max_window_bits=10`;
      const s = await openPmd(srv.port, `${PMD}; ${params}, ${second}`, second);
      assert.ok(Number(param(s.ext!, 'server_max_window_bits')) <= 10, 'the answer is not for the second offer');
      const d = new EchoDriver(s);
      await d.roundTrip(OP.TEXT, prose(3000));
      d.checkWindow();
      d.close();
    });
    test(`only offer unacceptable (${name}): 101 without an extension`, T, async () => {
      const s = await openPmd(srv.port, `${PMD}; ${params}`);
      assert.deepEqual(s.answerValues, [], `the server accepted "${PMD}; ${params}"`);
    });
  }

  test('offers on two header lines: the first acceptable one is taken', T, async () => {
    const s = await openPmd(srv.port, [`${PMD}; foo`, `${PMD}; server_max_window_bits=11`], `${PMD}; server_max_window_bits=11`);
    assert.ok(Number(param(s.ext!, 'server_max_window_bits')) <= 11);
  });

  test('an unknown extension before permessage-deflate is skipped', T, async () => {
    await acceptedWithRoundTrip(srv.port, `x-foo; bar=1, ${PMD}; client_max_window_bits`, `${PMD}; client_max_window_bits`);
  });

  test('three unacceptable offers: 101 without an extension', T, async () => {
    const s = await openPmd(srv.port, `${PMD}; server_max_window_bits=7, ${PMD}; a, ${PMD}; client_max_window_bits=99`);
    assert.deepEqual(s.answerValues, []);
  });
});

describe('server negotiation: perMessageDeflate: false', () => {
  const srv = serverFixture({ perMessageDeflate: false });
  test('offer "permessage-deflate; client_max_window_bits": 101 without an extension', T, async () => {
    const s = await openPmd(srv.port, `${PMD}; client_max_window_bits`);
    assert.deepEqual(s.answerValues, []);
  });
});

describe('server negotiation: configuration is reflected in the answer', () => {
  describe('serverNoContextTakeover: false', () => {
    const srv = serverFixture({ perMessageDeflate: { serverNoContextTakeover: false, threshold: 0 } });
    test('plain offer: no server_no_context_takeover in the answer; context kept', T, async () => {
      const d = await acceptedWithRoundTrip(srv.port, PMD);
      assert.equal(d.s.agreed!.serverNoContextTakeover, false, 'configured with serverNoContextTakeover: false');
    });
    // RFC 7692 §7.1.1.1 lets the server accept (answer with the parameter) or decline this
    // offer; ws13's contract does not say which, so either is fine, but nothing in between.
    test('offer with server_no_context_takeover: accepted with it, or declined', T, async () => {
      const s = await openPmd(srv.port, `${PMD}; server_no_context_takeover`);
      if (s.answerValues.length === 0) return;
      const d = await acceptedWithRoundTrip(srv.port, `${PMD}; server_no_context_takeover`);
      assert.equal(d.s.agreed!.serverNoContextTakeover, true);
    });
  });

  describe('serverNoContextTakeover: true (the default)', () => {
    const srv = serverFixture({ perMessageDeflate: true });
    test('plain offer: answer has server_no_context_takeover', T, async () => {
      const s = await openPmd(srv.port, PMD, PMD);
      assert.equal(s.agreed!.serverNoContextTakeover, true);
    });
  });

  describe('clientNoContextTakeover: true', () => {
    const srv = serverFixture({ perMessageDeflate: { clientNoContextTakeover: true, threshold: 0 } });
    test('answer has client_no_context_takeover; compressed messages without context inflate', T, async () => {
      const d = await acceptedWithRoundTrip(srv.port, PMD);
      assert.equal(d.s.agreed!.clientNoContextTakeover, true);
    });
  });

  for (const bits of [9, 10, 12]) {
    describe(`clientMaxWindowBits: ${bits}`, () => {
      const srv = serverFixture({ perMessageDeflate: { clientMaxWindowBits: bits, threshold: 0 } });
      test(`offer with bare client_max_window_bits: answer client_max_window_bits=${bits}`, T, async () => {
        const d = await acceptedWithRoundTrip(srv.port, `${PMD}; client_max_window_bits`);
        assert.equal(param(d.s.ext!, 'client_max_window_bits'), String(bits));
      });
      test('offer without client_max_window_bits: accepted, no client_max_window_bits in the answer', T, async () => {
        await acceptedWithRoundTrip(srv.port, PMD);
      });
    });
  }

  for (const bits of [9, 10, 12]) {
    describe(`serverMaxWindowBits: ${bits}`, () => {
      const srv = serverFixture({ perMessageDeflate: { serverMaxWindowBits: bits, serverNoContextTakeover: false, threshold: 0 } });
      test(`the server's messages stay within 2^${bits} bytes of history`, T, async () => {
        const s = await openPmd(srv.port, PMD, PMD);
        const d = new EchoDriver(s);
        for (let i = 0; i < 3; i++) await d.roundTrip(OP.BINARY, windowProbe(bits, i + 1));
        assert.ok(d.theirs.maxDistance <= 1 << bits, `server used distance ${d.theirs.maxDistance} with serverMaxWindowBits ${bits}`);
        d.close();
      });
      test(`offer server_max_window_bits=${bits + 2}: answer <= offer, window kept`, T, async () => {
        await acceptedWithRoundTrip(srv.port, `${PMD}; server_max_window_bits=${bits + 2}`);
      });
    });
  }
});
