import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { id_ce_keyUsage } from '@peculiar/asn1-x509';
import { certificateFacts, type CertificateFacts } from '../../../src/core/pki/inspect.js';
import { certificatesFromPem, toPem } from '../../../src/core/pki/pem.js';
import { PkiError } from '../../../src/core/pki/errors.js';
import {
  checkLeafRules,
  checkSignerRules,
  reasonForTlsError,
  verifySvid,
  verifyTlsPeer,
  type BundleSet,
  type SvidFailureReason,
  type VerifyOptions,
} from '../../../src/core/pki/verify.js';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';
import { ext, newTestCa, withExtension, withoutExtension } from '../../support/testCa.js';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'svid');
/** The time the fixture verdicts are taken at: inside every "valid" fixture's ten years. */
const NOW = new Date('2027-06-01T00:00:00Z');
const OPENSSL = '/usr/bin/openssl';

const ORDERS = 'spiffe://lab.local/ns/default/sa/orders';
const BILLING = 'spiffe://lab.local/ns/default/sa/billing';

const readPem = (file: string): Buffer[] => certificatesFromPem(readFileSync(join(FIXTURES, file), 'utf8'), file);

/** Trust domain name → bundle fixture file. */
type BundleFiles = Readonly<Record<string, string>>;
const LAB: BundleFiles = { 'lab.local': 'bundle.pem' };
const LAB_AND_OTHER: BundleFiles = { 'lab.local': 'bundle.pem', 'other.test': 'other-bundle.pem' };

const bundleSet = (files: BundleFiles): BundleSet => new Map(Object.entries(files).map(([td, f]) => [td, readPem(f)]));

interface FixtureRow {
  readonly name: string;
  /** Chain file, leaf first. */
  readonly file: string;
  readonly bundles?: BundleFiles;
  readonly expected: SvidFailureReason | 'valid';
  /** Each must match the detail: it names what failed and what to do. */
  readonly detail: readonly RegExp[];
  readonly spiffeId?: string;
  /** `openssl verify -x509_strict` at NOW: 'ok' or its error number, recorded so a change on either side shows. */
  readonly openssl: 'ok' | number;
  /** Why we reject what OpenSSL accepts when it is neither an SVID leaf rule nor the trust domain. */
  readonly opensslAcceptsBecause?: string;
}

