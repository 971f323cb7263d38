// The interop scenarios, written once and run for every (server, client) pair of peers.
// A scenario is: options for the echo server and the client, the client's steps, and a
// check over what both sides observed (see peers.ts for the event format).

import assert from 'node:assert/strict';
import { peerTest, type Peer } from '../support/peers-available.js';
import {
  type ClientOptions,
  type EchoServerOptions,
  type Ev,
  type Kind,
  type Step,
  hexOf,
  manyLabel,
  pattern,
  runClient,
  sha256,
  startEchoServer,
} from './peers.js';

export interface Result {
  client: Ev[];
  server: Ev[];
  clientKind: Kind;
  serverKind: Kind;
}

export interface Scenario {
  name: string;
  server?: EchoServerOptions;
  client?: ClientOptions;
  steps: Step[];
  /** node:test timeout for the whole scenario. */
  timeoutMs?: number;
  /** The client may legitimately refuse the connection; check() decides what is acceptable. */
  clientMayRefuse?: boolean;
  check(r: Result): void;
}

const MiB = 1024 * 1024;
const BIG = 16 * MiB;
const BIG_LIMIT = 32 * MiB;

export interface Expected {
  type: 'text' | 'binary';
  length: number;
  sha256: string;
  text?: string;
  hex?: string;
}

export function expectText(text: string): Expected {
  const buf = Buffer.from(text, 'utf8');
  const e: Expected = { type: 'text', length: buf.length, sha256: sha256(buf) };
  if (buf.length <= 4096) e.text = text;
  return e;
}

export function expectBinary(buf: Buffer): Expected {
  const e: Expected = { type: 'binary', length: buf.length, sha256: sha256(buf) };
  if (buf.length <= 4096) e.hex = buf.toString('hex');
  return e;
}

export function expectPattern(kind: 'text' | 'binary' | 'random', size: number): Expected {
  const data = pattern(kind, size);
  return typeof data === 'string' ? expectText(data) : expectBinary(data);
}

export function messages(events: Ev[]): Ev[] {
  return events.filter((e) => e.event === 'message');
}

/** Compares received messages with the expected ones (content, type and order). */
export function assertMessages(events: Ev[], expected: Expected[], who: string): void {
  const got = messages(events).map((m) => {
    const e: Expected = { type: m.type!, length: m.length!, sha256: m.sha256! };
    if (m.text !== undefined) e.text = m.text;
    if (m.hex !== undefined) e.hex = m.hex;
    return e;
  });
  assert.equal(got.length, expected.length, `${who}: number of messages received`);
  expected.forEach((exp, i) => assert.deepEqual(got[i], exp, `${who}: message #${i + 1}`));
}

export function only(events: Ev[], name: string, who: string): Ev {
  const found = events.filter((e) => e.event === name);
  assert.equal(found.length, 1, `${who}: expected exactly one '${name}' event, saw ${found.length}`);
  return found[0]!;
}

function assertClosed(events: Ev[], code: number, reason: string, who: string): void {
  const closed = only(events, 'closed', who);
  assert.deepEqual({ code: closed.code, reason: closed.reason }, { code, reason }, `${who}: close code and reason`);
}

function protocolOf(ev: Ev): string {
  return ev.subprotocol ?? '';
}

const bigOptions = {
  server: { maxPayload: BIG_LIMIT },
  client: { maxPayload: BIG_LIMIT },
  timeoutMs: 120_000,
};

// ---------------------------------------------------------------------------------------

const TEXTS = [
  'hello',
  'héllo wörld',
  '日本語のテキスト',
  'emoji 🚀👩‍💻 and a clef 𝄞',
  'Ελληνικά — кириллица — עברית — العربية',
  'tab\tnewline\nnul\u0000end',
  'x'.repeat(120) + '€€€', // 129 bytes: 16-bit length, multi-byte at the end
  '€'.repeat(30_000), // 90,000 bytes: 64-bit length
];

const BINARY_SIZES = [1, 2, 125, 126, 127, 1000, 65_535, 65_536, 65_537, 200_000];
const ALL_BYTES = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 167 + 13) & 0xff));

const CLOSE_CODES = [1000, 1001, 3000, 4999];
const closeReason = (code: number, by: string) => `bye ${code} from ${by} — ünïcødé ✓ 🚀`;

const ROCKETS = '🚀'.repeat(5);

const PING_FROM_CLIENT = hexOf('ping ✓ from the client');
const PING_125 = Buffer.from(Array.from({ length: 125 }, (_, i) => (i * 7 + 1) & 0xff)).toString('hex');
const PING_FROM_SERVER = hexOf('ping ✓ from the server');

