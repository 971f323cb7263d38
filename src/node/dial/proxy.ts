// Dialing a WebSocket server: directly, or through an HTTP(S) proxy's CONNECT tunnel
// (RFC 9110 §9.3.6), then TLS for wss:. The proxy comes from an option, or from
// HTTPS_PROXY / HTTP_PROXY / NO_PROXY when the caller opts in to reading the environment.
import net from 'node:net';
import type tls from 'node:tls';
import { lazyTls } from '../lazy-modules.js';
import { ErrorCode, HandshakeError, WebSocketError } from '../../protocol/errors.js';
import { HeadReader, parseResponseHead } from '../../protocol/handshake/http1.js';

export interface DialTarget {
  /** Host name or address (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  /** TLS options for wss: (ca, cert, key, rejectUnauthorized, …). */
  readonly tls?: tls.ConnectionOptions | undefined;
  /** The local address to connect from (to the server, or to the proxy). */
  readonly localAddress?: string | undefined;
}

/** The proxy options of a client. */
export interface ProxyOptions {
  /** An HTTP(S) proxy to tunnel through: `http://[user:pass@]host:port` or `https://…`. */
  proxy?: string | URL | undefined;
  /** Read the proxy from HTTPS_PROXY (wss:) or HTTP_PROXY (ws:), honouring NO_PROXY; off by default. */
  proxyFromEnvironment?: boolean | undefined;
}

const env = (e: NodeJS.ProcessEnv, name: string): string | undefined => e[name] || e[name.toLowerCase()] || undefined;

/** True when NO_PROXY (a comma list of hosts, .domains, host:port, or `*`) exempts this host. */
export function noProxy(host: string, port: number, list: string | undefined): boolean {
  if (!list) return false;
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (let entry of list.split(/[\s,]+/)) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: number | undefined;
    const m = /^(.*):(\d+)$/.exec(entry);
    if (m && !entry.startsWith('[') && m[1]!.includes(':') === false) {
      entry = m[1]!;
      entryPort = Number(m[2]);
    } else if (/^\[.*\]:\d+$/.test(entry)) {
      entryPort = Number(entry.slice(entry.lastIndexOf(':') + 1));
      entry = entry.slice(1, entry.lastIndexOf(']'));
    }
    entry = entry.replace(/^\[|\]$/g, '').replace(/^\*?\./, '.');
    if (entryPort !== undefined && entryPort !== port) continue;
    const domain = entry.startsWith('.') ? entry.slice(1) : entry;
    if (h === domain || h.endsWith(`.${domain}`)) return true;
  }
  return false;
}

/**
 * The proxy to use for `target`, or undefined to connect directly.
 * @throws WebSocketError WS_ERR_INVALID_ARGUMENT for a proxy URL that is not http: or https:
 */
