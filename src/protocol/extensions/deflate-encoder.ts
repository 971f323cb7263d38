/**
 * ws13's own DEFLATE encoder (RFC 1951) for whole messages whose compressor keeps no
 * context: deflate-encoder.c, compiled to WebAssembly and embedded (deflate-encoder.wasm.ts).
 * On a 1 KiB JSON message it takes about half the time of zlib at level 1 for the same
 * size of output, because it skips zlib's per-block fixed costs (bench/RESULTS.md). Where
 * WebAssembly is missing (`--jitless`), `messageEncoder()` is undefined and zlib does all.
 */
import { DEFLATE_ENCODER_WASM } from './deflate-encoder.wasm.js';
import { base64Decode } from '../base64.js';
import { wasmApi } from '../wasm.js';

export interface MessageEncoder {
  /** The largest message it takes, in bytes. */
  readonly capacity: number;
  /**
   * Compresses one whole message with distances of at most 2^windowBits (8–15): the
   * payload of RFC 7692 §7.2.1, without the 00 00 ff ff tail. The result is a view of the
   * encoder's memory, valid until the next call: copy it before calling again.
   */
  encode(data: Uint8Array, windowBits: number): Uint8Array;
}

interface Exports {
  memory: { buffer: ArrayBuffer };
  enc_input(): number;
  enc_output(): number;
  enc_capacity(): number;
  encode(n: number, windowBits: number): number;
}

function load(): MessageEncoder | undefined {
  const wasm = wasmApi();
  if (!wasm) return undefined;
  try {
    const instance = new wasm.Instance(new wasm.Module(base64Decode(DEFLATE_ENCODER_WASM)), {});
    const e = instance.exports as Exports;
    // The module has no allocator and never grows its memory, so this view stays valid.
    const memory = new Uint8Array(e.memory.buffer);
    const input = e.enc_input();
    const output = e.enc_output();
    const capacity = e.enc_capacity();
    return {
      capacity,
      encode(data: Uint8Array, windowBits: number): Uint8Array {
        if (data.length > capacity) throw new RangeError(`message over ${capacity} bytes`);
        memory.set(data, input);
        const n = e.encode(data.length, windowBits);
        return memory.subarray(output, output + n);
      },
    };
  } catch {
    return undefined;
  }
}

let encoder: MessageEncoder | undefined | null = null;

/** The shared encoder, made on first use; undefined where WebAssembly is unavailable. */
export function messageEncoder(): MessageEncoder | undefined {
  if (encoder === null) encoder = load();
  return encoder;
}
