// require('ws13') from CommonJS, as the README states it per Node version: the package is an
// ES module, which require() loads on Node 20.19+, 22.12+ and 23+; older ones throw
// ERR_REQUIRE_ESM. The tests run on every supported major (.ci/run), so this checks each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const loadsEsm = major >= 23 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);

// Resolved from inside the package, as a self-reference through its `exports` map.
const require = createRequire(import.meta.url);

test(`require('ws13') on Node ${process.versions.node}: ${loadsEsm ? 'the same module as import' : 'ERR_REQUIRE_ESM'}`, async () => {
  if (loadsEsm) {
    const m = require('ws13') as typeof import('ws13');
    assert.equal(m.WebSocket, (await import('ws13')).WebSocket);
    const p = require('ws13/protocol') as typeof import('ws13/protocol');
    assert.equal(p.Opcode.Text, 1);
  } else {
    assert.throws(() => require('ws13'), { code: 'ERR_REQUIRE_ESM' });
  }
});
