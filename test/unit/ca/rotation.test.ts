import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CertificateAuthority, LEAF_EXPIRY_GRACE_MS, MAX_SVID_TTL_MS } from '../../../src/core/ca/authority.js';
import { CaError } from '../../../src/core/ca/errors.js';
import { certificatesFromPem } from '../../../src/core/pki/pem.js';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';
import { chainVerifies } from '../rotation/chain.js';

const td = TrustDomain.mustParse('lab.local');
const orders = SpiffeId.mustParse('spiffe://lab.local/ns/default/sa/orders');
const T0 = Date.UTC(2026, 11, 4, 12);
const HOUR = 3_600_000;
const at = (ms: number): Date => new Date(T0 + ms);
const serialOf = (der: Buffer | undefined): string => new X509Certificate(der as Buffer).serialNumber.toLowerCase();

const dirs: string[] = [];
const tempState = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'mtls-lab-carot-'));
  dirs.push(d);
  return join(d, 'state');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CaError);
    expect((err as CaError).message).toMatch(/^ca: .+; .+\.$/);
    return (err as CaError).code;
  }
  return undefined;
}

describe('CertificateAuthority rotation: prepare → activate → retire', () => {
  const shapes = [
    { name: 'root only', intermediate: false, chainLength: 1 },
    { name: 'root + intermediate', intermediate: true, chainLength: 2 },
  ];
  for (const shape of shapes) {
    it(`${shape.name}: the new root is trusted before it signs, and the old one leaves after its last SVID expired`, () => {
      const ca = CertificateAuthority.create({ trustDomain: td, intermediate: shape.intermediate, now: at(0) });
      const oldRoot = ca.bundleDers()[0] as Buffer;
      const before = ca.issue({ id: orders, ttlMs: HOUR, now: at(0) });

      const prepared = ca.prepare({ now: at(60_000) });
      const newRoot = ca.bundleDers()[1] as Buffer;
      expect(ca.bundleDers()).toHaveLength(2);
      expect(prepared).toEqual({ phase: 'prepared', serial: serialOf(newRoot), notAfter: new Date(new X509Certificate(newRoot).validTo).toISOString(), bundle: [serialOf(oldRoot), serialOf(newRoot)], sequence: 2 });
      expect(ca.spiffeBundle().spiffe_sequence).toBe(2);
      expect(ca.spiffeBundle().keys).toHaveLength(2);
      expect(new X509Certificate(newRoot).subject).not.toBe(new X509Certificate(oldRoot).subject);
      // Prepared: in the bundle, not signing.
      const stillOld = ca.issue({ id: orders, ttlMs: HOUR, now: at(120_000) });
      expect(chainVerifies(stillOld.chain, [oldRoot], T0 + 120_000)).toBe(true);
      expect(chainVerifies(stillOld.chain, [newRoot], T0 + 120_000)).toBe(false);
      expect(ca.authorities().map((a) => a.state)).toEqual(['active', 'prepared']);

      const activated = ca.activate();
      expect(activated).toMatchObject({ phase: 'activated', serial: serialOf(newRoot), sequence: 2 });
      expect(ca.rootCertificate.raw.equals(newRoot)).toBe(true);
      const fresh = ca.issue({ id: orders, ttlMs: HOUR, now: at(180_000) });
      expect(fresh.chain).toHaveLength(shape.chainLength);
      expect(chainVerifies(fresh.chain, [newRoot], T0 + 180_000)).toBe(true);
      expect(chainVerifies(fresh.chain, [oldRoot], T0 + 180_000)).toBe(false);
      // Everything out there still verifies against the bundle every peer has.
      for (const svid of [before, stillOld, fresh]) expect(chainVerifies(svid.chain, ca.bundleDers(), T0 + 180_000)).toBe(true);

      const lastOld = stillOld.notAfter;
      // notAfter is inclusive, to the second: the old CA may go one second after it.
      const goes = new Date(lastOld.getTime() + LEAF_EXPIRY_GRACE_MS);
      expect(ca.retireAt()).toEqual(goes);
      expect(ca.authorities()[0]?.lastLeafNotAfter).toEqual(lastOld);
      expect(codeOf(() => ca.retire({ now: new Date(goes.getTime() - 1) }))).toBe('retire-too-early');
      expect(ca.bundleDers()).toHaveLength(2);

      const retired = ca.retire({ now: goes });
      expect(retired).toEqual([{ phase: 'retired', serial: serialOf(oldRoot), notAfter: new Date(new X509Certificate(oldRoot).validTo).toISOString(), bundle: [serialOf(newRoot)], sequence: 3 }]);
      expect(ca.bundleDers()).toEqual([newRoot]);
      expect(ca.spiffeBundle().spiffe_sequence).toBe(3);
      expect(ca.retireAt()).toBeUndefined();
      expect(ca.authorities().map((a) => [a.generation, a.state])).toEqual([[2, 'active']]);
    });
  }

  const misuse = [
    { name: 'activate with nothing prepared', run: (ca: CertificateAuthority): unknown => ca.activate(), code: 'not-prepared' },
    {
      name: 'prepare while a prepared CA waits',
      run: (ca: CertificateAuthority): unknown => {
        ca.prepare({ now: at(0) });
        return ca.prepare({ now: at(0) });
      },
      code: 'already-prepared',
    },
    { name: 'retire with no old CA', run: (ca: CertificateAuthority): unknown => ca.retire({ now: at(0) }), code: 'nothing-to-retire' },
  ];
  for (const m of misuse) {
    it(`refuses to ${m.name}, with a sentence that says what to do`, () => {
      const ca = CertificateAuthority.create({ trustDomain: td, now: at(0) });
      expect(codeOf(() => m.run(ca))).toBe(m.code);
    });
  }

  it('retires early only when forced, and an old CA that signed nothing at once', () => {
    const ca = CertificateAuthority.create({ trustDomain: td, now: at(0) });
    ca.issue({ id: orders, ttlMs: HOUR, now: at(0) });
    ca.prepare({ now: at(0) });
    ca.activate();
    expect(codeOf(() => ca.retire({ now: at(1000) }))).toBe('retire-too-early');
    expect(ca.retire({ now: at(1000), force: true })).toHaveLength(1);

    const quiet = CertificateAuthority.create({ trustDomain: td, now: at(0) });
    quiet.prepare({ now: at(0) });
    quiet.activate();
    expect(quiet.retireAt()).toEqual(new Date(0));
    expect(quiet.retire({ now: at(0) })).toHaveLength(1);
  });

  it('with two old CAs, retires the one whose SVIDs expired and keeps the other', () => {
    const ca = CertificateAuthority.create({ trustDomain: td, now: at(0) });
    ca.issue({ id: orders, ttlMs: HOUR, now: at(0) });
    ca.prepare({ now: at(0) });
    ca.activate();
    ca.issue({ id: orders, ttlMs: 2 * HOUR, now: at(0) });
    ca.prepare({ now: at(0) });
    ca.activate();
    expect(ca.bundleDers()).toHaveLength(3);
    expect(ca.retireAt()).toEqual(at(2 * HOUR + LEAF_EXPIRY_GRACE_MS));
    expect(ca.retire({ now: at(HOUR + LEAF_EXPIRY_GRACE_MS) }).map((c) => c.phase)).toEqual(['retired']);
    expect(ca.authorities().map((a) => [a.generation, a.state])).toEqual([
      [2, 'old'],
      [3, 'active'],
    ]);
  });
});

