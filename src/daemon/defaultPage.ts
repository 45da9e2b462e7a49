// The dashboard served at GET / until the graph page arrives: services with their SVIDs counting
// down, and the latest events with their reasons, fed by the daemon's WebSocket. One inline
// script and one inline style, both by nonce; no inline handlers, no remote content, and data
// reaches the DOM only through textContent.

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// Plain ES5-style JavaScript, run by the browser as is; no template literals inside on purpose.
const SCRIPT = String.raw`
(function () {
  'use strict';
  // The token stays in the address bar so a reload works; the WebSocket proves it as a subprotocol
  // (a browser cannot set headers there), never in its URL.
  var token = new URLSearchParams(location.search).get('token');
  var protocols = token && /^[A-Za-z0-9._~-]+$/.test(token) ? ['mtls-lab.bearer.' + token] : [];
  var MAX_EVENTS = 100;
  var services = [];
  var events = [];
  var lastSeq = 0;
  var retryMs = 500;
  var statusEl = document.getElementById('status');
  var servicesEl = document.getElementById('services');
  var eventsEl = document.getElementById('events');
  var domainEl = document.getElementById('trust-domain');

  function el(tag, text, className) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }
  function setStatus(text, state) {
    statusEl.textContent = text;
    statusEl.setAttribute('data-state', state);
  }
  function timeLeft(notAfter) {
    var ms = Date.parse(notAfter) - Date.now();
    if (!(ms > 0)) return 'expired';
    var s = Math.floor(ms / 1000);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    s = s % 60;
    return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + s + 's';
  }
  function who(p) {
    return (p && (p.service || p.spiffeId || p.address)) || 'unknown';
  }
  function describe(e) {
    switch (e.type) {
      case 'svid/issued': return e.service + ' got SVID ' + e.serial + ' (' + e.cause + ')';
      case 'svid/failed': return e.service + ': SVID renewal failed: ' + e.error;
      case 'ca/changed': return 'CA ' + e.serial + ' ' + e.phase;
      case 'handshake': return who(e.caller) + ' \u2192 ' + who(e.callee) + ': mTLS handshake (' + e.protocol + ')';
      case 'call': return who(e.caller) + ' \u2192 ' + who(e.callee) + ': ' + e.requests + ' request(s)';
      case 'rejection': return who(e.caller) + ' \u2192 ' + who(e.callee) + ': rejected, ' + e.reason + ' \u2014 ' + e.detail;
      case 'policy/decision': return who(e.caller) + ' \u2192 ' + who(e.callee) + ': ' + (e.allowed ? 'allowed' : 'denied') + ' by ' + e.rule + ' \u2014 ' + e.explanation;
      case 'policy/changed': return 'policy rule ' + e.rule + ' ' + e.change;
      case 'service/state': return e.service + ' ' + e.state + (e.detail ? ' \u2014 ' + e.detail : '');
      case 'attack': return 'attack ' + e.scenario + ' on ' + e.target + ': ' + (e.rejected ? 'rejected (' + e.reason + ')' : 'GOT THROUGH') + ' \u2014 ' + e.detail;
      case 'mesh/state': return 'mesh ' + e.state + (e.detail ? ' \u2014 ' + e.detail : '');
      default: return String(e.type);
    }
  }
  function isBad(e) {
    return e.type === 'rejection' || e.type === 'svid/failed' || (e.type === 'policy/decision' && !e.allowed) || (e.type === 'attack' && !e.rejected);
  }

  function renderServices() {
    servicesEl.textContent = '';
    services.forEach(function (s) {
      var tr = document.createElement('tr');
      tr.appendChild(el('th', s.name)).setAttribute('scope', 'row');
      tr.appendChild(el('td')).appendChild(el('code', s.spiffeId));
      tr.appendChild(el('td')).appendChild(el('code', s.serial));
      var left = tr.appendChild(el('td', timeLeft(s.notAfter), 'time-left'));
      left.setAttribute('data-not-after', s.notAfter);
      servicesEl.appendChild(tr);
    });
  }
  function tick() {
    var cells = servicesEl.querySelectorAll('.time-left');
    for (var i = 0; i < cells.length; i++) cells[i].textContent = timeLeft(cells[i].getAttribute('data-not-after'));
  }
  function renderEvents() {
    eventsEl.textContent = '';
    for (var i = events.length - 1; i >= 0; i--) {
      var e = events[i];
      var li = el('li', undefined, isBad(e) ? 'bad' : '');
      li.appendChild(el('time', new Date(e.time).toLocaleTimeString(), 'muted')).setAttribute('datetime', e.time);
      li.appendChild(document.createTextNode(' ' + describe(e)));
      eventsEl.appendChild(li);
    }
  }
  function apply(e) {
    if (typeof e.seq === 'number') {
      if (e.seq <= lastSeq) return;
      lastSeq = e.seq;
    }
    events.push(e);
    if (e.type === 'svid/issued' || e.type === 'service/state') {
      for (var i = 0; i < services.length; i++) {
        if (services[i].name !== e.service) continue;
        var s = Object.assign({}, services[i]);
        if (e.type === 'svid/issued') { s.serial = e.serial; s.notBefore = e.notBefore; s.notAfter = e.notAfter; }
        else s.state = e.state;
        services[i] = s;
      }
    }
  }
  function onMessage(msg) {
    if (msg.type === 'mesh/snapshot') {
      var snap = msg.snapshot;
      services = (snap.services || []).slice();
      events = [];
      lastSeq = 0;
      (snap.recentEvents || []).forEach(apply);
      domainEl.textContent = 'Trust domain ' + snap.trustDomain + ', mode ' + snap.mode;
    } else if (msg.type === 'mesh/event') {
      apply(msg.event);
    } else if (msg.type === 'mesh/events') {
      msg.events.forEach(apply);
    } else {
      return;
    }
    if (events.length > MAX_EVENTS) events = events.slice(events.length - MAX_EVENTS);
    renderServices();
    renderEvents();
  }
  function connect() {
    var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/events', protocols);
    ws.addEventListener('open', function () { retryMs = 500; setStatus('Live', 'open'); });
    ws.addEventListener('message', function (m) {
      try { onMessage(JSON.parse(m.data)); } catch (err) { setStatus('A message could not be shown: ' + err, 'error'); }
    });
    ws.addEventListener('close', function () {
      setStatus('Disconnected from the daemon; retrying in ' + Math.round(retryMs / 1000) + ' s.', 'closed');
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    });
  }
  setInterval(tick, 1000);
  connect();
})();
`;

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; background: #fff; }
@media (prefers-color-scheme: dark) { body { color: #e6e6e6; background: #1e1e1e; } }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid rgba(128,128,128,.3); }
code { font: 12px ui-monospace, monospace; }
ol { padding-left: 1.5rem; }
.muted { opacity: .7; }
.bad { color: #c62828; }
#status[data-state="closed"], #status[data-state="error"] { color: #c62828; }
`;

/**
 * A minimal dashboard: services (name, SPIFFE ID, serial, time left) and the latest events, live
 * over the WebSocket. It has no assets, so it needs no token in the HTML: its script reads the
 * token from its own address (`?token=`) and offers it as the WebSocket subprotocol.
 */
export function defaultPage(nonce: string): string {
  const n = escapeAttribute(nonce);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>mTLS Lab</title>
<style nonce="${n}">${STYLE}</style>
</head>
<body>
<header>
<h1>mTLS Lab</h1>
<p id="status" role="status" aria-live="polite" data-state="connecting">Connecting to the daemon…</p>
</header>
<main>
<section aria-labelledby="services-heading">
<h2 id="services-heading">Services</h2>
<p id="trust-domain" class="muted"></p>
<table>
<thead><tr><th scope="col">Service</th><th scope="col">SPIFFE ID</th><th scope="col">Serial</th><th scope="col">Time left</th></tr></thead>
<tbody id="services"></tbody>
</table>
</section>
<section aria-labelledby="events-heading">
<h2 id="events-heading">Latest events</h2>
<ol id="events"></ol>
</section>
</main>
<script nonce="${n}">${SCRIPT}</script>
</body>
</html>
`;
}