export const SCENARIOS: Scenario[] = [
  {
    name: 'text messages, including multi-byte UTF-8',
    steps: TEXTS.flatMap((text): Step[] => [{ op: 'send', text }, { op: 'recv' }]),
    check: ({ client, server }) => {
      const exp = TEXTS.map(expectText);
      assertMessages(server, exp, 'server');
      assertMessages(client, exp, 'client');
    },
  },
  {
    name: 'binary messages at frame-length boundaries and with every byte value',
    steps: [
      ...BINARY_SIZES.flatMap((size): Step[] => [{ op: 'send_pattern', kind: 'binary', size }, { op: 'recv' }]),
      { op: 'send', hex: ALL_BYTES.toString('hex') },
      { op: 'recv' },
    ],
    check: ({ client, server }) => {
      const exp = [...BINARY_SIZES.map((s) => expectPattern('binary', s)), expectBinary(ALL_BYTES)];
      assertMessages(server, exp, 'server');
      assertMessages(client, exp, 'client');
    },
  },
  {
    name: 'empty text and empty binary messages',
    steps: [
      { op: 'send', text: '' },
      { op: 'recv' },
      { op: 'send', hex: '' },
      { op: 'recv' },
      { op: 'send', text: 'after the empty ones' },
      { op: 'recv' },
    ],
    check: ({ client, server }) => {
      const exp = [expectText(''), expectBinary(Buffer.alloc(0)), expectText('after the empty ones')];
      assertMessages(server, exp, 'server');
      assertMessages(client, exp, 'client');
    },
  },
  {
    name: '16 MiB binary message',
    ...bigOptions,
    steps: [{ op: 'send_pattern', kind: 'binary', size: BIG }, { op: 'recv' }],
    check: ({ client, server }) => {
      const exp = [expectPattern('binary', BIG)];
      assertMessages(server, exp, 'server');
      assertMessages(client, exp, 'client');
    },
  },
  {
    name: '16 MiB text message (multi-byte UTF-8)',
    ...bigOptions,
    steps: [{ op: 'send_pattern', kind: 'text', size: BIG }, { op: 'recv' }],
    check: ({ client, server }) => {
      const exp = [expectPattern('text', BIG)];
      assertMessages(server, exp, 'server');
      assertMessages(client, exp, 'client');
    },
  },
  {
    name: 'fragmented messages sent by the client (text, binary, UTF-8 split across frames)',
    steps: [
      { op: 'send_fragments', text: ['frag', 'mented ', 'tëxt 🚀'] },
      { op: 'recv' },
      { op: 'send_fragments', hex: ['00010203', 'fffefd', '', '8081'], binary: true },
      { op: 'recv' },
      // "price: €42" with the 3 bytes of "€" (e2 82 ac) in three different frames.
      { op: 'send_fragments', hex: [hexOf('price: ') + 'e2', '82', 'ac' + hexOf('42')], binary: false },
      { op: 'recv' },
      { op: 'send', text: 'unfragmented after fragments' },
      { op: 'recv' },
    ],
    check: ({ client, server }) => {
      const exp = [
        expectText('fragmented tëxt 🚀'),
        expectBinary(Buffer.from('00010203fffefd8081', 'hex')),
        expectText('price: €42'),
        expectText('unfragmented after fragments'),
      ];
      assertMessages(server, exp, 'server');
      assertMessages(client, exp, 'client');
    },
  },
  {
    name: 'fragmented messages sent by the server',
    server: { fragmentEcho: 4 },
    steps: [
      { op: 'send', text: 'fragmented echo — ünïcødé 🚀 𝄞 ✓' },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'binary', size: 1000 },
      { op: 'recv' },
      { op: 'send_pattern', kind: 'text', size: 3200 },
      { op: 'recv' },
      // 20 bytes in 4 frames of 5 bytes (Node servers split bytes): every frame boundary
      // falls inside a 4-byte character, and the last frame starts with a continuation byte.
      { op: 'send', text: ROCKETS },
      { op: 'recv' },
    ],
    check: ({ client, server }) => {
      const exp = [
        expectText('fragmented echo — ünïcødé 🚀 𝄞 ✓'),
        expectPattern('binary', 1000),
        expectPattern('text', 3200),
        expectText(ROCKETS),
      ];
      assertMessages(server, exp, 'server');
      assertMessages(client, exp, 'client');
    },
  },
  {
    name: 'ping from the client: the pong carries the same payload',
    steps: [
      { op: 'ping', hex: PING_FROM_CLIENT },
      { op: 'ping', hex: PING_125 },
      { op: 'send', text: 'still fine' },
      { op: 'recv' },
    ],
    check: ({ client, server }) => {
      const pongs = client.filter((e) => e.event === 'pong' || e.event === 'pong_timeout');
      assert.deepEqual(
        pongs,
        [
          { event: 'pong', hex: PING_FROM_CLIENT },
          { event: 'pong', hex: PING_125 },
        ],
        'client: pongs received for its pings',
      );
      const pings = server.filter((e) => e.event === 'ping').map((e) => e.hex);
      assert.deepEqual(pings, [PING_FROM_CLIENT, PING_125], 'server: ping payloads received');
      assertMessages(client, [expectText('still fine')], 'client');
    },
  },
  {
    name: 'ping from the server: the pong carries the same payload',
    server: { pingAfterFirst: PING_FROM_SERVER },
    steps: [
      { op: 'send', text: 'please ping me' },
      { op: 'wait_ping', hex: PING_FROM_SERVER },
      { op: 'send', text: 'echo after the ping' },
      { op: 'recv' },
    ],
    check: ({ client, server }) => {
      const pings = client.filter((e) => e.event === 'ping').map((e) => e.hex);
      assert.deepEqual(pings, [PING_FROM_SERVER], 'client: ping payloads received');
      const pongs = server.filter((e) => e.event === 'pong' || e.event === 'pong_timeout');
      assert.deepEqual(pongs, [{ event: 'pong', hex: PING_FROM_SERVER }], 'server: pong received for its ping');
      assertMessages(client, [expectText('echo after the ping')], 'client');
    },
  },
  {
    name: 'subprotocol negotiation (server ["chat","superchat"], client ["superchat","chat"])',
    server: { protocols: ['chat', 'superchat'] },
    client: { protocols: ['superchat', 'chat'] },
    steps: [{ op: 'send', text: 'hi' }, { op: 'recv' }],
    check: ({ client, server, serverKind }) => {
      const c = protocolOf(only(client, 'open', 'client'));
      const s = protocolOf(only(server, 'connection', 'server'));
      assert.equal(c, s, 'client and server agree on the subprotocol');
      assert.ok(['chat', 'superchat'].includes(c), `a protocol both support was selected (got "${c}")`);
      if (serverKind === 'ws13') assert.equal(s, 'chat', 'ws13 selects by server preference');
      assertMessages(client, [expectText('hi')], 'client');
    },
  },
  {
    // RFC 6455 lets the server answer without a subprotocol; a client may then go on
    // without one (Python does) or refuse the connection (`ws` does: "Server sent no
    // subprotocol"). Either is fine; the server must not pick a protocol nobody offered.
    name: 'no subprotocol in common: the server selects none',
    server: { protocols: ['chat', 'superchat'] },
    client: { protocols: ['other'] },
    clientMayRefuse: true,
    steps: [{ op: 'send', text: 'hi' }, { op: 'recv' }],
    check: ({ client, server }) => {
      assert.equal(protocolOf(only(server, 'connection', 'server')), '', 'server: no subprotocol selected');
      const open = client.find((e) => e.event === 'open');
      if (open) {
        assert.equal(protocolOf(open), '', 'client: no subprotocol');
        assert.deepEqual(client.filter((e) => e.event === 'error'), [], 'client: no errors once open');
        assertMessages(client, [expectText('hi')], 'client');
      } else {
        assert.ok(client.some((e) => e.event === 'error'), 'client: refused the connection with an error');
        assertMessages(server, [], 'server');
      }
    },
  },
  ...CLOSE_CODES.map(
    (code): Scenario => ({
      name: `close ${code} with a UTF-8 reason, initiated by the client`,
      steps: [
        { op: 'send', text: 'before closing' },
        { op: 'recv' },
        { op: 'close', code, reason: closeReason(code, 'client') },
      ],
      check: ({ client, server }) => {
        assertClosed(server, code, closeReason(code, 'client'), 'server');
        assertClosed(client, code, closeReason(code, 'client'), 'client');
      },
    }),
  ),
  ...CLOSE_CODES.map(
    (code): Scenario => ({
      name: `close ${code} with a UTF-8 reason, initiated by the server`,
      server: { closeAfterFirst: { code, reason: closeReason(code, 'server') } },
      steps: [{ op: 'send', text: 'close me' }, { op: 'wait_closed' }],
      check: ({ client, server }) => {
        assertClosed(client, code, closeReason(code, 'server'), 'client');
        assertClosed(server, code, closeReason(code, 'server'), 'server');
        assertMessages(client, [], 'client');
      },
    }),
  ),
  {
    name: '1,000 small messages (text and binary alternating) echoed in order',
    steps: [
      { op: 'send_many', count: 1000, prefix: 'm-' },
      { op: 'recv_many', count: 1000 },
    ],
    check: ({ client, server }) => {
      const expected = Array.from({ length: 1000 }, (_, i) => manyLabel(i, 'm-'));
      const many = only(client, 'many', 'client');
      assert.deepEqual(many.items, expected, 'client: echoes in order');
      const seen = messages(server).map((m) => (m.type === 'text' ? `t:${m.text}` : `b:${m.hex}`));
      assert.deepEqual(seen, expected, 'server: messages in order');
    },
  },
];

