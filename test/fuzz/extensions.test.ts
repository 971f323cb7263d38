// Fuzzing Sec-WebSocket-Extensions (RFC 6455 §9.1) and permessage-deflate negotiation
// (RFC 7692 §7): random headers of tokens, quoted strings, parameters, commas and noise go
// to parseExtensions, to the server's acceptDeflateOffer and to the client's
// checkDeflateAnswer. Each result is compared with a small checker written here from the
// RFCs: the grammar, and the rules an agreement must keep. Nothing may throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptDeflateOffer,
  checkDeflateAnswer,
  formatExtensions,
  parseExtensions,
  type DeflateParams,
  type ExtensionOffer,
  type PerMessageDeflateOptions,
} from '../../src/protocol/index.js';
import { Rng, budget, forEachCase } from './rng.js';

// ---- the checker -----------------------------------------------------------------------

// RFC 6455 §9.1: extension-list = 1#extension; extension = token *( ";" param );
// param = token [ "=" (token | quoted-string) ], a quoted value being a token once unquoted
// (RFC 9110 §5.6.1: empty list elements are allowed and ignored).
const T = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const Q = `"(?:[!#$%&'*+\\-.^_\`|~0-9A-Za-z]|\\\\[!#$%&'*+\\-.^_\`|~0-9A-Za-z])+"`;
const PARAM = `${T}(?:[ \\t]*=[ \\t]*(?:${T}|${Q}))?`;
const ELEMENT = `${T}(?:[ \\t]*;[ \\t]*${PARAM})*`;
const LIST = new RegExp(`^[ \\t]*(?:${ELEMENT})?[ \\t]*(?:,[ \\t]*(?:${ELEMENT})?[ \\t]*)*$`);

type Ext = { name: string; params: Array<[string, string | true]> };

/** The grammar's reading of valid values: names lower-cased, quoted values unquoted. */
function readExtensions(values: string[]): Ext[] | undefined {
  if (!values.every((v) => LIST.test(v))) return undefined;
  // Commas and semicolons never sit inside a token or a quoted token, so splitting is safe.
  return values.flatMap((v) =>
    v
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '')
      .map((e) => {
        const [name, ...params] = e.split(';').map((p) => p.trim());
        return {
          name: name!.toLowerCase(),
          params: params.map((p): [string, string | true] => {
            const eq = p.indexOf('=');
            if (eq < 0) return [p.toLowerCase(), true];
            let v = p.slice(eq + 1).trim();
            if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
            return [p.slice(0, eq).trim().toLowerCase(), v];
          }),
        };
      }),
  );
}

/** RFC 7692 §7.1.2: a window size is 1*DIGIT, 8 to 15, without leading zeros. */
function bitsValue(v: string | true): number | undefined {
  return typeof v === 'string' && /^(8|9|1[0-5])$/.test(v) ? Number(v) : undefined;
}

interface Pmd {
  serverNoContext: boolean;
  clientNoContext: boolean;
  serverBits: number | undefined;
  /** true: present without a value (allowed in an offer only). */
  clientBits: number | true | undefined;
}

/**
 * RFC 7692 §7: the parameters of one element, or undefined when one is unknown, repeated
 * (§7 "MUST NOT include … more than one"), or has an invalid value.
 */
function pmdParams(params: Array<[string, string | true]>, response: boolean): Pmd | undefined {
  const p: Pmd = { serverNoContext: false, clientNoContext: false, serverBits: undefined, clientBits: undefined };
  const names = params.map(([n]) => n);
  if (new Set(names).size !== names.length) return undefined;
  for (const [name, value] of params) {
    if (name === 'server_no_context_takeover' || name === 'client_no_context_takeover') {
      // §7.1.1: these have no value.
      if (value !== true) return undefined;
      if (name === 'server_no_context_takeover') p.serverNoContext = true;
      else p.clientNoContext = true;
    } else if (name === 'server_max_window_bits') {
      // §7.1.2.1: always with a value.
      const b = bitsValue(value);
      if (b === undefined) return undefined;
      p.serverBits = b;
    } else if (name === 'client_max_window_bits') {
      // §7.1.2.2: an offer may leave the value out; a response may not.
      if (value === true && !response) p.clientBits = true;
      else {
        const b = bitsValue(value);
        if (b === undefined) return undefined;
        p.clientBits = b;
      }
    } else {
      return undefined;
    }
  }
  return p;
}

/** The problems of `answer` as a response to `offer` (RFC 7692 §7.1.1, §7.1.2); empty when it fits. */
function responseProblems(offer: Pmd, answer: Pmd): string[] {
  const out: string[] = [];
  // §7.1.1.1: a server accepting server_no_context_takeover includes it.
  if (offer.serverNoContext && !answer.serverNoContext) out.push('server_no_context_takeover not echoed');
  // §7.1.2.1: server_max_window_bits offered: answered with the same or a smaller value.
  if (offer.serverBits !== undefined && (answer.serverBits === undefined || answer.serverBits > offer.serverBits)) {
    out.push('server_max_window_bits missing or larger than offered');
  }
  // §7.1.2.2: client_max_window_bits only when offered, and no larger than an offered value.
  if (answer.clientBits !== undefined) {
    if (offer.clientBits === undefined) out.push('client_max_window_bits not offered');
    else if (offer.clientBits !== true && (answer.clientBits as number) > offer.clientBits) out.push('client_max_window_bits larger than offered');
  }
  return out;
}

