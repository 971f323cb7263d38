// ws13 doctor URL: performs the opening handshake itself over raw TCP/TLS, so it sees the
// exact bytes, and explains the answer header by header. When the handshake fails it says
// why (a proxy that dropped Upgrade/Connection, 426, a wrong Accept, a subprotocol or an
// extension not taken, an Origin refused, TLS certificate errors, redirects) and how to fix it.
import net from 'node:net';
import type tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Opcode, WEBSOCKET_GUID, hasToken, parseExtensions, splitList } from '../protocol/index.js';
import { checkDeflateAnswer, formatDeflateOffer, isToken } from '../protocol/index.js';
import { EXIT_FAILURE, UsageError, headers as parseHeaders, int, list, parse, readCa } from './args.js';
import { palette, type Palette } from './term.js';
import { FrameReader, attempt, clientFrame, ms, readFrames, type Attempt, type Settings } from './doctor-probe.js';

export const DOCTOR_USAGE = `Usage: ws13 doctor URL [options]

Performs a WebSocket opening handshake with URL itself (raw TCP or TLS, so it sees the
exact bytes) and explains the answer header by header: the status line, Upgrade,
Connection, Sec-WebSocket-Accept (recomputed: key + GUID -> SHA-1 -> base64),
Sec-WebSocket-Protocol and Sec-WebSocket-Extensions; then a ping round trip and a close.

It diagnoses: a proxy that dropped Upgrade/Connection (a 200, 400 or 404 answer, a 426
asking for the Upgrade we sent, or a 101 without Upgrade) with the nginx lines that fix
it; 426 with the versions the server speaks; a wrong Accept; a subprotocol or extension
not taken; an Origin refused with 403 (retried without an Origin and with another one);
TLS certificate errors; redirects (3xx: where to, and the URL to use instead).

Options:
      --protocol LIST     Subprotocol(s) to offer (repeatable or comma-separated); one must be taken
      --origin ORIGIN     Send this Origin header (as a browser on that page would)
  -H, --header 'Name: value'  Extra request header (repeatable)
      --no-deflate        Do not offer permessage-deflate (offered by default, as browsers do)
      --insecure          wss: report certificate problems as warnings, not failures
      --ca FILE           wss: trust the CA certificate(s) in this PEM file
      --timeout MS        Time allowed for each step (default 5000)
      --json              Print one JSON object: {url, verdict, summary, checks: [{id, status:
                          "ok"|"warn"|"fail", title, message, details}], timings, request,
                          response, fixes, retries}
  -h, --help              Show this help

Exit codes: 0 all good (warnings allowed), 1 a failure was diagnosed, 2 usage error.
`;

const NGINX_FIX = [
  'location /your-websocket-path {',
  '    proxy_pass http://backend;',
  '    proxy_http_version 1.1;',
  '    proxy_set_header Upgrade $http_upgrade;',
  '    proxy_set_header Connection "upgrade";',
  '    proxy_set_header Host $host;',
  '    proxy_read_timeout 3600s;   # idle WebSockets outlive the 60 s default',
  '}',
];
const PROXY_FIX =
  'Upgrade and Connection are hop-by-hop headers: a reverse proxy drops them unless told to forward them.\n' +
  'In nginx, in the location that proxies the WebSocket:\n' +
  NGINX_FIX.map((l) => `    ${l}`).join('\n') +
  '\n(HAProxy and Caddy forward upgrades by default; on a CDN or load balancer, enable WebSockets.)';

type Status = 'ok' | 'warn' | 'fail';

interface Check {
  id: string;
  status: Status;
  title: string;
  message: string;
  details?: string[];
}