// ---------------------------------------------------------------------------------------

function brief(ev: Ev): string {
  const copy: Record<string, unknown> = { ...ev };
  for (const k of ['text', 'hex', 'sha256'] as const) {
    const v = copy[k];
    if (typeof v === 'string' && v.length > 60) copy[k] = `${v.slice(0, 60)}…(${v.length})`;
  }
  if (Array.isArray(copy.items)) copy.items = `[${(copy.items as unknown[]).length} items]`;
  return JSON.stringify(copy);
}

export function dump(label: string, events: Ev[]): string {
  const lines = events.slice(0, 40).map(brief);
  if (events.length > 40) lines.push(`… ${events.length - 40} more (last: ${brief(events[events.length - 1]!)})`);
  return `${label}:\n  ${lines.join('\n  ')}`;
}

/** Checks that hold for every scenario: a clean run and, on ws13's side, the documented API types. */
export function assertCommon(r: Result, sc: Scenario): void {
  if (!sc.clientMayRefuse) {
    const errors = r.client.filter((e) => e.event === 'error');
    assert.deepEqual(errors, [], 'client: no errors');
    assert.equal(r.client[0]?.event, 'open', 'client: first event is open');
  }
  assert.equal(r.client[r.client.length - 1]?.event, 'done', 'client: ran to the end');
  assert.deepEqual(
    r.server.filter((e) => e.event === 'error'),
    [],
    'server: no errors',
  );
  only(r.server, 'connection', 'server');
  for (const [events, kind, who] of [
    [r.client, r.clientKind, 'ws13 client'],
    [r.server, r.serverKind, 'ws13 server'],
  ] as const) {
    if (kind !== 'ws13') continue;
    for (const m of messages(events)) {
      // docs/API.md: text arrives as string; binary as a Buffer (binaryType 'nodebuffer').
      assert.equal(m.raw, m.type === 'text' ? 'string' : 'buffer', `${who}: JS type of a ${m.type} message`);
    }
  }
}

