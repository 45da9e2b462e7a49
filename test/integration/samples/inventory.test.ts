// inventory in native mode: it serves mTLS itself from spiffe-helper-style files. Callers are
// judged by chain and SPIFFE ID; the intruder's attacks get what they deserve; and new files (a new
// SVID, then a new CA in the bundle) are picked up with no restart and no failed request.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority, type IssuedSvid } from '../../../src/core/ca/authority.js';
import { writeSvidFiles, type SvidPaths } from '../../../src/core/ca/svidFiles.js';
import { EventBus } from '../../../src/core/events/bus.js';
import { ServiceRunner } from '../../../src/core/mesh/serviceRunner.js';
import { toPem } from '../../../src/core/pki/pem.js';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';
import { SAMPLES_DIR, freePort, isAlive, removeDir, runNode, tempDir, waitUntil } from '../serviceRunner/support.js';
import { mtlsRequest, startSample, type MtlsAnswer, type TlsMaterial } from './support.js';

const TD = TrustDomain.parse('lab.local');
const id = (sa: string): SpiffeId => SpiffeId.mustParse(`spiffe://lab.local/ns/default/sa/${sa}`);
const INVENTORY = id('inventory').toString();
const HOUR = 3_600_000;

let dir = '';
let runner: ServiceRunner | undefined;
let port = 0;
let pid = 0;
// Created two hours ago, so it can also sign a certificate that has already expired.
let ca: CertificateAuthority;
let inventoryFiles: SvidPaths;
/** Caller material, as files (for the intruder) and in memory (for the test's own client). */
const callers: Record<string, { files: SvidPaths; tls: TlsMaterial }> = {};

function material(svid: IssuedSvid, bundlePem: string): TlsMaterial {
  return { cert: svid.chain.map((d) => toPem('CERTIFICATE', d)).join(''), key: svid.key ? toPem('PRIVATE KEY', svid.key.pkcs8) : undefined, ca: bundlePem };
}

function addCaller(name: string, svid: IssuedSvid, bundlePem: string): void {
  callers[name] = { files: writeSvidFiles(join(dir, 'callers', name), svid, bundlePem), tls: material(svid, bundlePem) };
}

function caller(name: string): TlsMaterial {
  const c = callers[name];
  if (!c) throw new Error(`test: no caller "${name}".`);
  return c.tls;
}

beforeAll(async () => {
  dir = tempDir('samples-native');
  ca = CertificateAuthority.create({ trustDomain: TD, now: new Date(Date.now() - 2 * HOUR) });
  const rogue = CertificateAuthority.create({ trustDomain: TD });
  const bundle = ca.bundlePem();
  inventoryFiles = writeSvidFiles(join(dir, 'svids', 'inventory'), ca.issue({ id: id('inventory') }), bundle);
  addCaller('orders', ca.issue({ id: id('orders') }), bundle);
  addCaller('billing', ca.issue({ id: id('billing') }), bundle);
  addCaller('frontend', ca.issue({ id: id('frontend') }), bundle);
  addCaller('rogue-orders', rogue.issue({ id: id('orders') }), bundle);
  addCaller('expired-orders', ca.issue({ id: id('orders'), ttlMs: 10 * 60_000, now: new Date(Date.now() - 1.5 * HOUR) }), bundle);

  runner = new ServiceRunner({ bus: new EventBus(), logDir: join(dir, 'logs') });
  port = await freePort();
  await startSample(runner, 'inventory', port, {
    SVID_CERT_FILE: inventoryFiles.cert,
    SVID_KEY_FILE: inventoryFiles.key,
    SVID_BUNDLE_FILE: inventoryFiles.bundle,
    ALLOWED_SPIFFE_IDS: `${id('orders').toString()}, ${id('frontend').toString()}`,
  });
  pid = runner.pid('inventory') as number;
});

afterAll(async () => {
  await runner?.stopAll();
  if (pid) expect(isAlive(pid)).toBe(false);
  removeDir(dir);
});

const CALLER_CASES: readonly { name: string; tls: () => TlsMaterial; check: (a: MtlsAnswer) => void }[] = [
  {
    name: 'an allowed SVID (orders)',
    tls: () => caller('orders'),
    check: (a) => {
      expect(a.status).toBe(200);
      expect(a.json).toMatchObject({ servedBy: 'inventory', items: expect.arrayContaining([expect.objectContaining({ sku: 'sku-mug' })]) as unknown });
    },
  },
  {
    name: 'a valid SVID with no rule (billing)',
    tls: () => caller('billing'),
    check: (a) => {
      expect(a.status).toBe(403);
      expect(a.json).toMatchObject({ error: 'forbidden', reason: 'denied-by-policy', service: 'inventory', caller: id('billing').toString() });
    },
  },
  {
    name: 'no client certificate',
    tls: () => ({ ca: ca.bundlePem() }),
    check: (a) => {
      expect(a.status).toBeUndefined();
      expect(a.error).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/);
    },
  },
  {
    name: 'an SVID from a rogue CA',
    tls: () => caller('rogue-orders'),
    check: (a) => {
      expect(a.status).toBeUndefined();
      expect(a.error).toMatch(/UNKNOWN_CA|ECONNRESET|EPIPE/);
    },
  },
];