const CERT_ERRORS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT:
    'the certificate is self-signed: no certificate authority vouches for it, so browsers and clients refuse it. ' +
    'Use a certificate from a CA (e.g. Let\'s Encrypt); to test with this one, trust it with --ca cert.pem ' +
    '(NODE_EXTRA_CA_CERTS=cert.pem for Node clients) or skip verification with --insecure.',
  SELF_SIGNED_CERT_IN_CHAIN:
    'the chain ends in a self-signed root that is not trusted here (a private CA, or a TLS-inspecting proxy): pass that root with --ca root.pem.',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    'the server sends its certificate without the intermediate certificate(s) that link it to a trusted CA: configure the full chain (e.g. nginx ssl_certificate fullchain.pem).',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    'the issuer of the certificate is not trusted here: a missing intermediate in the server\'s chain, or a private CA (pass it with --ca).',
  UNABLE_TO_GET_ISSUER_CERT: 'the issuer certificate could not be found: the server\'s chain is incomplete.',
  CERT_HAS_EXPIRED: 'the certificate has expired: renew it (and check that renewals reload the server).',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet: check the clocks of this machine and of the server.',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate does not name this host: connect with a name it lists, or issue one that includes this host.',
  CERT_REVOKED: 'the certificate was revoked by its CA.',
};

function certSummary(cert: tls.PeerCertificate | undefined): string[] {
  if (!cert) return [];
  const name = (o: tls.Certificate | undefined): string =>
    o ? Object.entries(o).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`).join(', ') : '?';
  const out = [`subject: ${name(cert.subject)}`, `issuer:  ${name(cert.issuer)}`];
  if (cert.subjectaltname) out.push(`names:   ${cert.subjectaltname}`);
  out.push(`valid:   ${cert.valid_from} to ${cert.valid_to}`);
  return out;
}

/** The ws: URL for an http(s) Location, resolved against the URL asked for. */
function wsUrlFor(location: string, base: URL): string | undefined {
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

class Diagnosis {
  checks: Check[] = [];
  fixes: string[] = [];
  retries: Array<{ origin: string | null; status: number | undefined; outcome: string }> = [];
  add(id: string, status: Status, title: string, message: string, details?: string[]): void {
    this.checks.push({ id, status, title, message, ...(details && details.length ? { details } : {}) });
  }
  fix(text: string): void {
    if (!this.fixes.includes(text)) this.fixes.push(text);
  }
  get verdict(): Status {
    if (this.checks.some((c) => c.status === 'fail')) return 'fail';
    return this.checks.some((c) => c.status === 'warn') ? 'warn' : 'ok';
  }
}

function explainConnection(s: Settings, a: Attempt, d: Diagnosis): void {
  const host = s.url.hostname;
  const port = Number(s.url.port || (s.secure ? 443 : 80));
  const f = a.failed;
  if (f?.step === 'dns') {
    d.add('dns', 'fail', 'DNS', `cannot resolve ${host}: ${f.code ?? f.message}`, [
      f.code === 'ENOTFOUND' ? 'the name does not exist in DNS (a typo, or a record not published yet)' : f.message,
    ]);
    return;
  }
  d.add('dns', 'ok', 'DNS', net.isIP(host.replace(/^\[|\]$/g, '')) ? `${host} is an address: no lookup` : `${host} is ${a.address ?? '?'}`);
  if (f?.step === 'tcp') {
    const why: Record<string, string> = {
      ECONNREFUSED: `nothing listens on ${host}:${port} (server down, wrong port, or bound to another address)`,
      ETIMEDOUT: `no answer from ${host}:${port}: a firewall dropping packets, or the host is down`,
      EHOSTUNREACH: `${host} is unreachable from here (routing or firewall)`,
      ENETUNREACH: 'the network is unreachable from here',
      ECONNRESET: 'the connection was reset while opening',
    };
    d.add('tcp', 'fail', 'TCP connect', `cannot connect to ${host}:${port}: ${f.code ?? f.message}`, [why[f.code ?? ''] ?? f.message]);
    return;
  }
  d.add('tcp', 'ok', 'TCP connect', `connected to ${a.address}:${port} in ${a.timings.connectMs} ms`);
  if (!s.secure) return;
  if (f?.step === 'tls') {
    const details = [f.message];
    const looksHttp = f.firstBytes && /^HTTP\/1\.[01] /.test(f.firstBytes.subarray(0, 9).toString('latin1'));
    if (looksHttp || /wrong version number|packet length too long|unknown protocol/i.test(f.message)) {
      details.push(`the server speaks plain HTTP on this port, not TLS: use ws://${s.url.host}${s.url.pathname}${s.url.search}`);
      d.fix(`Connect with ws:// (this port has no TLS): ws13 doctor ws://${s.url.host}${s.url.pathname}${s.url.search}`);
    } else if (/alert/i.test(f.message)) details.push('the server refused the TLS handshake (no common protocol version or cipher, or it wants a client certificate)');
    d.add('tls', 'fail', 'TLS', `the TLS handshake failed${f.code ? ` (${f.code})` : ''}`, details);
    return;
  }
  const t = a.tls!;
  const base = `${t.protocol ?? 'TLS'}, ${t.cipher}, in ${a.timings.tlsMs} ms`;
  if (t.authorized) {
    d.add('tls', 'ok', 'TLS', `${base}; certificate trusted`, certSummary(t.cert));
  } else {
    const code = t.authorizationError ?? 'unknown';
    const explained = CERT_ERRORS[code] ?? `the certificate could not be verified (${code})`;
    d.add(
      'tls-certificate',
      s.insecure ? 'warn' : 'fail',
      'TLS certificate',
      `${base}; certificate NOT trusted: ${code}${s.insecure ? ' (--insecure: going on)' : ''}`,
      [explained, ...certSummary(t.cert)],
    );
    if (!s.insecure) d.fix(`TLS certificate (${code}): ${explained}`);
  }
}

