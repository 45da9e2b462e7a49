'use strict';
// An attacker, as a real separate process: it tries to get a request through a mesh port and
// reports, as one JSON line on stdout, what happened on the wire. It judges nothing (the daemon
// does) and exits 0 whatever happened; 2 for bad usage.
//
//   node intruder.js SCENARIO --url https://127.0.0.1:PORT [--cert F --key F] [--ca F]
//                    [--expect-id SPIFFE_ID (checked with --ca)] [--path /api/...] [--timeout MS]
//
// impostor-no-cert  TLS without a client certificate
// rogue-ca          a client certificate from a CA the mesh does not trust (--cert/--key)
// expired-replay    a client certificate past its notAfter (--cert/--key)
// unauthorized      a valid SVID of an identity no policy rule allows (--cert/--key)
// plaintext         plain HTTP to the mTLS port
//
// Output: {"scenario","connected","status","body","error","tlsAlert","detail"}
//   connected  the transport came up from the client's side (TCP for plaintext, the TLS handshake
//              for the others; with TLS 1.3 a server can still refuse the certificate after that)
//   status     the HTTP status, when an answer came back; body: its JSON (or text)
//   error      Node's error code when the attempt failed (e.g. ECONNRESET; ERR_CLOSED_BY_SERVER when
//              the server hung up without a word, as Node servers do for an untrusted certificate)
//   tlsAlert   the TLS alert the server sent, as OpenSSL names it ("certificate required", "unknown ca")
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const tls = require('node:tls');

const SCENARIOS = {
  'impostor-no-cert': { tls: true, cert: 'none' },
  'rogue-ca': { tls: true, cert: 'required' },
  'expired-replay': { tls: true, cert: 'required' },
  unauthorized: { tls: true, cert: 'required' },
  plaintext: { tls: false, cert: 'none' },
};

function usage(message) {
  process.stderr.write(`intruder: ${message}\nusage: node intruder.js ${Object.keys(SCENARIOS).join('|')} --url https://127.0.0.1:PORT [--cert FILE --key FILE] [--ca FILE] [--expect-id ID] [--path PATH] [--timeout MS]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const [scenario, ...rest] = argv;
  if (!scenario || !(scenario in SCENARIOS)) usage(`unknown scenario "${scenario || ''}"; use one of ${Object.keys(SCENARIOS).join(', ')}.`);
  const opts = { scenario, path: '/', timeout: 5000 };
  const names = { '--url': 'url', '--cert': 'cert', '--key': 'key', '--ca': 'ca', '--expect-id': 'expectId', '--path': 'path', '--timeout': 'timeout' };
  for (let i = 0; i < rest.length; i += 2) {
    const name = names[rest[i]];
    if (!name) usage(`unknown option "${rest[i]}".`);
    if (rest[i + 1] === undefined) usage(`${rest[i]} needs a value.`);
    opts[name] = rest[i + 1];
  }
  if (!opts.url) usage('--url is required, e.g. --url https://127.0.0.1:8443.');
  opts.timeout = Number(opts.timeout);
  if (!(opts.timeout > 0)) usage('--timeout must be a positive number of milliseconds.');
  const spec = SCENARIOS[scenario];
  if (spec.cert === 'required' && (!opts.cert || !opts.key)) usage(`${scenario} needs --cert and --key (the certificate it presents).`);
  if (spec.cert === 'none' && (opts.cert || opts.key)) usage(`${scenario} presents no certificate; drop --cert/--key.`);
  return opts;
}

function read(file, what) {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    usage(`cannot read ${what} ${file} (${err.code || err.message}).`);
  }
}

/** "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" → "certificate required"; null when no alert. */
function alertOf(err) {
  const m = /ALERT_([A-Z0-9_]+)$/.exec(err.code || '') || /alert ([a-z ]+)/i.exec(err.message || '');
  return m ? m[1].toLowerCase().replace(/_/g, ' ').trim() : null;
}

function uriSan(cert) {
  const m = /URI:([^,\s]+)/.exec((cert && cert.subjectaltname) || '');
  return m ? m[1] : null;
}

// With TLS 1.3 the server judges the client certificate after the client has finished its side of
// the handshake; a request sent at once races the server's alert and usually loses to a reset.
// Waiting this long after the handshake lets the alert (or the server's close) be seen as such.
const SETTLE_MS = 250;

function attempt(opts) {
  const spec = SCENARIOS[opts.scenario];
  const target = new URL(opts.url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port) || 443;
  const result = { scenario: opts.scenario, connected: false, status: null, body: null, error: null, tlsAlert: null, detail: null };
  return new Promise((resolve) => {
    let settled = false;
    let timer;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const fail = (err) => {
      if (result.error === null) {
        result.error = err.code || 'ERR_UNKNOWN';
        result.tlsAlert = alertOf(err);
        result.detail = err.message;
      }
      finish();
    };
    timer = setTimeout(() => {
      fail(Object.assign(new Error(`no answer within ${opts.timeout} ms`), { code: 'ETIMEDOUT' }));
      socket.destroy();
    }, opts.timeout);

    // plaintext speaks HTTP to the same host and port, whatever scheme --url was given with.
    const socket = spec.tls
      ? tls.connect({
          host,
          port,
          cert: opts.cert ? read(opts.cert, 'certificate') : undefined,
          key: opts.key ? read(opts.key, 'key') : undefined,
          ca: opts.ca ? read(opts.ca, 'bundle') : undefined,
          // Without --ca the intruder does not care who answers; with it, it checks like a client would.
          rejectUnauthorized: Boolean(opts.ca),
          checkServerIdentity: (_host, cert) => {
            if (opts.expectId && uriSan(cert) !== opts.expectId) return new Error(`the server is ${uriSan(cert) || 'not an SVID'}, expected ${opts.expectId}`);
            return undefined;
          },
        })
      : net.connect({ host, port });
    socket.on('error', fail);
    socket.once('close', () => {
      if (!settled && result.status === null) fail(Object.assign(new Error('the server closed the connection'), { code: 'ERR_CLOSED_BY_SERVER' }));
    });
    socket.once(spec.tls ? 'secureConnect' : 'connect', () => {
      result.connected = true;
      setTimeout(() => (settled ? undefined : request(socket)), spec.tls ? SETTLE_MS : 0);
    });

    function request(sock) {
      const req = http.request(
        { host, port, path: opts.path, method: 'GET', createConnection: () => sock, headers: { 'user-agent': 'mtls-lab-intruder', accept: 'application/json', connection: 'close' } },
        (res) => {
          result.status = res.statusCode || null;
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              result.body = text ? JSON.parse(text) : null;
            } catch {
              result.body = text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
            }
            finish();
            sock.destroy();
          });
          res.on('error', fail);
        },
      );
      req.on('error', fail);
      req.end();
    }
  });
}

attempt(parseArgs(process.argv.slice(2))).then((result) => {
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
});
