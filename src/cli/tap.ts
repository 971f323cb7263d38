// Sees the opening handshake's bytes of the connection the library's client opens.
//
// The client (src/node/client.ts) exposes neither the request it wrote nor the response
// head it read. For `connect -v`, the CLI wraps net.connect and tls.connect for the one
// synchronous call that creates the socket, then reads the plaintext side of that socket:
// the first write (the request) and the bytes up to the blank line (the response head).
// Only this process, only while `open` runs.
import net from 'node:net';
import tls from 'node:tls';

export interface HandshakeTap {
  /** The request as written, head only. */
  request: string | undefined;
  /** The response head as received (without the blank line), once complete. */
  response: string | undefined;
  /** Bytes of the response seen so far (when the head never completed). */
  partial: string;
}

export function tapHandshake<T>(open: () => T): { result: T; tap: HandshakeTap } {
  const tap: HandshakeTap = { request: undefined, response: undefined, partial: '' };
  let watched = false;
  const watch = (s: net.Socket): void => {
    if (watched) return;
    watched = true;
    const write = s.write;
    s.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]): boolean {
      if (tap.request === undefined) {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        tap.request = end < 0 ? text : text.slice(0, end);
        s.write = write;
      }
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof s.write;
    const onData = (chunk: Buffer): void => {
      tap.partial += chunk.toString('latin1');
      const end = tap.partial.indexOf('\r\n\r\n');
      if (end >= 0) {
        tap.response = tap.partial.slice(0, end);
        s.off('data', onData);
      } else if (tap.partial.length > 65536) s.off('data', onData);
    };
    s.on('data', onData);
  };
  const netConnect = net.connect;
  const tlsConnect = tls.connect;
  const mutableNet = net as { connect: typeof net.connect };
  const mutableTls = tls as { connect: typeof tls.connect };
  mutableNet.connect = ((...args: Parameters<typeof net.connect>) => {
    const s = (netConnect as (...a: unknown[]) => net.Socket)(...args);
    watch(s);
    return s;
  }) as typeof net.connect;
  mutableTls.connect = ((...args: Parameters<typeof tls.connect>) => {
    const s = (tlsConnect as (...a: unknown[]) => tls.TLSSocket)(...args);
    watch(s);
    return s;
  }) as typeof tls.connect;
  try {
    return { result: open(), tap };
  } finally {
    mutableNet.connect = netConnect;
    mutableTls.connect = tlsConnect;
  }
}