function explainNoAnswer(s: Settings, a: Attempt, d: Diagnosis): void {
  const f = a.failed!;
  const first = f.firstBytes;
  const details = [f.message];
  if (!s.secure && first && first[0] === 0x15 && first[1] === 0x03) {
    details.push('the server answered with a TLS alert: this port speaks TLS');
    d.fix(`Use wss:// for this port: ws13 doctor wss://${s.url.host}${s.url.pathname}${s.url.search}`);
  } else if (first && !first.subarray(0, 5).toString('latin1').startsWith('HTTP/')) {
    details.push(`it answered ${JSON.stringify(first.subarray(0, 40).toString('latin1'))}, which is not HTTP: is this the right port?`);
  } else if (f.code === 'ETIMEDOUT') {
    details.push('the request was sent but no answer came: a server that does not speak HTTP here, or a proxy holding the request');
  } else if (f.code === 'ECLOSED' && !s.secure) {
    details.push('a server closing without a word: perhaps it expects TLS (try wss://), or a proxy refused the request');
  }
  d.add('status', 'fail', 'status line', 'no valid HTTP answer to the handshake', details);
}

/** Judges a 101 answer header by header. */
function explain101(s: Settings, a: Attempt, d: Diagnosis): void {
  const res = a.res!;
  const h = res.headers;
  d.add('status', 'ok', 'status line', `HTTP/${res.httpVersion} 101 ${res.statusText}: the server agrees to switch to WebSocket`);

  const upgrade = h.all('upgrade');
  if (upgrade.length === 1 && upgrade[0]!.toLowerCase() === 'websocket') d.add('upgrade', 'ok', 'Upgrade', upgrade[0]!);
  else if (upgrade.length === 0) {
    d.add('upgrade', 'fail', 'Upgrade', 'missing from the 101: clients refuse this answer (RFC 6455 §4.1)', [
      'something between you and the server (a proxy) answered 101 but dropped the hop-by-hop Upgrade header',
    ]);
    d.fix(PROXY_FIX);
  } else d.add('upgrade', 'fail', 'Upgrade', `must be exactly "websocket", got ${JSON.stringify(upgrade.join(', '))}`);

  const connection = h.all('connection');
  if (hasToken(connection, 'upgrade')) d.add('connection', 'ok', 'Connection', connection.join(', '));
  else {
    d.add('connection', 'fail', 'Connection', connection.length ? `${JSON.stringify(connection.join(', '))} does not list Upgrade` : 'missing from the 101', [
      'clients refuse a 101 whose Connection header lacks "Upgrade"; proxies drop or rewrite this hop-by-hop header',
    ]);
    d.fix(PROXY_FIX);
  }

  const key = a.hs.key;
  const expected = a.hs.accept;
  const sha = createHash('sha1').update(key + WEBSOCKET_GUID).digest();
  const work = [
    `key         ${key}`,
    `key + GUID  ${key}${WEBSOCKET_GUID}`,
    `SHA-1       ${sha.toString('hex')}`,
    `base64      ${expected}`,
  ];
  const accepts = h.all('sec-websocket-accept');
  if (accepts.length === 1 && accepts[0] === expected) d.add('accept', 'ok', 'Sec-WebSocket-Accept', `${accepts[0]} matches`, work);
  else if (accepts.length === 0) d.add('accept', 'fail', 'Sec-WebSocket-Accept', 'missing: clients refuse the answer', work);
  else if (accepts.length > 1) d.add('accept', 'fail', 'Sec-WebSocket-Accept', `repeated (${accepts.join(' | ')}): clients refuse the answer`, work);
  else {
    const got = accepts[0]!;
    const guesses: Array<[string, string]> = [
      [createHash('sha1').update(key).digest('base64'), 'SHA-1 of the key without the GUID'],
      [sha.toString('hex'), 'the SHA-1 in hex instead of base64'],
      [createHash('sha1').update(key.trim() + WEBSOCKET_GUID.toLowerCase()).digest('base64'), 'a lower-case GUID'],
    ];
    const guess = guesses.find(([v]) => v === got);
    d.add('accept', 'fail', 'Sec-WebSocket-Accept', `${got} is wrong: expected ${expected}`, [
      ...work,
      `received    ${got}`,
      guess
        ? `the server computed ${guess[1]}`
        : 'it was not computed from this request\'s key: a cache or proxy replaying another answer, or a server bug',
      'clients refuse the connection (RFC 6455 §4.1: the Accept proves the server read this very request)',
    ]);
  }

  const protos = h.all('sec-websocket-protocol');
  if (protos.length > 1) d.add('protocol', 'fail', 'Sec-WebSocket-Protocol', `repeated (${protos.join(' | ')}): clients refuse the answer`);
  else if (protos.length === 1) {
    if (s.protocols.includes(protos[0]!)) d.add('protocol', 'ok', 'Sec-WebSocket-Protocol', `${protos[0]} (offered: ${s.protocols.join(', ')})`);
    else
      d.add('protocol', 'fail', 'Sec-WebSocket-Protocol', `${JSON.stringify(protos[0])} was not offered${s.protocols.length ? ` (offered: ${s.protocols.join(', ')})` : ' (none offered)'}`, [
        'clients must fail a connection whose server picks a subprotocol they did not offer',
      ]);
  } else if (s.protocols.length > 0) {
    d.add('protocol', 'fail', 'Sec-WebSocket-Protocol', `none chosen: the server took none of ${s.protocols.join(', ')}`, [
      'the connection opens, but with protocol "" (ws.protocol === \'\'): an application that needs the subprotocol will not work',
      'the server does not support these names (check spelling and its protocols list), or something stripped the header',
    ]);
    d.fix(`Subprotocol: configure the server to accept one of ${s.protocols.join(', ')} (e.g. ws13 serve --protocols ${s.protocols[0]}), or offer one it supports.`);
  } else d.add('protocol', 'ok', 'Sec-WebSocket-Protocol', 'none offered, none chosen');

  const extValues = h.all('sec-websocket-extensions');
  const exts = parseExtensions(extValues);
  if (!exts) d.add('extensions', 'fail', 'Sec-WebSocket-Extensions', `malformed: ${JSON.stringify(extValues.join(', '))}`);
  else {
    const offer = a.hs.deflateOptions;
    const unknown = exts.filter((e) => !a.hs.offeredExtensions.includes(e.name));
    if (unknown.length > 0) {
      d.add('extensions', 'fail', 'Sec-WebSocket-Extensions', `${unknown.map((e) => e.name).join(', ')} not offered: clients refuse the answer`);
    } else if (offer) {
      const answer = checkDeflateAnswer(exts, offer);
      if (typeof answer === 'string') d.add('extensions', 'fail', 'Sec-WebSocket-Extensions', `permessage-deflate answer does not fit the offer: ${answer}`);
      else if (answer) d.add('extensions', 'ok', 'Sec-WebSocket-Extensions', `${extValues.join(', ')}: messages may be compressed`);
      else
        d.add('extensions', 'warn', 'Sec-WebSocket-Extensions', 'permessage-deflate offered, not taken: messages go uncompressed', [
          `offered: ${formatDeflateOffer(offer)}`,
          'allowed (RFC 7692); enable compression on the server if you want it (ws13 serve --deflate)',
        ]);
    } else d.add('extensions', 'ok', 'Sec-WebSocket-Extensions', 'none offered (--no-deflate), none taken');
  }

  // The core's verdict (the one ws13's client acts on) stands behind the explanations: a
  // failure they did not show is reported as it is.
  const decision = a.decision;
  if (decision?.kind === 'fail' && !d.checks.some((c) => c.status === 'fail')) {
    d.add('handshake', 'fail', 'handshake', `ws13's client refuses this answer: ${decision.error.message} (${decision.error.code})`);
  }
}

