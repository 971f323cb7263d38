// ws13 doctor URL: performs the opening handshake itself over raw TCP/TLS, so it sees the
// exact bytes, and explains the answer header by header. When the handshake fails it says
// why (a proxy that dropped Upgrade/Connection, 426, a wrong Accept, a subprotocol or an
// extension not taken, an Origin refused, TLS certificate errors, redirects) and how to fix it.
// The probe is doctor-probe.ts, the judgements doctor-checks.ts and doctor-refusal.ts.
import { isToken } from '../protocol/index.js';
import { proxyFor } from '../node/dial/proxy.js';
import { DEFAULT_MAX_REDIRECTS } from '../node/dial/redirect.js';
import { EXIT_FAILURE, UsageError, headers as parseHeaders, int, list, parse, readCa, wsUrl } from './args.js';
import { palette, type Palette } from './term.js';
import { attempt, type Attempt, type Settings } from './doctor-probe.js';
import { Diagnosis, explain101, explainConnection, explainNoAnswer, pingAndClose, type Status } from './doctor-checks.js';
import { explainRefusal, followRedirect } from './doctor-refusal.js';
import { attemptHttp2, endHttp2, type H2Attempt } from './doctor-h2-probe.js';
import { explainHttp2, h2Lines } from './doctor-h2.js';

export const DOCTOR_USAGE = `Usage: ws13 doctor URL [options]

Performs a WebSocket opening handshake with URL itself (raw TCP or TLS, so it sees the
exact bytes) and explains the answer header by header: the status line, Upgrade,
Connection, Sec-WebSocket-Accept (recomputed: key + GUID -> SHA-1 -> base64),
Sec-WebSocket-Protocol and Sec-WebSocket-Extensions; then a ping round trip and a close.

It diagnoses: a proxy that dropped Upgrade/Connection (a 200, 400 or 404 answer, a 426
asking for the Upgrade we sent, or a 101 without Upgrade) with the nginx lines that fix
it; 426 with the versions the server speaks; a wrong Accept; a subprotocol or extension
not taken; an Origin refused with 403 (retried without an Origin and with another one);
TLS certificate errors; redirects (3xx: where to, and the URL to use instead; followed
with -L, each hop reported); a proxy (--proxy) that refuses the CONNECT tunnel.
Without a scheme, ws:// is used (a note says so).

Then HTTP/2 (RFC 8441): whether the server negotiates h2 (ALPN for wss://; for ws://, h2c
with prior knowledge), whether it advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, and whether a
WebSocket opens over an extended CONNECT stream (then a ping and a close over it). It
diagnoses the 405 of Node's http2 compatibility layer, RST_STREAM PROTOCOL_ERROR, and a
setting advertised but not handled (Chromium then fails and never falls back to HTTP/1.1).
When the setting is not advertised the CONNECT is still sent, to show what a client that
does not wait for it gets. No HTTP/2 at all is a fact ("info"), not a failure.

Options:
      --protocol LIST     Subprotocol(s) to offer (repeatable or comma-separated); one must be taken
      --origin ORIGIN     Send this Origin header (as a browser on that page would)
  -H, --header 'Name: value'  Extra request header (repeatable)
      --no-deflate        Do not offer permessage-deflate (offered by default, as browsers do)
      --insecure          wss: report certificate problems as warnings, not failures
      --ca FILE           wss: trust the CA certificate(s) in this PEM file
      --timeout MS        Time allowed for each step (default 5000)
  -L, --follow-redirects  Follow redirects (at most --max-redirects, default 5) and report each
      --max-redirects N   With -L: how many at most
      --proxy URL         Go through this HTTP(S) proxy (CONNECT tunnel; http://user:pass@host:port)
      --proxy-env         Take the proxy from HTTPS_PROXY / HTTP_PROXY, honouring NO_PROXY
      --http2             HTTP/2 only: skip the HTTP/1.1 handshake; no WebSocket over HTTP/2 is a failure
      --no-http2          HTTP/1.1 only: skip the HTTP/2 checks
      --json              Print one JSON object: {url, verdict, summary, checks: [{id, status:
                          "ok"|"info"|"warn"|"fail", title, message, details}], timings,
                          request, response, fixes, retries, redirects, http2: {via: "alpn"|
                          "h2c", negotiated, settings, advertised, request, response, timings}}
  -h, --help              Show this help

Exit codes: 0 all good (warnings allowed; "info" lines are facts, not faults), 1 a failure
was diagnosed, 2 usage error.
`;

