// ws13 doctor's judgements of the HTTP/2 attempt (RFC 8441): whether the server speaks h2
// (ALPN, or h2c with prior knowledge), whether it advertises extended CONNECT, and what the
// extended CONNECT got: a WebSocket (then a ping and a close over the stream), the 405 of
// Node's compatibility layer, a reset, or an advertised setting nobody handles.
import type { Attempt, Settings } from './doctor-probe.js';
import { h2ErrorName, type H2Attempt } from './doctor-h2-probe.js';
import { roundTrip, type Diagnosis, type Status } from './doctor-checks.js';

export const H2_405_FIX =
  'HTTP/2 405 to the extended CONNECT: in Node, the http2 compatibility API (a \'request\' listener) answers every CONNECT with 405\n' +
  '(nodejs/node#36977), so the server advertises WebSockets over HTTP/2 and then refuses them. Either:\n' +
  '    attach the WebSocket endpoint to the http2 server: new WebSocketServer({ server: h2server, path }) takes\n' +
  '    extended CONNECTs before the \'request\' listener sees them;\n' +
  '    or handle them in a \'stream\' listener (:method CONNECT, :protocol websocket) and answer :status 200;\n' +
  '    or stop advertising: remove settings.enableConnectProtocol.';

export const H2_UNHANDLED_FIX =
  'HTTP/2: advertise SETTINGS_ENABLE_CONNECT_PROTOCOL only where a WebSocket endpoint takes extended CONNECTs.\n' +
  'Chromium opens wss:// as an HTTP/2 stream whenever the origin\'s connection advertised it, and never falls back to\n' +
  'HTTP/1.1 (what golang/go#71128 did to browsers). In Node: remove settings.enableConnectProtocol, or attach a ws13\n' +
  'WebSocketServer to the http2 server; in Go: GODEBUG=http2xconnect=0; behind a proxy: turn its RFC 8441 support off\n' +
  'or give it a backend that accepts it.';

const SETTING_NAMES: Array<[string, string]> = [
  ['maxConcurrentStreams', 'SETTINGS_MAX_CONCURRENT_STREAMS'],
  ['initialWindowSize', 'SETTINGS_INITIAL_WINDOW_SIZE'],
  ['maxFrameSize', 'SETTINGS_MAX_FRAME_SIZE'],
  ['maxHeaderListSize', 'SETTINGS_MAX_HEADER_LIST_SIZE'],
  ['headerTableSize', 'SETTINGS_HEADER_TABLE_SIZE'],
];

/** The request and answer lines of the HTTP/2 attempt, for the report. */
export function h2Lines(h: H2Attempt): { request: string[]; response: string[] | null } {
  const request = h.sent ? h.request.map(([k, v]) => `${k}: ${v}`) : [];
  const o = h.outcome;
  let response: string[] | null = null;
  if (o?.kind === 'answer') response = [`:status: ${o.status}`, ...o.headers.entries.map(([k, v]) => `${k}: ${v}`)];
  else if (o?.kind === 'reset') response = [`RST_STREAM ${h2ErrorName(o.code)}`];
  else if (o?.kind === 'gone') response = [`(${o.message})`];
  else if (o?.kind === 'hung') response = [`(no answer in ${o.ms} ms)`];
  return { request, response };
}

/**
 * Explains the HTTP/2 attempt `h`. `http1` is the HTTP/1.1 attempt made before (undefined
 * with --http2); `required` (--http2) makes a server without WebSockets over HTTP/2 a failure.
 */
