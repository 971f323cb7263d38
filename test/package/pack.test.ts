// What `npm pack` would publish: the license, the built code with sources its maps resolve to,
// and not the demo (it runs from the repository with `npm start`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('npm pack: LICENSE, no demo, and every source map resolves inside the package', () => {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const json = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  const files = new Set<string>((JSON.parse(json) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
  assert.ok(files.has('LICENSE'));
  assert.match(readFileSync(path.join(root, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) the ws13 authors\n/);
  assert.ok(files.has('dist/src/node/index.js') && files.has('dist/src/protocol/index.d.ts') && files.has('dist/src/cli/main.js'));
  assert.deepEqual([...files].filter((f) => f.includes('demo')), []);
  assert.deepEqual([...files].filter((f) => /^(dist\/)?(test|bench|examples|autobahn)\//.test(f)), []);
  const maps = [...files].filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length >= 10, `${maps.length} maps`);
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(path.join(root, map), 'utf8')) as { sources: string[] };
    for (const s of sources) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(map), s));
      assert.ok(files.has(target), `${map} points at ${target}, which is not in the package`);
    }
  }
});
