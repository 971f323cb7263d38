// The real peers some tests run, from Debian: which are on this machine, found once per
// process and quickly, so that a test needing a missing one skips at once instead of timing
// out. With CI=true nothing may skip: such a test fails, naming the package to install.
//
// The detection prints and writes nothing; scripts/test.mjs asks it again after the run and
// prints the one notice of what was missing.
//
// Test aid: WS13_PRETEND_MISSING=python,chromium (names from PEERS, or `all`) makes those
// peers count as missing, to try the skip and CI paths on a machine that has them.
// Nothing else reads this variable.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { test, type TestContext, type TestOptions } from 'node:test';

export interface PeerSpec {
  /** What the tests use, for messages. */
  readonly what: string;
  /** The Debian packages that bring it. */
  readonly packages: readonly string[];
  /** The tests that need it; empty while none does yet (the end notice leaves those out). */
  readonly usedBy: readonly string[];
  /** True when it is there and works; synchronous and quick (under a second). */
  readonly detect: () => boolean;
}

/** True when `command args…` starts and exits 0 within `timeout` ms. */
function runs(command: string, args: readonly string[], timeout = 5_000): boolean {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout });
  return r.error === undefined && r.status === 0;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute paths of the Debian binaries, for the tests that start them. */
export const PYTHON = '/usr/bin/python3';
export const CHROMIUM = '/usr/bin/chromium';
export const REDIS_SERVER = '/usr/bin/redis-server';
export const REDIS_CLI = '/usr/bin/redis-cli';
export const NGINX = '/usr/sbin/nginx';
export const NGHTTPX = '/usr/sbin/nghttpx';
export const LIGHTTPD = '/usr/sbin/lighttpd';
export const TINYPROXY = '/usr/bin/tinyproxy';

export const PEERS = {
  python: {
    what: `Python websockets (${PYTHON} -c 'import websockets')`,
    packages: ['python3-websockets'],
    usedBy: ['test/interop/ (every pair with a python peer)', 'test/node/http2/nghttpx.test.ts'],
    detect: () => runs(PYTHON, ['-c', 'import websockets']),
  },
  chromium: {
    what: `Chromium (${CHROMIUM})`,
    packages: ['chromium'],
    usedBy: ['test/e2e/demo.test.ts', 'test/e2e/http2-chromium.test.ts', 'test/browser/ (WebSocket and WebSocketStream against Chromium\'s own)'],
    detect: () => executable(CHROMIUM),
  },
  clang: {
    what: 'clang-14 and wasm-ld-14',
    packages: ['clang-14', 'lld-14'],
    usedBy: ['test/protocol/deflate-encoder.test.ts (the embedded module matches its C source)'],
    detect: () => runs('clang-14', ['--version']) && runs('wasm-ld-14', ['--version']),
  },
  openssl: {
    what: 'the openssl command',
    packages: ['openssl'],
    usedBy: ['test/node/server.test.ts, test/cli/ (self-signed certificates for wss://)', 'test/node/http2/ (TLS with ALPN h2)'],
    detect: () => runs('openssl', ['version']),
  },
  script: {
    what: 'script(1), for a pseudo-terminal',
    packages: ['bsdutils'],
    usedBy: ['test/cli/conventions.test.ts (colours on a terminal)'],
    detect: () => runs('script', ['--version']),
  },
  redis: {
    what: `Redis (${REDIS_SERVER})`,
    packages: ['redis-server'],
    usedBy: [
      'test/redis/broker.test.ts (ws13/redis across servers, Redis killed and restarted)',
      'test/cluster/serve.test.ts, test/e2e/nginx.test.ts (ws13 serve --redis)',
      'test/redis/cluster.test.ts (sharded pub/sub on a Redis Cluster)',
    ],
    // redis-cli (redis-tools, which redis-server depends on) joins the nodes of a Redis Cluster.
    detect: () => runs(REDIS_SERVER, ['--version']) && runs(REDIS_CLI, ['--version']),
  },
  nginx: {
    what: `nginx (${NGINX})`,
    packages: ['nginx'],
    usedBy: ['test/e2e/nginx.test.ts (ws13 behind a reverse proxy)'],
    detect: () => runs(NGINX, ['-v']),
  },
  nghttpx: {
    what: `nghttpx (${NGHTTPX}), an HTTP/2 proxy that maps WebSocket upgrades to RFC 8441 and back`,
    packages: ['nghttp2-proxy'],
    usedBy: ['test/node/http2/nghttpx.test.ts', 'test/node/http2/doctor.test.ts'],
    detect: () => runs(NGHTTPX, ['--version']),
  },
  lighttpd: {
    what: `lighttpd (${LIGHTTPD}), an RFC 8441 server in front of an HTTP/1.1 WebSocket backend`,
    packages: ['lighttpd'],
    usedBy: ['test/node/http2/lighttpd.test.ts'],
    detect: () => runs(LIGHTTPD, ['-v']),
  },
  tinyproxy: {
    what: `tinyproxy (${TINYPROXY})`,
    packages: ['tinyproxy'],
    usedBy: ['test/node/dial-proxy.test.ts, test/cli/dial.test.ts (CONNECT tunnels through a real proxy)'],
    detect: () => runs(TINYPROXY, ['-v']),
  },
} as const satisfies Record<string, PeerSpec>;

