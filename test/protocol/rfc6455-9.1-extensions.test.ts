// RFC 6455 §9.1 (Sec-WebSocket-Extensions grammar), §4.1/§11.3.4 (subprotocols) and the
// RFC 9110 §5.6.1 list rules they build on: src/protocol/handshake/negotiate.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatExtensions,
  hasToken,
  isToken,
  parseExtensions,
  parseSubprotocols,
  selectSubprotocol,
  splitList,
} from '../../src/protocol/index.js';

describe('RFC 9110 §5.6 tokens and lists', () => {
  test('§5.6.2: isToken accepts tchar runs and refuses separators, spaces, non-ASCII, empty', () => {
    for (const t of ['websocket', 'permessage-deflate', "!#$%&'*+-.^_`|~", 'A0z9']) assert.equal(isToken(t), true, t);
    for (const t of ['', 'a b', 'a,b', 'a;b', 'a=b', '"a"', '(a)', 'a/b', 'a:b', 'é', 'a\tb', '[a]', '{a}', 'a@b', 'a?b', '\\a']) {
      assert.equal(isToken(t), false, JSON.stringify(t));
    }
  });

  test('§5.6.1: splitList trims optional white space and skips empty elements', () => {
    assert.deepEqual(splitList('a, b ,c'), ['a', 'b', 'c']);
    assert.deepEqual(splitList(' , a ,, ,\tb,'), ['a', 'b']);
    assert.deepEqual(splitList(''), []);
    assert.deepEqual(splitList(',,,'), []);
    assert.deepEqual(splitList('single'), ['single']);
  });

  test('§5.6.1: hasToken finds a token in any field, case-insensitively, skipping empty elements', () => {
    assert.equal(hasToken(['keep-alive, Upgrade'], 'upgrade'), true);
    assert.equal(hasToken(['keep-alive', ', ,UPGRADE,'], 'upgrade'), true);
    assert.equal(hasToken(['WebSocket'], 'websocket'), true);
    assert.equal(hasToken(['upgraded', 'up grade'], 'upgrade'), false);
    assert.equal(hasToken([], 'upgrade'), false);
    assert.equal(hasToken([''], 'upgrade'), false);
  });
});

describe('RFC 6455 §4.1, §11.3.4 subprotocols', () => {
  test('§11.3.4: parseSubprotocols joins every field into one list, in order', () => {
    assert.deepEqual(parseSubprotocols(['chat, superchat', 'v2.json']), ['chat', 'superchat', 'v2.json']);
    assert.deepEqual(parseSubprotocols([]), []);
    assert.deepEqual(parseSubprotocols([' , chat ,, ']), ['chat']);
    assert.deepEqual(parseSubprotocols(['']), []);
  });

  test('§4.1: a subprotocol element that is not a token makes the header malformed (undefined)', () => {
    for (const v of ['a b', 'chat, "quoted"', 'x;y', 'é', 'ok, a/b']) assert.equal(parseSubprotocols([v]), undefined, v);
    assert.equal(parseSubprotocols(['fine', 'bad one']), undefined);
  });

  test('§4.2.2: selectSubprotocol follows the server\'s preference among those offered', () => {
    assert.equal(selectSubprotocol(['b', 'a'], ['a', 'b']), 'b');
    assert.equal(selectSubprotocol(['c', 'a'], ['a', 'b']), 'a');
    assert.equal(selectSubprotocol(['c'], ['a', 'b']), undefined);
    assert.equal(selectSubprotocol([], ['a']), undefined);
    assert.equal(selectSubprotocol(['Chat'], ['chat']), undefined, 'subprotocols are case-sensitive');
  });
});

