'use strict';
// Shared code of the sample services: plain Node.js, no dependencies.
const log = require('./log');
const { HttpError, readJson, sendHtml, sendJson, startService, work } = require('./http');
const { upstream } = require('./upstream');
const { randomBytes } = require('node:crypto');

/** "ord_3f9a1c0b2e7d": a prefix and 12 hex digits. */
function newId(prefix) {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Remembers the last `max` items by id (a service's "database"). */
class Recent {
  constructor(max = 500) {
    this.max = max;
    this.items = new Map();
  }
  set(id, value) {
    this.items.set(id, value);
    if (this.items.size > this.max) this.items.delete(this.items.keys().next().value);
    return value;
  }
  get(id) {
    return this.items.get(id);
  }
}

// A crash should be a crash (the mesh restarts the service), with its reason in the log.
process.on('uncaughtException', (err) => {
  log.error('uncaught exception, exiting:', err);
  process.exit(1);
});

module.exports = { log, HttpError, readJson, sendHtml, sendJson, startService, work, upstream, newId, Recent };
