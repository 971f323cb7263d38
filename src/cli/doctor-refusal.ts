// ws13 doctor's explanations of an answer that is not 101: redirects, 426, 401/403 (with
// Origin retried to tell whether it is the cause), a page served instead, 400, 404, 5xx.
import { splitList } from '../protocol/index.js';
import { HandshakeError } from '../protocol/index.js';
import type { ResponseHead } from '../protocol/handshake/http1.js';
import { nextHop } from '../node/dial/redirect.js';
import { attempt, type Attempt, type Settings } from './doctor-probe.js';
import { PROXY_FIX, type Diagnosis } from './doctor-checks.js';

export class RedirectError extends Error {}

/** The next URL, undefined when `res` is no redirect; RedirectError for one not to follow. */
export function nextHopFor(from: URL, res: ResponseHead, left: number): URL | undefined {
  try {
    return nextHop(from, res, left, undefined)?.url;
  } catch (err) {
    if (err instanceof HandshakeError) throw new RedirectError(`${err.message} (${err.code})`);
    throw err;
  }
}

/**
 * -L: judges one redirect and returns where to go next, or undefined (reported) when it
 * must not be followed: over the limit, to another scheme, or from wss: to ws:.
 */
export function followRedirect(s: Settings, a: Attempt, d: Diagnosis, allowed: boolean): URL | undefined {
  const res = a.res!;
  const from = s.url.href;
  let next: URL | undefined;
  try {
    next = nextHopFor(s.url, res, allowed ? 1 : 0);
  } catch (err) {
    if (!(err instanceof RedirectError)) throw err;
    d.add('redirect', 'fail', 'redirect', `${res.status} from ${from}: ${err.message}`, d.redirects.map((r) => `${r.status} ${r.from} -> ${r.to}`));
    return undefined;
  }
  if (!next) return undefined;
  d.redirects.push({ from, status: res.status, to: next.href });
  d.add('redirect', 'warn', 'redirect', `${res.status} ${res.statusText}: ${from} -> ${next.href} (followed)`, [
    'browsers never follow redirects for WebSockets (the connection fails): give clients the final URL',
  ]);
  d.fix(`Use the final URL directly: ${next.href}`);
  return next;
}

export function wsUrlFor(location: string, base: URL): string | undefined {
  try {
    const httpBase = new URL(base.href);
    httpBase.protocol = base.protocol === 'wss:' ? 'https:' : base.protocol === 'ws:' ? 'http:' : base.protocol;
    const u = new URL(location, httpBase);
    if (u.protocol === 'http:') u.protocol = 'ws:';
    else if (u.protocol === 'https:') u.protocol = 'wss:';
    return u.href;
  } catch {
    return undefined;
  }
}

export async function explainRefusal(s: Settings, a: Attempt, d: Diagnosis): Promise<void> {
  const res = a.res!;
  const h = res.headers;
  const status = res.status;
  const line = `HTTP/${res.httpVersion} ${status} ${res.statusText}`.trim();
  const body = (a.body ?? '').trim();
  const bodyDetail = body ? [`body: ${body.slice(0, 300)}`] : [];

  if (status >= 300 && status < 400) {
    const location = h.get('location');
    const next = location ? wsUrlFor(location, s.url) : undefined;
    d.add('status', 'fail', 'status line', `${line}: a redirect${location ? ` to ${location}` : ' without a Location'}`, [
      'browsers never follow redirects for WebSockets, nor does ws13 unless asked (followRedirects, connect -L)',
      ...(next ? [`connect to ${next} instead (ws13 doctor -L follows it)`] : []),
    ]);
    if (next) d.fix(`Use the URL the server redirects to: ws13 doctor ${next}`);
    return;
  }
  if (status === 426) {
    const versions = h.all('sec-websocket-version').flatMap(splitList);
    if (versions.length > 0 && !versions.includes('13')) {
      d.add('status', 'fail', 'status line', `${line}: the server speaks WebSocket version${versions.length > 1 ? 's' : ''} ${versions.join(', ')}, not 13`, [
        `Sec-WebSocket-Version: ${versions.join(', ')}`,
        'version 13 is RFC 6455, spoken by every browser and ws13; 8 and 7 are 2011 drafts (hybi-08/07)',
        ...bodyDetail,
      ]);
      d.fix('Upgrade the server\'s WebSocket library to one that implements RFC 6455 (version 13).');
    } else {
      d.add('status', 'fail', 'status line', `${line}: the server wants an upgrade, so the Upgrade header we sent never reached it`, [
        versions.length ? `Sec-WebSocket-Version: ${versions.join(', ')} (we sent 13: the version is fine)` : 'no Sec-WebSocket-Version in the answer',
        'a proxy in between dropped the hop-by-hop Upgrade/Connection headers',
        ...bodyDetail,
      ]);
      d.fix(PROXY_FIX);
    }
    return;
  }
  // 403, and a 401 whose body speaks of the Origin: retried to tell whether Origin is the cause.
  if (status === 403 || (status === 401 && /\borigin\b/i.test(body))) {
    await explainOrigin(s, status, body, d);
    if (status === 403) {
      d.add('status', 'fail', 'status line', `${line}: the handshake was refused`, bodyDetail);
      return;
    }
  }
  if (status === 401) {
    const auth = h.get('www-authenticate');
    d.add('status', 'fail', 'status line', `${line}: the endpoint wants credentials`, [
      ...(auth ? [`WWW-Authenticate: ${auth}`] : []),
      "pass them as a header: -H 'Authorization: Bearer …', --auth user:pass (connect) or -H 'Cookie: session=…'",
      ...bodyDetail,
    ]);
    return;
  }
  if (status >= 200 && status < 300) {
    d.add('status', 'fail', 'status line', `${line}: answered as an ordinary HTTP request, not upgraded`, [
      'the Upgrade request never reached a WebSocket server: a proxy dropped Upgrade/Connection, or this URL serves a page',
      `Content-Type: ${h.get('content-type') ?? '(none)'}`,
      ...bodyDetail,
    ]);
    d.fix(PROXY_FIX);
    return;
  }
  if (status === 400) {
    d.add('status', 'fail', 'status line', `${line}: the server found the handshake malformed`, [
      'ws13 sends a well-formed RFC 6455 request, so it was probably changed on the way: a proxy that dropped Connection: Upgrade or Upgrade',
      ...(s.protocols.length ? [`or the server requires a subprotocol other than ${s.protocols.join(', ')}`] : ['or the server requires a subprotocol: offer one with --protocol']),
      ...bodyDetail,
    ]);
    d.fix(PROXY_FIX);
    return;
  }
  if (status === 404) {
    d.add('status', 'fail', 'status line', `${line}: nothing serves WebSocket at ${s.url.pathname}`, [
      'check the path (the server\'s endpoint path, e.g. ws13 serve --path)',
      'behind a proxy: the location that matches this path may not proxy it, or drops Upgrade/Connection so the request lands on a plain web server',
      ...bodyDetail,
    ]);
    d.fix(PROXY_FIX);
    return;
  }
  const why: Record<number, string> = {
    405: 'the handshake is a GET: something in between changed the method, or this URL takes only other methods',
    408: 'the server gave up waiting for the request head',
    429: 'rate limited: retry later',
    431: 'the request head is too large for the server: fewer or smaller headers (cookies?)',
    500: 'the server failed while handling the handshake: see its logs',
    502: 'a proxy could not reach the WebSocket backend (down, wrong address, or TLS mismatch between proxy and backend)',
    503: 'the server or its proxy is unavailable or shutting down',
    504: 'a proxy timed out waiting for the backend',
  };
  d.add('status', 'fail', 'status line', `${line}: the handshake was refused`, [why[status] ?? 'not a WebSocket answer', ...bodyDetail]);
}

