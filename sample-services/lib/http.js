'use strict';
// A small JSON service: a router, body parsing, errors as JSON, and a listener that is plain HTTP
// on 127.0.0.1:$PORT (sidecar mode: the sidecar terminates mTLS) or HTTPS with mutual TLS (native
// mode: $SVID_* files set; the caller's SPIFFE ID must be in $ALLOWED_SPIFFE_IDS).
const http = require('node:http');
const fs = require('node:fs');
const https = require('node:https');
const log = require('./log');
const { isNative, spiffeIdOf, svidSource } = require('./svid');

const MAX_BODY = 64 * 1024;

class HttpError extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendHtml(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
  res.end(html);
}

/** The request body as JSON ({} when empty); a 400 HttpError when it is not JSON or too big. */
function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, { error: 'too-large', detail: `request bodies are limited to ${MAX_BODY} bytes` }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new HttpError(400, { error: 'bad-json', detail: 'the request body is not valid JSON' }));
      }
    });
    req.on('error', reject);
  });
}

/** Resolves after a few ms of pretend work (a database, a card network) so latency looks real. */
function work(minMs = 2, maxMs = 8) {
  return new Promise((r) => setTimeout(r, minMs + Math.random() * (maxMs - minMs)));
}

function port() {
  const p = Number(process.env.PORT);
  if (!Number.isInteger(p) || p <= 0 || p > 65535) {
    throw new Error(`${log.service}: $PORT is "${process.env.PORT || ''}"; the mesh sets it to the port this service listens on (e.g. PORT=8080).`);
  }
  return p;
}

const parseIds = (text, sep) =>
  text
    .split(sep)
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * The callers the policy allows, live: $ALLOWED_SPIFFE_IDS at start, then $ALLOWED_SPIFFE_IDS_FILE
 * (one ID a line, rewritten atomically by the mesh on every policy change) polled each second,
 * so allowing or denying a call takes effect without a restart, on open connections too.
 */
function allowedIds() {
  const allowed = new Set(parseIds(process.env.ALLOWED_SPIFFE_IDS || '', ','));
  const file = process.env.ALLOWED_SPIFFE_IDS_FILE;
  if (!file) return allowed;
  let seen = '';
  const load = () => {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return; // keep the last list until the file is back
    }
    if (text === seen) return;
    seen = text;
    allowed.clear();
    for (const id of parseIds(text, '\n')) allowed.add(id);
    log.info(`allow-list loaded: ${[...allowed].join(', ') || 'nobody'}`);
  };
  load();
  setInterval(load, 1000).unref();
  return allowed;
}

const callerCache = new WeakMap();

