// `ws13 serve …` as a child process for the tests that run it behind something (a cluster,
// nginx): its output collected, waited on until it has printed `listening on` n times.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const children = new Set<ChildProcess>();

/** SIGKILLs every `ws13 serve` still running (for an `after` hook). */
export function killServes(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `pred()` holds; rejects after `ms` naming `what`. */
export async function until(pred: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(10);
  }
}

export interface Served {
  child: ChildProcess;
  /** Its exit code, once it exits. */
  exited: Promise<number | null>;
  /** Everything it printed (stdout and stderr) so far. */
  out(): string;
  /** How often `re` occurs in the output. */
  count(re: RegExp): number;
}

/** Runs `ws13 serve args…` until it (or its `listening` workers) print `listening on`. */
export async function serve(args: string[], listening = 1): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const s: Served = { child, exited, out: () => out, count: (re) => out.match(new RegExp(re, 'g'))?.length ?? 0 };
  await until(() => s.count(/listening on/) >= listening || child.exitCode !== null, 30_000, () => `${listening} × 'listening on':\n${out}`);
  assert.equal(child.exitCode, null, out);
  return s;
}

/**
 * Publishes are at most once: a subscription still on its way to the primary (or Redis)
 * misses what is published meanwhile. Sends `probe` from `send` every 100 ms until every
 * receiver has one, then clears the receivers' `got`, so the test starts with every
 * subscription in place.
 */
export async function warmUp(send: (probe: string) => void, receivers: Array<{ got: unknown[] }>, ms = 10_000): Promise<void> {
  const timer = setInterval(() => send('probe'), 100);
  send('probe');
  try {
    await until(() => receivers.every((r) => r.got.includes('probe')), ms, 'a probe on every receiver (subscriptions in place)');
  } finally {
    clearInterval(timer);
  }
  await sleep(300); // the last probes arrive
  for (const r of receivers) r.got.length = 0;
}
