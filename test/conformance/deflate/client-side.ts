// Raw-server helpers for the client half of the suite (over ../client/harness.ts).
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { scope, frame, type Scope, type RawPeer, type Request, type Client } from '../client/harness.js';
import type { CutOptions } from '../client/cut.js';
import { Inflater } from './codec.js';
import { PEER } from './env.js';
import {
  OP,
  parseExtensions,
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

export interface ClientSession {
  sc: Scope;
  client: Client;
  peer: RawPeer;
  req: Request;
  /** The client's offers (all Sec-WebSocket-Extensions lines). */
  offer: Ext[];
  agreed: Agreed | undefined;
}

/** Client options with permessage-deflate as given (for ws, `true` stands for ws13's default). */
export function pmdOptions(pmd: CutOptions['perMessageDeflate'] | undefined, extra: CutOptions = {}): CutOptions {
  if (pmd === undefined && PEER === 'ws') return { ...extra, perMessageDeflate: true };
  return pmd === undefined ? extra : { ...extra, perMessageDeflate: pmd };
}

export function offerOf(req: Request): Ext[] {
  return req.all('sec-websocket-extensions').flatMap(parseExtensions);
}

/**
 * A client connected to a raw server that answers with `answer` (a Sec-WebSocket-Extensions
 * value, or none). With `echo`, the client sends every message back with the same type.
 */
export async function openClient(
  t: TestContext,
  options: CutOptions,
  answer: string | undefined,
  echo = true,
): Promise<ClientSession> {
  const sc = await scope(t);
  const { client, peer, req } = await sc.open(options, answer === undefined ? {} : { extra: [`Sec-WebSocket-Extensions: ${answer}`] });
  if (echo) {
    client.ws.on('message', (data: unknown, isBinary: boolean) => {
      try {
        client.ws.send(data, { binary: isBinary });
      } catch {
        /* closing */
      }
    });
  }
  const a = answer === undefined ? undefined : agreed(parseExtensions(answer)[0]!);
  return { sc, client, peer, req, offer: offerOf(req), agreed: a };
}

/** Our (server) side of an echo session with the client under test. */
export class ServerDriver {
  readonly ours: Compressor;
  readonly theirs: Inflater;
  constructor(
    readonly s: ClientSession,
    opts: { windowBits?: number; takeover?: boolean } = {},
  ) {
    const a = s.agreed;
    assert.ok(a, 'permessage-deflate was not negotiated');
    this.ours = compressor(opts.takeover ?? !a.serverNoContextTakeover, opts.windowBits ?? a.serverMaxWindowBits);
    this.theirs = new Inflater(!a.clientNoContextTakeover);
  }

  async frames(opcode: number, data: Buffer, cuts: number[] = []): Promise<Buffer> {
    const c = await this.ours.compress(data);
    const bounds = [0, ...cuts.filter((x) => x > 0 && x < c.length), c.length];
    const out: Buffer[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      out.push(frame({ opcode: i === 0 ? opcode : OP.CONT, rsv1: i === 0, fin: i + 2 === bounds.length, payload: c.subarray(bounds[i], bounds[i + 1]) }));
    }
    return Buffer.concat(out);
  }

  async send(opcode: number, data: Buffer): Promise<void> {
    this.s.peer.write(await this.frames(opcode, data));
  }

  /** Reads the client's next message, inflates it, checks type and data. */
  async expectMessage(opcode: number, data: Buffer, what = 'client message'): Promise<WireMessage> {
    const m = await readWireMessage(this.s.peer, 'client');
    assert.equal(m.opcode, opcode, `${what}: opcode`);
    let got: Buffer;
    try {
      got = messageData(m, this.theirs);
    } catch (e) {
      assert.fail(`${what}: the client's compressed message does not inflate (${(e as Error).message}; agreed ${JSON.stringify(this.s.agreed)})`);
    }
    assertSameData(got, data, what);
    return m;
  }

  async roundTrip(opcode: number, data: Buffer, what?: string): Promise<WireMessage> {
    await this.send(opcode, data);
    return this.expectMessage(opcode, data, what);
  }

  checkWindow(): void {
    const bits = this.s.agreed!.clientMaxWindowBits;
    assert.ok(this.theirs.maxDistance <= 1 << bits, `client used a back-reference of ${this.theirs.maxDistance} bytes with client_max_window_bits=${bits}`);
  }

  close(): void {
    this.ours.close();
  }
}
