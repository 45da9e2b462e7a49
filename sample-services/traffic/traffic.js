'use strict';
// A steady stream of shoppers: TRAFFIC_RPS orders a second (default 5) to $ENTRY_URL/api/order.
// Logs every failure with its status and body, and a summary every 10 s. TRAFFIC_COUNT stops it
// after that many requests (exit 0 when all succeeded, 1 otherwise); without it, it runs until
// SIGTERM/SIGINT.
const http = require('node:http');
const https = require('node:https');
const log = require('../lib/log');

const entry = process.env.ENTRY_URL;
if (!entry) {
  log.error('$ENTRY_URL is not set; point it at the mesh entry, e.g. ENTRY_URL=http://127.0.0.1:8080');
  process.exit(2);
}
const rps = Number(process.env.TRAFFIC_RPS || 5);
const count = process.env.TRAFFIC_COUNT ? Number(process.env.TRAFFIC_COUNT) : Infinity;
if (!(rps > 0 && rps <= 1000) || !(count > 0)) {
  log.error(`TRAFFIC_RPS must be 0 < n <= 1000 (got "${process.env.TRAFFIC_RPS}") and TRAFFIC_COUNT a positive number (got "${process.env.TRAFFIC_COUNT}")`);
  process.exit(2);
}
const target = new URL('/api/order', entry);
const transport = target.protocol === 'https:' ? https : http;
const agent = new transport.Agent({ keepAlive: true, maxSockets: 64 });
const TIMEOUT_MS = 10_000;
// More than this many unanswered requests means the mesh is stuck; do not pile on.
const MAX_IN_FLIGHT = 100;

const stats = { sent: 0, ok: 0, failed: 0, skipped: 0, latencies: [] };
const totals = { ok: 0, failed: 0, skipped: 0 };
let inFlight = 0;
let done = false;

function shortBody(text) {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function once() {
  const started = Date.now();
  inFlight++;
  stats.sent++;
  const req = transport.request(target, { method: 'POST', agent, timeout: TIMEOUT_MS, headers: { 'content-type': 'application/json' } }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => finish(res.statusCode, Buffer.concat(chunks).toString('utf8')));
    res.on('error', (err) => finish(null, err.message));
  });
  let finished = false;
  function finish(status, body) {
    if (finished) return;
    finished = true;
    inFlight--;
    if (status !== null && status >= 200 && status < 300) {
      stats.ok++;
      totals.ok++;
      stats.latencies.push(Date.now() - started);
    } else {
      stats.failed++;
      totals.failed++;
      log.warn(`POST ${target.pathname} failed: status ${status === null ? 'none' : status}, body ${shortBody(body)}`);
    }
    maybeExit();
  }
  req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
  req.on('error', (err) => finish(null, `${err.code || ''} ${err.message}`.trim()));
  req.end('{}');
}

function summary() {
  const l = stats.latencies.sort((a, b) => a - b);
  const p = (q) => (l.length ? l[Math.min(l.length - 1, Math.floor(q * l.length))] : 0);
  log.info(`last 10 s: ${stats.ok} ok, ${stats.failed} failed${stats.skipped ? `, ${stats.skipped} skipped (too many in flight)` : ''}; p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`);
  stats.ok = stats.failed = stats.skipped = 0;
  stats.latencies = [];
}

function maybeExit() {
  if (totals.ok + totals.failed + totals.skipped < count || inFlight > 0) return;
  done = true;
  log.info(`done: ${totals.ok} ok, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(totals.failed + totals.skipped === 0 ? 0 : 1);
}

// Drift-free schedule: request i goes out at start + i / rps.
const interval = 1000 / rps;
const t0 = Date.now();
let next = 0;
function tick() {
  if (done) return;
  while (next < count && t0 + next * interval <= Date.now()) {
    next++;
    if (inFlight >= MAX_IN_FLIGHT) {
      stats.skipped++;
      totals.skipped++;
      maybeExit();
    } else {
      once();
    }
  }
  if (next < count) setTimeout(tick, Math.max(1, t0 + next * interval - Date.now()));
}

log.info(`sending ${rps} order(s)/s to ${target.href}${Number.isFinite(count) ? `, ${count} in all` : ''}`);
setInterval(summary, 10_000).unref();
tick();
const stop = (signal) => {
  log.info(`${signal}: ${totals.ok} ok, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(0);
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

// Traffic is the mesh's own load, not a service: when the daemon that started it is gone
// (killed, so it could not stop us), stop too rather than hammer a mesh nobody runs.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop('parent gone');
}, 1_000).unref();
