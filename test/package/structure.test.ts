// The shape of the source tree, checked from the files: no import loops, files a reader can
// hold, frame bytes from the core only, and no internals on the public class's declarations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const src = path.join(root, 'src');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of a file (type-only ones too: a loop of types is still a loop to a reader). */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?(?:from\s*)?['"](\.[^'"]+)['"]/g)) {
    out.push(path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  return out;
}

test('no import loops anywhere in src/', async () => {
  const files = await sources(src);
  const graph = new Map<string, string[]>();
  for (const f of files) graph.set(f, importsOf(f, await readFile(f, 'utf8')).filter((d) => graph.has(d) || files.includes(d)));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'visiting');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'visiting') {
        const loop = stack.slice(stack.indexOf(d)).concat(d).map((p) => path.relative(root, p));
        assert.fail(`import loop: ${loop.join(' -> ')}`);
      }
      if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.ok(files.length > 30, `read ${files.length} files`);
});

test('the core and the Node layer: every file under 500 lines', async () => {
  for (const dir of ['protocol', 'node']) {
    for (const f of await sources(path.join(src, dir))) {
      if (f.endsWith('.wasm.ts')) continue; // generated: one line of base64
      const lines = (await readFile(f, 'utf8')).split('\n').length;
      assert.ok(lines <= 500, `${path.relative(root, f)} has ${lines} lines`);
    }
  }
});

test('frame bytes come from the core: the Node layer encodes no frame header of its own', async () => {
  for (const f of await sources(path.join(src, 'node'))) {
    const text = await readFile(f, 'utf8');
    assert.doesNotMatch(text, /\b(encodeHeader|encodeMaskedFrame|writeSmallFrameHeader)\b/, path.relative(root, f));
  }
});

test('the public WebSocket declares no internals (no _-prefixed members in its .d.ts)', async () => {
  const dts = await readFile(path.join(root, 'dist', 'src', 'node', 'websocket.d.ts'), 'utf8');
  const cls = dts.slice(dts.indexOf('export declare class WebSocket'));
  assert.ok(cls.length > 0);
  assert.doesNotMatch(cls, /^\s+(static\s+)?(readonly\s+)?_\w+/m);
  assert.doesNotMatch(cls, /@internal/);
  const server = await readFile(path.join(root, 'dist', 'src', 'node', 'server.d.ts'), 'utf8');
  assert.doesNotMatch(server, /^\s+(static\s+)?(readonly\s+)?_\w+/m);
});
