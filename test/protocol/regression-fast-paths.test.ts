// The fast paths added for speed give the same answers as the plain ones: word-wise
// masking (RFC 6455 §5.3) at every alignment and phase, and UTF-8 validation (§8.1) that
// hands complete characters to a whole-buffer check, at every split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { applyMask, Utf8Validator } from '../../src/protocol/index.js';

test('applyMask: word-wise XOR equals bytewise XOR for every offset, phase, start and length', () => {
  const key = [0x12, 0x34, 0x56, 0x78];
  for (let off = 0; off < 8; off++) {
    for (const len of [0, 1, 3, 63, 64, 65, 67, 100, 1000, 4097]) {
      for (let phase = 0; phase < 4; phase++) {
        for (const start of [0, 1, 5]) {
          const backing = new Uint8Array(off + len + 16).map((_, i) => (i * 37) & 0xff);
          const view = backing.subarray(off, off + len + 8);
          const expected = view.slice();
          const end = Math.min(view.length, start + len);
          for (let i = start; i < end; i++) expected[i] = expected[i]! ^ key[(phase + i - start) & 3]!;
          applyMask(view, key, phase, start, end);
          assert.deepEqual(view, expected, `offset ${off} length ${len} phase ${phase} start ${start}`);
        }
      }
    }
  }
});

test('Utf8Validator.pushWith agrees with buffer.isUtf8 on every split of valid and broken texts', () => {
  const samples: Buffer[] = [
    Buffer.from('héllo wörld 🚀 €'.repeat(40)),
    Buffer.concat([Buffer.from('x'.repeat(300)), Buffer.from([0xed, 0xa0, 0x80])]),
    Buffer.concat([Buffer.from('€'.repeat(200)), Buffer.from([0xf4, 0x90, 0x80, 0x80])]),
    Buffer.concat([Buffer.from('é'.repeat(200)), Buffer.from([0xc3])]),
    Buffer.concat([Buffer.from([0x80]), Buffer.from('x'.repeat(300))]),
    Buffer.concat([Buffer.from('a'.repeat(299)), Buffer.from([0xf0, 0x9f, 0x9a, 0x80]), Buffer.from('b'.repeat(10))]),
  ];
  let cases = 0;
  for (const s of samples) {
    for (let cut = 0; cut <= s.length; cut += 7) {
      const v = new Utf8Validator();
      const ok = v.pushWith(s.subarray(0, cut), isUtf8) && v.pushWith(s.subarray(cut), isUtf8) && v.finish();
      assert.equal(ok, isUtf8(s), `sample ${samples.indexOf(s)} cut at ${cut}`);
      cases++;
    }
  }
  assert.ok(cases > 300);
});