// ---- the generator ----------------------------------------------------------------------

const NAMES = ['permessage-deflate', 'permessage-deflate', 'permessage-deflate', 'PerMessage-Deflate', 'x-webkit-deflate-frame', 'foo', 'permessage_deflate'];
const PARAM_NAMES = ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits', 'Server_Max_Window_Bits', 'unknown', 'mux'];
const VALUES = ['8', '9', '10', '12', '15', '7', '16', '08', '010', '1', '0', '', 'abc', '"10"', '"1\\5"', '"15', '" 9"', '"8"', '9.5', '-9'];
const NOISE = ['', ' ', '\t', ',', ';', '=', '"', '\\', ' , ', ';;', ',,', 'é', '\x00', '(', ')', 'a b'];

function ows(rng: Rng): string {
  return rng.pick(['', '', ' ', '\t', '  ']);
}

/** One extension element: mostly well formed, sometimes with noise. */
function element(rng: Rng): string {
  let s = rng.pick(NAMES);
  const n = rng.int(4);
  for (let i = 0; i < n; i++) {
    s += `${ows(rng)};${ows(rng)}${rng.pick(PARAM_NAMES)}`;
    if (rng.chance(0.6)) s += `${ows(rng)}=${ows(rng)}${rng.pick(VALUES)}`;
  }
  if (rng.chance(0.15)) {
    const at = rng.int(s.length + 1);
    s = s.slice(0, at) + rng.pick(NOISE) + s.slice(at);
  }
  return s;
}

function header(rng: Rng): string[] {
  const fields = rng.range(1, 2);
  return Array.from({ length: fields }, () => {
    const k = rng.range(0, 3);
    return ows(rng) + Array.from({ length: k }, () => element(rng)).join(`${ows(rng)},${ows(rng)}`) + ows(rng);
  });
}

function serverOptions(rng: Rng): PerMessageDeflateOptions {
  const o: PerMessageDeflateOptions = {};
  if (rng.chance(0.5)) o.serverMaxWindowBits = rng.range(8, 15);
  if (rng.chance(0.5)) o.clientMaxWindowBits = rng.range(8, 15);
  if (rng.chance(0.5)) o.serverNoContextTakeover = rng.chance(0.5);
  if (rng.chance(0.5)) o.clientNoContextTakeover = rng.chance(0.5);
  return o;
}

function clientOptions(rng: Rng): PerMessageDeflateOptions {
  const o: PerMessageDeflateOptions = {};
  if (rng.chance(0.4)) o.serverMaxWindowBits = rng.range(8, 15);
  const c = rng.int(4);
  if (c === 1) o.clientMaxWindowBits = rng.range(8, 15);
  else if (c === 2) o.clientMaxWindowBits = false;
  else if (c === 3) o.clientMaxWindowBits = true;
  if (rng.chance(0.3)) o.serverNoContextTakeover = true;
  if (rng.chance(0.3)) o.clientNoContextTakeover = true;
  return o;
}

/** What the client offers for `opts`, in the checker's terms (RFC 7692 §7.1). */
function clientOffer(opts: PerMessageDeflateOptions): Pmd {
  const c = opts.clientMaxWindowBits ?? true;
  return {
    serverNoContext: opts.serverNoContextTakeover ?? false,
    clientNoContext: opts.clientNoContextTakeover ?? false,
    serverBits: opts.serverMaxWindowBits,
    clientBits: c === false ? undefined : c,
  };
}

// ---- tests ---------------------------------------------------------------------------

test('extensions fuzz: parseExtensions accepts exactly the RFC 6455 §9.1 grammar, and reads it the same', () => {
  let valid = 0;
  const n = budget(3000, 5);
  forEachCase('extensions-parse', n, (rng) => {
    const values = header(rng);
    let got: ExtensionOffer[] | undefined;
    assert.doesNotThrow(() => (got = parseExtensions(values)));
    const want = readExtensions(values);
    const where = JSON.stringify(values);
    const items = want ? want.reduce((k, e) => k + 1 + e.params.length, 0) : 0;
    // ws13 bounds the work on hostile headers: at most 64 elements and parameters.
    if (want && items > 64) return assert.equal(got, undefined, where);
    assert.deepEqual(got?.map((e) => ({ name: e.name, params: e.params.map(([k, v]) => [k, v]) })), want, where);
    if (got) {
      valid++;
      // Formatting and parsing again gives the same elements.
      assert.deepEqual(parseExtensions([formatExtensions(got)]), got.length ? got : [], where);
    }
  });
  assert.ok(valid > n / 4 && valid < n, `${valid} of ${n} valid`);
});

