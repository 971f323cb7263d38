// The package as users import it: the `exports` map, and a protocol core with no Node I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('ws13 resolves to the Node layer with its public classes', async () => {
  const m = await import('ws13');
  assert.equal(typeof m.WebSocket, 'function');
  assert.equal(typeof m.WebSocketServer, 'function');
  assert.equal(m.WebSocket.OPEN, 1);
  assert.equal(m.acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('ws13/protocol resolves to the I/O-free core', async () => {
  const p = await import('ws13/protocol');
  assert.equal(typeof p.Connection, 'function');
  assert.equal(typeof p.FrameParser, 'function');
  assert.equal(p.Opcode.Text, 1);
  assert.equal(p.CloseCode.MessageTooBig, 1009);
});

test('ws13/redis resolves without the redis package being loaded until a broker is made', async () => {
  const r = await import('ws13/redis');
  assert.equal(typeof r.createRedisBroker, 'function');
  assert.equal(typeof r.RedisBroker, 'function');
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.peerDependenciesMeta.redis.optional, true);
});

test('ws13/cluster resolves to the cluster broker and hub', async () => {
  const c = await import('ws13/cluster');
  assert.equal(typeof c.createClusterBroker, 'function');
  assert.equal(typeof c.startClusterHub, 'function');
  assert.equal(typeof c.ClusterBroker, 'function');
});

test('the protocol core imports nothing from node:* (so it runs in any runtime)', async () => {
  const dir = path.join(root, 'src', 'protocol');
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  await walk(dir);
  assert.ok(files.length >= 8, `found ${files.length} files`);
  for (const f of files) {
    const src = await readFile(f, 'utf8');
    assert.doesNotMatch(src, /from\s+['"]node:|require\(['"]node:|\bBuffer\b|\bprocess\./, f);
  }
});

test('package.json ships ESM with type declarations and the ws13 bin', async () => {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.bin.ws13, './dist/src/cli/main.js');
  assert.ok(pkg.exports['.'].types.endsWith('.d.ts'));
  assert.ok(pkg.exports['./protocol'].types.endsWith('.d.ts'));
  assert.deepEqual(pkg.dependencies ?? {}, {});
  assert.match(pkg.engines.node, />=\s*20/);
});
