// Soak: a real WebSocketServer (soak-server.ts, its own process, --expose-gc) on 127.0.0.1
// and real clients, ws13's WebSocket and `ws` from npm, churning for ~5 s (60 s with
// FUZZ_LONG=1 or CI=true): connect, exchange mixed traffic (text and binary, 0–64 KiB, some
// fragmented, pings, with and without permessage-deflate), close cleanly or terminate
// abruptly (some mid-traffic), reconnect. Every echo and every pong is checked. At the end
// the server holds no connection, and after warm-up its JS heap and RSS grew by less than
// HEAP_BOUND and RSS_BOUND.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WsClient from 'ws';
import { WebSocket } from '../../src/node/index.js';
import { LONG, Rng, replayable, seedOf } from './rng.js';

const DURATION = LONG ? 60_000 : 5_000;
const WARM_UP = LONG ? 10_000 : 1_500;
/** Concurrent client loops. */
const WORKERS = 6;
/**
 * Largest growth of the server's RSS between the end of the warm-up and the end, after
 * garbage collection. Measured in 60 s runs: RSS levels off, then may step up once by ~18 MB
 * (a native high-water mark: zlib's buffers on libuv's threads, in glibc arenas) while the JS
 * heap stays within 1 MB; growths of 19–28 MB were seen. A leak of one connection's state per
 * session (thousands of sessions) climbs past this.
 */
const RSS_BOUND = 48 * 1024 * 1024;
/** Largest growth of the server's JS heap: the leak detector that allocator slack cannot move. */
const HEAP_BOUND = 8 * 1024 * 1024;

interface Measure {
  rss: number;
  heapUsed: number;
  external: number;
  clients: number;
  errors: number;
  gc: boolean;
}

function request<T>(child: ChildProcess, cmd: string, key: keyof T): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: T): void => {
      if (m && typeof m === 'object' && key in m) {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
    child.send({ cmd });
  });
}

/** One message to send: its bytes (as echoed back), its kind, and how it is cut. */
interface Outgoing {
  data: Buffer;
  text: boolean;
  /** Fragments, in order: a text message is cut between characters. */
  parts: Array<string | Buffer>;
}

function message(rng: Rng): Outgoing {
  const k = rng.int(100);
  const n = k < 40 ? rng.int(126) : k < 75 ? rng.range(126, 4096) : k < 95 ? rng.range(4096, 32_768) : rng.range(32_768, 65_536);
  const text = rng.chance(0.5);
  let data: Buffer;
  if (text) {
    // Mostly ASCII, some multi-byte characters; compressible sometimes.
    const alphabet = rng.chance(0.5) ? 'abc de' : 'the quick brown fox é€😀 0123456789';
    const chars = [...alphabet];
    const out: string[] = [];
    for (let len = 0; len < n; ) {
      const c = chars[rng.int(chars.length)]!;
      out.push(c);
      len += Buffer.byteLength(c);
    }
    data = Buffer.from(out.join(''));
  } else {
    data = rng.chance(0.5) ? Buffer.from(rng.bytes(n)) : Buffer.alloc(n, rng.u32() & 0xff);
  }
  const count = rng.chance(0.2) ? rng.range(2, 4) : 1;
  const parts: Array<string | Buffer> = [];
  if (text) {
    const s = data.toString();
    const chars = [...s];
    const cuts = Array.from({ length: count - 1 }, () => rng.int(chars.length + 1)).sort((a, b) => a - b);
    let prev = 0;
    for (const c of [...cuts, chars.length]) {
      parts.push(chars.slice(prev, c).join(''));
      prev = c;
    }
  } else {
    const cuts = Array.from({ length: count - 1 }, () => rng.int(n + 1)).sort((a, b) => a - b);
    let prev = 0;
    for (const c of [...cuts, n]) {
      parts.push(data.subarray(prev, c));
      prev = c;
    }
  }
  return { data, text, parts };
}

/** What a client does, whichever library it is. */
interface Client {
  send(part: string | Buffer, text: boolean, fin: boolean): void;
  ping(payload: Buffer): void;
  close(): void;
  terminate(): void;
}

interface Tally {
  sessions: Record<string, number>;
  echoes: number;
  pongs: number;
  bytes: number;
}

