// Slow (real TLS): two mTLS servers on 127.0.0.1 whose certificates and trust come from the
// Rotator, and clients that call both ways without pause while the CA rotates (prepare → activate
// → retire) and the SVIDs renew. The clock is fake but starts at the real time and moves at most
// 25 s ahead, inside the 30 s backdate, so every certificate is valid for real OpenSSL too.
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../../src/core/ca/authority.js';
import { EventBus } from '../../../src/core/events/bus.js';
import type { MeshEvent } from '../../../src/core/events/types.js';
import type { SvidMaterial } from '../../../src/core/pki/source.js';
import { FakeClock } from '../../../src/core/rotation/fakeClock.js';
import { Rotator } from '../../../src/core/rotation/rotator.js';
import { TrustDomain, workloadId } from '../../../src/core/spiffe/index.js';

const LOCALHOST = '127.0.0.1';
const td = TrustDomain.mustParse('lab.local');
const SERVICES = ['orders', 'billing'] as const;
type Service = (typeof SERVICES)[number];
const idOf = (s: Service): string => workloadId(td, 'default', s).toString();

let clock: FakeClock;
let rotator: Rotator;
let ca: CertificateAuthority;
const events: MeshEvent[] = [];
const servers = new Map<Service, Server>();
const serverErrors: string[] = [];

/** What each sidecar trusts: refreshed only when the bundle source says it changed, as a sidecar caches it. */
let trust = '';

function contextOptions(s: Service): { key: string; cert: string; ca: string } {
  const m = rotator.source(s).current();
  return { key: m.keyPem, cert: m.certChainPem, ca: trust };
}

function listen(s: Service): Promise<Server> {
  const server = createServer({ ...contextOptions(s), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (socket: TLSSocket) => {
    socket.end(`ok ${s}\n`);
  });
  // Sidecar behaviour: a new SVID or bundle applies to the next handshake, no restart.
  const refresh = (): void => server.setSecureContext({ ...contextOptions(s), minVersion: 'TLSv1.3' });
  rotator.source(s).onDidChange(refresh);
  rotator.bundleSource().onDidChange(() => {
    trust = rotator.bundleSource().allBundlesPem();
    refresh();
  });
  server.on('tlsClientError', (err) => serverErrors.push(`${s}: ${err.message}`));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOCALHOST, () => resolve(server));
  });
}

/** One mTLS call: resolves with undefined when both sides accepted (the server's reply arrived), else with the error. */
function call(from: Service, to: Service, o: { svid?: SvidMaterial; trust?: string } = {}): Promise<string | undefined> {
  const m = o.svid ?? rotator.source(from).current();
  const port = (servers.get(to)?.address() as AddressInfo).port;
  return new Promise((resolve) => {
    let reply = '';
    const socket = connect({
      host: LOCALHOST,
      port,
      key: m.keyPem,
      cert: m.certChainPem,
      ca: o.trust ?? trust,
      minVersion: 'TLSv1.3',
      // SPIFFE: no host name, exactly the callee's ID as the one URI SAN.
      checkServerIdentity: (_host, cert) => (cert.subjectaltname === `URI:${idOf(to)}` ? undefined : new Error(`expected ${idOf(to)}, got ${cert.subjectaltname}`)),
    });
    const guard = setTimeout(() => finish('timed out after 5 s'), 5_000);
    const finish = (err: string | undefined): void => {
      clearTimeout(guard);
      socket.destroy();
      resolve(err);
    };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (reply += d));
    socket.on('end', () => finish(reply === `ok ${to}\n` ? undefined : `unexpected reply ${JSON.stringify(reply)}`));
    socket.on('error', (err) => finish(err.message));
    socket.on('close', () => finish(reply === `ok ${to}\n` ? undefined : `closed after ${JSON.stringify(reply)}`));
  });
}