const FIXTURE_ROWS: readonly FixtureRow[] = [
  { name: 'a leaf signed by the root', file: 'good-leaf.pem', expected: 'valid', detail: [/^spiffe:\/\/lab\.local\/ns\/default\/sa\/orders verified to the lab\.local bundle, expires in 3136d$/], spiffeId: ORDERS, openssl: 'ok' },
  { name: 'a leaf with its intermediate', file: 'good-leaf-chain.pem', expected: 'valid', detail: [/billing verified to the lab\.local bundle, expires in \d+d/], spiffeId: BILLING, openssl: 'ok' },
  { name: 'an RSA leaf and RSA root', file: 'good-leaf-rsa.pem', bundles: { 'lab.local': 'rsa-bundle.pem' }, expected: 'valid', detail: [/verified/], openssl: 'ok' },
  { name: 'a leaf of a federated trust domain', file: 'other-td-leaf.pem', bundles: LAB_AND_OTHER, expected: 'valid', detail: [/verified to the other\.test bundle/], openssl: 'ok' },
  { name: 'a rogue leaf, against the rogue bundle', file: 'rogue-ca-leaf.pem', bundles: { 'lab.local': 'rogue-ca.pem' }, expected: 'valid', detail: [/verified/], openssl: 'ok' },

  { name: 'leaf with CA:TRUE', file: 'leaf-ca-true.pem', expected: 'not-an-svid', detail: [/CA:TRUE/, /must be CA:FALSE/], spiffeId: ORDERS, openssl: 'ok' },
  { name: 'leaf without basicConstraints', file: 'leaf-no-basic-constraints.pem', expected: 'not-an-svid', detail: [/no basicConstraints/, /CA:FALSE/], openssl: 'ok' },
  { name: 'leaf with two URI SANs', file: 'leaf-two-uri-sans.pem', expected: 'not-an-svid', detail: [/has 2 URI SANs; an X\.509-SVID has exactly one/, /payments/], openssl: 'ok' },
  { name: 'leaf with no URI SAN', file: 'leaf-no-uri-san.pem', expected: 'not-an-svid', detail: [/no URI SAN/, /exactly one/], openssl: 'ok' },
  { name: 'leaf with its ID as a DNS SAN (cfssl)', file: 'leaf-spiffe-id-as-dns-san.pem', expected: 'not-an-svid', detail: [/as a DNS SAN/, /URI SAN/], openssl: 'ok' },
  { name: 'leaf whose URI SAN is not spiffe://', file: 'leaf-not-spiffe-uri.pem', expected: 'not-an-svid', detail: [/"https:\/\/orders\.lab\.local\/" is not a valid SPIFFE ID/, /spiffe/], openssl: 'ok' },
  { name: 'leaf with an invalid SPIFFE ID', file: 'leaf-invalid-spiffe-id.pem', expected: 'not-an-svid', detail: [/not a valid SPIFFE ID/, /empty path segment/], openssl: 'ok' },
  { name: 'leaf with the trust domain ID (no path)', file: 'leaf-root-path.pem', expected: 'not-an-svid', detail: [/"spiffe:\/\/lab\.local" is the ID of trust domain "lab\.local" itself, with no path/], spiffeId: 'spiffe://lab.local', openssl: 'ok' },
  { name: 'leaf with keyCertSign', file: 'leaf-keycertsign.pem', expected: 'not-an-svid', detail: [/keyUsage keyCertSign/, /must not sign certificates/], openssl: 82 },
  { name: 'leaf with cRLSign', file: 'leaf-crlsign.pem', expected: 'not-an-svid', detail: [/keyUsage cRLSign/], openssl: 'ok' },
  { name: 'leaf without digitalSignature', file: 'leaf-no-digital-signature.pem', expected: 'not-an-svid', detail: [/lacks digitalSignature \(it has keyAgreement\)/], openssl: 'ok' },
  { name: 'leaf without keyUsage', file: 'leaf-no-key-usage.pem', expected: 'not-an-svid', detail: [/no keyUsage extension/, /digitalSignature/], openssl: 'ok' },
  { name: 'self-signed leaf', file: 'leaf-self-signed.pem', expected: 'not-an-svid', detail: [/self-signed/, /mtls-lab issue spiffe:\/\/lab\.local\/ns\/default\/sa\/orders/], openssl: 18 },

  { name: 'leaf of a trust domain with no bundle', file: 'leaf-wrong-trust-domain.pem', expected: 'wrong-trust-domain', detail: [/"other\.test"/, /only for "lab\.local"/], spiffeId: 'spiffe://other.test/ns/default/sa/orders', openssl: 'ok' },
  {
    name: 'leaf of other.test signed by the lab.local CA',
    file: 'leaf-wrong-trust-domain.pem',
    bundles: LAB_AND_OTHER,
    expected: 'unknown-ca',
    detail: [/not signed by any CA in the other\.test bundle/, /root CA lab\.local/],
    openssl: 'ok',
    opensslAcceptsBecause: 'OpenSSL trusts every CA it is given for every name; an SVID must chain to the bundle of its own trust domain.',
  },
  { name: 'leaf of federated other.test without its bundle', file: 'other-td-leaf.pem', expected: 'wrong-trust-domain', detail: [/add the other\.test bundle/], openssl: 20 },

  { name: 'expired leaf', file: 'expired.pem', expected: 'expired', detail: [/^the certificate expired 2342d ago at 2021-01-01T00:00:00\.000Z/, /mtls-lab issue spiffe:\/\/lab\.local\/ns\/default\/sa\/orders/], openssl: 10 },
  { name: 'leaf not yet valid', file: 'not-yet-valid.pem', expected: 'not-yet-valid', detail: [/not valid until 2090-01-01T00:00:00\.000Z, \d+d from now/, /clock/], openssl: 9 },
  { name: 'expired intermediate', file: 'intermediate-expired-chain.pem', expected: 'expired', detail: [/^intermediate CA "mTLS Lab test intermediate CA lab\.local 1" expired 2342d ago/, /renew the CA/], openssl: 10 },

  { name: 'leaf of a rogue CA with the same name', file: 'rogue-ca-leaf.pem', expected: 'unknown-ca', detail: [/not signed by any CA in the lab\.local bundle/, /different key under the same name/], openssl: 20 },
  { name: 'leaf whose intermediate is missing', file: 'broken-chain.pem', expected: 'unknown-ca', detail: [/not signed by any CA in the lab\.local bundle/, /mTLS Lab test intermediate CA lab\.local 1/, /send it after the leaf/], openssl: 20 },
  { name: 'leaf with a damaged signature', file: 'leaf-bad-signature.pem', expected: 'unknown-ca', detail: [/not signed by any CA in the lab\.local bundle/, /altered/], openssl: 7 },
  { name: 'intermediate with CA:FALSE', file: 'intermediate-not-ca-chain.pem', expected: 'unknown-ca', detail: [/is not a CA certificate \(it lacks CA:TRUE\)/], openssl: 79 },
  { name: 'intermediate without keyCertSign', file: 'intermediate-no-keycertsign-chain.pem', expected: 'unknown-ca', detail: [/has keyUsage digitalSignature, cRLSign but not keyCertSign/], openssl: 79 },
  { name: 'intermediate without keyUsage (pkijs accepts it)', file: 'intermediate-no-key-usage-chain.pem', expected: 'unknown-ca', detail: [/has no keyUsage extension/, /keyCertSign/], openssl: 92 },
  { name: 'intermediate below a pathLen 0 CA (pkijs accepts it)', file: 'pathlen-exceeded-chain.pem', expected: 'unknown-ca', detail: [/allows 0 intermediate CAs below it \(pathLenConstraint\) but the chain has 1/], openssl: 25 },
  { name: 'intermediate pinned to another trust domain', file: 'name-constraint-violation-chain.pem', expected: 'unknown-ca', detail: [/nameConstraints/, /billing is outside them/], openssl: 47 },
];

