// The one place ws13 touches Node internals (STYLE.md item 21). Each internal is tested once,
// when this module loads, and used only if it behaves exactly as its public counterpart;
// otherwise the public API takes over and one warning (code WS13_INTERNALS) says what fell
// back and what it costs. The exports have the same signatures either way.
//
//   name          internal                                   public fallback
//   zlib          a zlib object's `_handle.writeSync`,        zlib.deflateRawSync / inflateRawSync, with
//                 `_writeState` (the call behind *Sync)       the window carried as a dictionary
//   utf8Write     Buffer.prototype.utf8Write                  buf.write(string, offset, length, 'utf8')
//   utf8Slice     Buffer.prototype.utf8Slice                  buf.toString('utf8', start, end)
//   latin1Slice   Buffer.prototype.latin1Slice                buf.toString('latin1', start, end)
//   events        EventEmitter's `_events` store, replaced    EventEmitter's own store
//                 by a fast-mode object
//
// Tests force the fallbacks with the environment variable WS13_NO_INTERNALS, read at load:
// `1` (or `all`) for every internal, or a comma-separated list of the names above
// (`WS13_NO_INTERNALS=zlib,events`).
import { EventEmitter } from 'node:events';
import { detect, warn, type InternalName } from './internals-detect.js';
import { hasZlib } from './internals-zlib.js';

export { INTERNAL_NAMES, type InternalName } from './internals-detect.js';
export {
  createSyncDeflate,
  createSyncInflate,
  Z_NO_FLUSH,
  Z_SYNC_FLUSH,
  Z_FULL_FLUSH,
  type SyncDeflate,
  type SyncInflate,
  type DeflateOptions,
} from './internals-zlib.js';

// ---------------------------------------------------------------------------------------
// UTF-8 and Latin-1

type WriteFn = (this: Buffer, s: string, offset: number, length: number) => number;
type SliceFn = (this: Uint8Array, start: number, end: number) => string;
const proto = Buffer.prototype as unknown as { utf8Write?: WriteFn; utf8Slice?: SliceFn; latin1Slice?: SliceFn };
const nativeUtf8Write = proto.utf8Write;
const nativeUtf8Slice = proto.utf8Slice;
const nativeLatin1Slice = proto.latin1Slice;

function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** Strings that cover each UTF-8 length, lone and paired surrogates, and cuts inside characters. */
const PROBE_STRINGS = ['', 'a', 'ab\u00e9', '\u20ac\u20ac', '\ud83d\ude00x', '\ud800', 'a\udc00b', '\ud83d', 'x\ud83d\ude00\ud83d\ude00'];
/** Bytes: ASCII, 2-, 3- and 4-byte sequences, a BOM, and invalid ones (replaced by U+FFFD). */
const PROBE_BYTES = [
  [], [0x41, 0x42], [0xc3, 0xa9, 0x41], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xef, 0xbb, 0xbf, 0x41],
  [0xff, 0x41], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x80, 0xbf, 0xe9],
].map((b) => new Uint8Array(b));

const hasUtf8Write = detect('utf8Write', () => {
  if (typeof nativeUtf8Write !== 'function') return false;
  const a = Buffer.alloc(40);
  const b = Buffer.alloc(40);
  for (const s of PROBE_STRINGS) {
    for (let max = 0; max <= 3 * s.length; max++) {
      a.fill(0);
      b.fill(0);
      if (nativeUtf8Write.call(a, s, 1, max) !== b.write(s, 1, max, 'utf8') || !a.equals(b)) return false;
    }
  }
  return true;
});
if (!hasUtf8Write) warn('utf8Write', 'Buffer.prototype.utf8Write', 'each small text send goes through buf.write and its argument checks (about 20 ns more, measured on Node 20)');

/**
 * Writes `s` as UTF-8 into `buf` at `offset`, at most `maxBytes` bytes (and never past the
 * end of `buf`); returns the number written. A character that does not fit is left out
 * whole, never split; a lone surrogate becomes U+FFFD (EF BF BD), as with `Buffer.from`.
 */
export const writeUtf8: (buf: Buffer, s: string, offset: number, maxBytes: number) => number = hasUtf8Write
  ? // The limit is cut to the buffer here: Node 24 throws past the end, as buf.write does.
    (buf, s, offset, maxBytes) => nativeUtf8Write!.call(buf, s, offset, Math.min(maxBytes, buf.length - offset))
  : (buf, s, offset, maxBytes) => buf.write(s, offset, Math.min(maxBytes, buf.length - offset), 'utf8');

