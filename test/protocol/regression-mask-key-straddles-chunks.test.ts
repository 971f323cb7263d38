// Regression: a mask key split across two received chunks made the parser copy 8 scratch
// bytes into the 4-byte key (RangeError → 1011). Python `websockets` hit it with fragments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection } from '../../src/protocol/index.js';

function maskedText(text: string, key: number[], fin: boolean, opcode: number): Buffer {
  const p = Buffer.from(text);
  const out = Buffer.alloc(6 + p.length);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = 0x80 | p.length;
  Buffer.from(key).copy(out, 2);
  for (let i = 0; i < p.length; i++) out[6 + i] = p[i]! ^ key[i & 3]!;
  return out;
}

test('a mask key split across chunks at every position still unmasks the payload', () => {
  const wire = Buffer.concat([
    maskedText('frag', [1, 2, 3, 4], false, 1),
    maskedText('mented', [0xa0, 0xb1, 0xc2, 0xd3], true, 0),
  ]);
  for (let cut = 1; cut < wire.length; cut++) {
    const got: string[] = [];
    const errors: string[] = [];
    const c = new Connection(
      { role: 'server' },
      {
        write() {},
        message: (d, text) => got.push(`${text}:${Buffer.from(d).toString()}`),
        ping() {},
        pong() {},
        error: (e) => errors.push(e.code),
        shutdown() {},
      },
    );
    // receiveData owns its input (it unmasks in place): give each run a fresh copy.
    const copy = Buffer.from(wire);
    c.receiveData(copy.subarray(0, cut));
    c.receiveData(copy.subarray(cut));
    assert.deepEqual(errors, [], `cut at ${cut}`);
    assert.deepEqual(got, ['true:fragmented'], `cut at ${cut}`);
  }
});