const TMP = mkdtempSync(join(tmpdir(), 'mtls-lab-verify-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** `openssl verify -x509_strict` at NOW, the leaf checked, the rest of the file untrusted: 'ok' or the error number. */
function opensslVerdict(chain: readonly Buffer[], bundleFiles: readonly string[]): 'ok' | number {
  const leaf = join(TMP, 'leaf.pem');
  const bundle = join(TMP, 'bundle.pem');
  const untrusted = join(TMP, 'untrusted.pem');
  writeFileSync(leaf, toPem('CERTIFICATE', chain[0] as Buffer));
  writeFileSync(bundle, bundleFiles.map((f) => readFileSync(join(FIXTURES, f), 'utf8')).join(''));
  const args = ['verify', '-x509_strict', '-CAfile', bundle, '-attime', String(Math.floor(NOW.getTime() / 1000))];
  if (chain.length > 1) {
    writeFileSync(untrusted, chain.slice(1).map((d) => toPem('CERTIFICATE', d)).join(''));
    args.push('-untrusted', untrusted);
  }
  const run = spawnSync(OPENSSL, [...args, leaf], { encoding: 'utf8' });
  if (run.status === 0) return 'ok';
  const m = /error (\d+) at \d+ depth/.exec(`${run.stdout}${run.stderr}`);
  if (!m) throw new Error(`test: openssl verify failed without an error number: ${run.stdout}${run.stderr}`);
  return Number(m[1]);
}

// X509_V_ERR_* numbers to the names Node gives them in `authorizationError`; Node calls every other code UNSPECIFIED.
const NODE_TLS_CODES: Readonly<Record<number, string>> = {
  2: 'UNABLE_TO_GET_ISSUER_CERT',
  7: 'CERT_SIGNATURE_FAILURE',
  9: 'CERT_NOT_YET_VALID',
  10: 'CERT_HAS_EXPIRED',
  18: 'DEPTH_ZERO_SELF_SIGNED_CERT',
  19: 'SELF_SIGNED_CERT_IN_CHAIN',
  20: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  21: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  24: 'INVALID_CA',
  25: 'PATH_LENGTH_EXCEEDED',
  26: 'INVALID_PURPOSE',
};

const verdictOf = (v: { valid: boolean; reason?: SvidFailureReason }): SvidFailureReason | 'valid' => (v.valid ? 'valid' : (v.reason ?? 'valid'));

describe('verifySvid over the defect fixtures', () => {
  it.each(FIXTURE_ROWS)('$name ($file)', async (row) => {
    const chain = readPem(row.file);
    const v = await verifySvid(chain, bundleSet(row.bundles ?? LAB), { now: NOW });
    expect(verdictOf(v)).toBe(row.expected);
    expect(v.valid).toBe(row.expected === 'valid');
    if (v.valid) expect(v.reason).toBeUndefined();
    for (const re of row.detail) expect(v.detail).toMatch(re);
    expect(v.detail.length).toBeGreaterThan(30);
    if (row.spiffeId !== undefined) expect(v.spiffeId).toBe(row.spiffeId);
    expect(v.chain.map((c) => c.fingerprintSha256)).toEqual(chain.map((d) => certificateFacts(d).fingerprintSha256));
  });
});

describe('verifySvid agrees with OpenSSL', () => {
  it.each(FIXTURE_ROWS)('$name ($file)', async (row) => {
    const chain = readPem(row.file);
    const files = Object.values(row.bundles ?? LAB);
    const openssl = opensslVerdict(chain, files);
    expect(openssl).toBe(row.openssl);
    const v = await verifySvid(chain, bundleSet(row.bundles ?? LAB), { now: NOW });
    if (openssl !== 'ok') {
      // Whatever OpenSSL refuses, we refuse; and for the same reason a handshake would report.
      expect(v.valid).toBe(false);
      const leafRule = checkLeafRules(certificateFacts(chain[0] as Buffer));
      const tdRejected = v.reason === 'wrong-trust-domain';
      if (!leafRule && !tdRejected) expect(v.reason).toBe(reasonForTlsError(NODE_TLS_CODES[openssl] ?? 'UNSPECIFIED'));
    } else if (!v.valid) {
      // OpenSSL accepts; we may refuse only for an SVID rule it does not know.
      if (row.opensslAcceptsBecause === undefined) expect(['not-an-svid', 'wrong-trust-domain']).toContain(v.reason);
      else expect(v.reason).toBe(row.expected);
    }
  });
});

interface MemoryRow {
  readonly name: string;
  readonly make: () => { chain: readonly Buffer[]; bundles: BundleSet; opts?: VerifyOptions };
  readonly expected: SvidFailureReason | 'valid';
  readonly detail: readonly RegExp[];
}

const LAB_TD = TrustDomain.mustParse('lab.local');
const at = (iso: string): Date => new Date(iso);

const MEMORY_ROWS: readonly MemoryRow[] = [
  {
    name: 'a leaf that expired 3m12s ago says so to the second',
    make: () => {
      const ca = newTestCa(LAB_TD, { now: at('2026-12-04T15:00:00Z') });
      const s = ca.issue(ORDERS, { notAfter: at('2026-12-04T16:00:00Z') });
      return { chain: s.chain, bundles: new Map([['lab.local', ca.bundle()]]), opts: { now: at('2026-12-04T16:03:12Z') } };
    },
    expected: 'expired',
    detail: [/^the certificate expired 3m12s ago at 2026-12-04T16:00:00\.000Z; issue a new one \(mtls-lab issue spiffe:\/\/lab\.local\/ns\/default\/sa\/orders\)/],
  },
  {
    name: 'a valid leaf says how long it has left',
    make: () => {
      const ca = newTestCa(LAB_TD, { now: at('2026-12-04T15:00:00Z') });
      const s = ca.issue(ORDERS, { notAfter: at('2026-12-04T16:00:00Z') });
      return { chain: s.chain, bundles: new Map([['lab.local', ca.bundle()]]), opts: { now: at('2026-12-04T15:17:50Z') } };
    },
    expected: 'valid',
    detail: [/^spiffe:\/\/lab\.local\/ns\/default\/sa\/orders verified to the lab\.local bundle, expires in 42m10s$/],
  },
  {
    name: 'the expected ID matches',
    make: () => {
      const ca = newTestCa(LAB_TD);
      return { chain: ca.issue(ORDERS).chain, bundles: new Map([['lab.local', ca.bundle()]]), opts: { expectedId: SpiffeId.mustParse(ORDERS) } };
    },
    expected: 'valid',
    detail: [/verified/],
  },
  {
    name: 'another ID than the expected one',
    make: () => {
      const ca = newTestCa(LAB_TD);
      return { chain: ca.issue(ORDERS).chain, bundles: new Map([['lab.local', ca.bundle()]]), opts: { expectedId: SpiffeId.mustParse(BILLING) } };
    },
    expected: 'unexpected-id',
    detail: [/the peer is spiffe:\/\/lab\.local\/ns\/default\/sa\/orders, not the expected spiffe:\/\/lab\.local\/ns\/default\/sa\/billing/],
  },
  {
    name: 'an expected ID of another trust domain',
    make: () => {
      const ca = newTestCa(LAB_TD);
      return { chain: ca.issue(ORDERS).chain, bundles: new Map([['lab.local', ca.bundle()]]), opts: { expectedId: SpiffeId.mustParse('spiffe://other.test/x') } };
    },
    expected: 'wrong-trust-domain',
    detail: [/"other\.test" was expected/],
  },
  {
    name: 'not the expected trust domain',
    make: () => {
      const ca = newTestCa(LAB_TD);
      return { chain: ca.issue(ORDERS).chain, bundles: new Map([['lab.local', ca.bundle()]]), opts: { expectedTrustDomain: TrustDomain.mustParse('other.test') } };
    },
    expected: 'wrong-trust-domain',
    detail: [/belongs to trust domain "lab\.local", but "other\.test" was expected/],
  },
  {
    name: 'no bundles at all',
    make: () => ({ chain: newTestCa(LAB_TD).issue(ORDERS).chain, bundles: new Map() }),
    expected: 'wrong-trust-domain',
    detail: [/a bundle for no trust domain/],
  },
  {
    name: 'an empty bundle for the trust domain',
    make: () => ({ chain: newTestCa(LAB_TD).issue(ORDERS).chain, bundles: new Map([['lab.local', []]]) }),
    expected: 'wrong-trust-domain',
    detail: [/add the lab\.local bundle/],
  },
  {
    name: 'an empty chain',
    make: () => ({ chain: [], bundles: new Map() }),
    expected: 'not-an-svid',
    detail: [/no certificate was presented/],
  },
  {
    name: 'bytes that are not a certificate',
    make: () => ({ chain: [Buffer.from('not a certificate')], bundles: new Map() }),
    expected: 'not-an-svid',
    detail: [/the leaf certificate is not a valid X\.509 certificate/],
  },
  {
    name: 'a damaged intermediate',
    make: () => {
      const ca = newTestCa(LAB_TD).childCa();
      return { chain: [ca.issue(ORDERS).leaf, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])], bundles: new Map([['lab.local', ca.bundle()]]) };
    },
    expected: 'not-an-svid',
    detail: [/certificate 2 of the chain is not a valid X\.509 certificate/],
  },
  {
    name: 'the root sent along in the chain',
    make: () => {
      const ca = newTestCa(LAB_TD).childCa();
      const s = ca.issue(ORDERS);
      return { chain: [...s.chain, ...ca.bundle()], bundles: new Map([['lab.local', ca.bundle()]]) };
    },
    expected: 'valid',
    detail: [/verified/],
  },
  {
    name: 'intermediates sent in the wrong order, with an unrelated certificate',
    make: () => {
      const ca = newTestCa(LAB_TD).childCa().childCa();
      const stranger = newTestCa('other.test');
      const s = ca.issue(ORDERS);
      return { chain: [s.leaf, stranger.cert, ...[...s.chain.slice(1)].reverse()], bundles: new Map([['lab.local', ca.bundle()]]) };
    },
    expected: 'valid',
    detail: [/verified/],
  },
  {
    name: 'an intermediate as the trust anchor (a partial chain, as Go and SPIRE accept)',
    make: () => {
      const ca = newTestCa(LAB_TD).childCa({ pathLength: 0 });
      return { chain: ca.issue(ORDERS).chain, bundles: new Map([['lab.local', [ca.cert]]]) };
    },
    expected: 'valid',
    detail: [/verified/],
  },
  {
    name: 'an expired root in the bundle',
    make: () => {
      const now = at('2030-01-01T00:00:00Z');
      const root = newTestCa(LAB_TD, { now, notBefore: at('2020-01-01T00:00:00Z'), notAfter: at('2029-12-31T23:00:00Z') });
      const s = root.issue(ORDERS);
      return { chain: s.chain, bundles: new Map([['lab.local', root.bundle()]]), opts: { now } };
    },
    expected: 'expired',
    detail: [/^root CA "mTLS Lab test root CA lab\.local" of the lab\.local bundle expired 1h ago/, /make a new CA/],
  },
  {
    name: 'an intermediate that is not yet valid',
    make: () => {
      const now = at('2027-01-01T00:00:00Z');
      const ca = newTestCa(LAB_TD, { now }).childCa({ notBefore: at('2027-01-01T00:05:00Z') });
      return { chain: ca.issue(ORDERS).chain, bundles: new Map([['lab.local', ca.bundle()]]), opts: { now } };
    },
    expected: 'not-yet-valid',
    detail: [/^intermediate CA "mTLS Lab test intermediate CA lab\.local 1" is not valid until 2027-01-01T00:05:00\.000Z, 5m from now/],
  },
  {
    name: 'a leaf rule comes before an expired date',
    make: () => {
      const ca = newTestCa(LAB_TD);
      const s = ca.issue(ORDERS, { notBefore: at('2020-01-01T00:00:00Z'), notAfter: at('2020-02-01T00:00:00Z'), mutate: (e) => withoutExtension(e, id_ce_keyUsage) });
      return { chain: s.chain, bundles: new Map([['lab.local', ca.bundle()]]) };
    },
    expected: 'not-an-svid',
    detail: [/no keyUsage/],
  },
  {
    name: 'a leaf of a second CA of the same trust domain, named alike, sent with its intermediate',
    make: () => {
      const genuine = newTestCa(LAB_TD);
      const rogue = newTestCa(LAB_TD).childCa();
      return { chain: rogue.issue(ORDERS).chain, bundles: new Map([['lab.local', genuine.bundle()]]) };
    },
    expected: 'unknown-ca',
    detail: [/^intermediate CA "mTLS Lab test intermediate CA lab\.local 1" is not signed by any CA in the lab\.local bundle/, /rogue CA/],
  },
  {
    name: 'a chain that ends at a self-signed CA the bundle does not hold',
    make: () => {
      const genuine = newTestCa(LAB_TD);
      const other = newTestCa(LAB_TD, { commonName: 'Someone else root' }).childCa();
      return { chain: [...other.issue(ORDERS).chain, ...other.bundle()], bundles: new Map([['lab.local', genuine.bundle()]]) };
    },
    expected: 'unknown-ca',
    detail: [/the chain ends at self-signed "O=mTLS Lab, CN=Someone else root"/],
  },
  {
    name: 'a second-level intermediate without keyCertSign',
    make: () => {
      const ca = newTestCa(LAB_TD)
        .childCa({ mutate: (e) => withExtension(e, ext.keyUsage('keyCertSign')) })
        .childCa({ mutate: (e) => withExtension(e, ext.keyUsage('cRLSign')) });
      return { chain: ca.issue(ORDERS).chain, bundles: new Map([['lab.local', ca.bundle()]]) };
    },
    expected: 'unknown-ca',
    detail: [/intermediate CA "mTLS Lab test intermediate CA lab\.local 2" has keyUsage cRLSign but not keyCertSign/],
  },
];