async function pingAndClose(s: Settings, a: Attempt, d: Diagnosis): Promise<void> {
  const sock = a.socket!;
  sock.on('error', () => {});
  const reader = new FrameReader();
  try {
    if (a.rest) reader.push(a.rest);
  } catch {
    // Judged below: no pong comes.
  }
  const payload = Buffer.from(`ws13-doctor-${randomBytes(4).toString('hex')}`);
  const t = performance.now();
  let closedBy: Buffer | undefined;
  sock.write(clientFrame(Opcode.Ping, payload));
  const pong = await readFrames(sock, reader, Math.min(s.timeout, 3000), (op, p) => {
    if (op === Opcode.Close) closedBy = p;
    return (op === Opcode.Pong && p.equals(payload)) || op === Opcode.Close;
  });
  if (pong && pong.opcode === Opcode.Pong) {
    a.timings.pingMs = ms(t);
    d.add('ping', 'ok', 'ping', `pong in ${a.timings.pingMs} ms: frames flow both ways`);
  } else if (closedBy) {
    const code = closedBy.length >= 2 ? closedBy.readUInt16BE(0) : 1005;
    d.add('ping', 'warn', 'ping', `the server closed the connection right after the handshake (${code}${closedBy.length > 2 ? ` ${closedBy.subarray(2).toString('utf8')}` : ''})`);
    sock.destroy();
    return;
  } else {
    d.add('ping', 'warn', 'ping', 'no pong: the server does not answer pings, or an intermediary does not pass frames through');
    sock.destroy();
    return;
  }
  // 1000, Normal Closure (RFC 6455 §7.4.1), as two bytes in network order (§5.5.1).
  sock.write(clientFrame(Opcode.Close, Uint8Array.of(1000 >> 8, 1000 & 0xff)));
  const close = await readFrames(sock, reader, Math.min(s.timeout, 2000), (op) => op === Opcode.Close);
  if (close) {
    const c = close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
    d.add('close', 'ok', 'close', `closing handshake completed (server answered ${c})`);
  } else d.add('close', 'warn', 'close', 'the server did not answer our close frame');
  sock.destroy();
}

