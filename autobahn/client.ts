// Runs the ws13 client against the Autobahn|Testsuite fuzzingserver (RFC 6455 and RFC 7692
// conformance, sections 1–13): every case is an echo session; the fuzzingserver judges it.
//   node dist/autobahn/client.js [ws://127.0.0.1:9001] [agent]
// See autobahn/README.md for starting the fuzzingserver.
import { WebSocket } from '../src/node/index.js';

const base = (process.argv[2] ?? 'ws://127.0.0.1:9001').replace(/\/$/, '');
const agent = process.argv[3] ?? 'ws13';

/** Opens `url`, echoes every message as it came (text as text), resolves on close. */
function session(url: string, echo: boolean): Promise<string[]> {
  return new Promise((resolve) => {
    const received: string[] = [];
    const ws = new WebSocket(url);
    ws.on('message', (data, isBinary) => {
      if (echo) ws.send(data as string | Buffer, { binary: isBinary });
      else received.push(String(data));
    });
    // Failures are what some cases test; the fuzzingserver records the outcome.
    ws.on('error', () => {});
    ws.on('close', () => resolve(received));
  });
}

const [count] = await session(`${base}/getCaseCount`, false);
const cases = Number(count);
if (!Number.isInteger(cases) || cases <= 0) {
  console.error(`getCaseCount answered ${JSON.stringify(count)}`);
  process.exit(1);
}
for (let i = 1; i <= cases; i++) {
  process.stdout.write(`\rcase ${i} of ${cases}`);
  await session(`${base}/runCase?case=${i}&agent=${encodeURIComponent(agent)}`, true);
}
await session(`${base}/updateReports?agent=${encodeURIComponent(agent)}`, false);
process.stdout.write(`\n${cases} cases run; reports are in the fuzzingserver's outdir\n`);
