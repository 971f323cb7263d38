// src/node/internals.ts: the Node internals ws13 uses for speed, each with a public-API
// fallback (STYLE.md item 21). The checks of internals-checks.ts run in two child processes,
// one with the internals and one with WS13_NO_INTERNALS=1, over real sockets on 127.0.0.1:
// the same replies, the extension still negotiated, one warning per internal that fell back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { INTERNAL_NAMES } from '../../src/node/internals.js';
import { checkAdapter, checkAfterFinalBlock, type EchoReport } from './internals-checks.js';

const checks = fileURLToPath(new URL('./internals-checks.js', import.meta.url));
const internalsModule = fileURLToPath(new URL('../../src/node/internals.js', import.meta.url));
const T = { timeout: 120_000 };
const PRINT_INTERNALS = `import { internals } from ${JSON.stringify(internalsModule)}; process.stdout.write(JSON.stringify(internals));`;

interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `script` (an ES module body) in a fresh node with `env` added. */
function node(script: string, env: Record<string, string>): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, WS13_NO_INTERNALS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface ChildReport {
  internals: Record<string, boolean>;
  adapter: string[];
  afterFinalBlock: string[];
  echo: EchoReport[];
}

const CHILD = `
import { internals } from ${JSON.stringify(internalsModule)};
import { checkAdapter, checkAfterFinalBlock, runEcho } from ${JSON.stringify(checks)};
const report = { internals, adapter: checkAdapter(), afterFinalBlock: checkAfterFinalBlock(), echo: await runEcho() };
process.stdout.write(JSON.stringify(report));
`;

/** The internal names the WS13_INTERNALS warnings on `stderr` name, with their counts. */
function warnings(stderr: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of stderr.matchAll(/\[WS13_INTERNALS\] Warning: ws13: internal '(\w+)'/g)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  return counts;
}

function parse(run: ChildRun): ChildReport {
  assert.equal(run.code, 0, `child failed:\n${run.stderr}`);
  return JSON.parse(run.stdout) as ChildReport;
}

test('adapter functions agree with their public counterparts (in this process: internals unless WS13_NO_INTERNALS)', () => {
  // The same checks run through every fallback in the echo test's WS13_NO_INTERNALS=1 child.
  assert.deepEqual(checkAdapter(), []);
});

test('regression: messages after a BFINAL message inflated to nothing (context takeover)', () => {
  assert.deepEqual(checkAfterFinalBlock(), []);
});

test('permessage-deflate echo: identical with WS13_NO_INTERNALS=1, still negotiated, one warning per fallback', T, async () => {
  const [fast, slow] = await Promise.all([node(CHILD, {}), node(CHILD, { WS13_NO_INTERNALS: '1' })]);
  const a = parse(fast);
  const b = parse(slow);

  assert.deepEqual(Object.values(b.internals), INTERNAL_NAMES.map(() => false), 'WS13_NO_INTERNALS=1 turns every internal off');

  // Exactly one warning per internal that fell back: none on Node 20 to 24 with internals, one each without.
  const fastWarnings = warnings(fast.stderr);
  const missingHere = INTERNAL_NAMES.filter((n) => !a.internals[n]);
  assert.deepEqual([...fastWarnings.keys()].sort(), [...missingHere].sort(), fast.stderr);
  assert.ok([...fastWarnings.values()].every((n) => n === 1), fast.stderr);
  assert.deepEqual(Object.fromEntries(warnings(slow.stderr)), Object.fromEntries(INTERNAL_NAMES.map((n) => [n, 1])), slow.stderr);
  assert.equal(slow.stderr.match(/WS13_INTERNALS/g)?.length, INTERNAL_NAMES.length, slow.stderr);

  // The adapter and the codec, fallback paths included.
  assert.deepEqual(a.adapter, []);
  assert.deepEqual(b.adapter, []);
  assert.deepEqual(a.afterFinalBlock, []);
  assert.deepEqual(b.afterFinalBlock, []);

  // The echo: every reply equal to what was sent, in both runs, with compression in use.
  assert.equal(a.echo.length, b.echo.length);
  for (const [i, ra] of a.echo.entries()) {
    const rb = b.echo[i]!;
    assert.equal(rb.name, ra.name);
    for (const r of [ra, rb]) {
      assert.deepEqual(r.mismatches, [], r.name);
      assert.match(r.clientExtensions, /^permessage-deflate\b/, `${r.name}: client`);
      assert.match(r.serverExtensions, /^permessage-deflate\b/, `${r.name}: server`);
      // Most of the payload is repetitive text: compressed, the server writes far less.
      assert.ok(r.wireBytes < r.payloadBytes * 0.75, `${r.name}: ${r.wireBytes} bytes written for ${r.payloadBytes} of messages`);
    }
    assert.deepEqual(rb.replies, ra.replies, ra.name);
    assert.equal(rb.clientExtensions, ra.clientExtensions, ra.name);
    assert.equal(rb.serverExtensions, ra.serverExtensions, ra.name);
  }
});

