// Hot reload under load: while keep-alive connections and new connections run through
// orders' sidecar to billing's, the trust bundle gains a new CA, both SVIDs (certificate and key)
// move to it, the old CA leaves the bundle, and billing's SVID rotates again. Not one request may
// fail, open connections must carry on, and a new handshake must present the newest certificate.
import { afterEach, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../../src/core/ca/authority.js';
import { EventBus } from '../../../src/core/events/bus.js';
import { RejectionLedger, Sidecar } from '../../../src/core/mesh/sidecar.js';
import { toPem } from '../../../src/core/pki/pem.js';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';
import { Backend, EventLog, KeepAliveClient, TestBundleSource, TestSvidSource, allowOnly, material, plainGet, tlsGet, type ChainAndKey } from './support.js';

const BILLING = 'spiffe://lab.local/ns/default/sa/billing';
const ORDERS = 'spiffe://lab.local/ns/default/sa/orders';
const KEEP_ALIVE_CLIENTS = 4;
const NEW_CONNECTION_LOOPS = 2;
const STEP_MS = 250;

function issue(ca: CertificateAuthority, id: string): ChainAndKey & { readonly serial: string } {
  const svid = ca.issue({ id: SpiffeId.parse(id), ttlMs: 3_600_000 });
  if (svid.key === undefined) throw new Error('test: the CA made no key.');
  return { chainPem: svid.chain.map((d) => toPem('CERTIFICATE', d)).join(''), keyPem: toPem('PRIVATE KEY', svid.key.pkcs8), serial: svid.serial };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('sidecar hot reload', () => {
  const cleanup: (() => Promise<void> | void)[] = [];

  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('rotates certificate, key and bundle under load with zero failed requests, and new handshakes present the new serial', async () => {
    const td = TrustDomain.parse('lab.local');
    const oldCa = CertificateAuthority.create({ trustDomain: td, intermediate: true });
    const newCa = CertificateAuthority.create({ trustDomain: td, intermediate: true });
    const only = (...cas: CertificateAuthority[]): Map<string, string> => new Map([['lab.local', cas.map((c) => c.bundlePem()).join('')]]);

    const bus = new EventBus();
    const log = new EventLog(bus);
    cleanup.push(() => log.dispose());
    const ledger = new RejectionLedger();
    const backend = await Backend.start('billing');
    cleanup.push(() => backend.close());

    const billingSvid = new TestSvidSource(material(issue(oldCa, BILLING)));
    const billingBundles = new TestBundleSource(only(oldCa));
    const billing = new Sidecar({
      service: 'billing',
      spiffeId: BILLING,
      trustDomain: 'lab.local',
      svid: billingSvid,
      bundles: billingBundles,
      servicePort: backend.port,
      upstreams: [],
      authorize: allowOnly({ [ORDERS]: 'orders-to-billing' }),
      mode: 'strict',
      bus,
      ledger,
    });
    cleanup.push(() => billing.stop());
    const meshPort = (await billing.start()).meshPort as number;

    const ordersSvid = new TestSvidSource(material(issue(oldCa, ORDERS)));
    const ordersBundles = new TestBundleSource(only(oldCa));
    const orders = new Sidecar({
      service: 'orders',
      spiffeId: ORDERS,
      trustDomain: 'lab.local',
      svid: ordersSvid,
      bundles: ordersBundles,
      upstreams: [{ name: 'billing', spiffeId: BILLING, port: meshPort }],
      authorize: allowOnly({}),
      mode: 'strict',
      bus,
      ledger,
    });
    cleanup.push(() => orders.stop());
    const port = (await orders.start()).upstreamPorts.billing as number;

    // The load: keep-alive connections opened before any change, and a stream of new connections.
    const failures: string[] = [];
    let ok = 0;
    let running = true;
    const keepAlive = await Promise.all(Array.from({ length: KEEP_ALIVE_CLIENTS }, () => KeepAliveClient.connect(port)));
    cleanup.push(() => keepAlive.forEach((c) => c.close()));
    const perClient = keepAlive.map(() => 0);
    const loops = [
      ...keepAlive.map(async (client, i) => {
        while (running) {
          try {
            const status = await client.get(`/keep-alive/${i}`);
            if (status === 200) {
              ok++;
              perClient[i] = (perClient[i] ?? 0) + 1;
            } else failures.push(`keep-alive ${i}: status ${status}`);
          } catch (err) {
            failures.push(`keep-alive ${i}: ${String(err)}`);
            return;
          }
        }
      }),
      ...Array.from({ length: NEW_CONNECTION_LOOPS }, async (_, i) => {
        while (running) {
          const reply = await plainGet(port, `/new/${i}`);
          if (reply.status === 200) ok++;
          else failures.push(`new connection ${i}: status ${reply.status} ${reply.error ?? reply.body}`);
        }
      }),
    ];
    const servedSince = (): number[] => [...perClient];

    await sleep(STEP_MS);
    const before = servedSince();
    // 1. The new CA joins the bundle before it signs anything.
    billingBundles.set(only(oldCa, newCa));
    ordersBundles.set(only(oldCa, newCa));
    await sleep(STEP_MS);
    // 2. Both workloads move to SVIDs (new keys too) from the new CA.
    const billing2 = issue(newCa, BILLING);
    const orders2 = issue(newCa, ORDERS);
    billingSvid.set(material(billing2));
    ordersSvid.set(material(orders2));
    await sleep(STEP_MS);
    const direct2 = await tlsGet(meshPort, { cert: orders2.chainPem, key: orders2.keyPem, ca: newCa.bundlePem() });
    // 3. The old CA leaves the bundle.
    billingBundles.set(only(newCa));
    ordersBundles.set(only(newCa));
    await sleep(STEP_MS);
    // 4. Billing rotates once more.
    const billing3 = issue(newCa, BILLING);
    billingSvid.set(material(billing3));
    await sleep(STEP_MS);
    const direct3 = await tlsGet(meshPort, { cert: orders2.chainPem, key: orders2.keyPem, ca: newCa.bundlePem() });
    const okBeforeEnd = ok;
    await sleep(STEP_MS);
    running = false;
    await Promise.all(loops);

    expect(failures).toEqual([]);
    expect(log.rejections('server')).toEqual([]);
    expect(log.rejections('client')).toEqual([]);
    // Every connection opened before the changes kept serving through all of them.
    const after = servedSince();
    after.forEach((n, i) => expect(n).toBeGreaterThan(before[i] ?? 0));
    expect(ok).toBeGreaterThan(okBeforeEnd);
    expect(ok).toBeGreaterThan(100);
    // New handshakes present the newest certificate.
    expect(direct2).toMatchObject({ status: 200, serverSerial: billing2.serial });
    expect(direct3).toMatchObject({ status: 200, serverSerial: billing3.serial });
    expect(billing.stats).toMatchObject({ reloads: 4, reloadErrors: 0 });
    expect(orders.stats).toMatchObject({ reloads: 3, reloadErrors: 0 });
    expect(orders.stats.outbound.failed).toBe(0);
  });
});