/** One connection's life: traffic, checks, then a clean close or a termination. */
async function session(rng: Rng, port: number, tally: Tally): Promise<void> {
  const lib = rng.chance(0.5) ? 'ws13' : 'ws';
  const deflate = rng.chance(0.4);
  const url = `ws://127.0.0.1:${port}/`;
  const expected: Outgoing[] = [];
  const pings: Buffer[] = [];
  let failure: Error | undefined;
  let closed!: (v: { code: number }) => void;
  const closedP = new Promise<{ code: number }>((r) => (closed = r));
  let drained: (() => void) | undefined;
  const check = (ok: boolean, what: string): void => {
    if (!ok && !failure) failure = new Error(`${lib}${deflate ? '+deflate' : ''}: ${what}`);
  };
  const onMessage = (data: Buffer, isBinary: boolean): void => {
    const want = expected.shift();
    check(want !== undefined, 'an echo nobody sent');
    if (!want) return;
    check(isBinary === !want.text, `echo type: binary ${isBinary}, sent text ${want.text}`);
    check(data.equals(want.data), `echo of ${want.data.length} bytes came back as ${data.length} different bytes`);
    tally.echoes++;
    tally.bytes += data.length;
    if (expected.length === 0) drained?.();
  };
  const onPong = (payload: Buffer): void => {
    const want = pings.shift();
    check(want !== undefined && payload.equals(want), 'a pong that answers no ping');
    tally.pongs++;
  };
  let client: Client;
  if (lib === 'ws13') {
    const ws = await WebSocket.connect(url, { perMessageDeflate: deflate ? { threshold: rng.pick([0, 64, 1024]) } : false });
    ws.on('message', (data, isBinary) => onMessage(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data as Buffer), isBinary));
    ws.on('pong', onPong);
    ws.on('error', () => {});
    ws.on('close', (code) => closed({ code }));
    client = {
      send: (part, text, fin) => ws.send(part, { binary: !text, fin }),
      ping: (p) => ws.ping(p),
      close: () => ws.close(1000, 'done'),
      terminate: () => ws.terminate(),
    };
  } else {
    const ws = new WsClient(url, { perMessageDeflate: deflate });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => onMessage(data, isBinary));
    ws.on('pong', onPong);
    ws.on('error', () => {});
    ws.on('close', (code: number) => closed({ code }));
    client = {
      send: (part, text, fin) => ws.send(part, { binary: !text, fin }),
      ping: (p) => ws.ping(p),
      close: () => ws.close(1000, 'done'),
      terminate: () => ws.terminate(),
    };
  }
  const key = `${lib}${deflate ? '+deflate' : ''}`;
  tally.sessions[key] = (tally.sessions[key] ?? 0) + 1;
  const ending = rng.int(10);
  const count = rng.range(1, 25);
  const cutAt = ending === 9 ? rng.int(count) : -1;
  for (let i = 0; i < count; i++) {
    if (i === cutAt) {
      // Abruptly, mid-traffic, with echoes still on their way.
      client.terminate();
      await closedP;
      return;
    }
    const m = message(rng);
    expected.push(m);
    m.parts.forEach((part, k) => {
      client.send(part, m.text, k === m.parts.length - 1);
      // A ping between fragments (RFC 6455 §5.4: control frames may be interleaved).
      if (rng.chance(0.1)) {
        const p = Buffer.from(rng.bytes(rng.int(126)));
        pings.push(p);
        client.ping(p);
      }
    });
    if (rng.chance(0.3)) await new Promise((r) => setImmediate(r));
  }
  // Every echo, then the ending.
  if (expected.length > 0) {
    await Promise.race([
      new Promise<void>((r) => (drained = r)),
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`${key}: ${expected.length} echoes missing after 10 s`)), 10_000).unref()),
    ]);
  }
  if (ending < 7) {
    client.close();
    const { code } = await closedP;
    check(code === 1000, `closed with ${code}, not 1000`);
    check(pings.length === 0, `${pings.length} pings unanswered`);
  } else {
    client.terminate();
    await closedP;
  }
  if (failure) throw failure;
}

test(`soak: ${DURATION / 1000} s of churning clients, every echo checked, server RSS flat`, { timeout: DURATION + 60_000 }, async () => {
  const child = fork(fileURLToPath(new URL('./soak-server.js', import.meta.url)), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { port } = await request<{ port: number }>(child, 'none', 'port');
    const tally: Tally = { sessions: {}, echoes: 0, pongs: 0, bytes: 0 };
    const start = Date.now();
    let baseline: Measure | undefined;
    let iteration = 0;
    const worker = async (): Promise<void> => {
      while (Date.now() - start < DURATION) {
        const i = iteration++;
        try {
          await session(new Rng(seedOf('soak', i)), port, tally);
        } catch (err) {
          throw replayable(err, 'soak (sessions interleave: replay approximates)', i);
        }
      }
    };
    /** RSS in MB every tenth of the run after warm-up, for the log (a leak climbs, slack levels off). */
    const series: string[] = [];
    const measureAfterWarmUp = (async () => {
      await new Promise((r) => setTimeout(r, WARM_UP));
      baseline = await request<Measure>(child, 'measure', 'rss');
      while (Date.now() - start < DURATION - DURATION / 10) {
        await new Promise((r) => setTimeout(r, DURATION / 10));
        series.push(((await request<Measure>(child, 'measure', 'rss')).rss / 1024 / 1024).toFixed(0));
      }
    })();
    await Promise.all([...Array.from({ length: WORKERS }, worker), measureAfterWarmUp]);
    // Every connection is gone from the server once the clients are (a terminated one
    // when its TCP close arrives).
    let end = await request<Measure>(child, 'measure', 'rss');
    for (let k = 0; k < 50 && end.clients > 0; k++) {
      await new Promise((r) => setTimeout(r, 100));
      end = await request<Measure>(child, 'measure', 'rss');
    }
    const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
    console.log(
      `soak: ${iteration} sessions ${JSON.stringify(tally.sessions)}, ${tally.echoes} echoes (${mb(tally.bytes)} MB), ${tally.pongs} pongs; ` +
        `server after warm-up / at the end: RSS ${mb(baseline!.rss)} / ${mb(end.rss)} MB, JS heap ${mb(baseline!.heapUsed)} / ${mb(end.heapUsed)} MB, ` +
        `external ${mb(baseline!.external)} / ${mb(end.external)} MB (gc: ${end.gc}); RSS along the way ${series.join(', ')} MB`,
    );
    assert.equal(end.clients, 0, 'connections left on the server');
    assert.ok(end.heapUsed - baseline!.heapUsed < HEAP_BOUND, `server JS heap grew ${mb(end.heapUsed - baseline!.heapUsed)} MB`);
    assert.ok(end.rss - baseline!.rss < RSS_BOUND, `server RSS grew ${mb(end.rss - baseline!.rss)} MB`);
    // Every kind of client took part.
    for (const k of ['ws13', 'ws13+deflate', 'ws', 'ws+deflate']) assert.ok((tally.sessions[k] ?? 0) > 0, `no ${k} session`);
    assert.ok(tally.echoes > 100, `${tally.echoes} echoes`);
  } finally {
    child.send({ cmd: 'stop' });
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
});