describe('RFC 6455 §9.1 parseExtensions', () => {
  test('§9.1: names and parameters, valueless and with token values; names lower-cased', () => {
    assert.deepEqual(parseExtensions(['permessage-deflate; client_max_window_bits; server_max_window_bits=10']), [
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
        ],
      },
    ]);
    assert.deepEqual(parseExtensions(['X-Foo;A=Bar']), [{ name: 'x-foo', params: [['a', 'Bar']] }]);
  });

  test('§9.1: several extensions per field and across fields, in order; empty elements skipped', () => {
    assert.deepEqual(parseExtensions(['a, b; x', ' , c ,, ', 'd']), [
      { name: 'a', params: [] },
      { name: 'b', params: [['x', true]] },
      { name: 'c', params: [] },
      { name: 'd', params: [] },
    ]);
    assert.deepEqual(parseExtensions([]), []);
    assert.deepEqual(parseExtensions(['']), []);
    assert.deepEqual(parseExtensions([' \t, ,']), []);
  });

  test('§9.1: optional white space around ";", "=" and ","', () => {
    assert.deepEqual(parseExtensions(['  foo \t;  a = 1 ;b\t,  bar ;c=  "2"  ']), [
      {
        name: 'foo',
        params: [
          ['a', '1'],
          ['b', true],
        ],
      },
      { name: 'bar', params: [['c', '2']] },
    ]);
  });

  test('§9.1: quoted-string values, with escapes, must be tokens once unquoted', () => {
    assert.deepEqual(parseExtensions(['foo; a="10"; b="x-y"']), [
      {
        name: 'foo',
        params: [
          ['a', '10'],
          ['b', 'x-y'],
        ],
      },
    ]);
    assert.deepEqual(parseExtensions(['foo; a="\\1\\2"']), [{ name: 'foo', params: [['a', '12']] }]);
    assert.equal(parseExtensions(['foo; a=""']), undefined, 'empty quoted value');
    assert.equal(parseExtensions(['foo; a="b c"']), undefined, 'space in a quoted value');
    assert.equal(parseExtensions(['foo; a="b,c"']), undefined, 'comma in a quoted value');
    assert.equal(parseExtensions(['foo; a="open']), undefined, 'unterminated quoted string');
    assert.equal(parseExtensions(['foo; a="x\\']), undefined, 'escape at the end');
  });

  for (const [name, value] of [
    ['a trailing semicolon', 'foo;'],
    ['an empty parameter', 'foo;;a'],
    ['a leading semicolon', ';foo'],
    ['an empty value', 'foo; a='],
    ['a value with a separator', 'foo; a=b/c'],
    ['two names without a comma', 'foo bar'],
    ['a quoted name', '"foo"'],
    ['a non-token name', 'fo@o'],
    ['non-ASCII', 'föo'],
    ['a parameter with a space inside its name', 'foo; a b=1'],
    ['a stray equals sign', 'foo=1'],
    ['garbage after a quoted value', 'foo; a="1"x'],
  ] as const) {
    test(`§9.1: ${name} (${JSON.stringify(value)}) is malformed: undefined`, () => {
      assert.equal(parseExtensions([value]), undefined);
      assert.equal(parseExtensions(['ok', value]), undefined, 'one bad field spoils the header');
    });
  }

  test('§9.1, §10.4: at most 64 items (extensions plus parameters) are parsed', () => {
    const ext = (n: number): string => Array.from({ length: n }, (_, i) => `e${i}`).join(', ');
    assert.equal(parseExtensions([ext(64)])!.length, 64);
    assert.equal(parseExtensions([ext(65)]), undefined);
    const params = (n: number): string => 'x' + Array.from({ length: n }, (_, i) => `; p${i}`).join('');
    assert.equal(parseExtensions([params(63)])![0]!.params.length, 63);
    assert.equal(parseExtensions([params(64)]), undefined);
    // The bound spans fields.
    assert.equal(parseExtensions([ext(40), ext(40)]), undefined);
  });

  test('§10.4: hostile input returns undefined quickly (100k semicolons, 100k parameters, 100k quotes)', () => {
    const hostile = [
      'x' + ';'.repeat(100_000),
      'x' + '; a'.repeat(100_000),
      'x; a=1'.repeat(1) + ', y'.repeat(100_000),
      'x; a="' + '\\"'.repeat(100_000),
      'x; a=' + '"'.repeat(100_000),
    ];
    for (const h of hostile) {
      const t0 = performance.now();
      const r = parseExtensions([h]);
      const ms = performance.now() - t0;
      assert.equal(r, undefined, h.slice(0, 20));
      assert.ok(ms < 250, `took ${ms.toFixed(1)} ms`);
    }
    // Many fields: also bounded.
    const t0 = performance.now();
    assert.equal(parseExtensions(new Array(100_000).fill('a')), undefined);
    assert.ok(performance.now() - t0 < 250);
  });

  test('§9.1: formatExtensions writes what parseExtensions reads', () => {
    const exts = [
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
        ] as const,
      },
      { name: 'x-foo', params: [] },
    ];
    const s = formatExtensions(exts);
    assert.equal(s, 'permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo');
    assert.deepEqual(parseExtensions([s]), exts);
    assert.equal(formatExtensions([]), '');
  });
});