describe('inventory, native mTLS', () => {
  it.each(CALLER_CASES)('$name', async (c) => {
    c.check(await mtlsRequest(port, c.tls(), INVENTORY));
  });

  it('reserves stock for an allowed caller', async () => {
    const a = await mtlsRequest(port, caller('orders'), INVENTORY, 'POST', '/api/reservations', { orderId: 'ord_test', items: [{ sku: 'sku-tee', qty: 2 }] });
    expect(a.status).toBe(201);
    expect(a.json).toMatchObject({ orderId: 'ord_test', items: [{ sku: 'sku-tee', qty: 2, unitPriceCents: 2_400 }] });
  });
});

interface IntruderReport {
  scenario: string;
  connected: boolean;
  status: number | null;
  body: unknown;
  error: string | null;
  tlsAlert: string | null;
}

// Node's TLS server checks a client's chain after the handshake and drops the connection without an
// alert (DESIGN.md); only a missing certificate draws one from OpenSSL ("certificate required").
const CLOSED = /^(ERR_CLOSED_BY_SERVER|ECONNRESET|EPIPE)$/;

const INTRUDER_CASES: readonly { name: string; args: () => string[]; expected: Readonly<Record<string, unknown>> }[] = [
  // The service judges the handshake itself and closes before reading a byte (no TLS alert).
  { name: 'impostor-no-cert', args: () => [], expected: { connected: true, status: null, error: expect.stringMatching(CLOSED) } },
  { name: 'rogue-ca', args: () => ['--cert', callers['rogue-orders']?.files.cert ?? '', '--key', callers['rogue-orders']?.files.key ?? ''], expected: { status: null, error: expect.stringMatching(CLOSED) } },
  {
    name: 'expired-replay',
    args: () => ['--cert', callers['expired-orders']?.files.cert ?? '', '--key', callers['expired-orders']?.files.key ?? ''],
    expected: { status: null, error: expect.stringMatching(CLOSED) },
  },
  {
    name: 'unauthorized',
    args: () => ['--cert', callers.billing?.files.cert ?? '', '--key', callers.billing?.files.key ?? '', '--ca', callers.billing?.files.bundle ?? '', '--expect-id', INVENTORY],
    expected: { connected: true, status: 403, error: null, body: expect.objectContaining({ reason: 'denied-by-policy' }) },
  },
  { name: 'plaintext', args: () => [], expected: { connected: true, status: null, tlsAlert: null } },
];

describe('intruder.js against the native service', () => {
  it.each(INTRUDER_CASES)('$name: one JSON line of what happened, exit 0', async (c) => {
    const run = await runNode(join(SAMPLES_DIR, 'intruder', 'intruder.js'), [c.name, '--url', `https://127.0.0.1:${port}`, ...c.args()]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0] as string) as IntruderReport;
    expect(Object.keys(report)).toEqual(expect.arrayContaining(['scenario', 'connected', 'status', 'body', 'error', 'tlsAlert']));
    expect(report).toMatchObject({ scenario: c.name, ...c.expected });
    if (report.status === null) expect(report.error).toEqual(expect.any(String));
  });

  it('exits 2 with a usage line for an unknown scenario', async () => {
    const run = await runNode(join(SAMPLES_DIR, 'intruder', 'intruder.js'), ['teleport', '--url', `https://127.0.0.1:${port}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('intruder: unknown scenario "teleport"');
  });
});

const NATIVE_CALLER_CASES: readonly { name: string; expectedId: string; upstream: string; code: string | undefined }[] = [
  // The reservation went through over mTLS; billing (nobody listens) is what fails.
  { name: 'the right SPIFFE ID', expectedId: INVENTORY, upstream: 'billing', code: 'ECONNREFUSED' },
  { name: 'a server that is not who it should be', expectedId: id('inventory-v2').toString(), upstream: 'inventory', code: undefined },
];

describe('a native caller (orders with its own SVID) calling inventory directly', () => {
  it.each(NATIVE_CALLER_CASES)('expecting $name', async (c) => {
    const r = runner as ServiceRunner;
    const files = callers.orders?.files as SvidPaths;
    const ordersPort = await freePort();
    const deadPort = await freePort();
    await startSample(r, 'orders', ordersPort, {
      SVID_CERT_FILE: files.cert,
      SVID_KEY_FILE: files.key,
      SVID_BUNDLE_FILE: files.bundle,
      ALLOWED_SPIFFE_IDS: id('frontend').toString(),
      UPSTREAM_INVENTORY_URL: `https://127.0.0.1:${port}`,
      UPSTREAM_INVENTORY_SPIFFE_ID: c.expectedId,
      UPSTREAM_BILLING_URL: `http://127.0.0.1:${deadPort}`,
    });
    try {
      const a = await mtlsRequest(ordersPort, caller('frontend'), id('orders').toString(), 'POST', '/api/orders', { items: [{ sku: 'sku-mug', qty: 1 }] });
      expect(a.status).toBe(502);
      expect(a.json).toMatchObject({ error: 'upstream-unavailable', service: 'orders', upstream: c.upstream });
      if (c.code) expect(a.json).toMatchObject({ code: c.code });
      else expect((a.json as { detail: string }).detail).toContain(`expected ${c.expectedId}`);
    } finally {
      await r.stop('orders');
    }
  });
});

