// ws13 serve --metrics: real traffic against the served process, then a scrape over HTTP,
// parsed as the Prometheus text exposition format (0.0.4) and checked value by value.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import http from 'node:http';
import { HandshakeError, WebSocket } from '../../src/node/index.js';
import { prometheusText } from '../../src/cli/metrics.js';
import { CLI, cleanup, run, serve } from './helpers.js';

const T = { timeout: 30_000 };
after(cleanup);

function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .request(url, { method, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject)
      .end();
  });
}

interface Family {
  type: string;
  help: string;
  samples: Map<string, number>;
}

/**
 * A strict parser of the text format: every family has HELP then TYPE, every sample line is
 * `name{label="value",…} number` of a family announced before it, and names are valid.
 */
function parse(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'ends with a line feed');
  const families = new Map<string, Family>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line))) {
      assert.ok(!families.has(m[1]!), `${m[1]} announced once`);
      families.set(m[1]!, { type: '', help: m[2]!, samples: new Map() });
      current = m[1]!;
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      assert.equal(m[1], current, 'TYPE follows its HELP');
      families.get(m[1]!)!.type = m[2]!;
    } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.eE+]+|NaN|[+-]Inf)$/.exec(line))) {
      assert.equal(m[1], current, `${m[1]}: a sample of the family just announced`);
      families.get(m[1]!)!.samples.set(m[2] ?? '', Number(m[3]));
    } else {
      assert.fail(`not in the exposition format: ${JSON.stringify(line)}`);
    }
  }
  for (const [name, f] of families) {
    assert.ok(f.type, `${name} has a TYPE`);
    if (f.type === 'counter') assert.match(name, /_total$/, `counter ${name} ends in _total`);
  }
  return families;
}

const value = (fams: Map<string, Family>, name: string, labels = ''): number | undefined => fams.get(name)?.samples.get(labels);

test('--metrics PORT: the scrape parses as the Prometheus text format and counts the traffic', T, async () => {
  const { url, output } = await serve(['--metrics', '0', '--origins', 'https://good.example']);
  const m = /Metrics \(Prometheus\) at (http:\/\/\S+)/.exec(output());
  assert.ok(m, output());
  const metricsUrl = m[1]!;

  const before = parse((await get(metricsUrl)).body);
  assert.equal(value(before, 'ws13_connections'), 0);
  assert.equal(value(before, 'ws13_messages_received_total'), 0);

  const a = await WebSocket.connect(url);
  const b = await WebSocket.connect(url);
  for (const ws of [a, b]) {
    const echo = new Promise((r) => ws.once('message', r));
    ws.send('ping me');
    await echo;
  }
  const refused = await WebSocket.connect(url, { origin: 'https://evil.example' }).catch((e: unknown) => e);
  assert.equal((refused as HandshakeError).status, 403);
  const closed = new Promise((r) => b.once('close', r));
  b.close(1000);
  await closed;

  // b's close is counted once the server's side of it is done too: scrape until it is.
  let res = await get(metricsUrl);
  for (let i = 0; i < 100 && value(parse(res.body), 'ws13_connections') !== 1; i++) {
    await new Promise((r) => setTimeout(r, 20));
    res = await get(metricsUrl);
  }
  assert.equal(res.status, 200);
  assert.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8');
  const f = parse(res.body);
  assert.equal(f.get('ws13_connections')!.type, 'gauge');
  assert.equal(value(f, 'ws13_connections'), 1);
  assert.equal(value(f, 'ws13_connections_opened_total'), 2);
  assert.equal(value(f, 'ws13_connections_closed_total', '{code="1000"}'), 1);
  assert.equal(value(f, 'ws13_handshake_refusals_total', '{status="403"}'), 1);
  assert.equal(value(f, 'ws13_messages_received_total'), 2);
  assert.equal(value(f, 'ws13_messages_sent_total'), 2);
  assert.ok(value(f, 'ws13_received_bytes_total')! >= 2 * (2 + 4 + 7), 'two masked 7-byte frames at least');
  assert.ok(value(f, 'ws13_sent_bytes_total')! >= 2 * (2 + 7));
  assert.equal(value(f, 'ws13_backpressure_total', '{kind="read-paused"}'), 0);
  assert.equal(value(f, 'ws13_broker_errors_total'), 0);

  assert.equal((await get(metricsUrl.replace('/metrics', '/other'))).status, 404);
  assert.equal((await get(metricsUrl, 'POST')).status, 405);
  a.terminate();
});

test('-q with --metrics: stdout holds the URL alone; the metrics address goes to stderr', T, async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '-q', '--metrics', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    for (let i = 0; i < 500 && !(out.includes('\n') && err.includes('/metrics\n')); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, /^ws:\/\/127\.0\.0\.1:\d+\/\n$/);
    const m = /^Metrics \(Prometheus\) at (http:\/\/\S+)\n$/.exec(err);
    assert.ok(m, err);
    const res = await get(m[1]!);
    assert.equal(res.status, 200);
    assert.equal(value(parse(res.body), 'ws13_connections'), 0);
  } finally {
    child.kill();
  }
});

test('--metrics takes a port number', T, async () => {
  const r = await run(['serve', '--metrics', 'x']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid --metrics/);
});

test('label values are escaped as the format requires', () => {
  const text = prometheusText({
    connections: 0, connectionsTotal: 0, topics: 0, subscribers: 0, subscriptions: 0, messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0,
    closeCodes: {}, refusals: { 'a"b\\c': 1 },
    backpressure: { 'read-paused': 0, 'broadcast-skip': 0, 'broadcast-close': 0 },
    publish: { calls: 0, unheard: 0, framesBuilt: 0 }, broker: { errors: 0, ignored: 0, dropped: 0 },
  });
  assert.match(text, /^ws13_handshake_refusals_total\{status="a\\"b\\\\c"\} 1$/m);
  parse(text);
});
