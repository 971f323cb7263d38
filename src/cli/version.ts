// ws13's version, read once from its package.json (two levels up from src/cli and dist/src/cli).
import fs from 'node:fs';

function find(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ws13' && pkg.version) return pkg.version;
    } catch {
      // Not this level.
    }
  }
  return 'unknown';
}

export const VERSION = find();
