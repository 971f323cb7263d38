// permessage-deflate (RFC 7692) interop: every context-takeover mode and a reduced window,
// for every (server, client) pair it is registered for. Each run goes through a relay
// (wire.ts) that reads the handshake and the frame headers, so that the tests can check
// what was really agreed and sent, not only what each library says about itself:
//   - the client's offer is the one the mode asks for;
//   - the server's answer states the expected agreement, and both peers report the same
//     agreement as the answer on the wire;
//   - each direction carries compressed messages (RSV1), and RSV1 appears only on the
//     first frame of a data message (never on continuation or control frames);
//   - every message arrives intact and in order.

import assert from 'node:assert/strict';
import { peerTest } from '../support/peers-available.js';
import {
  type ClientOptions,
  type DeflateConfig,
  type EchoServerOptions,
  type Ev,
  type Kind,
  type Step,
  hexOf,
  manyLabel,
  runClient,
  startEchoServer,
} from './peers.js';
import {
  type Expected,
  type Result,
  assertCommon,
  assertMessages,
  dump,
  expectBinary,
  expectPattern,
  expectText,
  only,
  peersFor,
} from './scenarios.js';
import { type DeflateAgreement, agreementOf, parseExtensions, startWireProxy, summarize } from './wire.js';

export interface DeflateMode {
  name: string;
  /** What the client offers. */
  client: DeflateConfig;
  /** What the server asks for. */
  server: DeflateConfig;
  /** The parameters of the client's (first) permessage-deflate offer; unchecked if absent. */
  offer?: Record<string, string | true>;
  /** The agreement the server's answer must state; unchecked if absent (library defaults). */
  agreement?: DeflateAgreement;
}

const agreed = (snct: boolean, cnct: boolean, sbits = 15, cbits = 15): DeflateAgreement => ({
  server_no_context_takeover: snct,
  client_no_context_takeover: cnct,
  server_max_window_bits: sbits,
  client_max_window_bits: cbits,
});

