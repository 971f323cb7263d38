// Sends that wait behind a Blob: a Blob's bytes are read asynchronously, and what is sent
// after it must not overtake it (WHATWG WebSockets: send() keeps order, whatever the type).
import type { WriteCallback } from '../protocol/connection.js';
import type { SendData } from './output.js';
import type { SendOptions } from './types.js';

interface Item {
  data: SendData | Blob;
  options: SendOptions | undefined;
  callback: WriteCallback | undefined;
  size: number;
}

/** How `WebSocket#send` sends once the bytes are there (the queue is bypassed while it runs). */
export type SendNow = (data: SendData, options: SendOptions | undefined, callback: WriteCallback | undefined) => void;

/** The sends of one connection from its first Blob until all have gone; made per burst. */
export class SendQueue {
  #items: Item[] = [];
  /** Bytes waiting here, counted in `bufferedAmount` (browsers count a Blob at once). */
  bytes = 0;
  /** True while an item is being handed on: `send()` must not queue it again. */
  draining = false;

  constructor(
    private readonly sendNow: SendNow,
    private readonly done: () => void,
  ) {}

  push(data: SendData | Blob, options: SendOptions | undefined, callback: WriteCallback | undefined): void {
    const size = data instanceof Blob ? data.size : typeof data === 'string' ? Buffer.byteLength(data) : (data as ArrayBufferView | ArrayBuffer).byteLength;
    this.#items.push({ data, options, callback, size });
    this.bytes += size;
    if (this.#items.length === 1) void this.#drain();
  }

  async #drain(): Promise<void> {
    const items = this.#items;
    while (items.length > 0) {
      const item = items[0]!;
      let data: SendData;
      let options = item.options;
      if (item.data instanceof Blob) {
        try {
          data = new Uint8Array(await item.data.arrayBuffer());
        } catch (err) {
          data = new Uint8Array(0);
          item.callback?.(err as Error);
          items.shift();
          this.bytes -= item.size;
          continue;
        }
        // A Blob is binary unless the options say otherwise.
        options = { binary: true, ...options };
      } else data = item.data;
      items.shift();
      this.bytes -= item.size;
      this.draining = true;
      try {
        this.sendNow(data, options, item.callback);
      } catch (err) {
        // Invalid UTF-8 sent as text, say: the caller is gone, so the callback hears of it.
        item.callback?.(err as Error);
      } finally {
        this.draining = false;
      }
    }
    this.done();
  }
}