/** 401/403: retries without an Origin and with another one to tell whether the Origin is the cause. */
async function explainOrigin(s: Settings, status: number, body: string, d: Diagnosis): Promise<void> {
  const own = `${s.secure ? 'https' : 'http'}://${s.url.host}`;
  const tries: Array<string | null> = [];
  if (s.origin !== undefined) {
    tries.push(null);
    tries.push(s.origin.toLowerCase() === own.toLowerCase() ? 'https://example.com' : own);
  } else tries.push(own);
  const outcomes: Array<{ origin: string | null; status: number | undefined }> = [];
  for (const origin of tries) {
    const r = await attempt(s, { origin });
    r.socket?.destroy();
    const st = r.res?.status;
    outcomes.push({ origin, status: st });
    d.retries.push({ origin, status: st, outcome: st === undefined ? (r.failed?.message ?? 'no answer') : `${st} ${r.res!.statusText}` });
  }
  const describe = (o: { origin: string | null; status: number | undefined }): string =>
    `${o.origin === null ? 'without Origin' : `with Origin ${o.origin}`}: ${o.status ?? 'no answer'}`;
  const asked = `${s.origin === undefined ? 'without Origin' : `with Origin ${s.origin}`}: ${status}`;
  const accepted = outcomes.filter((o) => o.status === 101);
  // A refusal whose body speaks of the origin ("Origin not allowed") names its cause.
  const named = /\borigin\b/i.test(body);
  if (s.origin !== undefined && accepted.length > 0) {
    d.add('origin', 'fail', 'Origin', `the server refuses Origin ${s.origin}`, [
      asked,
      ...outcomes.map(describe),
      'the server checks Origin against an allowlist (RFC 6455 §10.2) and this one is not on it',
    ]);
    d.fix(`Origin: if ${s.origin} is your page, add it to the server's allowed origins (e.g. ws13 serve --origins ${s.origin}); otherwise the refusal is the check working.`);
  } else if (s.origin === undefined && accepted.length > 0) {
    d.add('origin', 'fail', 'Origin', 'the server refuses requests without an Origin header', [
      asked,
      ...outcomes.map(describe),
      'browsers always send Origin; pass one with --origin to test as a browser would',
    ]);
  } else if (named) {
    d.add('origin', 'fail', 'Origin', 'the server names the Origin as the reason, and refused every Origin tried', [
      asked,
      ...outcomes.map(describe),
      `its answer: ${body.trim().split('\n')[0]!.slice(0, 200)}`,
      'it checks Origin against an allowlist (RFC 6455 §10.2): send the Origin of the page that is allowed',
    ]);
    d.fix("Origin: pass the allowed page's origin with --origin https://your.page (or add yours to the server's allowlist).");
  } else {
    d.add('origin', 'ok', 'Origin', `not the cause, it seems: the server answers ${status} whatever the Origin, and names no origin`, [
      asked,
      ...outcomes.map(describe),
      'look for authentication (cookies, tokens), an IP allowlist or a web application firewall',
    ]);
  }
}

