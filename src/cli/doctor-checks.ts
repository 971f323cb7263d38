// ws13 doctor's judgements of what the probe saw: the connection (DNS, TCP, TLS), the
// 101 answer header by header, and the frames after it (a ping, a close).
import net from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Opcode, WEBSOCKET_GUID, checkDeflateAnswer, formatDeflateOffer, hasToken, parseExtensions } from '../protocol/index.js';
import { FrameReader, clientFrame, ms, readFrames, type Attempt, type Connection, type Settings } from './doctor-probe.js';

export const NGINX_FIX = [
  'location /your-websocket-path {',
  '    proxy_pass http://backend;',
  '    proxy_http_version 1.1;',
  '    proxy_set_header Upgrade $http_upgrade;',
  '    proxy_set_header Connection "upgrade";',
  '    proxy_set_header Host $host;',
  '    proxy_read_timeout 3600s;   # idle WebSockets outlive the 60 s default',
  '}',
];
export const PROXY_FIX =
  'Upgrade and Connection are hop-by-hop headers: a reverse proxy drops them unless told to forward them.\n' +
  'In nginx, in the location that proxies the WebSocket:\n' +
  NGINX_FIX.map((l) => `    ${l}`).join('\n') +
  '\n(HAProxy and Caddy forward upgrades by default; on a CDN or load balancer, enable WebSockets.)';

/** A check's outcome; 'info' states a fact that is no fault (it leaves the verdict alone). */
export type Status = 'ok' | 'info' | 'warn' | 'fail';