/** Everything but a 101: what happened and what to do. */
async function explainRefusal(s: Settings, a: Attempt, d: Diagnosis): Promise<void> {
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
      'WebSocket clients do not follow redirects: browsers and ws13 fail the connection',
      ...(next ? [`connect to ${next} instead`] : []),
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
  if (status === 403) {
    await explainForbidden(s, line, bodyDetail, d);
    return;
  }
  if (status === 401) {
    const auth = h.get('www-authenticate');
    d.add('status', 'fail', 'status line', `${line}: the endpoint wants credentials`, [
      ...(auth ? [`WWW-Authenticate: ${auth}`] : []),
      "pass them as a header: -H 'Authorization: Bearer …' or -H 'Cookie: session=…'",
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

/** 403: retries without an Origin and with another one to tell whether the Origin is the cause. */
async function explainForbidden(s: Settings, line: string, bodyDetail: string[], d: Diagnosis): Promise<void> {
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
  const accepted = outcomes.filter((o) => o.status === 101);
  if (s.origin !== undefined && accepted.length > 0) {
    d.add('origin', 'fail', 'Origin', `the server refuses Origin ${s.origin}`, [
      `with Origin ${s.origin}: 403`,
      ...outcomes.map(describe),
      'the server checks Origin against an allowlist (RFC 6455 §10.2) and this one is not on it',
    ]);
    d.fix(`Origin: if ${s.origin} is your page, add it to the server's allowed origins (e.g. ws13 serve --origins ${s.origin}); otherwise the refusal is the check working.`);
  } else if (s.origin === undefined && accepted.length > 0) {
    d.add('origin', 'fail', 'Origin', 'the server refuses requests without an Origin header', [
      'without Origin: 403',
      ...outcomes.map(describe),
      'browsers always send Origin; pass one with --origin to test as a browser would',
    ]);
  } else {
    d.add('origin', 'ok', 'Origin', 'not the cause: the server answers 403 whatever the Origin', [
      `${s.origin === undefined ? 'without Origin' : `with Origin ${s.origin}`}: 403`,
      ...outcomes.map(describe),
      'look for authentication (cookies, tokens), an IP allowlist or a web application firewall',
    ]);
  }
  d.add('status', 'fail', 'status line', `${line}: the handshake was refused`, bodyDetail);
}

function statusIcon(c: Palette, st: Status): string {
  return st === 'ok' ? c.green('[ ok ]') : st === 'warn' ? c.yellow('[warn]') : c.red('[FAIL]');
}

function summaryOf(d: Diagnosis, a: Attempt): string {
  const fails = d.checks.filter((c) => c.status === 'fail');
  if (fails.length === 0) {
    const warns = d.checks.filter((c) => c.status === 'warn');
    return warns.length === 0 ? 'the WebSocket handshake is healthy' : `the handshake works, with ${warns.length} warning${warns.length > 1 ? 's' : ''}: ${warns.map((w) => w.title).join(', ')}`;
  }
  const first = fails.find((f) => f.id !== 'status') ?? fails[0]!;
  return `${first.title}: ${first.message}`;
}

export async function doctor(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    'doctor',
    args,
    {
      protocol: { type: 'string', multiple: true },
      origin: { type: 'string' },
      header: { type: 'string', short: 'H', multiple: true },
      'no-deflate': { type: 'boolean' },
      insecure: { type: 'boolean', short: 'k' },
      ca: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(DOCTOR_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`doctor takes exactly one URL\nRun 'ws13 doctor --help' for the options.`);
  let url: URL;
  try {
    url = new URL(positionals[0]!);
  } catch {
    throw new UsageError(`invalid URL: ${positionals[0]}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new UsageError(`the URL must be ws://, wss://, http:// or https://, not ${url.protocol}`);
  if (url.hash) throw new UsageError('a WebSocket URL has no #fragment');
  const protocols = list(values.protocol) ?? [];
  if (protocols.some((p) => !isToken(p))) throw new UsageError('subprotocols are tokens (no spaces or separators)');
  // RFC 6455 §4.1 item 10: offered once each (the core's ClientHandshake insists).
  if (new Set(protocols).size !== protocols.length) throw new UsageError('each subprotocol is offered once');
  const ca = readCa(values.ca);
  const s: Settings = {
    url,
    secure: url.protocol === 'wss:',
    protocols,
    origin: values.origin,
    headers: parseHeaders(values.header),
    deflate: !values['no-deflate'],
    insecure: values.insecure === true,
    ca,
    timeout: int('--timeout', values.timeout, 1) ?? 5000,
  };

  const a = await attempt(s);
  const d = new Diagnosis();
  explainConnection(s, a, d);
  if (a.failed?.step === 'handshake') explainNoAnswer(s, a, d);
  else if (a.res?.status === 101) {
    explain101(s, a, d);
    await pingAndClose(s, a, d);
  } else if (a.res) await explainRefusal(s, a, d);
  a.socket?.destroy();

  const verdict = d.verdict;
  const summary = summaryOf(d, a);
  if (values.json) {
    const report = {
      url: url.href,
      verdict,
      summary,
      checks: d.checks,
      timings: a.timings,
      request: a.request.split('\r\n').filter(Boolean),
      response: a.res
        ? { status: a.res.status, statusText: a.res.statusText, httpVersion: a.res.httpVersion, headers: a.res.headers.entries, body: a.body ?? '' }
        : null,
      ...(a.tls ? { tls: { protocol: a.tls.protocol, cipher: a.tls.cipher, authorized: a.tls.authorized, authorizationError: a.tls.authorizationError ?? null } } : {}),
      fixes: d.fixes,
      retries: d.retries,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return verdict === 'fail' ? EXIT_FAILURE : 0;
  }

  const c = palette();
  const out: string[] = [];
  out.push(c.bold(`ws13 doctor ${url.href}`), '');
  if (a.timings.handshakeMs !== undefined || a.head !== undefined) {
    out.push(c.bold('Request'));
    for (const l of a.request.split('\r\n').filter(Boolean)) out.push(`  ${c.cyan('>')} ${l}`);
    out.push('', c.bold('Response'));
    for (const l of (a.head ?? '').split('\r\n')) out.push(`  ${c.magenta('<')} ${l}`);
    if (a.body?.trim()) out.push(`  ${c.dim(`(body) ${a.body.trim().split('\n')[0]!.slice(0, 200)}`)}`);
    out.push('');
  }
  out.push(c.bold('Checks'));
  for (const ch of d.checks) {
    out.push(`  ${statusIcon(c, ch.status)} ${c.bold(ch.title)}: ${ch.message}`);
    for (const det of ch.details ?? []) out.push(`         ${c.dim(det)}`);
  }
  const t = a.timings;
  const parts = [
    t.dnsMs !== undefined && `DNS ${t.dnsMs} ms`,
    t.connectMs !== undefined && `TCP connect ${t.connectMs} ms`,
    t.tlsMs !== undefined && `TLS ${t.tlsMs} ms`,
    t.handshakeMs !== undefined && `handshake ${t.handshakeMs} ms`,
    t.pingMs !== undefined && `ping round trip ${t.pingMs} ms`,
  ].filter(Boolean);
  if (parts.length) out.push('', c.bold('Timings'), `  ${parts.join(', ')}`);
  if (d.fixes.length) {
    out.push('', c.bold('How to fix'));
    for (const f of d.fixes) out.push(...f.split('\n').map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)));
  }
  const v = verdict === 'ok' ? c.green('OK') : verdict === 'warn' ? c.yellow('WARN') : c.red('FAIL');
  out.push('', `${c.bold('Verdict:')} ${v}: ${summary}`, '');
  process.stdout.write(out.join('\n'));
  return verdict === 'fail' ? EXIT_FAILURE : 0;
}