export async function explainHttp2(s: Settings, h: H2Attempt, d: Diagnosis, http1: Attempt | undefined, required: boolean): Promise<void> {
  // Not offering HTTP/2 is no fault: the HTTP/1.1 Upgrade still works (RFC 8441 is optional).
  const absent: Status = required ? 'fail' : 'info';
  const f = h.failed;
  if (f) {
    // With --http2 the connection's own checks (DNS, TCP, TLS) said it already.
    if (http1) d.add('h2', absent, 'HTTP/2', `not tried: the connection for it failed (${f.step}: ${f.code ?? f.message})`);
    return;
  }
  if (!explainH2(s, h, d, http1, absent)) return;
  explainSettings(h, d, absent);
  const o = h.outcome;
  if (!o) return;
  if (!h.advertised) return explainUnadvertised(h, d);
  explainConnect(s, h, d, http1);
  if (h.stream) {
    const skip = d.checks.some((c) => c.status === 'fail' && (c.id.startsWith('h2') || c.id === 'tls-certificate'));
    const r = await roundTrip(h.stream, undefined, s.timeout, d, { over: 'h2', skip });
    if (r.pingMs !== undefined) h.timings.pingMs = r.pingMs;
    // A 200 followed by an ordinary body: a proxy that speaks RFC 8441 to us and passed on its
    // backend's plain answer to the HTTP/1.1 Upgrade it made of our CONNECT.
    if (r.notFrames) {
      d.add('h2-unhandled', 'fail', 'extended CONNECT', 'advertised but not handled: the 200 carried an ordinary HTTP body, not a WebSocket', [
        'an RFC 8441 proxy (nghttpx, for one) turns the extended CONNECT into an HTTP/1.1 Upgrade to its backend; a backend that does not take it answers a page, which the proxy passes on under a 200',
        'Chromium uses the HTTP/2 connection for wss:// whenever the setting was advertised and never falls back to HTTP/1.1, so browsers fail where other clients work (golang/go#71128)',
      ]);
      d.fix(H2_UNHANDLED_FIX);
    }
  }
}

/** Check 'h2': whether HTTP/2 was negotiated, and how it was asked for. False when it was not. */
function explainH2(s: Settings, h: H2Attempt, d: Diagnosis, http1: Attempt | undefined, absent: Status): boolean {
  const how = h.via === 'alpn' ? 'ALPN (offered h2, http/1.1)' : 'h2c with prior knowledge (the HTTP/2 preface sent at once, as ws: has no TLS to negotiate in)';
  if (h.noH2 !== undefined) {
    const details =
      h.via === 'alpn'
        ? ['the server does not offer HTTP/2 on this port: WebSockets use the HTTP/1.1 Upgrade, as every client can']
        : [
            'no HTTP/2 without TLS on this port; that is common and no fault: browsers never use cleartext HTTP/2',
            `servers usually offer HTTP/2 over TLS only: ws13 doctor wss://${s.url.host}${s.url.pathname}${s.url.search} checks ALPN`,
          ];
    d.add('h2', absent, 'HTTP/2', `not offered: tried ${how}; ${h.noH2}`, details);
    if (absent === 'fail') d.fix('HTTP/2 is not offered: serve WebSockets over HTTP/2 (ws13 serve --http2, or a WebSocketServer attached to an http2 server).');
    return false;
  }
  const details = [
    ...(h.via === 'h2c' ? ['browsers never speak cleartext HTTP/2: only other clients (ws13 connect --http2, ws13\'s WebSocket.connect with http2) use h2c'] : []),
  ];
  // HTTP/1.1 got nowhere on a port that speaks HTTP/2: an h2-only server.
  const onlyH2 = http1 !== undefined && (http1.failed?.step === 'handshake' || http1.failed?.step === 'tls');
  if (onlyH2) {
    details.push('the HTTP/1.1 handshake above got no answer: this port speaks HTTP/2 only, so HTTP/1.1 clients (most WebSocket libraries) cannot connect');
    d.fix(
      h.via === 'h2c'
        ? `This port speaks only cleartext HTTP/2 (h2c): browsers and HTTP/1.1 clients fail. Serve TLS (wss://) or HTTP/1.1 too; to check it alone: ws13 doctor --http2 ${s.url.href}`
        : 'This port speaks HTTP/2 only: HTTP/1.1 WebSocket clients fail. In Node: http2.createSecureServer({ allowHTTP1: true, … }).',
    );
  }
  d.add('h2', 'ok', 'HTTP/2', `negotiated by ${how}; SETTINGS in ${h.timings.settingsMs} ms`, details);
  return true;
}

