'use strict';
// Calls to another service of the mesh. Upstream X is at $UPSTREAM_X_URL (X upper-cased, "-" and
// other non-alphanumerics as "_"). In sidecar mode that is http://127.0.0.1:PORT, the local port
// of this service's sidecar. A native service reaches https://127.0.0.1:PORT, the upstream's mesh
// port, itself: it presents its own SVID and accepts only a server whose SPIFFE ID is
// $UPSTREAM_X_SPIFFE_ID. Connections are kept alive either way.
const http = require('node:http');
const https = require('node:https');
const log = require('./log');
const { HttpError } = require('./http');
const { spiffeIdOf, svidSource } = require('./svid');

const TIMEOUT_MS = 5000;

function envName(upstream) {
  return upstream.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

function nativeAgent(upstream, expectedId) {
  const source = svidSource();
  const make = (m) =>
    new https.Agent({
      keepAlive: true,
      maxSockets: 32,
      cert: m.cert,
      key: m.key,
      ca: m.ca,
      // The host name means nothing in a mesh; the SPIFFE ID is the server's identity.
      checkServerIdentity: (_host, cert) => {
        const v = spiffeIdOf(cert);
        if (v.error) return new Error(`${upstream}: ${v.error}`);
        if (v.id !== expectedId) return new Error(`${upstream}: the server is ${v.id}, expected ${expectedId}`);
        return undefined;
      },
    });
  const holder = { agent: make(source.current()) };
  source.onChange((m) => {
    const old = holder.agent;
    holder.agent = make(m);
    // Requests in flight finish on the old agent; its idle sockets go after that.
    setTimeout(() => old.destroy(), 10_000).unref();
  });
  return holder;
}

/** A client for upstream `name`: `call(method, path, body)` resolves with the parsed JSON of a 2xx answer. */
function upstream(name) {
  const key = envName(name);
  const raw = process.env[`UPSTREAM_${key}_URL`];
  if (!raw) throw new Error(`${log.service}: $UPSTREAM_${key}_URL is not set; the mesh sets it for each upstream in the config's "upstreams" list.`);
  const base = new URL(raw);
  let holder;
  if (base.protocol === 'https:') {
    const expected = process.env[`UPSTREAM_${key}_SPIFFE_ID`];
    if (!expected) throw new Error(`${log.service}: $UPSTREAM_${key}_SPIFFE_ID is not set; a native caller needs the SPIFFE ID it expects ${name} to present.`);
    holder = nativeAgent(name, expected);
  } else {
    holder = { agent: new http.Agent({ keepAlive: true, maxSockets: 32 }) };
  }
  const transport = base.protocol === 'https:' ? https : http;

  function call(method, path, body) {
    const url = new URL(path, base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = transport.request(
        url,
        {
          method,
          agent: holder.agent,
          timeout: TIMEOUT_MS,
          headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {
              parsed = text.slice(0, 500);
            }
            const status = res.statusCode || 0;
            if (status >= 200 && status < 300) return resolve(parsed);
            reject(
              new HttpError(502, {
                error: 'upstream-failed',
                service: log.service,
                upstream: name,
                status,
                detail: `${log.service}: ${name} answered ${method} ${url.pathname} with ${status}`,
                body: parsed,
              }),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err) =>
        reject(
          new HttpError(502, {
            error: 'upstream-unavailable',
            service: log.service,
            upstream: name,
            status: null,
            code: err.code || null,
            detail: `${log.service}: cannot reach ${name} at ${base.origin} (${err.code || err.message})`,
          }),
        ),
      );
      req.end(payload);
    });
  }

  return {
    name,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
  };
}

module.exports = { upstream, envName };