// OpenSSL's verdicts on a client certificate, as the mesh names them.
const TLS_REASONS = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not-yet-valid',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unknown-ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unknown-ca',
  UNABLE_TO_GET_ISSUER_CERT: 'unknown-ca',
  SELF_SIGNED_CERT_IN_CHAIN: 'unknown-ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'not-an-svid',
  CERT_SIGNATURE_FAILURE: 'unknown-ca',
};
const PLAINTEXT_ERRORS = new Set(['ERR_SSL_HTTP_REQUEST', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/**
 * A native service tells the mesh why it refused a caller with one line on stdout:
 * `mtls-lab:event {"type":"rejection",...}`. The daemon reads the service's log and turns the line
 * into a mesh event, so a native service's rejections show up like a sidecar's.
 */
function reportRejection(reason, detail, caller) {
  log.info(`refused ${caller.spiffeId || caller.address || 'a caller'}: ${reason}`);
  process.stdout.write(`mtls-lab:event ${JSON.stringify({ type: 'rejection', side: 'server', reason, detail, caller })}\n`);
}

/** Native mode: the verified caller's SPIFFE ID, or a 403 HttpError. OpenSSL has already checked the chain to the bundle. */
function authorize(req, allowed) {
  const socket = req.socket;
  let verdict = callerCache.get(socket);
  if (!verdict) {
    verdict = spiffeIdOf(socket.getPeerCertificate());
    callerCache.set(socket, verdict);
  }
  if (verdict.error) {
    reportRejection('not-an-svid', `${log.service}: ${verdict.error}`, { address: `${socket.remoteAddress}:${socket.remotePort}` });
    throw new HttpError(403, { error: 'forbidden', reason: 'not-an-svid', service: log.service, caller: null, detail: `${log.service}: ${verdict.error}.` });
  }
  if (!allowed.has(verdict.id)) {
    reportRejection('denied-by-policy', `${log.service}: ${verdict.id} may not call this service; it is not in ALLOWED_SPIFFE_IDS`, { spiffeId: verdict.id, address: `${socket.remoteAddress}:${socket.remotePort}` });
    throw new HttpError(403, {
      error: 'forbidden',
      reason: 'denied-by-policy',
      service: log.service,
      caller: verdict.id,
      detail: `${log.service}: ${verdict.id} may not call this service; it is not in ALLOWED_SPIFFE_IDS.`,
    });
  }
  return verdict.id;
}

/**
 * Starts the service. `routes` is a list of [method, path or RegExp, handler(req, res, ctx)];
 * a handler returns the JSON body (status 200) or { status, body }, or writes `res` itself.
 * Returns the server once it listens.
 */
function startService({ routes }) {
  const native = isNative();
  const allowed = allowedIds();

  async function handle(req, res) {
    const url = new URL(req.url || '/', 'http://service.local');
    const ctx = { url, caller: null, params: [] };
    try {
      if (native) ctx.caller = authorize(req, allowed);
      if (req.method === 'GET' && url.pathname === '/healthz') return sendJson(res, 200, { service: log.service, ok: true });
      let methodMismatch = false;
      for (const [method, pattern, handler] of routes) {
        const m = typeof pattern === 'string' ? (pattern === url.pathname ? [] : null) : pattern.exec(url.pathname);
        if (!m) continue;
        if (method !== req.method && !(Array.isArray(method) && method.includes(req.method))) {
          methodMismatch = true;
          continue;
        }
        ctx.params = Array.from(m).slice(1);
        const out = await handler(req, res, ctx);
        if (res.headersSent || res.writableEnded) return;
        if (out && typeof out.status === 'number' && 'body' in out) return sendJson(res, out.status, out.body);
        return sendJson(res, 200, out);
      }
      if (methodMismatch) throw new HttpError(405, { error: 'method-not-allowed', detail: `${req.method} is not supported on ${url.pathname}` });
      throw new HttpError(404, { error: 'not-found', detail: `${log.service} has no ${req.method} ${url.pathname}` });
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        if (err.status >= 500) log.warn(`${req.method} ${url.pathname} -> ${err.status} ${JSON.stringify(err.body)}`);
        return sendJson(res, err.status, err.body);
      }
      log.error(`${req.method} ${url.pathname} failed:`, err);
      return sendJson(res, 500, { error: 'internal', service: log.service, detail: String(err && err.message ? err.message : err) });
    }
  }

  let server;
  if (native) {
    const source = svidSource();
    const m = source.current();
    // requestCert without rejectUnauthorized: OpenSSL still verifies the chain to the bundle, but
    // the verdict comes to us on secureConnection, so a refusal can say why before a byte is read.
    server = https.createServer({ cert: m.cert, key: m.key, ca: m.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, handle);
    // New connections get the new material; open ones keep theirs, so no request fails mid-swap.
    source.onChange((next) => server.setSecureContext({ cert: next.cert, key: next.key, ca: next.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }));
    server.on('secureConnection', (socket) => {
      if (socket.authorized) return;
      const peer = socket.getPeerCertificate();
      const code = String(socket.authorizationError || '');
      const reason = !peer || !peer.raw ? 'no-client-cert' : TLS_REASONS[code] || 'unknown-ca';
      const detail = reason === 'no-client-cert' ? 'the caller sent no client certificate' : `the client certificate was refused: ${code}`;
      reportRejection(reason, `${log.service}: ${detail}`, { address: `${socket.remoteAddress}:${socket.remotePort}` });
      socket.destroy();
    });
    server.on('tlsClientError', (err, socket) => {
      const reason = PLAINTEXT_ERRORS.has(err.code) ? 'plaintext-on-mtls-port' : null;
      log.info(`TLS handshake from ${socket.remoteAddress}:${socket.remotePort} refused: ${err.code || err.message}`);
      if (reason) reportRejection(reason, `${log.service}: a caller sent plaintext to this mutual-TLS port`, { address: `${socket.remoteAddress}:${socket.remotePort}` });
    });
  } else {
    server = http.createServer(handle);
  }
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 35_000;
  const p = port();
  server.on('error', (err) => {
    log.error(`cannot listen on 127.0.0.1:${p}: ${err.message}`);
    process.exit(1);
  });
  server.listen(p, '127.0.0.1', () => {
    log.info(`listening on ${native ? 'https (mTLS, native)' : 'http (sidecar mode)'} 127.0.0.1:${p}${native ? `, allowing ${[...allowed].join(', ') || 'nobody'}` : ''}`);
  });

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: closing`);
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    // In-flight requests get a moment; then go regardless.
    setTimeout(() => process.exit(0), 1500).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return server;
}

module.exports = { HttpError, sendJson, sendHtml, readJson, work, startService };