const hasUtf8Slice = detect('utf8Slice', () => {
  if (typeof nativeUtf8Slice !== 'function') return false;
  // Called on plain Uint8Arrays as well as Buffers.
  return PROBE_BYTES.every((u8) => nativeUtf8Slice.call(u8, 0, u8.length) === Buffer.from(u8).toString('utf8') && nativeUtf8Slice.call(u8, 1, u8.length) === Buffer.from(u8).toString('utf8', 1));
});
if (!hasUtf8Slice) warn('utf8Slice', 'Buffer.prototype.utf8Slice', 'each text message that is not a Buffer is decoded through a Buffer view made for it and buf.toString (about 50 to 100 ns more, measured on Node 20)');

/**
 * Decodes bytes `start` to `end` of any Uint8Array (a Buffer or not) as UTF-8, exactly as
 * `buf.toString('utf8', start, end)`: invalid sequences become U+FFFD, a BOM is kept.
 */
export const decodeUtf8: (u8: Uint8Array, start: number, end: number) => string = hasUtf8Slice
  ? (u8, start, end) => nativeUtf8Slice!.call(u8, start, end)
  : (u8, start, end) => asBuffer(u8).toString('utf8', start, end);

const hasLatin1Slice = detect('latin1Slice', () => {
  if (typeof nativeLatin1Slice !== 'function') return false;
  return PROBE_BYTES.every((u8) => nativeLatin1Slice.call(u8, 0, u8.length) === Buffer.from(u8).toString('latin1'));
});
if (!hasLatin1Slice) warn('latin1Slice', 'Buffer.prototype.latin1Slice', 'each ASCII text message that is not a Buffer is decoded through a Buffer view made for it and buf.toString (about 50 to 100 ns more, measured on Node 20)');

/** Decodes bytes `start` to `end` of any Uint8Array as Latin-1 (one character per byte), as `buf.toString('latin1', start, end)`. */
export const decodeLatin1: (u8: Uint8Array, start: number, end: number) => string = hasLatin1Slice
  ? (u8, start, end) => nativeLatin1Slice!.call(u8, start, end)
  : (u8, start, end) => asBuffer(u8).toString('latin1', start, end);

// ---------------------------------------------------------------------------------------
// EventEmitter's listener store

/**
 * EventEmitter keeps listeners in a `{ __proto__: null }` object in `_events`, which V8
 * makes a dictionary (about 200 bytes). An instance of this is a plain fast-mode object,
 * equally free of inherited keys.
 */
const ListenerTable = function ListenerTable(this: object) {} as unknown as new () => Record<string, unknown>;
ListenerTable.prototype = Object.create(null) as object;

const hasEvents = detect('events', () => {
  // An emitter made as `initEmitter` makes them: EventEmitter's prototype, our table, and
  // EventEmitter's constructor not run.
  const e = Object.create(EventEmitter.prototype) as EventEmitter & { _events: object; _eventsCount: number };
  const table = new ListenerTable();
  e._events = table;
  e._eventsCount = 0;
  let calls = 0;
  const f = (): void => {
    calls++;
  };
  e.on('message', f);
  e.on('message', f);
  e.once('close', f);
  e.on('toString', f);
  // The emitter must keep its listeners in our table, and find nothing inherited.
  if (table.message === undefined || e.listenerCount('hasOwnProperty') !== 0 || e.emit('constructor')) return false;
  e.emit('message');
  e.emit('close');
  e.emit('close');
  e.emit('toString');
  const names = e.eventNames();
  if (calls !== 4 || e.listenerCount('message') !== 2 || names.length !== 2 || names[0] !== 'message' || names[1] !== 'toString') return false;
  if (e.getMaxListeners() !== EventEmitter.defaultMaxListeners) return false;
  e.removeAllListeners('message');
  e.off('toString', f);
  return e.eventNames().length === 0 && e.listenerCount('message') === 0 && !Object.hasOwn(e, 'toString');
});
if (!hasEvents) warn('events', "EventEmitter's _events store", "WebSocket objects keep EventEmitter's dictionary-mode listener object and its per-instance fields (about 220 bytes more per connection)");

/**
 * Sets up an object whose prototype chain has EventEmitter's as an emitter with no
 * listeners, in place of EventEmitter's constructor: a fast-mode listener store and the
 * count. The constructor would also give every instance `_maxListeners` and two symbol
 * fields, which EventEmitter's prototype answers for already (24 bytes each connection).
 * With the fallback, EventEmitter's constructor.
 */
export const initEmitter: (emitter: object) => void = hasEvents
  ? (emitter) => {
      const e = emitter as { _events: object; _eventsCount: number };
      e._events = new ListenerTable();
      e._eventsCount = 0;
    }
  : (emitter) => {
      Reflect.apply(EventEmitter, emitter, []);
    };

export const internals: Readonly<Record<InternalName, boolean>> = Object.freeze({
  zlib: hasZlib,
  utf8Write: hasUtf8Write,
  utf8Slice: hasUtf8Slice,
  latin1Slice: hasLatin1Slice,
  events: hasEvents,
});
