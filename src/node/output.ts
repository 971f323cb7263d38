// A connection's output: the frames the core writes in one turn of the event loop leave
// together, and a transport that does not keep up stops the reading (`maxBackpressure`).
import type { Duplex } from 'node:stream';
import type { Connection, FrameOutput, PreparedFrame, WriteCallback } from '../protocol/connection.js';
import { ErrorCode, WebSocketError } from '../protocol/errors.js';
import { concatBytes } from '../protocol/bytes.js';
import { FEED_LIMIT, Outbox } from './outbox.js';
import type { SharedFrame } from './shared-frame.js';
import { awaitDrain } from './socket-routing.js';
import type { ResolvedSettings } from './options.js';
import * as diag from './diagnostics.js';

// Bits of `flags` (the booleans of a connection, in one field: idle connections are many).
/** A flush of the frames written this turn is scheduled. */
export const FLUSH_QUEUED = 1;
/** 'close' was emitted (the transport closed, or the client's handshake failed). */
export const CLOSE_EMITTED = 2;
/** Any frame arrived since the last heartbeat tick. */
export const ALIVE = 4;
export const PING_OUTSTANDING = 8;
/** Reading is stopped until the transport drains (`maxBackpressure`). */
export const HELD_BACK = 16;
/** A 'drain' listener is on the transport. */
const DRAIN_WAIT = 32;
/** End the transport once the outbox is empty. */
const END_AFTER_OUTPUT = 64;
/** The application called `pause()`. */
export const APP_PAUSED = 128;
/** The host's `timer` is the close timer (host.ts `armCloseTimer`). */
export const CLOSE_TIMER = 256;

/** Frames written in one turn up to this many bytes are copied into one buffer. */
const COALESCE_LIMIT = 64 * 1024;
/** Writes up to this size are copied straight into the turn's output buffer. */
const SMALL_WRITE = 256;
/** Size of a turn's output buffer (from Node's buffer pool: under 4 KiB). */
const OUTPUT_BUFFER = 2048;

export type SendData = string | Buffer | ArrayBuffer | ArrayBufferView;

/**
 * The bytes of what an application sends.
 * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for anything else
 */
export function toBytes(data: SendData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new WebSocketError(ErrorCode.InvalidArgument, 'data must be a string, Buffer, ArrayBuffer or ArrayBufferView');
}

function flushQueued(out: Output): void {
  out.flush();
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  return concatBytes(parts, size, Buffer.allocUnsafe);
}

/**
 * What one connection wrote in one turn and has not handed to the transport yet. Lent from
 * a pool for the turn and given back at the flush, so an idle connection holds none.
 */
class Turn {
  /** Frames written this turn, not yet handed to the transport. */
  out: Uint8Array[] | undefined = undefined;
  /** When not 0: the last of `out` is an output buffer still being filled, this far. */
  fill = 0;
  /** When set: broadcast frames of this turn, `shared[sharedStart, sharedEnd)`, not yet in `out`. */
  shared: Buffer | undefined = undefined;
  sharedStart = 0;
  sharedEnd = 0;
  bytes = 0;
  /** Of `bytes`, the application's (data frame payloads, before compression). */
  payload = 0;
  done: WriteCallback[] | undefined = undefined;
}

const spareTurns: Turn[] = [];
/** Turns kept for reuse: enough for the connections that write in one turn of a busy server (a broadcast). */
const MAX_SPARE_TURNS = 1024;

function takeTurn(): Turn {
  return spareTurns.pop() ?? new Turn();
}

function giveBack(t: Turn): void {
  t.out = undefined;
  t.fill = 0;
  t.shared = undefined;
  t.sharedStart = 0;
  t.sharedEnd = 0;
  t.bytes = 0;
  t.payload = 0;
  t.done = undefined;
  if (spareTurns.length < MAX_SPARE_TURNS) spareTurns.push(t);
}

/** Cuts the output buffer being filled to what it holds (or closes the run of shared frames). */
function seal(t: Turn): void {
  const shared = t.shared;
  if (shared !== undefined) {
    // (No output buffer is being filled while a run of shared frames is open.)
    (t.out ??= []).push(shared.subarray(t.sharedStart, t.sharedEnd));
    t.shared = undefined;
    return;
  }
  if (t.fill === 0) return;
  const out = t.out!;
  out[out.length - 1] = out[out.length - 1]!.subarray(0, t.fill);
  t.fill = 0;
}