describe('CertificateAuthority rotation state on disk', () => {
  it('persists every step (gen 2 files beside the gen 1 layout), loads it back, and deletes a retired CA’s files', () => {
    const state = tempState();
    const ca = CertificateAuthority.create({ trustDomain: td, intermediate: true, now: at(0) });
    ca.save(state);
    const svid = ca.issue({ id: orders, ttlMs: HOUR, now: at(0) });
    ca.prepare({ now: at(1000) });
    ca.persist(state);
    const caDir = join(state, 'ca');
    expect(readdirSync(caDir).sort()).toEqual(
      ['bundle.pem', 'ca.json', 'intermediate-2.pem', 'intermediate-2_key.pem', 'intermediate.pem', 'intermediate_key.pem', 'root-2.pem', 'root-2_key.pem', 'root.pem', 'root_key.pem'].sort(),
    );
    expect(statSync(join(caDir, 'root-2_key.pem')).mode & 0o777).toBe(0o600);
    expect(certificatesFromPem(readFileSync(join(caDir, 'bundle.pem'), 'utf8'))).toEqual(ca.bundleDers());

    const loaded = CertificateAuthority.load(state);
    expect(loaded.authorities()).toEqual(ca.authorities());
    expect(loaded.sequence).toBe(2);
    expect(loaded.authorities()[0]?.lastLeafNotAfter).toEqual(svid.notAfter);
    loaded.activate();
    loaded.persist(state);
    const again = CertificateAuthority.load(state);
    expect(again.rootCertificate.raw.equals(ca.bundleDers()[1] as Buffer)).toBe(true);
    expect(chainVerifies(again.issue({ id: orders, ttlMs: HOUR, now: at(2000) }).chain, [ca.bundleDers()[1] as Buffer], T0 + 2000)).toBe(true);

    again.retire({ now: new Date(svid.notAfter.getTime() + LEAF_EXPIRY_GRACE_MS) });
    again.persist(state);
    expect(readdirSync(caDir).sort()).toEqual(['bundle.pem', 'ca.json', 'intermediate-2.pem', 'intermediate-2_key.pem', 'root-2.pem', 'root-2_key.pem'].sort());
    expect(CertificateAuthority.load(state).bundleDers()).toEqual([ca.bundleDers()[1]]);
    expect(readdirSync(caDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reads the single-root layout written before rotation, assuming its SVIDs may live the longest TTL', () => {
    const state = tempState();
    const ca = CertificateAuthority.create({ trustDomain: td, now: at(0) });
    ca.save(state);
    const manifestPath = join(state, 'ca', 'ca.json');
    const legacy = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    delete legacy['authorities'];
    writeFileSync(manifestPath, JSON.stringify(legacy));
    const loaded = CertificateAuthority.load(state, { now: at(0) });
    expect(loaded.bundlePem()).toBe(ca.bundlePem());
    expect(loaded.authorities()[0]?.lastLeafNotAfter).toEqual(at(MAX_SVID_TTL_MS));
    loaded.prepare({ now: at(0) });
    loaded.activate();
    expect(codeOf(() => loaded.retire({ now: at(HOUR) }))).toBe('retire-too-early');
    expect(loaded.retire({ now: at(MAX_SVID_TTL_MS + LEAF_EXPIRY_GRACE_MS) })).toHaveLength(1);
  });

  const broken = [
    { name: 'two active authorities', authorities: [{ generation: 1, state: 'active', intermediate: false, lastLeafNotAfter: null }, { generation: 1, state: 'active', intermediate: false, lastLeafNotAfter: null }] },
    { name: 'a generation whose files are missing', authorities: [{ generation: 7, state: 'active', intermediate: false, lastLeafNotAfter: null }] },
    { name: 'an unknown state', authorities: [{ generation: 1, state: 'retiring', intermediate: false, lastLeafNotAfter: null }] },
  ];
  for (const b of broken) {
    it(`refuses a ca.json with ${b.name} as bad-state`, () => {
      const state = tempState();
      CertificateAuthority.create({ trustDomain: td }).save(state);
      const manifestPath = join(state, 'ca', 'ca.json');
      const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
      writeFileSync(manifestPath, JSON.stringify({ ...m, authorities: b.authorities }));
      expect(codeOf(() => CertificateAuthority.load(state))).toBe('bad-state');
    });
  }

  it('persist refuses to overwrite a different CA', () => {
    const state = tempState();
    CertificateAuthority.create({ trustDomain: td }).save(state);
    expect(codeOf(() => CertificateAuthority.create({ trustDomain: td }).persist(state))).toBe('ca-exists');
  });
});