export type Peer = keyof typeof PEERS;

function pretendMissing(): Set<string> {
  const names = (process.env['WS13_PRETEND_MISSING'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return new Set(names.includes('all') ? Object.keys(PEERS) : names);
}

const found = new Map<Peer, boolean>();

/** Whether the peer is on this machine (detected on first ask, then remembered). */
export function peerAvailable(peer: Peer): boolean {
  let ok = found.get(peer);
  if (ok === undefined) {
    ok = !pretendMissing().has(peer) && PEERS[peer].detect();
    found.set(peer, ok);
  }
  return ok;
}

/** The peers among `peers` that are missing. */
export function missingPeers(peers: readonly Peer[] = Object.keys(PEERS) as Peer[]): Peer[] {
  return peers.filter((p) => !peerAvailable(p));
}

/** The one command that installs these peers. */
export function installLine(peers: readonly Peer[]): string {
  return `apt-get install ${[...new Set(peers.flatMap((p) => PEERS[p].packages))].join(' ')}`;
}

/** True when skipping is forbidden (CI=true). */
export function inCi(): boolean {
  return process.env['CI'] === 'true';
}

function describe(missing: readonly Peer[]): string {
  return `${missing.map((p) => PEERS[p].what).join(' and ')}, not found on this machine (Debian: ${installLine(missing)})`;
}

/**
 * Test options for a test that needs these peers: `{ skip: reason }` when one is missing,
 * `{}` when all are there, and `{}` under CI=true too (there {@link assertPeers} fails the test).
 */
export function skipWithout(...peers: Peer[]): { skip?: string } {
  const missing = missingPeers(peers);
  if (missing.length === 0 || inCi()) return {};
  return { skip: `needs ${describe(missing)}` };
}

/**
 * Fails when one of the peers is missing.
 * @throws Error naming what is missing and the packages to install.
 */
export function assertPeers(...peers: Peer[]): void {
  const missing = missingPeers(peers);
  if (missing.length === 0) return;
  throw new Error(`this test needs ${describe(missing)}; with CI=true a missing peer fails the test instead of skipping it`);
}

/**
 * `test()` for a test that needs real peers: skipped at once with a reason when one is
 * missing, failed instead under CI=true.
 */
export function peerTest(
  peers: readonly Peer[],
  name: string,
  options: TestOptions,
  fn: (t: TestContext) => void | Promise<void>,
): void {
  test(name, { ...options, ...skipWithout(...peers) }, (t) => {
    assertPeers(...peers);
    return fn(t);
  });
}
