// Following redirects of the opening handshake, when a client opts in (followRedirects).
// Browsers never follow redirects for WebSockets (WHATWG Fetch: a WebSocket request's
// redirect mode is "error"), so ws13 does not by default either.
import { ErrorCode, HandshakeError } from '../../protocol/errors.js';
import { headerPairs, type HeaderInit, type ResponseHead } from '../../protocol/handshake/http1.js';

/** The statuses followed (RFC 9110 §15.4); the request stays a GET for each. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Default for `maxRedirects` when `followRedirects` is on. */
export const DEFAULT_MAX_REDIRECTS = 5;

/** Headers bound to the origin (credentials, and a Host set by hand): never sent on to another one. */
const ORIGIN_BOUND = new Set(['authorization', 'cookie', 'host']);

export interface Redirect {
  /** The next ws:/wss: URL. */
  readonly url: URL;
  /** The extra headers to send there (credentials dropped when the origin changes). */
  readonly headers: Array<readonly [string, string]>;
  /** True when the new URL has another scheme, host or port. */
  readonly crossOrigin: boolean;
}

/** ws: and wss: origins compared as their http: and https: twins. */
function origin(u: URL): string {
  return `${u.protocol}//${u.host}`;
}

/**
 * Where a redirect leads: undefined when `res` is not a redirect with a Location.
 * `left` is how many more redirects may be followed.
 * @throws HandshakeError WS_ERR_TOO_MANY_REDIRECTS past the limit; WS_ERR_REDIRECT_REFUSED for
 *   a Location that is not http(s)/ws(s), or that would leave TLS (wss: to ws:)
 */
export function nextHop(from: URL, res: ResponseHead, left: number, headers: HeaderInit | undefined): Redirect | undefined {
  if (!REDIRECT_STATUSES.has(res.status)) return undefined;
  const location = res.headers.get('location');
  if (location === undefined || location === '') return undefined;
  const info = { status: res.status, headers: res.headers.toObject() };
  if (left <= 0) throw new HandshakeError(ErrorCode.TooManyRedirects, `too many redirects (the last to ${location}); a loop?`, info);
  let url: URL;
  try {
    // The Location is resolved as an HTTP URL: ws: and wss: become http: and https: for it.
    const base = new URL(from.href.replace(/^ws/, 'http'));
    url = new URL(location, base);
  } catch {
    throw new HandshakeError(ErrorCode.RedirectRefused, `redirect to an invalid Location: ${location}`, info);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new HandshakeError(ErrorCode.RedirectRefused, `redirect to a ${url.protocol} URL: ${location}`, info);
  }
  if (from.protocol === 'wss:' && url.protocol === 'ws:') {
    throw new HandshakeError(ErrorCode.RedirectRefused, `redirect from wss: to ws: refused (it would drop TLS): ${location}`, info);
  }
  url.hash = '';
  const crossOrigin = origin(url) !== origin(from);
  const kept = headerPairs(headers).filter(([name]) => !crossOrigin || !ORIGIN_BOUND.has(name.toLowerCase()));
  return { url, headers: kept, crossOrigin };
}