/** Check 'h2-settings': SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) and the limits that matter. */
function explainSettings(h: H2Attempt, d: Diagnosis, absent: Status): void {
  const st = h.settings ?? {};
  const values = SETTING_NAMES.filter(([k]) => st[k as keyof typeof st] !== undefined).map(
    ([k, name]) => `${name} = ${typeof st[k as keyof typeof st] === 'boolean' ? Number(st[k as keyof typeof st]) : String(st[k as keyof typeof st])}`,
  );
  if (h.advertised) {
    d.add('h2-settings', 'ok', 'HTTP/2 SETTINGS', 'SETTINGS_ENABLE_CONNECT_PROTOCOL = 1: clients may open WebSockets as HTTP/2 streams (RFC 8441 §3)', values);
    return;
  }
  d.add('h2-settings', absent, 'HTTP/2 SETTINGS', 'SETTINGS_ENABLE_CONNECT_PROTOCOL not advertised: WebSockets to this server use HTTP/1.1', [
    ...values,
    'RFC 8441 §3: a client MUST NOT send an extended CONNECT unless the server sent this setting as 1',
    'browsers holding an HTTP/2 connection to this origin open a separate HTTP/1.1 connection for wss://',
  ]);
  if (absent === 'fail') d.fix('HTTP/2 WebSockets: the server must advertise SETTINGS_ENABLE_CONNECT_PROTOCOL and take extended CONNECTs (a ws13 WebSocketServer attached to an http2 server does both; ws13 serve --http2).');
}

/** The CONNECT sent although the setting was not advertised: what a client that does not check gets. */
function explainUnadvertised(h: H2Attempt, d: Diagnosis): void {
  const o = h.outcome!;
  const sent = 'sent anyway, as a client that does not wait for the setting would';
  if (o.kind === 'reset' && o.code === 1) {
    d.add('h2-connect', 'info', 'extended CONNECT', `${sent}: RST_STREAM PROTOCOL_ERROR`, [
      'the server treats :protocol without its setting as a malformed request (RFC 8441 §3, RFC 9113 §8.1.1)',
      'this is the error a Node http2 client gets when it sends :protocol regardless (Node does not check the setting); ws13\'s client waits for the SETTINGS and uses HTTP/1.1',
    ]);
  } else if (o.kind === 'answer' && o.decision.kind === 'open') {
    d.add('h2-connect', 'warn', 'extended CONNECT', `${sent}: answered ${o.status}, although the setting is not advertised`, [
      'clients that follow RFC 8441 never send it here, so this endpoint is not reached over HTTP/2: advertise SETTINGS_ENABLE_CONNECT_PROTOCOL',
    ]);
    h.stream?.close();
  } else d.add('h2-connect', 'info', 'extended CONNECT', `${sent}: ${outcomeText(h)}`);
}

function outcomeText(h: H2Attempt): string {
  const o = h.outcome!;
  if (o.kind === 'answer') return `answered ${o.status}`;
  if (o.kind === 'reset') return `the server reset the stream (RST_STREAM ${h2ErrorName(o.code)})`;
  if (o.kind === 'gone') return o.message;
  return `no answer in ${o.ms} ms`;
}

