// The demo page, kept as strings so it ships inside dist/ with the compiled server and needs
// no file lookups at run time. One page, no frameworks, no external resources.
// The script and the styles avoid `${` and backticks so they can live in String.raw literals.

export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ws13 demo: chat and handshake inspector</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body data-state="connecting">
<a class="skip" href="#chat">Skip to the chat</a>
<header class="top">
  <div>
    <h1>ws13 demo</h1>
    <p class="sub">A WebSocket (RFC 6455) chat room served by ws13, and what the opening handshake of this page's own connection looked like.</p>
  </div>
  <div id="status" class="status" data-state="connecting" role="status" aria-live="polite">
    <span class="dot" aria-hidden="true"></span>
    <span id="status-text">Connecting…</span>
  </div>
  <button id="reconnect" type="button" hidden>Reconnect now</button>
</header>

<main class="grid">
  <section id="chat" class="card chat" aria-labelledby="chat-title">
    <h2 id="chat-title">1. Chat room</h2>
    <p class="hint">Everyone with this page open is in the same room. Open a second tab to talk to yourself.</p>
    <form id="name-form" class="row" autocomplete="off">
      <label for="name">Your name</label>
      <input id="name" name="name" maxlength="24" required>
      <button type="submit">Set name</button>
    </form>
    <p class="online"><span id="online-count">0</span> online: <span id="online-names">—</span></p>
    <ol id="messages" class="messages" role="log" aria-live="polite" aria-label="Chat messages"></ol>
    <form id="message-form" class="row" autocomplete="off">
      <label for="message">Message</label>
      <input id="message" name="message" maxlength="500" placeholder="Say hello" required>
      <button id="send" type="submit">Send</button>
    </form>
  </section>

  <section class="card" aria-labelledby="neg-title">
    <h2 id="neg-title">2. What the browser negotiated</h2>
    <p class="hint">Read from this page's <code>WebSocket</code> object after <code>open</code>.</p>
    <dl class="kv">
      <dt><code>ws.url</code></dt><dd><code id="browser-url">—</code></dd>
      <dt><code>ws.protocol</code></dt><dd><code id="browser-protocol">—</code></dd>
      <dt><code>ws.extensions</code></dt><dd><code id="browser-extensions">—</code></dd>
      <dt>Compression</dt><dd id="browser-compression">—</dd>
      <dt>Server agrees</dt><dd id="browser-agrees">—</dd>
    </dl>
  </section>

  <section class="card wide" aria-labelledby="hs-title">
    <h2 id="hs-title">3. Handshake inspector</h2>
    <p class="hint">Scripts cannot read the headers of a WebSocket handshake, so the server sends them back over the socket as its first message.</p>
    <p id="hs-which" class="which">No connection yet.</p>
    <div class="cols">
      <div>
        <h3>Request the browser sent</h3>
        <dl class="kv">
          <dt>Request line</dt><dd><code id="req-line">—</code></dd>
          <dt>Sec-WebSocket-Key</dt><dd><code id="req-key">—</code></dd>
          <dt>Sec-WebSocket-Version</dt><dd><code id="req-version">—</code></dd>
          <dt>Sec-WebSocket-Protocol</dt><dd><code id="req-protocol">—</code></dd>
          <dt>Sec-WebSocket-Extensions</dt><dd><code id="req-extensions">—</code></dd>
          <dt>Origin</dt><dd><code id="req-origin">—</code></dd>
        </dl>
        <details>
          <summary>All request headers, in the order they arrived</summary>
          <pre id="req-raw" tabindex="0">—</pre>
        </details>
      </div>
      <div>
        <h3>The server's answer</h3>
        <dl class="kv">
          <dt>Status</dt><dd><code id="res-status">—</code></dd>
          <dt>Upgrade</dt><dd><code id="res-upgrade">—</code></dd>
          <dt>Connection</dt><dd><code id="res-connection">—</code></dd>
          <dt>Sec-WebSocket-Accept</dt><dd><code id="res-accept">—</code></dd>
          <dt>Sec-WebSocket-Protocol</dt><dd><code id="res-protocol">—</code></dd>
          <dt>Sec-WebSocket-Extensions</dt><dd><code id="res-extensions">—</code></dd>
        </dl>
        <details>
          <summary>The answer as sent</summary>
          <pre id="res-raw" tabindex="0">—</pre>
        </details>
      </div>
    </div>
    <h3>How the Accept is computed (RFC 6455 §4.2.2)</h3>
    <ol class="steps">
      <li><span class="label">The key the browser sent</span> <code id="step-key">—</code></li>
      <li><span class="label">Append the GUID</span> <code id="step-concat">—</code></li>
      <li><span class="label">SHA-1 of that (hex, on the server)</span> <code id="step-sha1">—</code></li>
      <li><span class="label">Base64 of the 20 bytes = Accept</span> <code id="step-base64">—</code></li>
      <li><span class="label">Again in this page with WebCrypto (hex)</span> <code id="step-webcrypto-hex">—</code></li>
      <li><span class="label">Again in this page with WebCrypto (base64)</span> <code id="step-webcrypto-b64">—</code></li>
    </ol>
    <p id="accept-verified" class="verdict" data-verified="pending" aria-live="polite">Waiting for the handshake report…</p>
  </section>

  <section class="card wide" aria-labelledby="conn-title">
    <h2 id="conn-title">4. Connection</h2>
    <p class="hint">When the server goes away the page retries with exponential backoff (0.5 s, 1 s, 2 s … up to 10 s, with jitter). Restart <code>npm start</code> to watch it.</p>
    <dl class="kv">
      <dt>State</dt><dd id="conn-state">connecting</dd>
      <dt>Connections opened</dt><dd id="conn-count">0</dd>
      <dt>Failed attempts in a row</dt><dd id="conn-failures">0</dd>
    </dl>
    <ol id="events" class="events" aria-label="Connection events"></ol>
  </section>