describe('verifySvid with in-memory CAs', () => {
  it.each(MEMORY_ROWS)('$name', async (row) => {
    const { chain, bundles, opts } = row.make();
    const v = await verifySvid(chain, bundles, opts);
    expect(verdictOf(v)).toBe(row.expected);
    for (const re of row.detail) expect(v.detail).toMatch(re);
  });

  it('throws a typed error for a bundle that is not a certificate', async () => {
    const ca = newTestCa(LAB_TD);
    const err = await verifySvid(ca.issue(ORDERS).chain, new Map([['lab.local', [Buffer.from('junk')]]])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PkiError);
    expect((err as PkiError).code).toBe('bad-certificate');
    expect((err as PkiError).message).toMatch(/^pki: certificate 1 of the lab\.local bundle is not a valid X\.509 certificate; .+\.$/);
  });
});

describe('checkLeafRules', () => {
  const rows: readonly { name: string; file: string; broken?: RegExp }[] = [
    { name: 'a good leaf', file: 'good-leaf.pem' },
    { name: 'an expired but well-formed leaf (dates are not a leaf rule)', file: 'expired.pem' },
    { name: 'a leaf of an unknown CA (the chain is not a leaf rule)', file: 'rogue-ca-leaf.pem' },
    ...FIXTURE_ROWS.filter((r) => r.expected === 'not-an-svid').map((r) => ({ name: r.name, file: r.file, broken: r.detail[0] })),
  ];
  it.each(rows)('$name', ({ file, broken }) => {
    const result = checkLeafRules(certificateFacts(readPem(file)[0] as Buffer));
    if (broken === undefined) expect(result).toBeUndefined();
    else {
      expect(result?.reason).toBe('not-an-svid');
      expect(result?.detail).toMatch(broken);
    }
  });

  it('takes microseconds per leaf', () => {
    const leaf = certificateFacts(readPem('good-leaf.pem')[0] as Buffer);
    const bad = certificateFacts(readPem('leaf-two-uri-sans.pem')[0] as Buffer);
    const n = 20_000;
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      checkLeafRules(leaf);
      checkLeafRules(bad);
    }
    const perCallUs = ((performance.now() - start) * 1000) / (2 * n);
    expect(perCallUs).toBeLessThan(20);
  });
});

