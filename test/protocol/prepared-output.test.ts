// FrameOutput.writePrepared: a host that places prepared (broadcast) frames itself gets each
// one whole, in its turn: after a message still being compressed (RFC 7692 §6), never before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, Opcode, prepareFrame, type PreparedFrame } from '../../src/protocol/index.js';
import type { CodecCallback, DeflateCodec } from '../../src/protocol/extensions/permessage-deflate.js';
import { Recorder, utf8 } from './support.js';

/** Writes and prepared frames in the order the core hands them over. */
class PreparedRecorder extends Recorder {
  readonly order: string[] = [];
  override write(data: Uint8Array, done?: () => void): void {
    this.order.push(`write:${data.length}`);
    super.write(data, done);
  }
  writePrepared(frame: PreparedFrame, done?: () => void): void {
    this.order.push(`prepared:${frame.payload.length}`);
    done?.();
  }
}

/** Compresses nothing until told to: the output is the input, delivered later. */
function deferredCodec(): DeflateCodec & { finish(): void } {
  const pending: Array<() => void> = [];
  return {
    decompress(data: Uint8Array, _fin: boolean, _limit: number, done: CodecCallback) {
      done(null, [data]);
    },
    compress(data: Uint8Array, _fin: boolean, done: CodecCallback) {
      pending.push(() => done(null, [data]));
    },
    close() {},
    finish() {
      for (const f of pending.splice(0)) f();
    },
  };
}

test('writePrepared gets a prepared frame whole, and only after a compression under way', () => {
  const rec = new PreparedRecorder();
  const codec = deferredCodec();
  const c = new Connection({ role: 'server', deflate: codec, deflateThreshold: 1 }, rec);
  const frame = prepareFrame(Opcode.Text, utf8('hello'));
  c.sendPrepared(frame);
  assert.deepEqual(rec.order, ['prepared:5'], 'nothing before it: placed at once');
  c.send(Opcode.Text, utf8('compress me'), true, undefined, true);
  let doneCalled = false;
  c.sendPrepared(frame, () => (doneCalled = true));
  assert.deepEqual(rec.order, ['prepared:5'], 'waits behind the compression');
  assert.equal(doneCalled, false);
  codec.finish();
  assert.equal(rec.order.length, 4, rec.order.join(' '));
  assert.deepEqual(rec.order.slice(1, 3).map((s) => s.split(':')[0]), ['write', 'write'], 'the compressed message first');
  assert.equal(rec.order[3], 'prepared:5', 'then the prepared frame');
  assert.equal(doneCalled, true);
});