/**
 * The batching half of a connection's host: implements the core's `FrameOutput` over a
 * Node `Duplex`. Small writes of one turn are copied into one buffer and one `write` (a
 * stream write costs more than copying a few KiB), large ones go under cork (one writev,
 * no copy); a slow transport gets the rest as it drains (outbox.ts).
 */
export abstract class Output implements FrameOutput {
  /** The public object this output belongs to (for diagnostics). */
  abstract readonly owner: object;
  socket!: Duplex;
  conn!: Connection;
  settings!: ResolvedSettings;
  flags = ALIVE;
  /** This turn's output, while there is some. */
  #turn: Turn | undefined;
  /** Output the transport has not finished with, while it is slow (see outbox.ts). */
  #outbox: Outbox | undefined;

  has(bit: number): boolean {
    return (this.flags & bit) !== 0;
  }
  set(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }

  write(data: Uint8Array, done?: WriteCallback, payload?: number): void {
    const socket = this.socket;
    if (!socket.writable) {
      if (done) process.nextTick(done, new WebSocketError(ErrorCode.InvalidState, 'the transport is closed'));
      return;
    }
    const t = (this.#turn ??= takeTurn());
    if (data.length <= SMALL_WRITE) {
      const buf = this.reserve(data.length);
      buf.set(data, t.fill);
      t.fill += data.length;
    } else {
      seal(t);
      (t.out ??= []).push(data);
    }
    t.bytes += data.length;
    if (payload) t.payload += payload;
    if (done) (t.done ??= []).push(done);
    this.scheduleFlush();
  }

  /** The output buffer being filled, with room for `n` more bytes at `reservedAt`. */
  reserve(n: number): Buffer {
    const t = (this.#turn ??= takeTurn());
    const out = t.out;
    if (t.fill !== 0) {
      const buf = out![out!.length - 1] as Buffer;
      if (buf.length - t.fill >= n) return buf;
      seal(t);
    } else if (t.shared !== undefined) seal(t);
    const buf = Buffer.allocUnsafe(Math.max(n, OUTPUT_BUFFER));
    (t.out ??= []).push(buf);
    return buf;
  }

  get reservedAt(): number {
    return this.#turn?.fill ?? 0;
  }

  /** After `reserve`: `bytes` were written at `reservedAt`. */
  commit(bytes: number, payload: number): void {
    const t = this.#turn!;
    t.fill += bytes;
    t.bytes += bytes;
    t.payload += payload;
    this.scheduleFlush();
  }

  /**
   * A prepared frame, in its turn (the core's `sendPrepared`). Frames of the shared buffer
   * (shared-frame.ts) that follow one another there go out as one view of it, not copied.
   */
  writePrepared(frame: PreparedFrame, done?: WriteCallback): void {
    const f = frame as SharedFrame;
    const shared = f.shared;
    const n = f.payload.length;
    if (shared === undefined || !this.socket.writable) {
      if (n === 0) this.write(f.header, done, 0);
      else {
        this.write(f.header);
        this.write(f.payload, done, n);
      }
      return;
    }
    const t = (this.#turn ??= takeTurn());
    if (t.shared === shared && t.sharedEnd === f.start) t.sharedEnd = f.end;
    else {
      seal(t);
      t.shared = shared;
      t.sharedStart = f.start;
      t.sharedEnd = f.end;
    }
    t.bytes += f.end - f.start;
    t.payload += n;
    if (done) (t.done ??= []).push(done);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.has(FLUSH_QUEUED)) {
      this.set(FLUSH_QUEUED, true);
      process.nextTick(flushQueued, this);
    }
  }

  /** Hands this turn's frames to the transport now. */
  flush(): void {
    this.set(FLUSH_QUEUED, false);
    const t = this.#turn;
    if (t === undefined) return;
    seal(t);
    const parts = t.out;
    const size = t.bytes;
    const payload = t.payload;
    const dones = t.done;
    this.#turn = undefined;
    giveBack(t);
    if (parts === undefined) return;
    diag.wrote(this, size);
    const socket = this.socket;
    const cb = dones && ((err?: Error | null) => {
      for (const f of dones) f(err);
    });
    let box = this.#outbox;
    // An outbox whose writes all went out is dropped: no listener is needed to notice that.
    if (box !== undefined && box.isEmpty(socket.writableLength)) box = this.#outbox = undefined;
    if ((box !== undefined && box.isWaiting) || socket.writableLength + size > FEED_LIMIT) {
      // A slow transport, or a large write: handed on as it drains (outbox.ts).
      const b = (this.#outbox ??= new Outbox());
      // A view of a larger buffer (shared broadcast frames) is copied before it waits, so that
      // a slow reader holds its own bytes, not the buffer they were cut from.
      let held = parts;
      if (size <= COALESCE_LIMIT) {
        if (parts.length > 1) held = [join(parts, size)];
        else if (parts[0]!.buffer.byteLength > 2 * size) held = [Buffer.from(parts[0]!)];
      }
      b.hold(held, size, payload, cb);
      if (b.feed(socket)) this.waitForDrain();
    } else {
      if (parts.length === 1) {
        socket.write(parts[0]!, cb);
      } else if (size <= COALESCE_LIMIT) {
        socket.write(join(parts, size), cb);
      } else {
        socket.cork();
        for (let i = 0; i < parts.length - 1; i++) socket.write(parts[i]!);
        socket.write(parts[parts.length - 1]!, cb);
        socket.uncork();
      }
      // Not all taken at once: keep count of it, for `bufferedAmount`.
      if (socket.writableLength > 0) (this.#outbox ??= new Outbox()).handed(size, payload);
    }
    this.checkBackpressure();
  }

  /**
   * Payload bytes accepted and not yet handed to the OS: waiting for compression, for this
   * turn's write, or for a slow transport (`bufferedAmount`).
   */
  get bufferedPayload(): number {
    const box = this.#outbox;
    return this.conn.queuedPayload + (this.#turn?.payload ?? 0) + (box ? box.payload(this.socket.writableLength) : 0);
  }

  /** What the transport has not taken from earlier turns (a broadcast's backlog). */
  get transportBacklog(): number {
    return this.socket.writableLength + (this.#outbox?.waitingBytes ?? 0);
  }

  /** Bytes waiting to go out, headers included: what `maxBackpressure` weighs. */
  private backlog(): number {
    return this.conn.queuedPayload + (this.#turn?.bytes ?? 0) + this.socket.writableLength + (this.#outbox?.waitingBytes ?? 0);
  }

  /**
   * Too much waits to go out (`maxBackpressure`): read nothing more until it drains, so a
   * peer that sends without reading is held back by TCP instead of growing our buffers.
   * Reading resumes once it is back under the limit (after a drain or a compression).
   */
  checkBackpressure(): void {
    const socket = this.socket;
    const over = this.backlog() > this.settings.maxBackpressure;
    if (over) {
      if (!this.has(HELD_BACK)) {
        // Both the transport and the core: bytes already read are not parsed either.
        this.set(HELD_BACK, true);
        diag.stalled(this, 'read-paused', this.backlog());
        socket.pause();
        this.conn.pause();
      }
      if (socket.writableNeedDrain) this.waitForDrain();
    } else if (this.has(HELD_BACK)) {
      this.set(HELD_BACK, false);
      const conn = this.conn;
      if (!this.has(APP_PAUSED) && conn.state.kind !== 'closed') {
        socket.resume();
        conn.resume();
      }
    }
  }

  private waitForDrain(): void {
    if (this.has(DRAIN_WAIT)) return;
    this.set(DRAIN_WAIT, true);
    awaitDrain(this.socket);
  }

  /**
   * The transport took what it held: the peer is reading, so it is alive (a ping of ours
   * may be waiting behind that data). Hand on more, and read again when under the
   * backpressure limit.
   */
  onDrain(): void {
    this.set(DRAIN_WAIT, false);
    this.set(ALIVE, true);
    const socket = this.socket;
    const box = this.#outbox;
    if (box) {
      if (box.feed(socket)) this.waitForDrain();
      else {
        if (box.isEmpty(socket.writableLength)) this.#outbox = undefined;
        if (this.has(END_AFTER_OUTPUT) && !socket.writableEnded) socket.end();
      }
    }
    if (this.conn.state.kind !== 'closed') this.checkBackpressure();
  }

  /** Ends the transport's write side once everything before it was handed on. */
  endAfterOutput(): void {
    const socket = this.socket;
    if (socket.writableEnded || socket.destroyed) return;
    if (this.#outbox?.isWaiting) this.set(END_AFTER_OUTPUT, true);
    else socket.end();
  }

  /** The transport closed: what still waits will not be sent. */
  dropOutput(): void {
    // An error (and its stack) only when a write waits to be told.
    if (this.#outbox?.isWaiting) this.#outbox.drop(new WebSocketError(ErrorCode.InvalidState, 'the transport closed before this was sent'));
  }
}
