'use strict';
// The SVID a native service holds, read from the files spiffe-helper (or the mesh) keeps fresh:
// $SVID_CERT_FILE (leaf + intermediates), $SVID_KEY_FILE, $SVID_BUNDLE_FILE. The files are watched
// (fs.watch on their folders, and a 1 s stat poll for file systems where watching misses events);
// a new set is taken only once it is whole and the key matches the certificate, so a reload never
// serves a half-written set.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const log = require('./log');

const POLL_MS = 1000;
// Renames of one set land within a few ms of each other; read once they have.
const SETTLE_MS = 50;

/** URI SANs of a peer certificate as Node reports it ("URI:spiffe://..., DNS:..."). */
function uriSans(subjectaltname) {
  if (!subjectaltname) return [];
  return subjectaltname
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/** The peer's SPIFFE ID: exactly one URI SAN, a spiffe:// one; otherwise an error saying why. */
function spiffeIdOf(cert) {
  if (!cert || !cert.raw) return { error: 'the peer sent no certificate' };
  if (cert.ca) return { error: 'the peer certificate is a CA certificate, not an X.509-SVID' };
  const uris = uriSans(cert.subjectaltname);
  if (uris.length !== 1) return { error: `the peer certificate has ${uris.length} URI SANs; an X.509-SVID has exactly one` };
  if (!uris[0].startsWith('spiffe://')) return { error: `the peer certificate's URI SAN ${uris[0]} is not a SPIFFE ID` };
  return { id: uris[0] };
}

function requiredEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${log.service}: $${name} is not set; the mesh sets it for native services (see sample-services/README.md).`);
  return v;
}

/**
 * Opens the SVID files named by the environment. Throws if the first read fails (a service with
 * no identity must not start). `onChange(material)` runs after every reload.
 */
function openSvidSource() {
  const files = {
    cert: requiredEnv('SVID_CERT_FILE'),
    key: requiredEnv('SVID_KEY_FILE'),
    ca: requiredEnv('SVID_BUNDLE_FILE'),
  };
  const listeners = new Set();
  const stats = new Map();
  let current;
  let settleTimer;
  let lastComplaint = '';

  function read() {
    const m = { cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key), ca: fs.readFileSync(files.ca) };
    // Throws "key values mismatch" for a key of another certificate: a set caught mid-swap.
    tls.createSecureContext(m);
    const leaf = new crypto.X509Certificate(m.cert);
    const roots = m.ca.toString('utf8').match(/-----BEGIN CERTIFICATE-----/g) || [];
    const fingerprint = crypto.createHash('sha256').update(m.cert).update(m.key).update(m.ca).digest('hex');
    return { ...m, serial: leaf.serialNumber.toLowerCase(), spiffeId: uriSans(leaf.subjectAltName)[0] || '', notAfter: leaf.validTo, roots: roots.length, fingerprint };
  }

  function reload(why) {
    let next;
    try {
      next = read();
    } catch (err) {
      const complaint = err && err.message ? err.message : String(err);
      // A set caught mid-swap fixes itself on the next event; say so once, not on every poll.
      if (complaint !== lastComplaint) log.warn(`SVID files not reloaded yet (${complaint}); keeping serial ${current ? current.serial : 'none'}`);
      lastComplaint = complaint;
      return;
    }
    lastComplaint = '';
    if (current && next.fingerprint === current.fingerprint) return;
    const previous = current;
    current = next;
    if (previous) {
      log.info(`SVID reloaded (${why}): serial ${next.serial}${next.serial === previous.serial ? ' (unchanged)' : ` (was ${previous.serial})`}, ${next.spiffeId}, bundle ${next.roots} root(s), valid to ${next.notAfter}`);
      for (const l of listeners) l(next);
    }
  }

  function scheduleReload(why) {
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => reload(why), SETTLE_MS);
    settleTimer.unref();
  }

  function statKey(file) {
    try {
      const s = fs.statSync(file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  function poll() {
    let changed = false;
    for (const f of Object.values(files)) {
      const k = statKey(f);
      if (stats.get(f) !== k) changed = true;
      stats.set(f, k);
    }
    if (changed) scheduleReload('file change seen by poll');
  }

  current = read();
  for (const f of Object.values(files)) stats.set(f, statKey(f));
  log.info(`SVID loaded: serial ${current.serial}, ${current.spiffeId}, bundle ${current.roots} root(s), valid to ${current.notAfter}`);

  const names = new Set(Object.values(files).map((f) => path.basename(f)));
  const watchers = [];
  // SVID_WATCH=poll turns fs.watch off, to see (or test) the poll on its own.
  const dirs = process.env.SVID_WATCH === 'poll' ? [] : new Set(Object.values(files).map((f) => path.dirname(f)));
  for (const dir of dirs) {
    try {
      const w = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (!name || names.has(String(name))) scheduleReload('file change');
      });
      w.on('error', () => undefined);
      watchers.push(w);
    } catch (err) {
      log.warn(`cannot watch ${dir} (${err.message}); relying on the 1 s poll`);
    }
  }
  const pollTimer = setInterval(poll, POLL_MS);
  pollTimer.unref();

  return {
    files,
    current: () => current,
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    close() {
      clearInterval(pollTimer);
      clearTimeout(settleTimer);
      for (const w of watchers) w.close();
    },
  };
}

let shared;
/** One source per process, shared by the server and the upstream clients. */
function svidSource() {
  if (!shared) shared = openSvidSource();
  return shared;
}

/** True when the environment makes this a native-mode service (it holds its own SVID). */
function isNative() {
  return Boolean(process.env.SVID_CERT_FILE);
}

module.exports = { svidSource, isNative, spiffeIdOf, uriSans };