describe('checkSignerRules', () => {
  it.each([
    { name: 'a good chain to its root', file: 'good-leaf-chain.pem', broken: undefined },
    { name: 'an intermediate without keyUsage', file: 'intermediate-no-key-usage-chain.pem', broken: /no keyUsage extension/ },
    { name: 'an intermediate with CA:FALSE', file: 'intermediate-not-ca-chain.pem', broken: /lacks CA:TRUE/ },
    { name: 'a path length exceeded', file: 'pathlen-exceeded-chain.pem', broken: /pathLenConstraint/ },
  ])('$name', ({ file, broken }) => {
    const path = [...readPem(file), ...readPem('bundle.pem')].map((d) => certificateFacts(d));
    const result = checkSignerRules(path, 'lab.local');
    if (broken === undefined) expect(result).toBeUndefined();
    else {
      expect(result?.reason).toBe('unknown-ca');
      expect(result?.detail).toMatch(broken);
    }
  });
});

describe('reasonForTlsError', () => {
  it.each([
    { name: 'expired', code: 'CERT_HAS_EXPIRED', reason: 'expired' },
    { name: 'not yet valid', code: 'CERT_NOT_YET_VALID', reason: 'not-yet-valid' },
    { name: 'issuer unknown here', code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', reason: 'unknown-ca' },
    { name: 'issuer missing', code: 'UNABLE_TO_GET_ISSUER_CERT', reason: 'unknown-ca' },
    { name: 'leaf signature unverifiable', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', reason: 'unknown-ca' },
    { name: 'untrusted self-signed CA in the chain', code: 'SELF_SIGNED_CERT_IN_CHAIN', reason: 'unknown-ca' },
    { name: 'bad signature', code: 'CERT_SIGNATURE_FAILURE', reason: 'unknown-ca' },
    { name: 'invalid CA', code: 'INVALID_CA', reason: 'unknown-ca' },
    { name: 'path too long', code: 'PATH_LENGTH_EXCEEDED', reason: 'unknown-ca' },
    { name: 'newer OpenSSL codes Node does not name', code: 'UNSPECIFIED', reason: 'unknown-ca' },
    { name: 'self-signed leaf (an SVID leaf rule)', code: 'DEPTH_ZERO_SELF_SIGNED_CERT', reason: 'not-an-svid' },
    { name: 'wrong extended key usage', code: 'INVALID_PURPOSE', reason: 'not-an-svid' },
    { name: 'identity check refused', code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: 'unexpected-id' },
    { name: 'an unknown code', code: 'SOMETHING_NEW', reason: 'unknown-ca' },
  ] as const)('$name: $code', ({ code, reason }) => {
    expect(reasonForTlsError(code)).toBe(reason);
  });
});

/** One real handshake: the client presents `file` (with its key) to a server trusting `bundles`; returns what the server saw. */
async function handshake(file: string, bundles: BundleFiles): Promise<{ peer: CertificateFacts[]; authorizationError: string | undefined }> {
  const read = (f: string): string => readFileSync(join(FIXTURES, f), 'utf8');
  const ca = Object.values(bundles).map(read).join('');
  const server = tls.createServer({ cert: read('good-leaf.pem'), key: read('good-leaf_key.pem'), ca, requestCert: true, rejectUnauthorized: false });
  try {
    const seen = new Promise<{ peer: CertificateFacts[]; authorizationError: string | undefined }>((resolve) => {
      server.once('secureConnection', (socket: tls.TLSSocket) => {
        const peer: CertificateFacts[] = [];
        for (let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); c?.raw; ) {
          peer.push(certificateFacts(c.raw));
          const next: tls.DetailedPeerCertificate | undefined = c.issuerCertificate;
          c = next === undefined || next === c || next.fingerprint256 === c.fingerprint256 ? undefined : next;
        }
        const err = socket.authorizationError;
        resolve({ peer, authorizationError: err === null || err === undefined ? undefined : String(err) });
        socket.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = tls.connect({ host: '127.0.0.1', port, cert: read(file), key: read(file.replace(/\.pem$/, '_key.pem')), rejectUnauthorized: false });
    client.on('error', () => undefined); // the server hangs up once it has looked
    const result = await seen;
    client.destroy();
    return result;
  } finally {
    server.close();
  }
}

describe('a TLS handshake and verifySvid give a certificate the same reason', () => {
  it.each(FIXTURE_ROWS)('$name ($file)', async (row) => {
    const bundles = row.bundles ?? LAB;
    const now = new Date();
    const { peer, authorizationError } = await handshake(row.file, bundles);
    const offline = await verifySvid(readPem(row.file), bundleSet(bundles), { now });
    const online = verifyTlsPeer(peer, authorizationError, bundleSet(bundles), { now });
    expect(verdictOf(online)).toBe(verdictOf(offline));
    expect(online.spiffeId).toBe(offline.spiffeId);
    // With the whole chain in hand verifySvid can say more about an unknown CA; otherwise the sentences are the same.
    if (online.detail !== offline.detail) {
      expect(offline.reason).toBe('unknown-ca');
      expect(online.detail).toMatch(/not signed by any CA in the (lab\.local|other\.test) bundle|not in the other\.test bundle/);
    }
  });
});
