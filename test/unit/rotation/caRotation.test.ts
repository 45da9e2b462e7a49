// CA rotation on a fake clock with real certificates and real files. A checker runs on every event
// the Rotator emits, on every bundle change and after the run: each workload's current SVID (in
// memory and in its files) must verify against every consumer's current bundle (the in-memory
// bundle source and every svid_bundle.pem) at that moment.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CaEvent } from '../../../src/core/events/types.js';
import { certificatesFromPem } from '../../../src/core/pki/pem.js';
import { RotationError } from '../../../src/core/rotation/errors.js';
import { chainVerifies } from './chain.js';
import { failingIssuer, idOf, makeRig, T0, type Rig } from './rig.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.dispose();
  rig = undefined;
});

/** Deterministic draws in [0, 1) so jitter varies between workloads but not between runs. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

const SERVICES = [
  { service: 'orders', files: true },
  { service: 'billing', files: true },
  { service: 'payments', files: true },
  { service: 'frontend', files: false },
];

interface Watch {
  /** The in-memory consumer's roots (a sidecar refreshing on onDidChange). */
  trusted(): Buffer[];
  /** How many checks passed. */
  checks(): number;
  /** Every SVID that did not verify against a consumer's bundle, with when and where. */
  violations(): string[];
  check(label: string): void;
}

function watch(r: Rig): Watch {
  const bundles = r.rotator.bundleSource();
  let trusted = certificatesFromPem(bundles.allBundlesPem());
  bundles.onDidChange(() => {
    trusted = certificatesFromPem(bundles.allBundlesPem());
  });
  let checks = 0;
  const violations: string[] = [];
  // Records rather than throws: the bus and the bundle source shield the Rotator from listeners that throw.
  const check = (label: string): void => {
    const now = r.clock.now();
    const consumers: [string, Buffer[]][] = [['memory', trusted]];
    for (const s of SERVICES) if (s.files) consumers.push([`${s.service}/svid_bundle.pem`, certificatesFromPem(readFileSync(join(r.dirOf(s.service), 'svid_bundle.pem'), 'utf8'))]);
    for (const s of SERVICES) {
      const chains: [string, Buffer[]][] = [[`${s.service} in memory`, certificatesFromPem(r.rotator.source(s.service).current().certChainPem)]];
      if (s.files) chains.push([`${s.service}/svid.pem`, certificatesFromPem(readFileSync(join(r.dirOf(s.service), 'svid.pem'), 'utf8'))]);
      for (const [what, chain] of chains) {
        for (const [who, bundle] of consumers) {
          if (chainVerifies(chain, bundle, now)) checks++;
          else violations.push(`${label} at +${now - T0} ms: ${what} does not verify against ${who}`);
        }
      }
    }
  };
  // Registered after the consumer above, so it sees the consumer's refreshed roots.
  bundles.onDidChange(() => check('bundle change'));
  r.bus.on((e) => check(`event ${e.type}${e.type === 'ca/changed' ? `/${e.phase}` : ''}`));
  return { trusted: () => trusted, checks: () => checks, violations: () => violations, check };
}

function start(r: Rig): void {
  for (const s of SERVICES) r.rotator.add({ service: s.service, spiffeId: idOf(s.service), ...(s.files ? { dir: r.dirOf(s.service) } : {}) });
  r.rotator.start();
}

const caPhases = (r: Rig): [CaEvent['phase'], number, number][] => r.of('ca/changed').map((e) => [e.phase, Date.parse(e.time) - T0, e.bundle.length]);

