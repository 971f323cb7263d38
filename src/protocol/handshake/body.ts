// The body of a refused handshake's answer, read as far as a client shows it: framed by
// Content-Length, by chunked transfer coding (RFC 9112 §7.1), or by the connection's end.
// Chunked bodies are decoded, so a client shows "<html>…", not "13\r\n<html>…\r\n0".

/** Reads an answer's body incrementally, up to `limit` bytes of content. */
export class BodyReader {
  readonly #limit: number;
  readonly #chunked: boolean;
  #remaining: number | undefined;
  readonly #parts: Uint8Array[] = [];
  #size = 0;
  #done = false;
  // Chunked decoding state: reading a size line, chunk data, or the CRLF after it.
  #state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  #line = '';
  #left = 0;

  /** `headers` are the answer's (lower-case lookup); `limit` caps what is kept. */
  constructor(headers: { get(name: string): string | undefined }, limit: number) {
    this.#limit = limit;
    const te = headers.get('transfer-encoding');
    this.#chunked = te !== undefined && /(^|,)\s*chunked\s*$/i.test(te);
    const cl = headers.get('content-length');
    if (!this.#chunked && cl !== undefined && /^\d+$/.test(cl.trim())) this.#remaining = Number(cl);
    if (this.#remaining === 0) this.#done = true;
  }

  /** True once the whole body (or `limit` bytes of it) has been read. */
  get done(): boolean {
    return this.#done || this.#size >= this.#limit;
  }

  /** The content read so far (decoded when chunked), at most `limit` bytes. */
  get body(): Uint8Array {
    const all = new Uint8Array(Math.min(this.#size, this.#limit));
    let at = 0;
    for (const p of this.#parts) {
      if (at >= all.length) break;
      const n = Math.min(p.length, all.length - at);
      all.set(p.subarray(0, n), at);
      at += n;
    }
    return all;
  }

  push(chunk: Uint8Array): void {
    if (this.done) return;
    if (!this.#chunked) {
      const take = this.#remaining === undefined ? chunk : chunk.subarray(0, this.#remaining);
      this.#keep(take);
      if (this.#remaining !== undefined) {
        this.#remaining -= take.length;
        if (this.#remaining <= 0) this.#done = true;
      }
      return;
    }
    let i = 0;
    while (i < chunk.length && !this.#done) {
      if (this.#state === 'data') {
        const n = Math.min(this.#left, chunk.length - i);
        this.#keep(chunk.subarray(i, i + n));
        this.#left -= n;
        i += n;
        if (this.#left === 0) this.#state = 'crlf';
        continue;
      }
      const b = chunk[i++]!;
      if (b !== 0x0a) {
        // A size line is short; a longer one is not chunked coding: stop reading there.
        if (b !== 0x0d) this.#line += String.fromCharCode(b);
        if (this.#line.length > 1024) this.#done = true;
        continue;
      }
      const line = this.#line;
      this.#line = '';
      if (this.#state === 'crlf') this.#state = 'size';
      else if (this.#state === 'trailer') {
        if (line === '') this.#done = true;
      } else {
        // chunk-size [; extensions]
        const size = parseInt(line.split(';')[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0) this.#done = true;
        else if (size === 0) this.#state = 'trailer';
        else {
          this.#left = size;
          this.#state = 'data';
        }
      }
    }
  }

  #keep(b: Uint8Array): void {
    if (b.length === 0) return;
    this.#parts.push(b.slice());
    this.#size += b.length;
  }
}