const failures: string[] = [];
let calls = 0;
async function burst(label: string): Promise<void> {
  const results = await Promise.all([call('orders', 'billing'), call('billing', 'orders'), call('orders', 'billing'), call('billing', 'orders')]);
  calls += results.length;
  for (const r of results) if (r !== undefined) failures.push(`${label}: ${r}`);
}

beforeAll(async () => {
  clock = new FakeClock(Date.now());
  ca = CertificateAuthority.create({ trustDomain: td, intermediate: true, now: new Date(clock.now()) });
  const bus = new EventBus(() => new Date(clock.now()));
  bus.on((e) => events.push(e));
  let seed = 5;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  rotator = new Rotator({ ca, clock, random, events: bus, ttlMs: 20_000, checkIntervalMs: 1_000 });
  for (const s of SERVICES) rotator.add({ service: s, spiffeId: workloadId(td, 'default', s) });
  rotator.start();
  trust = rotator.bundleSource().allBundlesPem();
  for (const s of SERVICES) servers.set(s, await listen(s));
});

afterAll(async () => {
  await rotator?.stop();
  await Promise.all([...servers.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

describe('CA rotation over real mTLS (slow)', () => {
  it('zero failed handshakes across prepare → activate → retire and the renewals around it', async () => {
    const t0 = clock.now();
    const oldSvid = rotator.source('orders').current();
    const oldTrust = trust;

    // Calls without pause, both ways, all through the rotation.
    let stop = false;
    const background = (async (): Promise<void> => {
      for (let i = 0; i < 5_000 && !stop; i++) {
        const [a, b] = await Promise.all([call('orders', 'billing'), call('billing', 'orders')]);
        calls += 2;
        for (const r of [a, b]) if (r !== undefined) failures.push(`background at +${clock.now() - t0} ms: ${r}`);
      }
    })();

    await burst('before');
    let settled = false;
    const rotation = rotator.rotateCa().finally(() => (settled = true));
    await burst('prepared');
    for (let step = 0; step < 20 && !settled; step++) {
      clock.runNext();
      await burst(`rotating, step ${step}`);
    }
    const result = await rotation;
    expect(result.reissued.every((o) => o.ok)).toBe(true);
    await burst('activated');
    const retireAt = result.retireAt?.getTime() as number;
    expect(retireAt - t0).toBeLessThanOrEqual(22_000);
    // Renewals on the new CA fall due ~10 s after the re-issue; retire once the first SVIDs expire.
    while (clock.now() < retireAt + 2_000) {
      clock.advance(1_000);
      await burst(`at +${clock.now() - t0} ms`);
    }
    stop = true;
    await background;

    const phases = events.filter((e): e is Extract<MeshEvent, { type: 'ca/changed' }> => e.type === 'ca/changed').map((e) => e.phase);
    expect(phases).toEqual(['prepared', 'activated', 'retired']);
    const causes = events.filter((e): e is Extract<MeshEvent, { type: 'svid/issued' }> => e.type === 'svid/issued').map((e) => e.cause);
    expect(causes.filter((c) => c === 'ca-rotation')).toHaveLength(2);
    expect(causes.filter((c) => c === 'rotation').length).toBeGreaterThanOrEqual(2);
    expect(ca.bundleDers()).toHaveLength(1);
    expect(failures).toEqual([]);
    expect(serverErrors).toEqual([]);
    expect(calls).toBeGreaterThan(100);
    console.info(`rotation: ${calls} mTLS calls across a CA rotation, ${failures.length} failed`);

    // Controls: the same harness does see failures when trust is wrong.
    const staleTrust = await call('orders', 'billing', { trust: oldTrust });
    expect(staleTrust).toMatch(/unable to get local issuer certificate|unable to verify/);
    const retiredSvid = await call('orders', 'billing', { svid: oldSvid });
    // The server refuses the SVID of the retired CA (TLS 1.3: the client may learn it only as a close with no reply).
    expect(retiredSvid).toMatch(/unexpected reply ""|unknown ca|certificate/i);
  }, 60_000);
});