/** Requests on fresh connections, one after another, until stopped; counts what failed. */
class Load {
  requests = 0;
  readonly failures: MtlsAnswer[] = [];
  lastSerial = '';
  private running = true;
  private readonly done: Promise<void>;

  constructor(tls: () => TlsMaterial) {
    this.done = (async () => {
      // Bounded even if nobody calls stop().
      for (let i = 0; i < 20_000 && this.running; i++) {
        const a = await mtlsRequest(port, tls(), INVENTORY);
        this.requests++;
        if (a.status !== 200) this.failures.push(a);
        else this.lastSerial = a.serverSerial ?? '';
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

describe('inventory hot-reloads its SVID files', () => {
  it('a new SVID, then a new CA in the bundle: new connections see them, no request fails, same process', async () => {
    const r = runner as ServiceRunner;
    let clientBundle = ca.bundlePem();
    const load = new Load(() => ({ ...caller('orders'), ca: clientBundle }));
    try {
      await waitUntil(() => load.requests >= 3, 'the first requests');
      const before = load.lastSerial;

      // 1. A new SVID from the same CA (a rotation).
      const rotated = ca.issue({ id: id('inventory') });
      expect(rotated.serial).not.toBe(before);
      writeSvidFiles(join(dir, 'svids', 'inventory'), rotated, ca.bundlePem());
      await waitUntil(() => load.lastSerial === rotated.serial.toLowerCase(), `new connections to see serial ${rotated.serial}`);
      await waitUntil(() => r.logs('inventory').some((l) => l.includes(`SVID reloaded`) && l.includes(`serial ${rotated.serial.toLowerCase()}`)), 'the reload line in the log');

      // 2. A new CA: callers learn its root first, then inventory gets an SVID from it and a bundle with both roots.
      const ca2 = CertificateAuthority.create({ trustDomain: TD });
      const bothRoots = ca.bundlePem() + ca2.bundlePem();
      clientBundle = bothRoots;
      const newCaller = material(ca2.issue({ id: id('orders') }), bothRoots);
      expect((await mtlsRequest(port, newCaller, INVENTORY)).status).toBeUndefined();
      const fromCa2 = ca2.issue({ id: id('inventory') });
      writeSvidFiles(join(dir, 'svids', 'inventory'), fromCa2, bothRoots);
      await waitUntil(() => load.lastSerial === fromCa2.serial.toLowerCase(), `new connections to see serial ${fromCa2.serial} from the new CA`);
      await waitUntil(async () => (await mtlsRequest(port, newCaller, INVENTORY)).status === 200, 'a caller with an SVID of the new CA to be accepted');
      await waitUntil(() => r.logs('inventory').some((l) => l.includes(`serial ${fromCa2.serial.toLowerCase()}`) && l.includes('bundle 2 root(s)')), 'the reload line with two roots');
      // Callers of the old CA still get through.
      expect((await mtlsRequest(port, { ...caller('orders'), ca: bothRoots }, INVENTORY)).status).toBe(200);
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    expect(load.requests).toBeGreaterThan(10);
    expect(r.pid('inventory')).toBe(pid);
    expect(r.status('inventory').restarts).toBe(0);
  });

  it('with fs.watch off (SVID_WATCH=poll) the 1 s poll alone picks up a new SVID', async () => {
    const r = runner as ServiceRunner;
    const svidDir = join(dir, 'svids', 'inventory-poll');
    const files = writeSvidFiles(svidDir, ca.issue({ id: id('inventory') }), ca.bundlePem());
    const pollPort = await freePort();
    await startSample(
      r,
      'inventory-poll',
      pollPort,
      { SVID_CERT_FILE: files.cert, SVID_KEY_FILE: files.key, SVID_BUNDLE_FILE: files.bundle, ALLOWED_SPIFFE_IDS: id('orders').toString(), SVID_WATCH: 'poll' },
      'inventory',
    );
    const next = ca.issue({ id: id('inventory') });
    writeSvidFiles(svidDir, next, ca.bundlePem());
    await waitUntil(async () => (await mtlsRequest(pollPort, caller('orders'), INVENTORY)).serverSerial === next.serial.toLowerCase(), 'the poll to load the new SVID', 3_000);
    expect(r.logs('inventory-poll').some((l) => l.includes('SVID reloaded (file change seen by poll)'))).toBe(true);
    await r.stop('inventory-poll');
  });
});