export const DEFLATE_MODES: DeflateMode[] = [
  {
    name: 'context takeover both ways',
    client: { clientMaxWindowBits: true },
    server: {},
    offer: { client_max_window_bits: true },
    agreement: agreed(false, false),
  },
  {
    name: 'server_no_context_takeover (offered and accepted)',
    client: { serverNoContextTakeover: true, clientMaxWindowBits: true },
    server: { serverNoContextTakeover: true },
    offer: { server_no_context_takeover: true, client_max_window_bits: true },
    agreement: agreed(true, false),
  },
  {
    name: 'client_no_context_takeover (offered and accepted)',
    client: { clientNoContextTakeover: true, clientMaxWindowBits: true },
    server: { clientNoContextTakeover: true },
    offer: { client_no_context_takeover: true, client_max_window_bits: true },
    agreement: agreed(false, true),
  },
  {
    name: 'no context takeover either way (offered and accepted)',
    client: { serverNoContextTakeover: true, clientNoContextTakeover: true, clientMaxWindowBits: true },
    server: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    offer: { server_no_context_takeover: true, client_no_context_takeover: true, client_max_window_bits: true },
    agreement: agreed(true, true),
  },
  {
    name: 'no context takeover either way (server-imposed, browser-style offer)',
    client: { clientMaxWindowBits: true },
    server: { serverNoContextTakeover: true, clientNoContextTakeover: true },
    offer: { client_max_window_bits: true },
    agreement: agreed(true, true),
  },
  {
    name: '10-bit windows both ways',
    client: { serverMaxWindowBits: 10, clientMaxWindowBits: true },
    server: { serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    offer: { server_max_window_bits: '10', client_max_window_bits: true },
    agreement: agreed(false, false, 10, 10),
  },
  {
    name: "each library's defaults",
    client: 'default',
    server: 'default',
  },
];

// ---------------------------------------------------------------------------------------

const KiB = 1024;
const MiB = 1024 * KiB;

const JSON_SMALL = JSON.stringify({ type: 'hello', id: 1, ok: true, tags: ['a', 'b'], text: 'héllo wörld 🚀' });
const FRAGMENTS = ['frag', 'mented ', 'tëxt 🚀 '.repeat(20)];
const BIN_FRAGMENTS = ['00010203', 'fffefd', '', '8081'.repeat(100)];
// "price: €42" with the 3 bytes of "€" in three different frames.
const SPLIT_UTF8 = [hexOf('price: ') + 'e2', '82', 'ac' + hexOf('42')];
const MANY = 200;
const MANY_PREFIX = 'deflate message #';
const ROCKETS = '🚀'.repeat(5);

function manyExpected(i: number): Expected {
  const text = `${MANY_PREFIX}${i}`;
  return i % 2 === 0 ? expectText(text) : expectBinary(Buffer.from(text));
}

export interface DeflateScenario {
  name: string;
  server?: EchoServerOptions;
  client?: ClientOptions;
  steps: Step[];
  timeoutMs?: number;
  /** Expected messages as received by the server and by the client. */
  expected: { server: Expected[]; client: Expected[] };
}

const SIZES = { maxPayload: 32 * MiB };

const MESSAGES: Expected[] = [
  expectText(JSON_SMALL),
  expectPattern('text', KiB),
  expectPattern('text', 64 * KiB),
  expectPattern('text', MiB),
  expectPattern('random', 100_000),
  expectPattern('binary', 200_000),
  expectText(JSON_SMALL),
  expectText(FRAGMENTS.join('')),
  expectBinary(Buffer.from(BIN_FRAGMENTS.join(''), 'hex')),
  expectText('price: €42'),
];

export const DEFLATE_SCENARIOS: DeflateScenario[] = [
  {
    name: 'JSON, 1 KiB, 64 KiB, 1 MiB text, random and patterned binary, fragmented, 200 in order',
    server: SIZES,
    client: SIZES,
    timeoutMs: 90_000,
    steps: [
      { op: 'send', text: JSON_SMALL },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'text', size: KiB },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'text', size: 64 * KiB },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'text', size: MiB },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'random', size: 100_000 },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'binary', size: 200_000 },
      { op: 'recv' },
      // The same message again: with context takeover it can refer to the first one.
      { op: 'send', text: JSON_SMALL },
      { op: 'recv' },
      { op: 'send_fragments', text: FRAGMENTS },
      { op: 'recv' },
      { op: 'send_fragments', hex: BIN_FRAGMENTS, binary: true },
      { op: 'recv' },
      { op: 'send_fragments', hex: SPLIT_UTF8, binary: false },
      { op: 'recv' },
      { op: 'send_many', count: MANY, prefix: MANY_PREFIX },
      { op: 'recv_many', count: MANY },
    ],
    expected: {
      server: [...MESSAGES, ...Array.from({ length: MANY }, (_, i) => manyExpected(i))],
      client: MESSAGES,
    },
  },
  {
    name: '16 MiB compressible text',
    server: SIZES,
    client: SIZES,
    timeoutMs: 120_000,
    steps: [
      { op: 'send_pattern', kind: 'text', size: 16 * MiB },
      { op: 'recv' },
      { op: 'send', text: JSON_SMALL },
      { op: 'recv' },
    ],
    expected: {
      server: [expectPattern('text', 16 * MiB), expectText(JSON_SMALL)],
      client: [expectPattern('text', 16 * MiB), expectText(JSON_SMALL)],
    },
  },
  {
    name: 'fragmented messages sent by the server',
    server: { ...SIZES, fragmentEcho: 4 },
    client: SIZES,
    steps: [
      { op: 'send', text: JSON_SMALL },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'text', size: 3200 },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'random', size: 5000 },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'binary', size: 70_000 },
      { op: 'recv' },
      { op: 'send', text: ROCKETS },
      { op: 'recv' },
    ],
    expected: {
      server: [
        expectText(JSON_SMALL),
        expectPattern('text', 3200),
        expectPattern('random', 5000),
        expectPattern('binary', 70_000),
        expectText(ROCKETS),
      ],
      client: [
        expectText(JSON_SMALL),
        expectPattern('text', 3200),
        expectPattern('random', 5000),
        expectPattern('binary', 70_000),
        expectText(ROCKETS),
      ],
    },
  },
];

// ---------------------------------------------------------------------------------------

function canonical(value: string | null | undefined) {
  return parseExtensions(value);
}

/** The deflate checks over the wire and both peers' reports. */
function checkDeflate(mode: DeflateMode, r: Result, wire: { request: string; answer: string | undefined; up: ReturnType<typeof summarize>; down: ReturnType<typeof summarize> }): void {
  const offers = parseExtensions(wire.request).filter((e) => e.name === 'permessage-deflate');
  assert.ok(offers.length >= 1, `wire: the ${r.clientKind} client offered permessage-deflate (Sec-WebSocket-Extensions: ${JSON.stringify(wire.request)})`);
  if (mode.offer) {
    assert.deepEqual(offers[0]!.params, mode.offer, `wire: the ${r.clientKind} client's offer (${JSON.stringify(wire.request)})`);
  }

  const answer = wire.answer;
  const agreement = agreementOf(answer);
  assert.ok(agreement, `wire: the ${r.serverKind} server accepted permessage-deflate (answer: ${JSON.stringify(answer ?? null)})`);
  assert.equal(
    canonical(answer).length,
    1,
    `wire: exactly one extension in the answer (${JSON.stringify(answer)})`,
  );
  if (mode.agreement) assert.deepEqual(agreement, mode.agreement, `wire: the agreement in the answer ${JSON.stringify(answer)}`);

  // Each peer's own account of the agreement matches the answer on the wire.
  const conn = only(r.server, 'connection', 'server');
  const open = only(r.client, 'open', 'client');
  for (const [ev, who] of [
    [conn, `${r.serverKind} server`],
    [open, `${r.clientKind} client`],
  ] as const) {
    assert.deepEqual(
      canonical(ev.extensions),
      canonical(answer),
      `${who}: its extensions (${JSON.stringify(ev.extensions)}) state the answer on the wire (${JSON.stringify(answer)})`,
    );
    const pyAgreed = (ev as Ev & { agreed?: unknown }).agreed;
    if (pyAgreed !== undefined) {
      assert.deepEqual(pyAgreed, agreement, `${who}: the parameters its extension object uses`);
    }
  }

  // What crossed the wire.
  assert.deepEqual(wire.up.violations, [], `wire: frames sent by the ${r.clientKind} client`);
  assert.deepEqual(wire.down.violations, [], `wire: frames sent by the ${r.serverKind} server`);
  assert.ok(
    wire.up.compressed > 0,
    `wire: the ${r.clientKind} client compressed none of its ${wire.up.messages} messages`,
  );
  assert.ok(
    wire.down.compressed > 0,
    `wire: the ${r.serverKind} server compressed none of its ${wire.down.messages} messages`,
  );
}