function statusIcon(c: Palette, st: Status): string {
  return st === 'ok' ? c.green('[ ok ]') : st === 'info' ? c.cyan('[info]') : st === 'warn' ? c.yellow('[warn]') : c.red('[FAIL]');
}

function summaryOf(d: Diagnosis, h: H2Attempt | undefined): string {
  const fails = d.checks.filter((c) => c.status === 'fail');
  if (fails.length === 0) {
    const warns = d.checks.filter((c) => c.status === 'warn');
    const h2 = d.checks.some((c) => c.id === 'h2-connect' && c.status === 'ok');
    const over = h === undefined ? '' : h2 ? (d.checks.some((c) => c.id === 'status') ? ' (over HTTP/1.1 and HTTP/2)' : ' (over HTTP/2)') : ' (over HTTP/1.1)';
    return warns.length === 0 ? `the WebSocket handshake is healthy${over}` : `the handshake works${over}, with ${warns.length} warning${warns.length > 1 ? 's' : ''}: ${warns.map((w) => w.title).join(', ')}`;
  }
  // A diagnosis that names the cause comes before the symptoms it explains (no pong, no close).
  const first = fails.find((f) => f.id === 'h2-unhandled') ?? fails.find((f) => f.id !== 'status') ?? fails[0]!;
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
      'follow-redirects': { type: 'boolean', short: 'L' },
      'max-redirects': { type: 'string' },
      proxy: { type: 'string' },
      'proxy-env': { type: 'boolean' },
      http2: { type: 'boolean' },
      'no-http2': { type: 'boolean' },
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
  const url = wsUrl(positionals[0]!, (n) => process.stderr.write(`ws13: ${n}\n`));
  const protocols = list(values.protocol) ?? [];
  if (protocols.some((p) => !isToken(p))) throw new UsageError('subprotocols are tokens (no spaces or separators)');
  // RFC 6455 §4.1 item 10: offered once each (the core's ClientHandshake insists).
  if (new Set(protocols).size !== protocols.length) throw new UsageError('each subprotocol is offered once');
  if (values.http2 && values['no-http2']) throw new UsageError('--http2 and --no-http2 exclude each other');
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
    proxy: undefined,
  };
  const maxRedirects = int('--max-redirects', values['max-redirects'], 0, 100) ?? DEFAULT_MAX_REDIRECTS;
  const proxyOf = (u: URL): URL | undefined => {
    try {
      const host = u.hostname.replace(/^\[|\]$/g, '');
      return proxyFor({ host, port: Number(u.port || (u.protocol === 'wss:' ? 443 : 80)), secure: u.protocol === 'wss:' }, { proxy: values.proxy, proxyFromEnvironment: values['proxy-env'] === true });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
  s.proxy = proxyOf(url);

  const d = new Diagnosis();
  // --http2: the HTTP/2 attempt alone; otherwise HTTP/1.1 first, then HTTP/2 unless --no-http2.
  let a: Attempt | undefined;
  if (!values.http2) {
    a = await attempt(s);
    // -L: follow redirects, each hop reported; the last answer is the one explained.
    for (let hops = 0; values['follow-redirects'] && a.res && a.res.status >= 300 && a.res.status < 400; hops++) {
      const next = followRedirect(s, a, d, hops < maxRedirects);
      if (!next) break;
      s.url = next;
      s.secure = next.protocol === 'wss:';
      s.proxy = proxyOf(next);
      a = await attempt(s);
    }
    explainConnection(s, a, d);
    if (a.failed?.step === 'handshake') explainNoAnswer(s, a, d);
    else if (a.res?.status === 101) {
      explain101(s, a, d);
      await pingAndClose(s, a, d);
    } else if (a.res && !(values['follow-redirects'] && d.checks.some((c) => c.id === 'redirect' && c.status === 'fail'))) await explainRefusal(s, a, d);
    a.socket?.destroy();
  }
  let h: H2Attempt | undefined;
  // Not where the server cannot be reached at all.
  const unreachable = a?.failed && ['dns', 'tcp', 'proxy'].includes(a.failed.step);
  if (!values['no-http2'] && !unreachable) {
    h = await attemptHttp2(s);
    if (!a) explainConnection(s, h, d);
    await explainHttp2(s, h, d, a, values.http2 === true);
    endHttp2(h);
  }

  const verdict = d.verdict;
  const summary = summaryOf(d, h);
  const conn = a ?? h!;
  const h2 = h ? h2Lines(h) : undefined;
  if (values.json) {
    const report = {
      url: url.href,
      ...(s.url.href !== url.href ? { finalUrl: s.url.href } : {}),
      verdict,
      summary,
      checks: d.checks,
      timings: conn.timings,
      request: a ? a.request.split('\r\n').filter(Boolean) : [],
      response: a?.res
        ? { status: a.res.status, statusText: a.res.statusText, httpVersion: a.res.httpVersion, headers: a.res.headers.entries, body: a.body ?? '' }
        : null,
      ...(conn.tls ? { tls: { protocol: conn.tls.protocol, cipher: conn.tls.cipher, authorized: conn.tls.authorized, authorizationError: conn.tls.authorizationError ?? null } } : {}),
      ...(h
        ? {
            http2: {
              via: h.via,
              negotiated: h.settings !== undefined,
              ...(h.tls ? { alpn: h.tls.alpn || null } : {}),
              settings: h.settings ?? null,
              advertised: h.advertised ?? null,
              request: h2!.request,
              response: h2!.response,
              timings: h.timings,
            },
          }
        : {}),
      fixes: d.fixes,
      retries: d.retries,
      redirects: d.redirects,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return verdict === 'fail' ? EXIT_FAILURE : 0;
  }

  const c = palette();
  const out: string[] = [];
  out.push(c.bold(`ws13 doctor ${url.href}`), '');
  if (a && (a.timings.handshakeMs !== undefined || a.head !== undefined)) {
    out.push(c.bold('Request'));
    for (const l of a.request.split('\r\n').filter(Boolean)) out.push(`  ${c.cyan('>')} ${l}`);
    out.push('', c.bold('Response'));
    for (const l of (a.head ?? '').split('\r\n')) out.push(`  ${c.magenta('<')} ${l}`);
    if (a.body?.trim()) out.push(`  ${c.dim(`(body) ${a.body.trim().split('\n')[0]!.slice(0, 200)}`)}`);
    out.push('');
  }
  if (h2 && h2.request.length > 0) {
    out.push(c.bold('HTTP/2 request (extended CONNECT)'));
    for (const l of h2.request) out.push(`  ${c.cyan('>')} ${l}`);
    out.push('', c.bold('HTTP/2 response'));
    for (const l of h2.response ?? []) out.push(`  ${c.magenta('<')} ${l}`);
    if (h?.outcome?.kind === 'answer' && h.outcome.body?.trim()) out.push(`  ${c.dim(`(body) ${h.outcome.body.trim().split('\n')[0]!.slice(0, 200)}`)}`);
    out.push('');
  }
  out.push(c.bold('Checks'));
  for (const ch of d.checks) {
    out.push(`  ${statusIcon(c, ch.status)} ${c.bold(ch.title)}: ${ch.message}`);
    for (const det of ch.details ?? []) out.push(`         ${c.dim(det)}`);
  }
  const timings = (t: H2Attempt['timings'], what: string): string[] => {
    const parts = [
      t.dnsMs !== undefined && `DNS ${t.dnsMs} ms`,
      t.connectMs !== undefined && `TCP connect ${t.connectMs} ms`,
      t.proxyMs !== undefined && `proxy CONNECT ${t.proxyMs} ms`,
      t.tlsMs !== undefined && `TLS ${t.tlsMs} ms`,
      t.settingsMs !== undefined && `SETTINGS ${t.settingsMs} ms`,
      t.handshakeMs !== undefined && `${t.settingsMs !== undefined ? 'extended CONNECT' : 'handshake'} ${t.handshakeMs} ms`,
      t.pingMs !== undefined && `ping round trip ${t.pingMs} ms`,
    ].filter(Boolean);
    return parts.length ? [`  ${what}${parts.join(', ')}`] : [];
  };
  const lines = [...(a ? timings(a.timings, h ? 'HTTP/1.1: ' : '') : []), ...(h ? timings(h.timings, a ? 'HTTP/2:   ' : '') : [])];
  if (lines.length) out.push('', c.bold('Timings'), ...lines);
  if (d.fixes.length) {
    out.push('', c.bold('How to fix'));
    for (const f of d.fixes) out.push(...f.split('\n').map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`)));
  }
  const v = verdict === 'ok' ? c.green('OK') : verdict === 'warn' ? c.yellow('WARN') : c.red('FAIL');
  out.push('', `${c.bold('Verdict:')} ${v}: ${summary}`, '');
  process.stdout.write(out.join('\n'));
  return verdict === 'fail' ? EXIT_FAILURE : 0;
}