export function proxyFor(target: DialTarget, opts: ProxyOptions, e: NodeJS.ProcessEnv = process.env): URL | undefined {
  let raw: string | URL | undefined = opts.proxy;
  if (raw === undefined && opts.proxyFromEnvironment) {
    if (noProxy(target.host, target.port, env(e, 'NO_PROXY'))) return undefined;
    raw = target.secure ? env(e, 'HTTPS_PROXY') : env(e, 'HTTP_PROXY');
  }
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    // A bare host:port (as environment variables often hold) means http://host:port.
    url = new URL(typeof raw === 'string' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? `http://${raw}` : raw);
  } catch {
    throw new WebSocketError(ErrorCode.InvalidArgument, `invalid proxy URL: ${String(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebSocketError(ErrorCode.InvalidArgument, `a proxy URL is http: or https:, not ${url.protocol}`);
  }
  return url;
}

/** The CONNECT request for `host:port`, with Basic proxy credentials from the proxy URL. */
export function connectRequest(host: string, port: number, proxy: URL): string {
  const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  let s = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (proxy.username || proxy.password) {
    const user = decodeURIComponent(proxy.username);
    const pass = decodeURIComponent(proxy.password);
    // RFC 9110 §11.7.2 and RFC 7617: Basic credentials for the proxy.
    s += `Proxy-Authorization: Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}\r\n`;
  }
  return `${s}\r\n`;
}

export type DialCallback = (err: WebSocketError | undefined, socket: net.Socket | undefined) => void;

/**
 * Opens the byte stream to the server: TCP (through the proxy's tunnel when there is one),
 * then TLS for wss:. Calls `done` once, with a socket ready for the request, or an error.
 * Returns a function that aborts the attempt.
 */
export function dial(target: DialTarget, proxy: URL | undefined, done: DialCallback): () => void {
  let current: net.Socket | undefined;
  let finished = false;
  const from = target.localAddress === undefined ? {} : { localAddress: target.localAddress };
  const finish = (err: WebSocketError | undefined, s: net.Socket | undefined): void => {
    if (finished) return void s?.destroy();
    finished = true;
    done(err, s);
  };
  const network = (what: string) => (err: Error) =>
    finish(new HandshakeError(ErrorCode.HandshakeNetwork, `${what}: ${err.message}`, { cause: err }), undefined);
  const secure = (raw: net.Socket | undefined): void => {
    if (!target.secure) {
      // Paused while the proxy's answer was read: a 'data' listener alone would not resume it.
      raw?.resume();
      return void (raw ? finish(undefined, raw) : undefined);
    }
    const host = target.host;
    const s = lazyTls().connect({
      ...(raw ? { socket: raw } : { host, port: target.port, ...from }),
      ...(net.isIP(host) ? {} : { servername: host }),
      ALPNProtocols: ['http/1.1'],
      ...target.tls,
    });
    current = s;
    s.once('error', network('connection failed'));
    s.once('secureConnect', () => {
      s.removeAllListeners('error');
      finish(undefined, s);
    });
  };
  if (!proxy) {
    if (target.secure) secure(undefined);
    else {
      const s = net.connect({ host: target.host, port: target.port, ...from });
      current = s;
      s.once('error', network('connection failed'));
      s.once('connect', () => {
        s.removeAllListeners('error');
        finish(undefined, s);
      });
    }
    return () => current?.destroy();
  }

  // Through the proxy: TCP (or TLS for an https: proxy) to it, CONNECT, then our own TLS.
  const pHost = proxy.hostname.replace(/^\[|\]$/g, '');
  const pPort = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80));
  const toProxy: net.Socket =
    proxy.protocol === 'https:'
      ? lazyTls().connect({ host: pHost, port: pPort, ...from, ...(net.isIP(pHost) ? {} : { servername: pHost }), ...(target.tls?.ca ? { ca: target.tls.ca } : {}) })
      : net.connect({ host: pHost, port: pPort, ...from });
  current = toProxy;
  toProxy.setNoDelay(true);
  const onError = network(`cannot reach the proxy ${proxy.host}`);
  toProxy.once('error', onError);
  toProxy.once(proxy.protocol === 'https:' ? 'secureConnect' : 'connect', () => toProxy.write(connectRequest(target.host, target.port, proxy)));
  const reader = new HeadReader(16384);
  const onData = (chunk: Buffer): void => {
    const r = reader.push(chunk);
    if (r.kind === 'more') return;
    toProxy.off('data', onData);
    toProxy.off('close', onClose);
    if (r.kind !== 'done') return refuse(undefined, 'the proxy answered CONNECT with something that is not HTTP');
    let res;
    try {
      res = parseResponseHead(r.head);
    } catch {
      return refuse(undefined, 'the proxy answered CONNECT with something that is not HTTP');
    }
    if (res.status < 200 || res.status > 299) {
      // 407 (RFC 9110 §15.5.8); some proxies (tinyproxy) answer 401 instead.
      const auth = res.status === 407 || res.status === 401;
      const why = auth ? 'proxy authentication required (give user:pass in the proxy URL)' : 'the proxy refused the tunnel';
      return refuse(res.status, `${why}: CONNECT ${target.host}:${target.port} answered ${res.status} ${res.statusText}`.trim(), res.headers.toObject());
    }
    toProxy.removeListener('error', onError);
    toProxy.pause();
    // Bytes after the proxy's answer already belong to the server.
    if (r.rest.length) toProxy.unshift(Buffer.from(r.rest));
    secure(toProxy);
  };
  const refuse = (status: number | undefined, message: string, headers?: Record<string, string>): void => {
    toProxy.destroy();
    finish(new HandshakeError(ErrorCode.ProxyRefused, message, { ...(status !== undefined ? { status } : {}), ...(headers ? { headers } : {}) }), undefined);
  };
  const onClose = (): void => refuse(undefined, 'the proxy closed the connection before answering CONNECT');
  toProxy.on('data', onData);
  toProxy.once('close', onClose);
  return () => current?.destroy();
}
