// Raw-client helpers for the server half of the suite (over ../server/helpers.ts).
import assert from 'node:assert/strict';
import type { RawPeer } from '../../support/raw.js';
import { parseHead, header } from '../../support/raw.js';
import { openWs, cf, send } from '../server/helpers.js';
import { Inflater } from './codec.js';
import {
  OP,
  PMD,
  parseExtensions,
  checkAnswer,
  agreed,
  readWireMessage,
  messageData,
  assertSameData,
  compressor,
  type Agreed,
  type Ext,
  type Compressor,
  type WireMessage,
} from './common.js';

export interface Session {
  p: RawPeer;
  /** The Sec-WebSocket-Extensions values of the 101. */
  answerValues: string[];
  /** The accepted permessage-deflate element, if any. */
  ext: Ext | undefined;
  agreed: Agreed | undefined;
}

/**
 * Opens a connection offering `offer` (one Sec-WebSocket-Extensions line per string) and
 * checks the 101. When `acceptedOffer` is given, the answer must accept the extension and fit
 * that offer (RFC 7692 §7.1).
 */
export async function openPmd(port: number, offer: string | string[] | undefined, acceptedOffer?: string): Promise<Session> {
  const offers = offer === undefined ? [] : Array.isArray(offer) ? offer : [offer];
  const p = await openWs(port, { extra: offers.map((o) => `Sec-WebSocket-Extensions: ${o}`) });
  const { headers } = parseHead(p.httpHead ?? '');
  const answerValues = header(headers, 'sec-websocket-extensions');
  let ext: Ext | undefined;
  if (acceptedOffer !== undefined) {
    assert.equal(answerValues.length, 1, `expected one Sec-WebSocket-Extensions in the 101 for offer ${JSON.stringify(offer)}, got ${JSON.stringify(answerValues)}`);
    ext = checkAnswer(parseExtensions(answerValues[0]!), parseExtensions(acceptedOffer)[0]!);
  } else if (answerValues.length) {
    const all = answerValues.flatMap(parseExtensions);
    ext = all.find((e) => e.name === PMD);
  }
  return { p, answerValues, ext, agreed: ext ? agreed(ext) : undefined };
}

/** Sends messages and checks the echoes, with our compression per the agreement. */
export class EchoDriver {
  readonly ours: Compressor;
  readonly theirs: Inflater;
  readonly received: WireMessage[] = [];
  constructor(
    readonly s: Session,
    opts: { windowBits?: number; takeover?: boolean } = {},
  ) {
    const a = s.agreed;
    assert.ok(a, 'permessage-deflate was not negotiated');
    this.ours = compressor(opts.takeover ?? !a.clientNoContextTakeover, opts.windowBits ?? a.clientMaxWindowBits);
    this.theirs = new Inflater(!a.serverNoContextTakeover);
  }

  /** One compressed message (optionally fragmented at `cuts` compressed-byte offsets). */
  async frames(opcode: number, data: Buffer, cuts: number[] = []): Promise<Buffer> {
    const c = await this.ours.compress(data);
    const bounds = [0, ...cuts.filter((x) => x > 0 && x < c.length), c.length];
    const out: Buffer[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      out.push(
        cf({
          opcode: i === 0 ? opcode : OP.CONT,
          rsv1: i === 0,
          fin: i + 2 === bounds.length,
          payload: c.subarray(bounds[i], bounds[i + 1]),
        }),
      );
    }
    return Buffer.concat(out);
  }

  async send(opcode: number, data: Buffer): Promise<void> {
    send(this.s.p, await this.frames(opcode, data));
  }

  /** Reads the echo and checks type and data; returns it. */
  async expectEcho(opcode: number, data: Buffer, what = 'echo'): Promise<WireMessage> {
    const m = await readWireMessage(this.s.p, 'server');
    this.received.push(m);
    assert.equal(m.opcode, opcode, `${what}: opcode`);
    let got: Buffer;
    try {
      got = messageData(m, this.theirs);
    } catch (e) {
      assert.fail(`${what}: the server's compressed message does not inflate (${(e as Error).message}; agreed ${JSON.stringify(this.s.agreed)})`);
    }
    assertSameData(got, data, what);
    return m;
  }

  async roundTrip(opcode: number, data: Buffer, what?: string): Promise<WireMessage> {
    await this.send(opcode, data);
    return this.expectEcho(opcode, data, what);
  }

  /** The server kept to the agreed window (largest back-reference so far). */
  checkWindow(): void {
    const bits = this.s.agreed!.serverMaxWindowBits;
    assert.ok(
      this.theirs.maxDistance <= 1 << bits,
      `server used a back-reference of ${this.theirs.maxDistance} bytes with server_max_window_bits=${bits}`,
    );
  }

  close(): void {
    this.ours.close();
  }
}
