#!/usr/bin/env node
// Runs the compiled tests (dist/test/**/*.test.js, nothing else: helper modules are not
// tests) with node:test, on the Node that runs this script, then prints one notice of the
// real peers that were missing (their tests were skipped, or failed under CI=true).
//
//   node scripts/test.mjs [node --test options…] [path fragments…]
//
// Options (arguments starting with "-") go to `node --test`, e.g. --test-name-pattern=wss;
// other arguments keep only the test files whose path contains one of them, e.g. interop/.
// `npm test` compiles first; this script does not (run `npx tsc -p tsconfig.json` after a change).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = path.join(root, 'dist', 'test');

if (!existsSync(testDir)) {
  console.error(`${testDir} does not exist: compile first (npx tsc -p tsconfig.json), or run npm test`);
  process.exit(2);
}

const args = process.argv.slice(2);
const options = args.filter((a) => a.startsWith('-'));
const fragments = args.filter((a) => !a.startsWith('-'));

const files = readdirSync(testDir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.test.js'))
  .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)))
  .filter((f) => fragments.length === 0 || fragments.some((frag) => f.includes(frag)))
  .sort();

if (files.length === 0) {
  console.error(`no test file under dist/test/ matches ${fragments.join(' ') || '*.test.js'}`);
  process.exit(2);
}

const child = spawn(process.execPath, ['--test', '--test-concurrency=2', ...options, ...files], {
  cwd: root,
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));

const code = await new Promise((resolve) =>
  child.on('exit', (status, signal) => resolve(status ?? 128 + (os.constants.signals[signal] ?? 0))),
);

// The notice: the same detection the tests used (peers-available.js), asked again here.
const peers = await import(pathToFileURL(path.join(testDir, 'support', 'peers-available.js')).href);
const missing = Object.keys(peers.PEERS).filter((p) => peers.PEERS[p].usedBy.length > 0 && !peers.peerAvailable(p));
if (missing.length > 0) {
  const lines = missing.map((p) => `  ${peers.PEERS[p].what}: ${peers.PEERS[p].usedBy.join('; ')}`);
  const verdict = peers.inCi()
    ? 'CI=true: the tests that need them FAILED (nothing may skip in CI).'
    : 'The tests that need them were skipped (with CI=true they fail instead).';
  console.log(
    ['', `Missing real peers. ${verdict}`, ...lines, `Install them (Debian): ${peers.installLine(missing)}`, ''].join('\n'),
  );
}
process.exit(code);
