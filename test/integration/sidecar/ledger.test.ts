// The ledger through which a callee's sidecar tells the caller's why it refused, and the request
// counter behind 'call' events: plain data structures, tested here beside the sidecar that uses them.
import { describe, expect, it } from 'vitest';
import { RejectionLedger } from '../../../src/core/mesh/ledger.js';
import { RequestCounter } from '../../../src/core/mesh/sidecarHttp.js';

const ENTRY = { reason: 'expired', detail: 'the certificate expired 1s ago', caller: { address: '127.0.0.1:5000' }, callee: { service: 'billing' } } as const;

describe('RejectionLedger', () => {
  interface Case {
    readonly name: string;
    /** Ports recorded, in order, each at the clock value given. */
    readonly records: readonly (readonly [port: number, at: number])[];
    readonly takeAt: number;
    readonly port: number;
    readonly since?: number;
    readonly found: boolean;
  }
  const CASES: readonly Case[] = [
    { name: 'hands the entry to the caller on the same port', records: [[5000, 100]], takeAt: 150, port: 5000, found: true },
    { name: 'has nothing for another port', records: [[5000, 100]], takeAt: 150, port: 5001, found: false },
    { name: 'drops an entry older than its TTL (a caller that was not a sidecar)', records: [[5000, 100]], takeAt: 100 + 10_001, port: 5000, found: false },
    { name: 'does not blame a later connection on a reused port for an older refusal', records: [[5000, 100]], takeAt: 300, port: 5000, since: 200, found: false },
    { name: 'forgets the oldest entries beyond its capacity', records: [[1, 1], [2, 2], [3, 3], [4, 4]], takeAt: 5, port: 1, found: false },
    { name: 'keeps the newest entries within its capacity', records: [[1, 1], [2, 2], [3, 3], [4, 4]], takeAt: 5, port: 4, found: true },
  ];

  it.each(CASES)('$name', (c) => {
    let clock = 0;
    const ledger = new RejectionLedger({ ttlMs: 10_000, capacity: 3, now: () => clock });
    for (const [port, at] of c.records) {
      clock = at;
      ledger.record(port, ENTRY);
    }
    clock = c.takeAt;
    const entry = ledger.take(c.port, c.since);
    expect(entry !== undefined).toBe(c.found);
    if (entry) expect(entry).toMatchObject(ENTRY);
    // Taking is once only.
    expect(ledger.take(c.port, c.since)).toBeUndefined();
  });
});

describe('RequestCounter', () => {
  const GET = 'GET /orders HTTP/1.1\r\nHost: billing\r\n\r\n';
  interface Case {
    readonly name: string;
    readonly chunks: readonly string[];
    readonly requests: number;
  }
  const CASES: readonly Case[] = [
    { name: 'one request in one chunk', chunks: [GET], requests: 1 },
    { name: 'pipelined requests in one chunk', chunks: [GET + GET + GET], requests: 3 },
    { name: 'a request line split inside " HTTP/1."', chunks: ['GET /orders HT', 'TP/1.1\r\n\r\n'], requests: 1 },
    { name: 'the mark split over three small chunks', chunks: ['GET / H', 'TT', 'P/1.1\r\n\r\n'], requests: 1 },
    { name: 'a request byte by byte', chunks: [...GET], requests: 1 },
    { name: 'a body without request lines', chunks: ['{"a":1}', 'HTTP/1.1 200 OK'], requests: 0 },
  ];

  it.each(CASES)('$name', (c) => {
    const counter = new RequestCounter();
    const n = c.chunks.reduce((sum, chunk) => sum + counter.count(Buffer.from(chunk, 'latin1')), 0);
    expect(n).toBe(c.requests);
  });
});