export interface Check {
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
export class Diagnosis {
  checks: Check[] = [];
  fixes: string[] = [];
  retries: Array<{ origin: string | null; status: number | undefined; outcome: string }> = [];
  /** Redirects followed (-L): from, status, to. */
  redirects: Array<{ from: string; status: number; to: string }> = [];
  add(id: string, status: Status, title: string, message: string, details?: string[]): void {
    this.checks.push({ id, status, title, message, ...(details && details.length ? { details } : {}) });
  }
  fix(text: string): void {
    if (!this.fixes.includes(text)) this.fixes.push(text);
  }
  get verdict(): Exclude<Status, 'info'> {
    if (this.checks.some((c) => c.status === 'fail')) return 'fail';
    return this.checks.some((c) => c.status === 'warn') ? 'warn' : 'ok';
  }
}

export function explainConnection(s: Settings, a: Connection, d: Diagnosis): void {
  // Through a proxy, DNS and TCP are the proxy's.
  const host = s.proxy ? s.proxy.hostname : s.url.hostname;
  const port = s.proxy ? Number(s.proxy.port || (s.proxy.protocol === 'https:' ? 443 : 80)) : Number(s.url.port || (s.secure ? 443 : 80));
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
  d.add('tcp', 'ok', 'TCP connect', `connected to ${a.address}:${port}${s.proxy ? ' (the proxy)' : ''} in ${a.timings.connectMs} ms`);
  if (s.proxy && !explainProxy(s, a, d)) return;
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

export /** The proxy's answer to CONNECT; false when it refused the tunnel. */
function explainProxy(s: Settings, a: Connection, d: Diagnosis): boolean {
  const p = a.proxy;
  const target = `${s.url.hostname}:${s.url.port || (s.secure ? 443 : 80)}`;
  if (a.failed?.step !== 'proxy') {
    d.add('proxy', 'ok', 'proxy', `${s.proxy!.host} opened a tunnel to ${target} (${p?.status ?? '?'} ${p?.statusText ?? ''}) in ${a.timings.proxyMs} ms`.replace(' )', ')'));
    return true;
  }
  const status = p?.status;
  const details = [a.failed.message];
  if (status === 407 || status === 401) {
    details.push('the proxy wants credentials: put them in the proxy URL (http://user:pass@proxy:port)');
    d.fix(`Proxy authentication: give the user and password in the proxy URL, e.g. --proxy http://user:pass@${s.proxy!.host}`);
  } else if (status === 403) {
    details.push(`the proxy does not allow tunnels to ${target}: many allow CONNECT only to port 443 (tinyproxy's ConnectPort, squid's SSL_ports); use wss:// on 443, or allow this port on the proxy`);
    d.fix(`Proxy: allow CONNECT to port ${s.url.port || (s.secure ? 443 : 80)} (tinyproxy: ConnectPort; squid: http_access for CONNECT), or serve the WebSocket on 443.`);
  } else if (status === 405 || status === 501) details.push('this proxy does not support CONNECT tunnels');
  else if (status === 502 || status === 504) details.push(`the proxy could not reach ${target}`);
  else if (status === undefined) details.push('the proxy gave no HTTP answer to CONNECT: is it an HTTP proxy on that port?');
  d.add('proxy', 'fail', 'proxy', `${s.proxy!.host} refused the CONNECT tunnel${status !== undefined ? ` (${status} ${p?.statusText ?? ''})`.replace(' )', ')') : ''}`, details);
  return false;
}

export function explainNoAnswer(s: Settings, a: Attempt, d: Diagnosis): void {
  const f = a.failed!;
  const first = f.firstBytes;
  const details = [f.message];
  if (!s.secure && first && first[0] === 0x15 && first[1] === 0x03) {
    details.push('the server answered with a TLS alert: this port speaks TLS');
    d.fix(`Use wss:// for this port: ws13 doctor wss://${s.url.host}${s.url.pathname}${s.url.search}`);
  } else if (first && first.length >= 9 && first[3] === 0x04 && first.readUInt32BE(5) === 0) {
    // An HTTP/2 frame header (RFC 9113 §4.1): type 4 (SETTINGS) on stream 0, the server's preface.
    details.push('it answered with an HTTP/2 SETTINGS frame: this port speaks HTTP/2 only (see the HTTP/2 checks below)');
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
export function explain101(s: Settings, a: Attempt, d: Diagnosis): void {
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
        // Declining an extension is the server's right (RFC 7692 §5): a fact, not a fault.
        d.add('extensions', 'info', 'Sec-WebSocket-Extensions', 'permessage-deflate offered, not taken: messages go uncompressed', [
          `offered: ${formatDeflateOffer(offer)}`,
          'allowed (RFC 7692); turn compression on in the server if you want it',
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

export async function pingAndClose(s: Settings, a: Attempt, d: Diagnosis): Promise<void> {
  // After a failed handshake check no client would go on: frames are not tried.
  const r = await roundTrip(a.socket!, a.rest, s.timeout, d, { over: 'tcp', skip: d.checks.some((c) => c.status === 'fail') });
  if (r.pingMs !== undefined) a.timings.pingMs = r.pingMs;
}

/**
 * A ping and a close over an open WebSocket (`sock`: the TCP connection, or the HTTP/2
 * stream), reported as checks 'ping' and 'close' ('h2-ping', 'h2-close' over HTTP/2).
 * `notFrames`: no pong came, and what came was text, not frames.
 * Over HTTP/2 the server ends the stream after the closing handshake (RFC 8441 §5: END_STREAM
 * stands for TCP's FIN). `pingMs`: the ping's round trip, if a pong came.
 */
export async function roundTrip(
  sock: Duplex,
  rest: Buffer | undefined,
  timeout: number,
  d: Diagnosis,
  o: { over: 'tcp' | 'h2'; skip: boolean },
): Promise<{ pingMs?: number; notFrames: boolean }> {
  const id = o.over === 'h2' ? 'h2-' : '';
  const title = o.over === 'h2' ? 'HTTP/2 ' : '';
  const end = (): void => void (o.over === 'h2' ? (sock as Duplex).end() : sock.destroy());
  sock.on('error', () => {});
  if (o.skip) {
    d.add(`${id}ping`, 'info', `${title}ping`, 'not tried: the handshake failed above, so no client would send frames');
    sock.destroy();
    return { notFrames: false };
  }
  const reader = new FrameReader();
  try {
    if (rest) reader.push(rest);
  } catch {
    // Judged below: no pong comes.
  }
  // The first bytes the server sent, to tell text (an HTTP body) from frames when no pong comes.
  let seen: Buffer | undefined = rest && rest.length > 0 ? rest : undefined;
  sock.on('data', (c: Buffer) => (seen ??= c));
  const payload = Buffer.from(`ws13-doctor-${randomBytes(4).toString('hex')}`);
  const t = performance.now();
  let pingMs: number | undefined;
  let notFrames = false;
  let closedBy: Buffer | undefined;
  sock.write(clientFrame(Opcode.Ping, payload));
  const pong = await readFrames(sock, reader, Math.min(timeout, 3000), (op, p) => {
    if (op === Opcode.Close) closedBy = p;
    return (op === Opcode.Pong && p.equals(payload)) || op === Opcode.Close;
  });
  if (pong && pong.opcode === Opcode.Pong) {
    pingMs = ms(t);
    d.add(`${id}ping`, 'ok', `${title}ping`, `pong in ${pingMs} ms: frames flow both ways`);
  } else if (closedBy) {
    const code = closedBy.length >= 2 ? closedBy.readUInt16BE(0) : 1005;
    d.add(`${id}ping`, 'warn', `${title}ping`, `the server closed the ${o.over === 'h2' ? 'WebSocket' : 'connection'} right after the handshake (${code}${closedBy.length > 2 ? ` ${closedBy.subarray(2).toString('utf8')}` : ''})`);
    // RFC 6455 §5.5.1: the close is answered with a close; then the server ends TCP (or the stream).
    sock.write(clientFrame(Opcode.Close, closedBy.subarray(0, 2)));
    d.add(`${id}close`, 'ok', `${title}close`, `the server started the closing handshake (${code}); answered`);
    end();
    return { notFrames };
  } else {
    // RFC 6455 §5.5.2: an endpoint MUST answer a Ping with a Pong.
    const text = seen && /^[\t\n\r\x20-\x7e]{4}/.test(seen.subarray(0, 4).toString('latin1')) ? seen.subarray(0, 60).toString('latin1') : undefined;
    if (text !== undefined) notFrames = true;
    d.add(`${id}ping`, 'fail', `${title}ping`, 'no pong: the server does not answer pings (RFC 6455 §5.5.2 requires it), or an intermediary does not pass frames through', [
      text !== undefined
        ? `it sent ${JSON.stringify(text)}: text, not WebSocket frames, so what answered the handshake does not speak WebSocket`
        : 'a server that does not read frames after the handshake, or a proxy that buffers or drops them',
    ]);
  }
  // 1000, Normal Closure (RFC 6455 §7.4.1), as two bytes in network order (§5.5.1).
  sock.write(clientFrame(Opcode.Close, Uint8Array.of(1000 >> 8, 1000 & 0xff)));
  const close = await readFrames(sock, reader, Math.min(timeout, 2000), (op) => op === Opcode.Close);
  if (close) {
    const c = close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
    if (o.over === 'tcp') d.add('close', 'ok', 'close', `closing handshake completed (server answered ${c})`);
    else if (await ended(sock, Math.min(timeout, 2000))) d.add('h2-close', 'ok', 'HTTP/2 close', `closing handshake completed (server answered ${c}), then the server ended the stream (END_STREAM)`);
    else
      d.add('h2-close', 'warn', 'HTTP/2 close', `closing handshake completed (server answered ${c}), but the server did not end the stream`, [
        'RFC 8441 §5: END_STREAM takes the place of closing TCP; a stream left open counts against SETTINGS_MAX_CONCURRENT_STREAMS',
      ]);
  } else {
    // RFC 6455 §5.5.1: an endpoint that receives a Close MUST send a Close in response.
    d.add(`${id}close`, 'fail', `${title}close`, 'the server did not answer our close frame (RFC 6455 §5.5.1 requires it)', [
      'clients wait for the answer (ws13 5 s, browsers longer) before closing TCP themselves',
    ]);
  }
  end();
  return pingMs === undefined ? { notFrames } : { pingMs, notFrames };
}

/** Whether the stream's readable side ends (END_STREAM) within `timeout` ms; later bytes are dropped. */
function ended(s: Duplex, timeout: number): Promise<boolean> {
  if (s.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const finish = (v: boolean): void => {
      clearTimeout(t);
      s.off('end', onEnd);
      s.off('close', onClose);
      resolve(v);
    };
    const onEnd = (): void => finish(true);
    const onClose = (): void => finish(s.readableEnded);
    const t = setTimeout(() => finish(false), timeout);
    s.on('end', onEnd);
    s.on('close', onClose);
    s.on('data', () => {});
    s.resume();
  });
}
