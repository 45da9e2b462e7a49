'use strict';
// One line per event on stdout, prefixed with the time and the service. The mesh sends stdout to
// a log file; if it ever is a pipe whose reader died, losing a log line must not kill the service.

for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

const service = process.env.MTLS_LAB_SERVICE || require('node:path').basename(require.main ? require('node:path').dirname(require.main.filename) : 'service');

function line(level, args) {
  const text = args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.stack || a.message : JSON.stringify(a))).join(' ');
  return `${new Date().toISOString()} ${level} ${service}: ${text}\n`;
}

function info(...args) {
  process.stdout.write(line('info', args));
}

function warn(...args) {
  process.stderr.write(line('warn', args));
}

function error(...args) {
  process.stderr.write(line('error', args));
}

module.exports = { service, info, warn, error };