test('extensions fuzz: the server accepts the first acceptable permessage-deflate offer, within RFC 7692 §7', () => {
  let accepted = 0;
  let declined = 0;
  const n = budget(3000, 5);
  forEachCase('extensions-server', n, (rng) => {
    const offers = parseExtensions(header(rng));
    if (!offers) return;
    const opts = serverOptions(rng);
    let got: DeflateParams | undefined;
    assert.doesNotThrow(() => (got = acceptDeflateOffer(offers, opts)));
    const where = `${JSON.stringify(offers)} with ${JSON.stringify(opts)}`;
    // §5.1: the first offer the server can accept (one with valid parameters) is taken.
    const first = offers.find((o) => o.name === 'permessage-deflate' && pmdParams(o.params.map(([k, v]) => [k, v]), false));
    if (!first) {
      declined++;
      return assert.equal(got, undefined, where);
    }
    assert.ok(got, `an acceptable offer was declined: ${where}`);
    accepted++;
    const offer = pmdParams(first.params.map(([k, v]) => [k, v]), false)!;
    // The header the server sends is one permessage-deflate element with response parameters.
    const sent = readExtensions([got.header]);
    assert.ok(sent && sent.length === 1 && sent[0]!.name === 'permessage-deflate', `header ${got.header}`);
    const answer = pmdParams(sent[0]!.params, true);
    assert.ok(answer, `invalid response parameters: ${got.header} (${where})`);
    assert.deepEqual(responseProblems(offer, answer), [], `${got.header} (${where})`);
    // What the server will do agrees with what it said.
    assert.equal(got.localNoContextTakeover, answer.serverNoContext, where);
    assert.equal(got.remoteNoContextTakeover, answer.clientNoContext, where);
    assert.equal(got.localMaxWindowBits, answer.serverBits ?? 15, where);
    assert.equal(got.remoteMaxWindowBits, answer.clientBits ?? 15, where);
    // And the server's own limits hold (its compressor's window; the client's if stated).
    assert.ok(got.localMaxWindowBits <= (opts.serverMaxWindowBits ?? 15), where);
    if (offer.clientBits !== undefined) assert.ok(got.remoteMaxWindowBits <= (typeof opts.clientMaxWindowBits === 'number' ? opts.clientMaxWindowBits : 15), where);
    // The client's own check takes the answer (both sides of ws13 agree on the rules).
    const offerOpts: PerMessageDeflateOptions = {
      ...(offer.serverNoContext ? { serverNoContextTakeover: true } : {}),
      ...(offer.clientNoContext ? { clientNoContextTakeover: true } : {}),
      ...(offer.serverBits !== undefined ? { serverMaxWindowBits: offer.serverBits } : {}),
      clientMaxWindowBits: offer.clientBits === undefined ? false : offer.clientBits,
    };
    const back = checkDeflateAnswer(parseExtensions([got.header])!, offerOpts);
    assert.ok(back && typeof back === 'object', `client refused the server's answer ${got.header}: ${String(back)}`);
  });
  assert.ok(accepted > n / 50 && declined > n / 50, `accepted ${accepted}, declined ${declined}`);
});

test('extensions fuzz: the client takes exactly the answers RFC 7692 §7 allows for its offer', () => {
  let taken = 0;
  let refused = 0;
  const n = budget(3000, 5);
  forEachCase('extensions-client', n, (rng) => {
    const answers = parseExtensions(header(rng));
    if (!answers) return;
    const opts = clientOptions(rng);
    let got: DeflateParams | string | undefined;
    assert.doesNotThrow(() => (got = checkDeflateAnswer(answers, opts)));
    const where = `${JSON.stringify(answers)} to ${JSON.stringify(opts)}`;
    const ours = answers.filter((a) => a.name === 'permessage-deflate');
    if (ours.length === 0) return assert.equal(got, undefined, where);
    const answer = ours.length === 1 ? pmdParams(ours[0]!.params.map(([k, v]) => [k, v]), true) : undefined;
    const offer = clientOffer(opts);
    const problems = answer ? responseProblems(offer, answer) : ['malformed or repeated'];
    if (problems.length > 0 || !answer) {
      refused++;
      return assert.equal(typeof got, 'string', `${problems.join('; ')}: ${where}`);
    }
    taken++;
    assert.ok(got && typeof got === 'object', `a valid answer was refused (${String(got)}): ${where}`);
    assert.equal(got.remoteNoContextTakeover, answer.serverNoContext, where);
    assert.equal(got.localNoContextTakeover, answer.clientNoContext || offer.clientNoContext, where);
    assert.equal(got.remoteMaxWindowBits, answer.serverBits ?? 15, where);
    assert.equal(got.localMaxWindowBits, (answer.clientBits as number | undefined) ?? (typeof offer.clientBits === 'number' ? offer.clientBits : 15), where);
    // Whatever was agreed, the windows are legal sizes.
    for (const b of [got.localMaxWindowBits, got.remoteMaxWindowBits]) assert.ok(b >= 8 && b <= 15, where);
  });
  assert.ok(taken > n / 50 && refused > n / 50, `taken ${taken}, refused ${refused}`);
});