/** Check 'h2-connect': the answer to the extended CONNECT, the setting being advertised. */
function explainConnect(s: Settings, h: H2Attempt, d: Diagnosis, http1: Attempt | undefined): void {
  const o = h.outcome!;
  const took = `in ${h.timings.handshakeMs} ms`;
  const over1 = http1?.res?.status;
  const unhandled = (what: string, extra: string[] = []): void => {
    d.add('h2-connect', 'fail', 'extended CONNECT', `advertised but not handled: ${what}`, [
      ...extra,
      'the server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL, yet nothing serves a WebSocket over HTTP/2 here',
      'Chromium uses the HTTP/2 connection for wss:// whenever the setting was advertised and never falls back to HTTP/1.1, so browsers fail where other clients work (golang/go#71128)',
      ...(over1 === 101 ? ['over HTTP/1.1 the same URL upgrades (101): only the HTTP/2 path is broken'] : []),
    ]);
    d.fix(H2_UNHANDLED_FIX);
  };
  if (o.kind === 'answer') {
    const body = o.body?.trim() ? [`body: ${o.body.trim().slice(0, 300)}`] : [];
    const dec = o.decision;
    if (dec.kind === 'open') {
      const picks = [
        `Sec-WebSocket-Protocol: ${dec.protocol || '(none)'}${s.protocols.length ? ` (offered: ${s.protocols.join(', ')})` : ''}`,
        `Sec-WebSocket-Extensions: ${dec.extensions || '(none)'}`,
      ];
      if (o.status !== 200) {
        // RFC 9113 §8.5 allows any 2xx; browsers, Deno and undici insist on 200.
        d.add('h2-connect', 'warn', 'extended CONNECT', `:status ${o.status}: a 2xx opens the WebSocket, but browsers, Deno and undici accept only 200`, picks);
        return;
      }
      const noProto = s.protocols.length > 0 && !dec.protocol;
      d.add('h2-connect', noProto ? 'fail' : 'ok', 'extended CONNECT', `:status 200 ${took}: a WebSocket over an HTTP/2 stream`, picks);
      if (noProto) d.fix(`Subprotocol over HTTP/2: configure the server to accept one of ${s.protocols.join(', ')}.`);
      return;
    }
    if (dec.kind === 'fail') {
      d.add('h2-connect', 'fail', 'extended CONNECT', `:status ${o.status}, but ws13's client refuses the answer: ${dec.error.message} (${dec.error.code})`);
      return;
    }
    if (o.status === 405) {
      d.add('h2-connect', 'fail', 'extended CONNECT', `405 ${took}: the CONNECT reached a handler that takes only ordinary requests`, [
        'Node\'s http2 compatibility layer (a server with only a \'request\' listener) answers every CONNECT with 405 (nodejs/node#36977)',
        'the server advertises WebSockets over HTTP/2 and refuses them: Chromium fails and does not fall back to HTTP/1.1',
        ...(over1 === 101 ? ['over HTTP/1.1 the same URL upgrades (101)'] : []),
        ...body,
      ]);
      d.fix(H2_405_FIX);
      return;
    }
    if ((o.status === 404 && over1 !== 404) || o.status === 501) {
      unhandled(`the extended CONNECT got ${o.status} ${took}`, body);
      return;
    }
    const why: Record<number, string> = {
      400: 'the server found the extended CONNECT malformed (a proxy that rewrote it, or a server whose RFC 8441 support is partial)',
      403: 'refused: an Origin or authentication policy (see the HTTP/1.1 answer above for the Origin retries)',
      404: `nothing serves a WebSocket at ${s.url.pathname}, over HTTP/1.1 either: check the path`,
      426: 'the server wants another WebSocket version (Sec-WebSocket-Version)',
      503: 'the server is unavailable or shutting down',
    };
    d.add('h2-connect', 'fail', 'extended CONNECT', `refused with ${o.status} ${took}${over1 === o.status ? ' (as over HTTP/1.1)' : ''}`, [
      why[o.status] ?? 'not a WebSocket answer',
      ...body,
    ]);
    return;
  }
  if (o.kind === 'hung') {
    unhandled(`no answer to the extended CONNECT in ${o.ms} ms: the stream hangs`, [
      'a server (or a \'stream\' listener) that advertises the setting but never answers CONNECT streams',
    ]);
    return;
  }
  if (o.kind === 'gone') {
    d.add('h2-connect', 'fail', 'extended CONNECT', `the session ended before an answer: ${o.message}`);
    return;
  }
  const name = h2ErrorName(o.code);
  if (o.code === 1) {
    d.add('h2-connect', 'fail', 'extended CONNECT', 'RST_STREAM PROTOCOL_ERROR although the setting is advertised: the peer rejects :protocol', [
      'the HTTP/2 endpoint that sent the SETTINGS does not accept extended CONNECT after all: often a proxy or load balancer passing on settings it does not implement, or a server advertising a feature it lacks',
      'clients see the stream reset; Chromium does not fall back to HTTP/1.1',
    ]);
    d.fix(H2_UNHANDLED_FIX);
    return;
  }
  const extra: Record<number, string> = {
    7: 'REFUSED_STREAM: the server takes no more streams now (SETTINGS_MAX_CONCURRENT_STREAMS reached, or shutting down); the request may be retried',
    8: 'CANCEL: the server gave up the stream (a handler that refused without answering)',
    11: 'ENHANCE_YOUR_CALM: the server thinks this connection is abusive (rate limits)',
    13: 'HTTP_1_1_REQUIRED: the server wants this request over HTTP/1.1 (RFC 9113 §7)',
  };
  d.add('h2-connect', 'fail', 'extended CONNECT', `the server reset the stream (RST_STREAM ${name}) ${took}`, [extra[o.code] ?? `error code ${o.code}`]);
}
