// The body of a refused handshake, read briefly and bounded, for the error users see:
// Content-Length or chunked framing honoured (HTTP/1.1), or the stream's end (HTTP/2).
import type { Duplex } from 'node:stream';
import { BodyReader } from '../protocol/handshake/body.js';

/** Largest error response body kept, in bytes. */
const MAX_ERROR_BODY = 4096;
/** Time given to an error response's body, in ms. */
const ERROR_BODY_TIME = 500;

/**
 * Reads at most 4 KiB of an error response's body: until that much, its end (by the
 * `headers`' Content-Length or chunked coding, decoded; else the connection's end), or 500 ms.
 */
export function readErrorBody(s: Duplex, first: Uint8Array, headers: { get(name: string): string | undefined } = NO_HEADERS): Promise<string> {
  return new Promise((resolve) => {
    const reader = new BodyReader(headers, MAX_ERROR_BODY);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(t);
      s.off('data', onData);
      s.off('end', finish);
      s.off('close', finish);
      resolve(Buffer.from(reader.body).toString('utf8'));
    };
    const onData = (c: Buffer): void => {
      reader.push(c);
      if (reader.done) finish();
    };
    const t = setTimeout(finish, ERROR_BODY_TIME);
    reader.push(first);
    if (reader.done) return finish();
    s.on('data', onData);
    s.on('end', finish);
    s.on('close', finish);
    // A socket paused by its reader (a proxy's tunnel, a probe) flows again.
    s.resume();
  });
}

const NO_HEADERS = { get: (): undefined => undefined };