/** Runs one scenario in one mode between a server of serverKind and a client of clientKind. */
export async function runDeflateScenario(serverKind: Kind, clientKind: Kind, mode: DeflateMode, sc: DeflateScenario): Promise<void> {
  const server = await startEchoServer(serverKind, { ...sc.server, deflate: mode.server });
  const proxy = await startWireProxy(server.url);
  let r: Result | undefined;
  let clientStderr = '';
  let wireInfo = '';
  try {
    const run = await runClient(clientKind, `${proxy.url}/deflate`, { ...sc.client, deflate: mode.client }, sc.steps);
    clientStderr = run.stderr;
    await server.log.waitFor((e) => e.event === 'closed', 'the server to see the connection close', 10_000).catch(
      (err: unknown) => server.log.push({ event: 'error', message: String(err) }),
    );
    r = { client: run.events, server: [...server.log.events], clientKind, serverKind };
    assert.equal(proxy.connections.length, 1, 'wire: one TCP connection');
    const conn = proxy.connections[0]!;
    const up = summarize(conn.up.frames, true);
    const down = summarize(conn.down.frames, false);
    const request = conn.up.header('sec-websocket-extensions') ?? '';
    const answer = conn.down.header('sec-websocket-extensions');
    wireInfo =
      `wire: offer ${JSON.stringify(request)}, answer ${JSON.stringify(answer ?? null)}; ` +
      `client→server ${up.compressed}/${up.messages} messages compressed (${conn.up.bytes} bytes), ` +
      `server→client ${down.compressed}/${down.messages} (${conn.down.bytes} bytes)`;
    assertCommon(r, { name: sc.name, steps: sc.steps, check: () => {} });
    checkDeflate(mode, r, { request, answer, up, down });
    assertMessages(r.server, sc.expected.server, 'server');
    assertMessages(r.client, sc.expected.client, 'client');
    const many = r.client.filter((e) => e.event === 'many');
    if (sc.steps.some((s) => s.op === 'recv_many')) {
      assert.equal(many.length, 1, 'client: one recv_many result');
      assert.deepEqual(
        many[0]!.items,
        Array.from({ length: MANY }, (_, i) => manyLabel(i, MANY_PREFIX)),
        'client: the 200 echoes in order',
      );
    }
  } catch (err) {
    if (err instanceof Error) {
      const extra = [`\n--- ${serverKind} server <-> ${clientKind} client, deflate mode "${mode.name}": ${sc.name}`];
      if (wireInfo) extra.push(wireInfo);
      if (r) extra.push(dump(`${clientKind} client events`, r.client), dump(`${serverKind} server events`, r.server));
      if (clientStderr) extra.push(`client stderr:\n${clientStderr.slice(-3000)}`);
      if (server.stderr()) extra.push(`server stderr:\n${server.stderr().slice(-3000)}`);
      err.message += extra.join('\n');
    }
    throw err;
  } finally {
    await proxy.close();
    await server.close();
  }
}

/** Registers one node:test test per (mode, scenario) for the pair. */
export function registerDeflatePair(serverKind: Kind, clientKind: Kind): void {
  const needs = peersFor(serverKind, clientKind);
  for (const mode of DEFLATE_MODES) {
    for (const sc of DEFLATE_SCENARIOS) {
      peerTest(
        needs,
        `deflate, ${mode.name}: ${serverKind} server <-> ${clientKind} client: ${sc.name}`,
        { timeout: sc.timeoutMs ?? 60_000 },
        () => runDeflateScenario(serverKind, clientKind, mode, sc),
      );
    }
  }
}