describe('Rotator.rotateCa: prepare → activate → retire with no moment of distrust', () => {
  const shapes = [
    { name: 'root only', intermediate: false },
    { name: 'root + intermediate', intermediate: true },
  ];
  for (const shape of shapes) {
    it(`${shape.name}: every SVID verifies against every consumer's bundle at every step`, async () => {
      const r = (rig = makeRig({ intermediate: shape.intermediate, random: seeded(7) }));
      start(r);
      const w = watch(r);
      const oldRoot = r.ca.bundleDers()[0] as Buffer;
      // A consumer that never refreshes: the control that shows what a wrong order would break.
      const stale = [oldRoot];

      const rotation = r.rotator.rotateCa();
      // Prepared: the new root is in every bundle, memory and files, before anything depends on it.
      const newRoot = r.ca.bundleDers()[1] as Buffer;
      expect(w.trusted()).toEqual([oldRoot, newRoot]);
      for (const s of SERVICES.filter((x) => x.files)) expect(certificatesFromPem(readFileSync(join(r.dirOf(s.service), 'svid_bundle.pem'), 'utf8'))).toEqual([oldRoot, newRoot]);
      expect(r.of('svid/issued').filter((e) => e.cause === 'ca-rotation')).toEqual([]);

      const result = await r.clock.drive(rotation);
      expect(result.reissued.map((o) => [o.service, o.ok])).toEqual(SERVICES.map((s) => [s.service, true]));
      const reissued = r.of('svid/issued').filter((e) => e.cause === 'ca-rotation');
      expect(reissued.map((e) => e.service)).toEqual(SERVICES.map((s) => s.service));
      expect(reissued.every((e) => e.previousSerial !== undefined)).toBe(true);
      for (const s of SERVICES) {
        const chain = certificatesFromPem(r.rotator.source(s.service).current().certChainPem);
        expect(chainVerifies(chain, [newRoot], r.clock.now())).toBe(true);
        expect(chainVerifies(chain, stale, r.clock.now())).toBe(false);
      }
      // The old root leaves once the last SVID it signed (the first ones, issued at T0 for 60 s) has
      // expired: one second after its notAfter, which X.509 counts as still valid.
      expect(result.retireAt).toEqual(new Date(T0 + 61_000));
      r.clock.advanceTo(T0 + 61_000 - 1);
      expect(w.trusted()).toEqual([oldRoot, newRoot]);
      r.clock.advance(1);
      expect(w.trusted()).toEqual([newRoot]);
      for (const s of SERVICES.filter((x) => x.files)) expect(certificatesFromPem(readFileSync(join(r.dirOf(s.service), 'svid_bundle.pem'), 'utf8'))).toEqual([newRoot]);
      // Keep rotating for a while on the new CA.
      r.clock.advance(120_000);
      w.check('end');
      expect(w.violations()).toEqual([]);
      expect(caPhases(r)).toEqual([
        ['prepared', 0, 2],
        ['activated', 5_000, 2],
        ['retired', 61_000, 1],
      ]);
      expect(r.of('svid/failed')).toEqual([]);
      expect(w.checks()).toBeGreaterThan(100);
    });
  }

  it('a workload whose re-issue fails keeps its old SVID (still trusted), retries as ca-rotation, and the retire waits for its old SVID', async () => {
    const f = failingIssuer();
    const r = (rig = f.bind(makeRig({ issue: f.issue, random: seeded(3), backoff: { initialMs: 2_000, jitter: 0 } })));
    start(r);
    const w = watch(r);
    const ordersBefore = r.rotator.source('orders').current();
    // Renewed at ~30 s on the old CA, so its last old SVID lives until ~90 s.
    r.clock.advanceTo(T0 + 40_000);
    const ordersRenewed = r.rotator.source('orders').current();
    expect(ordersRenewed.serial).not.toBe(ordersBefore.serial);
    f.failFor.add(idOf('orders').toString());
    const result = await r.clock.drive(r.rotator.rotateCa());
    expect(result.reissued.filter((o) => !o.ok).map((o) => o.service)).toEqual(['orders']);
    expect(r.rotator.source('orders').current().serial).toBe(ordersRenewed.serial);
    w.check('after a failed re-issue');
    expect(w.violations()).toEqual([]);
    f.failFor.clear();
    r.clock.advance(2_000);
    expect(r.of('svid/issued').at(-1)).toMatchObject({ service: 'orders', cause: 'ca-rotation', previousSerial: ordersRenewed.serial });
    const lastOld = Math.max(...r.of('svid/issued').filter((e) => Date.parse(e.time) < T0 + 45_000).map((e) => Date.parse(e.notAfter)));
    expect(result.retireAt?.getTime()).toBe(lastOld + 1_000);
    r.clock.advanceTo(lastOld + 999);
    expect(caPhases(r).map((p) => p[0])).toEqual(['prepared', 'activated']);
    r.clock.advance(1);
    expect(caPhases(r).map((p) => p[0])).toEqual(['prepared', 'activated', 'retired']);
    expect(caPhases(r)[2]?.[1]).toBe(lastOld + 1_000 - T0);
    expect(w.trusted()).toHaveLength(1);
    w.check('end');
    expect(w.violations()).toEqual([]);
  });

  it('a second rotation before the first retired: each old root leaves after its own last SVID', async () => {
    const r = (rig = makeRig({ random: seeded(11) }));
    start(r);
    const w = watch(r);
    await r.clock.drive(r.rotator.rotateCa());
    r.clock.advanceTo(T0 + 20_000);
    const second = await r.clock.drive(r.rotator.rotateCa());
    expect(r.ca.bundleDers()).toHaveLength(3);
    // Gen 2 signed only the re-issue at +5 s (renewals fall due after +27 s, on gen 3): its last SVID lives until +65 s.
    expect(second.retireAt).toEqual(new Date(T0 + 66_000));
    r.clock.advanceTo(T0 + 200_000);
    expect(caPhases(r)).toEqual([
      ['prepared', 0, 2],
      ['activated', 5_000, 2],
      ['prepared', 20_000, 3],
      ['activated', 25_000, 3],
      ['retired', 61_000, 2],
      ['retired', 66_000, 1],
    ]);
    expect(w.trusted()).toEqual(r.ca.bundleDers());
    w.check('end');
    expect(w.violations()).toEqual([]);
  });

  it('refuses a second rotateCa while one runs, and resumes a rotation whose CA was prepared but never activated', async () => {
    const r = (rig = makeRig());
    start(r);
    const first = r.rotator.rotateCa();
    await expect(r.rotator.rotateCa()).rejects.toSatisfy((e: unknown) => e instanceof RotationError && e.code === 'ca-rotation-in-progress');
    await r.clock.drive(first);

    r.ca.prepare({ now: new Date(r.clock.now()) });
    const resumed = await r.clock.drive(r.rotator.rotateCa());
    expect(resumed.prepared).toBeUndefined();
    expect(resumed.activated.phase).toBe('activated');
    expect(r.ca.authorities().map((a) => a.state)).toEqual(['old', 'old', 'active']);
  });
});
