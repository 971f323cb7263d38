// Broadcast frames laid end to end in a shared buffer, so that a connection receiving several
// broadcasts in one tick writes one view of that buffer instead of copying each frame into
// its own output: "frame once, write to many" across the messages of a tick, not only across
// the connections. Server-side frames are unmasked (RFC 6455 §5.1), so the same bytes serve
// every recipient. The bytes are never changed once placed.
import { prepareFrame, type PreparedFrame } from '../protocol/connection.js';

/** A prepared frame whose header and payload also sit contiguously in `shared[start, end)`. */
export interface SharedFrame extends PreparedFrame {
  readonly shared?: Buffer;
  readonly start: number;
  readonly end: number;
}

/**
 * Size of one shared buffer. A connection whose write the OS does not take at once keeps the
 * buffer its view belongs to until that write is done: this bounds what such a connection
 * holds beyond its own bytes.
 */
const ARENA = 16 * 1024;
/** Larger frames are not shared this way (they are written beside their header anyway). */
const MAX_SHARED = 1024;

let arena: Buffer | undefined;
let fill = 0;

/** `prepareFrame`, placing small frames in the shared buffer. */
export function prepareSharedFrame(opcode: number, payload: Uint8Array, compressed = false): SharedFrame {
  const frame = prepareFrame(opcode, payload, compressed);
  const h = frame.header.length;
  const n = h + payload.length;
  if (n > MAX_SHARED) return { ...frame, start: 0, end: 0 };
  if (arena === undefined || ARENA - fill < n) {
    arena = Buffer.allocUnsafeSlow(ARENA);
    fill = 0;
  }
  const start = fill;
  arena.set(frame.header, start);
  arena.set(payload, start + h);
  fill += n;
  return { opcode: frame.opcode, header: frame.header, payload: frame.payload, shared: arena, start, end: fill };
}
