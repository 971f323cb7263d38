import { wasmApi } from './wasm.js';
/**
 * A 16-bytes-per-instruction XOR for masking, as a WebAssembly SIMD module assembled here
 * from its opcodes (WebAssembly Core Specification 2.0, §5 "Binary Format"). Plain
 * JavaScript XORs 32-bit words at about 4 GB/s; this runs at about 35 GB/s, so copying a
 * payload into the module's memory, XORing it and copying it back still costs a third of
 * the JavaScript loop. No native addon: any runtime with WebAssembly SIMD runs it, and
 * where there is none (`--jitless`, old engines) `simdXor()` is undefined and masking stays
 * in JavaScript.
 */

/** The module's memory, one 64 KiB page: payloads go through it in slices of this size. */
export const SIMD_SLICE = 65536;

/** XORs `len` bytes at offset 0 of `memory` with the little-endian 32-bit `key`, repeated. */
export interface SimdXor {
  readonly memory: Uint8Array;
  xor(len: number, key: number): void;
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}
function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

// Instructions (§5.4). Locals: 0 p (param), 1 end (param: length, then end), 2 key (param), 3 kv (v128).
const I32 = 0x7f;
const V128 = 0x7b;
const localGet = (i: number): number[] => [0x20, i];
const localSet = (i: number): number[] => [0x21, i];
const i32Const = (n: number): number[] => (n < 64 ? [0x41, n] : [0x41, 0x80 | (n & 0x7f), n >> 7]); // signed LEB, 0 ≤ n < 8192
const i32Add = [0x6a];
const i32GtU = [0x4b];
const i32GeU = [0x4f];
const i32Xor = [0x73];
const i32ShrU = [0x76];
const i32Load = [0x28, 2, 0]; // align 2^2, offset 0
const i32Store = [0x36, 2, 0];
const i32Load8U = [0x2d, 0, 0];
const i32Store8 = [0x3a, 0, 0];
const v128Load = (offset: number): number[] => [0xfd, 0x00, 0, offset]; // align 1, offset < 128
const v128Store = (offset: number): number[] => [0xfd, 0x0b, 0, offset];
const i32x4Splat = [0xfd, 0x11];
const v128Xor = [0xfd, 0x51];
const brIf = (depth: number): number[] => [0x0d, depth];
const br = (depth: number): number[] => [0x0c, depth];
const END = 0x0b;

/** `block loop (exit when `exitIf` is true) body; p += step; continue end end`. */
function loop(exitIf: number[], body: number[], step: number): number[] {
  return [0x02, 0x40, 0x03, 0x40, ...exitIf, ...brIf(1), ...body, ...localGet(0), ...i32Const(step), ...i32Add, ...localSet(0), ...br(0), END, END];
}
/** Exit when fewer than `n` bytes are left: p + n > end. */
const fewerThan = (n: number): number[] => [...localGet(0), ...i32Const(n), ...i32Add, ...localGet(1), ...i32GtU];
/** mem[p + offset .. +16] ^= kv */
const xor16 = (offset: number): number[] => [...localGet(0), ...localGet(0), ...v128Load(offset), ...localGet(3), ...v128Xor, ...v128Store(offset)];

function moduleBytes(): Uint8Array {
  const body = [
    // kv = splat(key); end = p + len
    ...localGet(2), ...i32x4Splat, ...localSet(3),
    ...localGet(0), ...localGet(1), ...i32Add, ...localSet(1),
    // 64 bytes per step, then 16, then 4 (i32), then single bytes with the key shifted down.
    ...loop(fewerThan(64), [...xor16(0), ...xor16(16), ...xor16(32), ...xor16(48)], 64),
    ...loop(fewerThan(16), xor16(0), 16),
    ...loop(fewerThan(4), [...localGet(0), ...localGet(0), ...i32Load, ...localGet(2), ...i32Xor, ...i32Store], 4),
    ...loop(
      [...localGet(0), ...localGet(1), ...i32GeU],
      [...localGet(0), ...localGet(0), ...i32Load8U, ...localGet(2), ...i32Xor, ...i32Store8, ...localGet(2), ...i32Const(8), ...i32ShrU, ...localSet(2)],
      1,
    ),
    END,
  ];
  const func = [...vec([[1, V128]]), ...body];
  const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32]]), ...vec([])]])), // type: (i32 i32 i32) -> ()
    ...section(3, vec([[0]])), // one function of type 0
    ...section(5, vec([[0x01, 1, 1]])), // memory: exactly one page
    ...section(7, vec([[...name('memory'), 0x02, 0], [...name('xor'), 0x00, 0]])),
    ...section(10, vec([[...uleb(func.length), ...func]])),
  ]);
}

type XorExports = { memory: { buffer: ArrayBuffer }; xor: (p: number, len: number, key: number) => void };

function instantiate(): SimdXor | undefined {
  try {
    const wasm = wasmApi();
    if (!wasm) return undefined;
    const instance = new wasm.Instance(new wasm.Module(moduleBytes()));
    const exports = instance.exports as XorExports;
    const memory = new Uint8Array(exports.memory.buffer);
    const fn = exports.xor;
    const simd: SimdXor = { memory, xor: (len, key) => fn(0, len, key) };
    // Check it before trusting it.
    memory.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    simd.xor(19, 0x04030201);
    const want = [0, 0, 0, 0, 4, 4, 4, 12, 8, 8, 8, 8, 12, 12, 12, 20, 16, 16, 16];
    return want.every((v, i) => memory[i] === v) ? simd : undefined;
  } catch {
    return undefined; // no WebAssembly SIMD here
  }
}

let made: SimdXor | undefined | null = null;

/**
 * The kernel, instantiated on first use: a process that never masks 1 KiB at once does not
 * pay for WebAssembly (about 1.6 MB of RSS on Node 20). Undefined where it cannot run.
 */
export function simdXor(): SimdXor | undefined {
  if (made === null) made = instantiate();
  return made;
}