</main>
<noscript><p class="card">This demo needs JavaScript: it is a WebSocket client.</p></noscript>
</body>
</html>
`;

export const PAGE_CSS = String.raw`
:root {
  --bg: #f4f5f7; --card: #ffffff; --text: #1b1f24; --muted: #4a5361; --line: #d0d5dd;
  --accent: #0b57a4; --ok: #1a6e2e; --warn: #8a5a00; --bad: #b42318; --mark: #fff4c2;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--text); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; padding: 0 1rem 2rem; line-height: 1.45; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 0.5rem; background: var(--card); padding: 0.25rem 0.5rem; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; justify-content: space-between; max-width: 1200px; margin: 0 auto; padding: 1rem 0; }
h1 { margin: 0; font-size: 1.6rem; }
h2 { margin: 0 0 0.25rem; font-size: 1.2rem; }
h3 { margin: 1rem 0 0.5rem; font-size: 1rem; }
.sub, .hint { margin: 0.25rem 0 0.75rem; color: var(--muted); }
.status { display: inline-flex; align-items: center; gap: 0.5rem; padding: 0.4rem 0.8rem; border-radius: 999px; border: 2px solid currentColor; font-weight: 600; background: var(--card); }
.status .dot { width: 0.75rem; height: 0.75rem; border-radius: 50%; background: currentColor; }
.status[data-state="open"] { color: var(--ok); }
.status[data-state="connecting"] { color: var(--warn); }
.status[data-state="reconnecting"], .status[data-state="closed"] { color: var(--bad); }
.grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; max-width: 1200px; margin: 0 auto; }
.card { min-width: 0; overflow-wrap: break-word; background: var(--card); border: 1px solid var(--line); border-radius: 0.5rem; padding: 1rem; }
.wide { grid-column: 1 / -1; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; }
/* One column below 800 px; minmax(0, …) so no content (a long key, a label) can widen the page past the screen. */
@media (max-width: 800px) { .grid, .cols { grid-template-columns: minmax(0, 1fr); } }
}
.row { display: flex; gap: 0.5rem; align-items: center; margin: 0.5rem 0; }
.row label { font-weight: 600; min-width: 5.5rem; }
.row input { flex: 1; min-width: 0; }
input { font: inherit; padding: 0.4rem 0.5rem; border: 1px solid #6b7480; border-radius: 0.3rem; color: var(--text); background: #fff; }
button { font: inherit; padding: 0.4rem 0.9rem; border: 0; border-radius: 0.3rem; background: var(--accent); color: #fff; cursor: pointer; }
button:disabled { background: #6b7480; cursor: not-allowed; }
:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
.online { margin: 0.25rem 0; color: var(--muted); }
.messages { list-style: none; margin: 0; padding: 0.5rem; height: 18rem; overflow-y: auto; border: 1px solid var(--line); border-radius: 0.3rem; background: #fafbfc; }
.messages li { padding: 0.15rem 0; overflow-wrap: anywhere; }
.messages .who { font-weight: 700; }
.messages .mine .who { color: var(--accent); }
.messages .time { color: var(--muted); font-size: 0.8em; margin-right: 0.4rem; }
.messages .notice { color: var(--muted); font-style: italic; }
.kv { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.3rem 0.75rem; margin: 0; }
.kv dt { font-weight: 600; }
.kv dd { margin: 0; overflow-wrap: anywhere; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 0.5rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
pre mark { background: var(--mark); color: inherit; }
.steps { margin: 0; padding-left: 1.5rem; }
.steps li { margin: 0.2rem 0; overflow-wrap: anywhere; }
.steps .label { display: inline-block; min-width: min(24rem, 100%); color: var(--muted); }
.verdict { overflow-wrap: anywhere; font-weight: 700; padding: 0.5rem 0.75rem; border-radius: 0.3rem; border-left: 0.4rem solid var(--muted); background: #f6f8fa; }
.verdict[data-verified="yes"] { border-color: var(--ok); color: var(--ok); background: #eaf6ec; }
.verdict[data-verified="no"] { border-color: var(--bad); color: var(--bad); background: #fdecea; }
.verdict[data-verified="unavailable"] { border-color: var(--warn); color: var(--warn); }
.which { margin: 0 0 0.5rem; font-weight: 600; }
.events { margin: 0.75rem 0 0; padding-left: 1.5rem; max-height: 10rem; overflow-y: auto; color: var(--muted); }
/* Phones: forms wrap (label above, input and button below), labels of the steps above their values. */
@media (max-width: 480px) {
  body { padding: 0 0.5rem 1.5rem; }
  .card { padding: 0.75rem; }
  .row { flex-wrap: wrap; }
  .row label { flex-basis: 100%; }
  .steps .label { display: block; min-width: 0; }
  .kv { grid-template-columns: minmax(0, 1fr); }
  .kv dd { margin-bottom: 0.3rem; }
`;

export const PAGE_JS = String.raw`'use strict';
(function () {
  var GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
  var PROTOCOLS = ['chat.v1'];
  var BASE_DELAY = 500, MAX_DELAY = 10000;

  function el(id) { return document.getElementById(id); }
  function setText(id, text) { el(id).textContent = text; }
  function show(v) { return v === undefined || v === null || v === '' ? '(none)' : String(v); }
  function clock(t) { return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }); }

  var ws = null;          // the current socket, or null
  var generation = 0;     // bumps on every new socket, so late callbacks of an old one are ignored
  var failures = 0;       // failed attempts since the last open
  var opened = 0;         // connections opened so far
  var myId = null;
  var retryTimer = null, tickTimer = null, retryAt = 0;

  var nameInput = el('name');
  var saved = null;
  try { saved = sessionStorage.getItem('ws13-demo-name'); } catch (e) { /* storage off */ }
  nameInput.value = saved || ('guest-' + (1000 + Math.floor(Math.random() * 9000)));

  function setState(state, text) {
    el('status').setAttribute('data-state', state);
    document.body.setAttribute('data-state', state);
    setText('status-text', text);
    setText('conn-state', state);
    el('reconnect').hidden = state === 'open' || state === 'connecting';
    el('send').disabled = state !== 'open';
  }

  function logEvent(text) {
    var li = document.createElement('li');
    li.textContent = clock(Date.now()) + ' ' + text;
    var list = el('events');
    list.appendChild(li);
    while (list.children.length > 50) list.removeChild(list.firstChild);
    list.scrollTop = list.scrollHeight;
  }

  function wsUrl() {
    var u = new URL('/ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href;
  }

  function resetInspector() {
    ['req-line', 'req-key', 'req-version', 'req-protocol', 'req-extensions', 'req-origin',
     'res-status', 'res-upgrade', 'res-connection', 'res-accept', 'res-protocol', 'res-extensions',
     'step-key', 'step-concat', 'step-sha1', 'step-base64', 'step-webcrypto-hex', 'step-webcrypto-b64',
     'browser-url', 'browser-protocol', 'browser-extensions', 'browser-compression', 'browser-agrees'
    ].forEach(function (id) { setText(id, '—'); });
    setText('req-raw', '—');
    setText('res-raw', '—');
    var v = el('accept-verified');
    v.setAttribute('data-verified', 'pending');
    v.textContent = 'Waiting for the handshake report…';
  }

  function connect() {
    clearTimeout(retryTimer);
    clearInterval(tickTimer);
    if (ws && (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN)) return;
    var gen = ++generation;
    var wasOpen = false;
    setState('connecting', 'Connecting… (attempt ' + (failures + 1) + ')');
    var sock;
    try {
      sock = new WebSocket(wsUrl(), PROTOCOLS);
    } catch (err) {
      logEvent('could not create the socket: ' + err);
      scheduleRetry('could not connect');
      return;
    }
    ws = sock;
    sock.onopen = function () {
      if (gen !== generation) return;
      failures = 0;
      wasOpen = true;
      opened++;
      resetInspector();
      setText('hs-which', 'Connection #' + opened + ' (open)');
      setText('conn-count', String(opened));
      setText('conn-failures', '0');
      setState('open', 'Open (connection #' + opened + ')');
      logEvent('open: connection #' + opened + ', protocol ' + show(sock.protocol) + ', extensions ' + show(sock.extensions));
      showBrowserView(sock);
      send({ type: 'hello', name: nameInput.value });
    };
    sock.onmessage = function (ev) {
      if (gen !== generation) return;
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      handle(msg, gen);
    };
    sock.onclose = function (ev) {
      if (gen !== generation) return;
      ws = null;
      var why = wasOpen
        ? 'code ' + ev.code + (ev.reason ? ' "' + ev.reason + '"' : '') + (ev.wasClean ? '' : ', not clean')
        : 'server not reachable (code ' + ev.code + ')';
      logEvent('closed: ' + why);
      if (wasOpen) {
        setText('hs-which', 'Connection #' + opened + ' (closed: kept here until the next one opens)');
        addNotice('Disconnected (' + why + ').');
        setOnline([]);
      }
      scheduleRetry('closed (' + why + ')');
    };
  }

  function scheduleRetry(why) {
    var delay = Math.min(MAX_DELAY, BASE_DELAY * Math.pow(2, failures));
    delay = Math.round(delay * (0.8 + Math.random() * 0.4));
    failures++;
    setText('conn-failures', String(failures));
    retryAt = Date.now() + delay;
    logEvent('retry ' + failures + ' in ' + (delay / 1000).toFixed(1) + ' s');
    var tick = function () {
      var left = Math.max(0, retryAt - Date.now());
      setState('reconnecting', 'Reconnecting in ' + (left / 1000).toFixed(1) + ' s (retry ' + failures + '): ' + why);
    };
    tick();
    tickTimer = setInterval(tick, 200);
    retryTimer = setTimeout(connect, delay);
  }

  function send(obj) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  function showBrowserView(sock) {
    setText('browser-url', sock.url);
    setText('browser-protocol', show(sock.protocol));
    setText('browser-extensions', show(sock.extensions));
    setText('browser-compression', /(^|,)\s*permessage-deflate/.test(sock.extensions)
      ? 'on: permessage-deflate (RFC 7692)' : 'off');
  }

  // ---- the handshake report -------------------------------------------------------------

  function headerValue(list, name) {
    var n = name.toLowerCase(), out = [];
    for (var i = 0; i < list.length; i++) if (list[i][0].toLowerCase() === n) out.push(list[i][1]);
    return out.length ? out.join(', ') : undefined;
  }

  var WS_HEADERS = /^(upgrade|connection|origin|host|sec-websocket-[a-z]+)$/i;
  function fillRaw(id, firstLine, list) {
    var pre = el(id);
    pre.textContent = '';
    pre.appendChild(document.createTextNode(firstLine + '\n'));
    list.forEach(function (h) {
      var line = h[0] + ': ' + h[1] + '\n';
      if (WS_HEADERS.test(h[0])) {
        var m = document.createElement('mark');
        m.textContent = line;
        pre.appendChild(m);
      } else {
        pre.appendChild(document.createTextNode(line));
      }
    });
  }

  function showHandshake(hs, gen) {
    var rq = hs.request, rs = hs.response, a = hs.accept;
    setText('req-line', rq.method + ' ' + rq.url + ' HTTP/' + rq.httpVersion);
    setText('req-key', show(headerValue(rq.headers, 'Sec-WebSocket-Key')));
    setText('req-version', show(headerValue(rq.headers, 'Sec-WebSocket-Version')));
    setText('req-protocol', show(headerValue(rq.headers, 'Sec-WebSocket-Protocol')));
    setText('req-extensions', show(headerValue(rq.headers, 'Sec-WebSocket-Extensions')));
    setText('req-origin', show(headerValue(rq.headers, 'Origin')));
    fillRaw('req-raw', rq.method + ' ' + rq.url + ' HTTP/' + rq.httpVersion, rq.headers);

    setText('res-status', rs.status + ' ' + rs.statusText);
    setText('res-upgrade', show(headerValue(rs.headers, 'Upgrade')));
    setText('res-connection', show(headerValue(rs.headers, 'Connection')));
    setText('res-accept', show(headerValue(rs.headers, 'Sec-WebSocket-Accept')));
    setText('res-protocol', show(headerValue(rs.headers, 'Sec-WebSocket-Protocol')));
    setText('res-extensions', show(headerValue(rs.headers, 'Sec-WebSocket-Extensions')));
    fillRaw('res-raw', 'HTTP/1.1 ' + rs.status + ' ' + rs.statusText, rs.headers);

    setText('step-key', a.key);
    setText('step-concat', a.key + ' + ' + GUID + ' = ' + a.concatenated);
    setText('step-sha1', a.sha1Hex);
    setText('step-base64', a.base64);

    if (ws) {
      var same = ws.protocol === hs.server.protocol && ws.extensions === hs.server.extensions;
      setText('browser-agrees', same
        ? 'yes: the server reports the same protocol and extensions'
        : 'no: the server reports protocol ' + show(hs.server.protocol) + ', extensions ' + show(hs.server.extensions));
    }
    verify(a, headerValue(rs.headers, 'Sec-WebSocket-Accept') || '', gen);
  }

  function verify(a, accept, gen) {
    var out = el('accept-verified');
    if (!window.crypto || !crypto.subtle) {
      out.setAttribute('data-verified', 'unavailable');
      out.textContent = 'Not checked here: WebCrypto needs a secure context (open the page at 127.0.0.1 or localhost). ' +
        'The browser checked the Accept itself anyway: the connection would not have opened otherwise.';
      return;
    }
    var bytes = new TextEncoder().encode(a.key + GUID);
    crypto.subtle.digest('SHA-1', bytes).then(function (buf) {
      if (gen !== generation) return;
      var d = new Uint8Array(buf), hex = '', bin = '';
      for (var i = 0; i < d.length; i++) {
        hex += (d[i] < 16 ? '0' : '') + d[i].toString(16);
        bin += String.fromCharCode(d[i]);
      }
      var b64 = btoa(bin);
      setText('step-webcrypto-hex', hex);
      setText('step-webcrypto-b64', b64);
      var ok = b64 === accept && hex === a.sha1Hex && a.concatenated === a.key + GUID;
      out.setAttribute('data-verified', ok ? 'yes' : 'no');
      out.textContent = ok
        ? '✓ Verified: base64(SHA-1(key + GUID)) computed in this page with WebCrypto equals the Sec-WebSocket-Accept the server sent (' + accept + ').'
        : '✗ Mismatch: WebCrypto gives ' + b64 + ' but the server sent ' + accept + '.';
    }, function (err) {
      out.setAttribute('data-verified', 'unavailable');
      out.textContent = 'WebCrypto failed: ' + err;
    });
  }

  // ---- chat -------------------------------------------------------------------------------

  function addLine(li) {
    var list = el('messages');
    var atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.appendChild(li);
    while (list.children.length > 200) list.removeChild(list.firstChild);
    if (atEnd) list.scrollTop = list.scrollHeight;
  }

  function addNotice(text, at) {
    var li = document.createElement('li');
    li.className = 'notice';
    var t = document.createElement('span');
    t.className = 'time';
    t.textContent = clock(at || Date.now());
    li.appendChild(t);
    li.appendChild(document.createTextNode(text));
    addLine(li);
  }

  function addChat(m) {
    var li = document.createElement('li');
    li.className = 'chat' + (m.id === myId ? ' mine' : '');
    var t = document.createElement('span');
    t.className = 'time';
    t.textContent = clock(m.at);
    var who = document.createElement('span');
    who.className = 'who';
    who.textContent = m.name + ': ';
    var text = document.createElement('span');
    text.className = 'text';
    text.textContent = m.text;
    li.appendChild(t);
    li.appendChild(who);
    li.appendChild(text);
    addLine(li);
  }

  function setOnline(names) {
    setText('online-count', String(names.length));
    setText('online-names', names.length ? names.join(', ') : '—');
  }

  function handle(msg, gen) {
    switch (msg.type) {
      case 'handshake': showHandshake(msg, gen); break;
      case 'welcome':
        myId = msg.id;
        if (msg.history && msg.history.length) {
          addNotice('Recent messages:');
          msg.history.forEach(addChat);
        }
        addNotice('You joined as ' + msg.name + '.');
        setOnline(msg.users);
        break;
      case 'join': if (msg.id !== myId) addNotice(msg.name + ' joined.', msg.at); setOnline(msg.users); break;
      case 'leave': addNotice(msg.name + ' left.', msg.at); setOnline(msg.users); break;
      case 'rename': addNotice(msg.from + ' is now ' + msg.to + '.', msg.at); setOnline(msg.users); break;
      case 'chat': addChat(msg); break;
      case 'error': addNotice('Server: ' + msg.message); break;
    }
  }

  el('name-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var name = nameInput.value.trim();
    if (!name) return;
    try { sessionStorage.setItem('ws13-demo-name', name); } catch (e) { /* storage off */ }
    send({ type: 'name', name: name });
  });

  el('message-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = el('message');
    var text = input.value.trim();
    if (!text) return;
    if (send({ type: 'chat', text: text })) input.value = '';
  });

  el('reconnect').addEventListener('click', function () { connect(); });

  connect();
})();
`;
