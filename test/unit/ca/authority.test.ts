import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CertificateAuthority, LEAF_BACKDATE_MS } from '../../../src/core/ca/authority.js';
import { CaError } from '../../../src/core/ca/errors.js';
import { writeSvidFiles } from '../../../src/core/ca/svidFiles.js';
import { certificateFacts } from '../../../src/core/pki/inspect.js';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';

const td = TrustDomain.mustParse('lab.local');
const orders = SpiffeId.mustParse('spiffe://lab.local/ns/default/sa/orders');
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'mtls-lab-ca-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const mode = (p: string): number => statSync(p).mode & 0o777;

describe('CertificateAuthority', () => {
  const cases = [
    { name: 'EC P-256 root', keyType: 'ec-p256' as const, intermediate: false, chainLength: 1, key: 'EC P-256' },
    { name: 'EC P-256 root + intermediate', keyType: 'ec-p256' as const, intermediate: true, chainLength: 2, key: 'EC P-256' },
    { name: 'RSA-2048 root', keyType: 'rsa-2048' as const, intermediate: false, chainLength: 1, key: 'RSA 2048' },
  ];
  for (const c of cases) {
    it(`${c.name}: issues an X.509-SVID that follows the spec`, () => {
      const now = new Date('2026-12-04T12:00:00Z');
      const ca = CertificateAuthority.create({ trustDomain: td, keyType: c.keyType, intermediate: c.intermediate, now });
      const svid = ca.issue({ id: orders, ttlMs: 3_600_000, dnsNames: ['orders.local'], now });
      expect(svid.chain).toHaveLength(c.chainLength);
      const f = certificateFacts(svid.chain[0] as Buffer);
      expect(f.uris).toEqual([orders.toString()]);
      expect(f.dnsNames).toEqual(['orders.local']);
      expect(f.isCa).toBe(false);
      expect(f.keyUsageCritical).toBe(true);
      expect(f.keyUsage).toEqual(c.keyType === 'rsa-2048' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature']);
      expect(f.extKeyUsage).toEqual(['serverAuth', 'clientAuth']);
      expect(f.keyType).toBe(c.key);
      expect(f.notBefore.getTime()).toBe(now.getTime() - LEAF_BACKDATE_MS);
      expect(f.notAfter.getTime()).toBe(now.getTime() + 3_600_000);
      // A positive serial of at least 64 random bits.
      expect(svid.serial).toMatch(/^[4-7][0-9a-f]{31}$/);
      const issuer = new X509Certificate((c.intermediate ? svid.chain[1] : ca.bundleDers()[0]) as Buffer);
      expect(new X509Certificate(svid.chain[0] as Buffer).verify(issuer.publicKey)).toBe(true);
      if (c.intermediate) {
        const inter = certificateFacts(svid.chain[1] as Buffer);
        expect(inter.isCa).toBe(true);
        expect(inter.pathLength).toBe(0);
        expect(inter.keyUsage).toContain('keyCertSign');
        expect(inter.uris).toEqual(['spiffe://lab.local']);
      }
    });
  }

  it('never issues past the issuing CA notAfter', () => {
    const now = new Date('2026-12-04T12:00:00Z');
    const ca = CertificateAuthority.create({ trustDomain: td, now, caTtlMs: 600_000 });
    const svid = ca.issue({ id: orders, ttlMs: 3_600_000, now });
    expect(svid.notAfter.getTime()).toBe(now.getTime() + 600_000);
  });

  const rejects = [
    { name: 'zero TTL', req: { id: orders, ttlMs: 0 }, code: 'bad-ttl' },
    { name: 'TTL over 24h', req: { id: orders, ttlMs: 25 * 3_600_000 }, code: 'bad-ttl' },
    { name: 'trust domain root ID', req: { id: SpiffeId.mustParse('spiffe://lab.local') }, code: 'bad-ttl' },
    { name: 'ID of another trust domain', req: { id: SpiffeId.mustParse('spiffe://other.local/x') }, code: 'bad-state' },
  ];
  for (const r of rejects) {
    it(`refuses ${r.name} with a sentence that names the fix`, () => {
      const ca = CertificateAuthority.create({ trustDomain: td });
      try {
        ca.issue(r.req);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(CaError);
        expect((err as CaError).code).toBe(r.code);
        expect((err as CaError).message).toMatch(/^ca: .+; .+/);
      }
    });
  }

  it('persists with keys 0600 and folders 0700, loads back, and refuses to overwrite without force', () => {
    const state = join(tempDir(), 'state');
    const ca = CertificateAuthority.create({ trustDomain: td, intermediate: true });
    ca.save(state);
    expect(mode(state)).toBe(0o700);
    expect(mode(join(state, 'ca'))).toBe(0o700);
    expect(mode(join(state, 'ca', 'root_key.pem'))).toBe(0o600);
    expect(mode(join(state, 'ca', 'intermediate_key.pem'))).toBe(0o600);
    expect(readdirSync(join(state, 'ca')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const loaded = CertificateAuthority.load(state);
    expect(loaded.trustDomain.name).toBe('lab.local');
    expect(loaded.hasIntermediate).toBe(true);
    expect(loaded.bundlePem()).toBe(ca.bundlePem());
    const svid = loaded.issue({ id: orders });
    expect(new X509Certificate(svid.chain[1] as Buffer).fingerprint256).toBe(ca.issuingCertificate.fingerprint256);
    expect(() => CertificateAuthority.create({ trustDomain: td }).save(state)).toThrow(/already exists/);
    const replaced = CertificateAuthority.create({ trustDomain: td });
    replaced.save(state, { force: true });
    expect(CertificateAuthority.load(state).bundlePem()).toBe(replaced.bundlePem());
  });

  it('says how to create a CA when there is none', () => {
    expect(() => CertificateAuthority.load(tempDir())).toThrow(/mtls-lab ca init/);
  });

  it('writes SVID files key first with 0600 and the chain and bundle beside it', () => {
    const ca = CertificateAuthority.create({ trustDomain: td, intermediate: true });
    const out = join(tempDir(), 'orders');
    const paths = writeSvidFiles(out, ca.issue({ id: orders }), ca.bundlePem());
    expect(mode(paths.key)).toBe(0o600);
    expect(readFileSync(paths.cert, 'utf8').match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(readFileSync(paths.bundle, 'utf8')).toBe(ca.bundlePem());
    expect(readFileSync(paths.key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('exports a SPIFFE bundle: one x509-svid key per CA with exactly one x5c', () => {
    for (const keyType of ['ec-p256', 'rsa-2048'] as const) {
      const ca = CertificateAuthority.create({ trustDomain: td, keyType });
      const doc = ca.spiffeBundle();
      expect(doc.spiffe_sequence).toBe(1);
      expect(doc.spiffe_refresh_hint).toBeGreaterThan(0);
      expect(doc.keys).toHaveLength(1);
      const k = doc.keys[0];
      expect(k?.use).toBe('x509-svid');
      expect(k?.x5c).toHaveLength(1);
      expect(Buffer.from(k?.x5c[0] as string, 'base64').equals(ca.bundleDers()[0] as Buffer)).toBe(true);
      const jwk = new X509Certificate(ca.bundleDers()[0] as Buffer).publicKey.export({ format: 'jwk' });
      if (keyType === 'ec-p256') expect([k?.kty, k?.crv, k?.x, k?.y]).toEqual(['EC', 'P-256', jwk.x, jwk.y]);
      else expect([k?.kty, k?.n, k?.e]).toEqual(['RSA', jwk.n, jwk.e]);
    }
  });
});
