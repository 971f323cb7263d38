// Window 8 (ws13's documented behaviour, docs/API.md "Compression"): zlib cannot compress
// with an 8-bit raw window, so when ws13's compression window must be 8 bits it accepts the
// parameter and sends its messages uncompressed (RSV1 clear; RFC 7692 §6 allows it). It
// inflates 8-bit windows. With SUT=ws these expectations fail on purpose: ws compresses
// with a 9-bit window when told 8 (see README.md).
import './env.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverFixture } from '../server/helpers.js';
import { openPmd, EchoDriver } from './server-side.js';
import { openClient, ServerDriver, pmdOptions } from './client-side.js';
import { OP, PMD, prose, windowProbe, param } from './common.js';

const T = { timeout: 30_000 };

describe('window 8, server role', () => {
  const srv = serverFixture({ perMessageDeflate: { serverNoContextTakeover: false, threshold: 0 } });

  test('offer server_max_window_bits=8: answer server_max_window_bits=8, messages sent uncompressed', T, async () => {
    const offer = `${PMD}; server_max_window_bits=8`;
    const s = await openPmd(srv.port, offer, offer);
    assert.equal(param(s.ext!, 'server_max_window_bits'), '8');
    const d = new EchoDriver(s);
    for (const [op, data] of [
      [OP.TEXT, prose(5000)],
      [OP.BINARY, windowProbe(8)],
      [OP.TEXT, prose(5000)],
    ] as const) {
      const m = await d.roundTrip(op, data);
      assert.equal(m.compressed, false, 'ws13 must not compress with server_max_window_bits=8 (RSV1 set)');
    }
    d.close();
  });

  test('client_max_window_bits=8 offered: 8-bit compressed messages (distance 256, context kept) inflate', T, async () => {
    const offer = `${PMD}; client_max_window_bits=8`;
    const s = await openPmd(srv.port, offer, offer);
    const d = new EchoDriver(s, { windowBits: 8 });
    const block = windowProbe(9, 5).subarray(0, 256);
    for (let i = 0; i < 5; i++) await d.roundTrip(OP.BINARY, Buffer.concat([block, block, prose(600, i)]), `message ${i}`);
    d.close();
  });

  describe('serverMaxWindowBits: 8 configured', () => {
    const srv8 = serverFixture({ perMessageDeflate: { serverMaxWindowBits: 8, threshold: 0 } });
    test('messages sent uncompressed', T, async () => {
      const s = await openPmd(srv8.port, PMD, PMD);
      const d = new EchoDriver(s);
      const m = await d.roundTrip(OP.TEXT, prose(5000));
      assert.equal(m.compressed, false, 'ws13 must not compress with a window of 8 bits');
      d.close();
    });
  });

  describe('clientMaxWindowBits: 8 configured', () => {
    const srv8 = serverFixture({ perMessageDeflate: { clientMaxWindowBits: 8, threshold: 0 } });
    test('answer client_max_window_bits=8; 8-bit messages inflate', T, async () => {
      const offer = `${PMD}; client_max_window_bits`;
      const s = await openPmd(srv8.port, offer, offer);
      assert.equal(param(s.ext!, 'client_max_window_bits'), '8');
      const d = new EchoDriver(s);
      for (let i = 0; i < 4; i++) await d.roundTrip(OP.TEXT, prose(3000, i), `message ${i}`);
      d.close();
    });
  });
});

describe('window 8, client role', () => {
  test('told client_max_window_bits=8: the client sends uncompressed messages', T, async (t) => {
    const s = await openClient(t, pmdOptions({ threshold: 0 }), `${PMD}; client_max_window_bits=8`);
    const d = new ServerDriver(s);
    for (const [op, data] of [
      [OP.TEXT, prose(5000)],
      [OP.BINARY, windowProbe(8)],
      [OP.TEXT, prose(5000)],
    ] as const) {
      const m = await d.roundTrip(op, data);
      assert.equal(m.compressed, false, 'ws13 must not compress with client_max_window_bits=8 (RSV1 set)');
    }
    d.close();
  });

  test('clientMaxWindowBits: 8 offered and answered: uncompressed messages', T, async (t) => {
    const s = await openClient(t, pmdOptions({ clientMaxWindowBits: 8, threshold: 0 }), `${PMD}; client_max_window_bits=8`);
    const d = new ServerDriver(s);
    const m = await d.roundTrip(OP.BINARY, prose(4000));
    assert.equal(m.compressed, false, 'RSV1 set with client_max_window_bits=8');
    d.close();
  });

  test('server_max_window_bits=8: 8-bit compressed messages (distance 256, context kept) inflate', T, async (t) => {
    const s = await openClient(t, pmdOptions({ serverMaxWindowBits: 8, threshold: 0 }), `${PMD}; server_max_window_bits=8`);
    const d = new ServerDriver(s);
    const block = windowProbe(9, 6).subarray(0, 256);
    for (let i = 0; i < 5; i++) await d.roundTrip(OP.BINARY, Buffer.concat([block, block, prose(600, i)]), `message ${i}`);
    d.close();
  });
});