/** Runs one scenario between a server of serverKind and a client of clientKind. */
export async function runScenario(serverKind: Kind, clientKind: Kind, sc: Scenario): Promise<void> {
  const server = await startEchoServer(serverKind, sc.server ?? {});
  let r: Result | undefined;
  let clientStderr = '';
  try {
    const run = await runClient(clientKind, `${server.url}/interop`, sc.client ?? {}, sc.steps);
    clientStderr = run.stderr;
    // The server's view is complete once it has seen the connection close.
    await server.log.waitFor((e) => e.event === 'closed', 'the server to see the connection close', 10_000).catch(
      (err: unknown) => server.log.push({ event: 'error', message: String(err) }),
    );
    r = { client: run.events, server: [...server.log.events], clientKind, serverKind };
    assertCommon(r, sc);
    sc.check(r);
  } catch (err) {
    if (err instanceof Error) {
      const extra = [`\n--- ${serverKind} server <-> ${clientKind} client: ${sc.name}`];
      if (r) extra.push(dump(`${clientKind} client events`, r.client), dump(`${serverKind} server events`, r.server));
      if (clientStderr) extra.push(`client stderr:\n${clientStderr.slice(-3000)}`);
      if (server.stderr()) extra.push(`server stderr:\n${server.stderr().slice(-3000)}`);
      err.message += extra.join('\n');
    }
    throw err;
  } finally {
    await server.close();
  }
}

/** Registers one node:test test per scenario for the pair. */
export function registerPair(serverKind: Kind, clientKind: Kind): void {
  const needs = peersFor(serverKind, clientKind);
  for (const sc of SCENARIOS) {
    peerTest(needs, `${serverKind} server <-> ${clientKind} client: ${sc.name}`, { timeout: sc.timeoutMs ?? 60_000 }, () =>
      runScenario(serverKind, clientKind, sc),
    );
  }
}

/** The Debian peers a pair needs: Python `websockets` when one side is Python. */
export function peersFor(serverKind: Kind, clientKind: Kind): Peer[] {
  return serverKind === 'python' || clientKind === 'python' ? ['python'] : [];
}
