// The Prometheus text exposition format (0.0.4) as the tests read it: a scrape over HTTP,
// a strict parser, and lookups of samples by labels.
import assert from 'node:assert/strict';
import http from 'node:http';

/** A GET (or `method`) of `url`: status, Content-Type and body. */
export function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
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

export interface Family {
  type: string;
  help: string;
  samples: Map<string, number>;
}

/**
 * A strict parser of the text format: every family has HELP then TYPE, every sample line is
 * `name{label="value",…} number` of a family announced before it, and names are valid.
 */
export function parse(text: string): Map<string, Family> {
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

export const value = (fams: Map<string, Family>, name: string, labels = ''): number | undefined => fams.get(name)?.samples.get(labels);

/** The scrape URL a `ws13 serve --metrics` printed. */
export function metricsUrl(s: { out(): string }): string {
  const m = /Metrics \(Prometheus\) at (http:\/\/\S+)/.exec(s.out());
  assert.ok(m, s.out());
  return m[1]!;
}

export const scrape = async (url: string): Promise<Map<string, Family>> => {
  const res = await get(url);
  assert.equal(res.status, 200, res.body);
  assert.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8');
  return parse(res.body);
};

/** The sum of a family's samples whose labels include `worker="slot"` (all workers without it) and `extra`. */
export function sum(f: Map<string, Family>, name: string, slot?: string, extra = ''): number {
  let total = 0;
  for (const [labels, v] of f.get(name)?.samples ?? []) {
    if (slot !== undefined && !labels.includes(`worker="${slot}"`)) continue;
    if (extra && !labels.includes(extra)) continue;
    total += v;
  }
  return total;
}
