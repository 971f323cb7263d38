// Node modules that only some connections need, loaded when first used: each would cost
// RSS in every process that imports ws13 (node:tls about 1.5 MB, node:http2 about 1 MB).
import type http2 from 'node:http2';
import { createRequire } from 'node:module';
import type tls from 'node:tls';

const load = createRequire(import.meta.url);

let tlsModule: typeof tls | undefined;
/** node:tls, for the first wss: or HTTPS proxy connection. */
export function lazyTls(): typeof tls {
  return (tlsModule ??= load('node:tls') as typeof tls);
}

let http2Module: typeof http2 | undefined;
/** node:http2, for the first client that dials over HTTP/2. */
export function lazyHttp2(): typeof http2 {
  return (http2Module ??= load('node:http2') as typeof http2);
}
