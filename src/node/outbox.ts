import type { Duplex } from 'node:stream';
import type { WriteCallback } from '../protocol/connection.js';

/**
 * The transport is handed at most this many bytes beyond what it already holds; the rest
 * waits here. Each 'drain' then shows that the peer is reading (a heartbeat counts it as
 * alive), and the amount still waiting stays visible (`bufferedAmount`, backpressure).
 */
export const FEED_LIMIT = 1024 * 1024;

/** One flush's output: the frames written in one turn of the event loop. */
interface Batch {
  parts: Uint8Array[];
  /** Index in `parts` and offset in it of the first byte not yet handed on. */
  index: number;
  offset: number;
  /** Bytes in all, of which `payload` are the application's; `sent` handed on so far. */
  bytes: number;
  payload: number;
  sent: number;
  done: WriteCallback | undefined;
}

/** Application bytes in the first `n` of `bytes` bytes that carry `payload`: headers go first. */
function payloadIn(bytes: number, payload: number, n: number): number {
  return Math.max(0, n - (bytes - payload));
}

/**
 * Output of a connection whose transport is slow: what waits to be handed to it, and what
 * it holds, for as long as it holds anything. Made only then: idle and fast connections
 * have none.
 */
export class Outbox {
  /** Batches not yet (or not wholly) handed to the transport, oldest first. */
  readonly #waiting: Batch[] = [];
  #waitingBytes = 0;
  #waitingPayload = 0;
  /** Writes handed to the transport while it held bytes: [bytes, payload] pairs, oldest first. */
  #flight: number[] = [];
  #flightBytes = 0;

  /** Bytes that wait to be handed to the transport. */
  get waitingBytes(): number {
    return this.#waitingBytes;
  }

  get isWaiting(): boolean {
    return this.#waiting.length > 0;
  }

  /** Records a write the transport took but has not finished. */
  handed(bytes: number, payload: number): void {
    this.#flight.push(bytes, payload);
    this.#flightBytes += bytes;
  }

  /** Keeps a batch for later, behind the others. */
  hold(parts: Uint8Array[], bytes: number, payload: number, done: WriteCallback | undefined): void {
    this.#waiting.push({ parts, index: 0, offset: 0, bytes, payload, sent: 0, done });
    this.#waitingBytes += bytes;
    this.#waitingPayload += payload;
  }

  /**
   * Hands waiting bytes to `socket` until it holds `FEED_LIMIT`; a batch's callback goes
   * with its last byte. Returns whether anything still waits.
   */
  feed(socket: Duplex): boolean {
    const w = this.#waiting;
    while (w.length > 0) {
      let room = FEED_LIMIT - socket.writableLength;
      if (room <= 0) return true;
      const b = w[0]!;
      let n = 0;
      socket.cork();
      while (room > 0 && b.index < b.parts.length) {
        const p = b.parts[b.index]!;
        const k = Math.min(room, p.length - b.offset);
        const last = b.index === b.parts.length - 1 && b.offset + k === p.length;
        const chunk = b.offset === 0 && k === p.length ? p : p.subarray(b.offset, b.offset + k);
        if (last) socket.write(chunk, b.done);
        else socket.write(chunk);
        n += k;
        room -= k;
        b.offset += k;
        if (b.offset === p.length) {
          b.index++;
          b.offset = 0;
        }
      }
      socket.uncork();
      const payload = payloadIn(b.bytes, b.payload, b.sent + n) - payloadIn(b.bytes, b.payload, b.sent);
      b.sent += n;
      this.#waitingBytes -= n;
      this.#waitingPayload -= payload;
      this.handed(n, payload);
      if (b.index === b.parts.length) w.shift();
    }
    return false;
  }

  /**
   * Forgets the writes the transport finished, given how many bytes it holds now: they
   * complete oldest first. Returns the bytes of the oldest write that are done too.
   */
  prune(held: number): number {
    const f = this.#flight;
    let finished = this.#flightBytes - held;
    let n = 0;
    while (n < f.length && finished >= f[n]!) {
      finished -= f[n]!;
      this.#flightBytes -= f[n]!;
      n += 2;
    }
    if (n > 0) f.splice(0, n);
    return finished;
  }

  /** Application bytes still waiting or in the transport, which holds `held` bytes now. */
  payload(held: number): number {
    const f = this.#flight;
    const finished = this.prune(held);
    let p = this.#waitingPayload;
    for (let i = 1; i < f.length; i += 2) p += f[i]!;
    // The oldest write is partly done.
    if (finished > 0 && f.length > 0) p -= payloadIn(f[0]!, f[1]!, finished);
    return p;
  }

  /** Nothing waits and the transport holds nothing of ours: the outbox can go. */
  isEmpty(held: number): boolean {
    if (this.#waiting.length > 0) return false;
    this.prune(held);
    return this.#flight.length === 0;
  }

  /** The connection is gone: tell the waiting batches' callbacks. */
  drop(err: Error): void {
    for (const b of this.#waiting) b.done?.(err);
    this.#waiting.length = 0;
    this.#waitingBytes = 0;
    this.#waitingPayload = 0;
  }
}
