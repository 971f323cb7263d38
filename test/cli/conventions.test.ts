// Conventions of every command: --help, documented exit codes, colours only on a TTY and
// never with NO_COLOR (FORCE_COLOR=1 stands in for a TTY in a subprocess).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ESC, cleanup, rawServer, run, serve } from './helpers.js';
import { peerTest } from '../support/peers-available.js';

const T = { timeout: 90_000 }; // generous: each test starts several processes on a shared, loaded machine
after(cleanup);

test('--help on every command exits 0 and documents the exit codes', T, async () => {
  for (const cmd of ['serve', 'connect', 'doctor', 'accept', 'key']) {
    for (const flag of ['--help', '-h']) {
      const r = await run([cmd, flag]);
      assert.equal(r.code, 0, `${cmd} ${flag}`);
      assert.match(r.stdout, new RegExp(`^Usage: ws13 ${cmd}`));
      assert.match(r.stdout, /Exit codes/);
      assert.equal(r.stderr, '');
    }
  }
  const connect = await run(['connect', '--help']);
  assert.match(connect.stdout, /0 {2}the connection closed cleanly/);
  assert.match(connect.stdout, /3 {2}the connection closed abnormally/);
  const top = await run(['--help']);
  assert.match(top.stdout, /doctor URL/);
  assert.match(top.stdout, /connect URL/);
});

test('accept and key keep their behaviour', T, async () => {
  const r = await run(['accept', 'dGhlIHNhbXBsZSBub25jZQ==']);
  assert.equal(r.stdout, 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n');
  assert.equal((await run(['accept'])).code, 2);
  assert.equal((await run(['key', 'extra'])).code, 2);
  const k = await run(['key']);
  assert.match(k.stdout, /^[A-Za-z0-9+/]{22}==\n$/);
});

test('no colour in a pipe, with or without NO_COLOR; FORCE_COLOR colours, NO_COLOR wins', T, async () => {
  const { url } = await serve([]);
  const port = await rawServer((_h, _k, s) => s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
  const bad = `ws://127.0.0.1:${port}/`;
  const cases: Array<[string[], string | undefined]> = [
    [['doctor', url], undefined],
    [['doctor', bad], undefined],
    [['connect', url, '-v'], 'hi\n'],
  ];
  for (const [args, input] of cases) {
    const opt = input === undefined ? {} : { input };
    // connect's notes and -v lines go to stderr (stdout holds the messages alone).
    const text = (r: { stdout: string; stderr: string }): string => r.stdout + r.stderr;
    const plain = await run(args, opt);
    assert.ok(!text(plain).includes(ESC), `no colour: ${args.join(' ')}`);
    const noColor = await run(args, { ...opt, env: { NO_COLOR: '1' } });
    assert.ok(!text(noColor).includes(ESC), `NO_COLOR: ${args.join(' ')}`);
    const forced = await run(args, { ...opt, env: { FORCE_COLOR: '1' } });
    assert.ok(text(forced).includes(ESC), `FORCE_COLOR: ${args.join(' ')}`);
    const both = await run(args, { ...opt, env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    assert.ok(!text(both).includes(ESC), `NO_COLOR beats FORCE_COLOR: ${args.join(' ')}`);
    assert.equal(both.code, plain.code);
  }
});

test('unknown command and unknown option exit 2 with nothing on stdout', T, async () => {
  const bad = await run(['frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command: frobnicate/);
  assert.equal(bad.stdout, '');
  for (const cmd of ['serve', 'connect', 'doctor']) {
    const r = await run([cmd, '--no-such-option']);
    assert.equal(r.code, 2, cmd);
    assert.equal(r.stdout, '');
  }
});

peerTest(['script'], 'on a real terminal (script(1) gives a pty): colours, unless NO_COLOR is set', T, async () => {
  const { execFile } = await import('node:child_process');
  const { CLI } = await import('./helpers.js');
  const inPty = (env: Record<string, string>): Promise<string | undefined> =>
    new Promise((resolve) => {
      const base = { ...process.env };
      delete base['NO_COLOR'];
      delete base['FORCE_COLOR'];
      execFile('script', ['-qec', `"${process.execPath}" "${CLI}" doctor ws://127.0.0.1:1/`, '/dev/null'], { env: { ...base, ...env }, timeout: 8000 }, (err, stdout) =>
        resolve(err && !stdout ? undefined : stdout),
      );
    });
  const tty = await inPty({});
  assert.ok(tty !== undefined && tty.includes(ESC), tty ?? 'script(1) printed nothing');
  const noColor = await inPty({ NO_COLOR: '1' });
  assert.ok(noColor !== undefined && !noColor.includes(ESC) && noColor.includes('Verdict'), noColor);
});

peerTest(['script'], 'connect on a terminal marks received messages with "< "; in a pipe, messages alone', T, async () => {
  const { execFile } = await import('node:child_process');
  const { CLI } = await import('./helpers.js');
  const { url } = await serve([]);
  const tty = await new Promise<string>((resolve) =>
    execFile('script', ['-qec', `"${process.execPath}" "${CLI}" connect ${url} -q -x marked -w 0.3`, '/dev/null'], { env: { ...process.env, NO_COLOR: '1' }, timeout: 8000 }, (_e, stdout) => resolve(stdout)),
  );
  assert.match(tty, /^< marked\r?$/m);
  const piped = await run(['connect', url, '-q', '-x', 'marked', '-w', '0.3']);
  assert.equal(piped.stdout, 'marked\n');
});