test('WS13_NO_INTERNALS takes a list of names: only those fall back, one warning each', T, async () => {
  const [run, all] = await Promise.all([node(PRINT_INTERNALS, { WS13_NO_INTERNALS: 'zlib, latin1Slice' }), node(PRINT_INTERNALS, {})]);
  assert.equal(run.code, 0, run.stderr);
  const seen = JSON.parse(run.stdout) as Record<string, boolean>;
  const real = JSON.parse(all.stdout) as Record<string, boolean>;
  const off = INTERNAL_NAMES.filter((n) => !seen[n]);
  assert.deepEqual(seen, { ...real, zlib: false, latin1Slice: false });
  assert.deepEqual(Object.fromEntries(warnings(run.stderr)), Object.fromEntries(off.map((n) => [n, 1])), run.stderr);
});

test('a zlib handle that is there but misbehaves is not used: the round trip catches it, one warning', T, async () => {
  // Before ws13 loads: zlib handles that corrupt their output from their second write on,
  // which one-shot public calls on small inputs never make and a stream kept between
  // messages does. (Buffer's internals cannot be broken so: on Node 20 its public methods
  // call them; the forced fallbacks above cover those paths.)
  const all = node(PRINT_INTERNALS, {});
  const run = await node(
    `
import zlib from 'node:zlib';
const handle = Object.getPrototypeOf(zlib.createDeflateRaw()._handle);
const writeSync = handle.writeSync;
const writes = new WeakMap();
handle.writeSync = function (flush, input, inOff, inLen, out, outOff, outLen) {
  writeSync.call(this, flush, input, inOff, inLen, out, outOff, outLen);
  const n = (writes.get(this) ?? 0) + 1;
  writes.set(this, n);
  if (n > 1) out[outOff] ^= 1;
};
const { internals, createSyncDeflate, createSyncInflate, Z_SYNC_FLUSH } = await import(${JSON.stringify(internalsModule)});
const text = 'ws13 ws13 ws13';
const d = createSyncDeflate({ windowBits: 15, level: 1, memLevel: 8 });
const i = createSyncInflate(15);
const round = [0, 1].map(() => Buffer.concat(i.end([Buffer.concat(d.write(Buffer.from(text), Z_SYNC_FLUSH))], 100)).toString());
process.stdout.write(JSON.stringify({ internals, round }));
`,
    {},
  );
  assert.equal(run.code, 0, run.stderr);
  const seen = JSON.parse(run.stdout) as { internals: Record<string, boolean>; round: string[] };
  assert.deepEqual(seen.internals, { ...(JSON.parse((await all).stdout) as Record<string, boolean>), zlib: false });
  // Two messages on one compressor and one decompressor, through the fallback.
  assert.deepEqual(seen.round, ['ws13 ws13 ws13', 'ws13 ws13 ws13']);
  const off = INTERNAL_NAMES.filter((n) => !seen.internals[n]);
  assert.deepEqual(Object.fromEntries(warnings(run.stderr)), Object.fromEntries(off.map((n) => [n, 1])), run.stderr);
  assert.match(run.stderr, /internal 'zlib' \(.*\) missing or not as expected on Node v/);
});
