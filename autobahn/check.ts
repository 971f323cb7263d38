// Reads an Autobahn|Testsuite report (index.json) and exits 1 unless every case passed:
// behavior OK, NON-STRICT or INFORMATIONAL, and behaviorClose OK or INFORMATIONAL.
//   node dist/autobahn/check.js autobahn/reports/server/index.json
import { readFileSync } from 'node:fs';

type Result = { behavior: string; behaviorClose: string };
const file = process.argv[2] ?? 'autobahn/reports/server/index.json';
const index = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, Result>>;
const PASS = new Set(['OK', 'NON-STRICT', 'INFORMATIONAL']);
let failed = 0;
let total = 0;
for (const [agent, cases] of Object.entries(index)) {
  for (const [id, r] of Object.entries(cases)) {
    total++;
    if (!PASS.has(r.behavior) || !(r.behaviorClose === 'OK' || r.behaviorClose === 'INFORMATIONAL')) {
      failed++;
      console.log(`${agent} case ${id}: behavior ${r.behavior}, close ${r.behaviorClose}`);
    }
  }
}
console.log(`${total - failed} of ${total} cases passed`);
process.exit(failed === 0 && total > 0 ? 0 : 1);
