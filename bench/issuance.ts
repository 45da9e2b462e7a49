// Issuance benchmark: how many X.509-SVIDs a second mTLS Lab's CA makes, next to the peers it was
// chosen over (DESIGN.md "Dependencies"), measured in one process, one path after another, each
// for the same time budget after a warm-up. Every path's output is checked once before it is timed,
// so a broken path cannot look fast.
import { X509Certificate, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as X509 from '@peculiar/x509';
import x509Package from '@peculiar/x509/package.json';
import { CertificateAuthority } from '../src/core/ca/authority.js';
import { verifyCsr } from '../src/core/pki/csr.js';
import { generateKeyPair } from '../src/core/pki/keys.js';
import { certificatesFromPem, toPem } from '../src/core/pki/pem.js';
import { SpiffeId, TrustDomain } from '../src/core/spiffe/index.js';
import { measureAsync, measureSync, type Budget, type Measurement } from './measure.js';
import { formatCount, formatFixed, formatRatio, ratio, renderTable, type Column } from './table.js';

export type { Measurement } from './measure.js';

/** DESIGN.md's goal for EC P-256 issuance including key generation, on one core. */
export const TARGET_EC_PER_SEC = 3000;
export const DEFAULT_BUDGET_MS = 2000;
export const DEFAULT_CSR_POOL = 200;

const TRUST_DOMAIN = 'lab.local';
const SPIFFE_ID = `spiffe://${TRUST_DOMAIN}/ns/bench/sa/orders`;
const SVID_TTL_MS = 3_600_000;
const LEAF_BACKDATE_MS = 30_000;
// Roughly the size of an SVID's TBSCertificate, so the floor signs what a CA signs.
const TBS_SIZE = 300;

export interface IssuanceOptions {
  /** Timed wall-clock budget per path. */
  readonly budgetMs: number;
  /** Untimed run before each path; default an eighth of the budget. */
  readonly warmupMs?: number;
  /** CSRs made before the CSR path is timed; default 200. */
  readonly csrPoolSize?: number;
  /** Receives one line as each path starts. */
  readonly progress?: (line: string) => void;
}

export type PathKey = 'oursEc' | 'oursEcCsr' | 'oursRsa' | 'peculiarX509Ec' | 'opensslCliEc' | 'nodeCryptoFloorEc';

export interface IssuanceResult {
  readonly ecP256PerSec: number;
  readonly ecP256CsrPerSec: number;
  readonly rsa2048PerSec: number;
  readonly peers: {
    readonly peculiarX509EcPerSec: number;
    /** null when no `openssl` command is on the PATH. */
    readonly opensslCliEcPerSec: number | null;
    readonly nodeCryptoFloorEcPerSec: number;
  };
  /** Each is "a per second over b per second": above 1 means a is faster. */
  readonly ratios: {
    readonly oursOverPeculiarX509: number | null;
    readonly oursOverOpensslCli: number | null;
    readonly oursOverFloor: number | null;
    readonly csrOverOurs: number | null;
    readonly rsaOverOurs: number | null;
  };
  readonly target: { readonly ecP256PerSec: number; readonly met: boolean };
  readonly budgetMs: number;
  readonly warmupMs: number;
  readonly csrPoolSize: number;
  readonly paths: Readonly<Record<PathKey, Measurement | null>>;
  readonly versions: {
    readonly node: string;
    readonly nodeOpenssl: string;
    readonly opensslCli: string | null;
    readonly peculiarX509: string;
  };
}

const LABELS: Readonly<Record<PathKey, string>> = {
  oursEc: 'ours: EC P-256, key generated',
  oursEcCsr: 'ours: EC P-256 from a CSR',
  oursRsa: 'ours: RSA-2048, key generated',
  peculiarX509Ec: `@peculiar/x509 ${x509Package.version}: EC P-256`,
  opensslCliEc: 'openssl CLI: EC P-256, 1 process/cert',
  nodeCryptoFloorEc: 'floor: node:crypto keygen+sign+PKCS#8',
};

/** A certificate a path made (leaf DER, for the check) and the bytes it would write for it. */
interface Issued {
  readonly der: Uint8Array;
  readonly bytes: number;
}

// ---------------------------------------------------------------------------------------------
// Checks: each path's certificate must be an SVID signed by its CA before its speed counts.

function assertSvid(der: Uint8Array, issuerKey: KeyObject, path: PathKey): void {
  const cert = new X509Certificate(der);
  const problem = !cert.verify(issuerKey)
    ? 'its signature does not verify with the CA key'
    : cert.subjectAltName !== `URI:${SPIFFE_ID}`
      ? `its SAN is "${cert.subjectAltName ?? ''}", not URI:${SPIFFE_ID}`
      : cert.ca
        ? 'it is a CA certificate'
        : undefined;
  if (problem) throw new Error(`bench: the "${LABELS[path]}" path made a certificate that is not a valid X.509-SVID (${problem}); fix the path before timing it.`);
}

// ---------------------------------------------------------------------------------------------
// @peculiar/x509

type X509Module = typeof X509;

async function loadX509(): Promise<X509Module> {
  // tsyringe, which @peculiar/x509 resolves its algorithms through, needs the Reflect metadata API.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(globalThis.crypto);
  return x509;
}

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

// 16 random bytes whose first is 0x01..0x7f: a positive, minimally encoded DER INTEGER.
function positiveSerialHex(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01;
  return b.toString('hex');
}

interface PeculiarIssuer {
  readonly issue: () => Promise<Issued>;
  readonly caPublicKey: KeyObject;
}

/**
 * The library's default path: webcrypto keys, X509CertificateGenerator.create, and the four
 * extensions that make an SVID. Ours and openssl also write SKI and AKI; leaving them out here
 * (SKI would cost the library another async digest) makes this row, if anything, generous.
 */
async function peculiarIssuer(x509: X509Module): Promise<PeculiarIssuer> {
  const subtle = globalThis.crypto.subtle;
  const ca = await subtle.generateKey(ECDSA_P256, false, ['sign', 'verify']);
  const caPublicKey = createPublicKey({ key: Buffer.from(await subtle.exportKey('spki', ca.publicKey)), format: 'der', type: 'spki' });
  const issue = async (): Promise<Issued> => {
    const keys = await subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: positiveSerialHex(),
      subject: 'O=mTLS Lab, CN=orders',
      issuer: `O=mTLS Lab, CN=mTLS Lab root CA ${TRUST_DOMAIN}`,
      notBefore: new Date(now - LEAF_BACKDATE_MS),
      notAfter: new Date(now + SVID_TTL_MS),
      publicKey: keys.publicKey,
      signingKey: ca.privateKey,
      signingAlgorithm: ECDSA_P256,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: SPIFFE_ID }]),
      ],
    });
    const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
    const bytes = toPem('PRIVATE KEY', new Uint8Array(pkcs8)).length + cert.toString('pem').length;
    return { der: new Uint8Array(cert.rawData), bytes };
  };
  return { issue, caPublicKey };
}

/** PEM CSRs for fresh EC P-256 keys, made by another library so ours is fed what a user brings. */
async function csrPool(x509: X509Module, size: number): Promise<Buffer[]> {
  const pool: Buffer[] = [];
  for (let i = 0; i < size; i++) {
    const keys = await globalThis.crypto.subtle.generateKey(ECDSA_P256, false, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=bench-${i}`, keys, signingAlgorithm: ECDSA_P256 });
    pool.push(Buffer.from(csr.toString('pem'), 'latin1'));
  }
  return pool;
}

// ---------------------------------------------------------------------------------------------
// openssl CLI

function opensslVersion(): string | null {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

// Same leaf as ours: subject O + CN, the SVID extensions with SAN non-critical, SKI and AKI.
const OPENSSL_CONFIG = `[req]
distinguished_name = dn
x509_extensions = svid
prompt = no
[dn]
O = mTLS Lab
CN = orders
[svid]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = URI:${SPIFFE_ID}
`;

/** One `openssl req -x509 -CA` per certificate: a new P-256 key (PKCS#8 PEM) and a leaf signed by our root. */
function opensslIssuer(dir: string, ca: CertificateAuthority): () => Issued {
  ca.save(dir);
  const config = join(dir, 'svid.cnf');
  writeFileSync(config, OPENSSL_CONFIG);
  const cert = join(dir, 'svid.pem');
  const key = join(dir, 'svid_key.pem');
  const args = ['req', '-x509', '-config', config, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc',
    '-keyout', key, '-out', cert, '-CA', join(dir, 'ca', 'root.pem'), '-CAkey', join(dir, 'ca', 'root_key.pem'), '-days', '1'];
  return () => {
    const r = spawnSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`bench: openssl ${args.slice(0, 2).join(' ')} failed (${r.stderr.toString().trim() || `status ${r.status}`}); check the openssl CLI is OpenSSL 3.0 or later.`);
    const pem = readFileSync(cert, 'latin1');
    return { der: certificatesFromPem(pem, cert)[0] as Buffer, bytes: pem.length + statSync(key).size };
  };
}

// ---------------------------------------------------------------------------------------------
// The section

/** Measures every issuance path in turn, each for `budgetMs` after its warm-up. */
export async function runIssuance(o: IssuanceOptions): Promise<IssuanceResult> {
  const budgetMs = o.budgetMs;
  const warmupMs = o.warmupMs ?? Math.round(budgetMs / 8);
  const csrPoolSize = o.csrPoolSize ?? DEFAULT_CSR_POOL;
  const say = o.progress ?? ((): void => undefined);
  const budget: Budget = { budgetMs, warmupMs, minOps: 1 };
  const id = SpiffeId.parse(SPIFFE_ID);
  const td = TrustDomain.parse(TRUST_DOMAIN);
  const paths: Record<PathKey, Measurement | null> = {
    oursEc: null, oursEcCsr: null, oursRsa: null, peculiarX509Ec: null, opensslCliEc: null, nodeCryptoFloorEc: null,
  };

  // 1. Ours, EC P-256: key generated, the cert and the key PEM-encoded as `issue` writes them.
  const ecCa = CertificateAuthority.create({ trustDomain: td, keyType: 'ec-p256' });
  const ecCaKey = ecCa.issuingCertificate.publicKey;
  const chainPem = (chain: readonly Buffer[]): string => chain.map((d) => toPem('CERTIFICATE', d)).join('');
  const issueWithKey = (ca: CertificateAuthority): Issued => {
    const svid = ca.issue({ id });
    const bytes = toPem('PRIVATE KEY', svid.key?.pkcs8 ?? Buffer.alloc(0)).length + chainPem(svid.chain).length;
    return { der: svid.chain[0] as Buffer, bytes };
  };
  assertSvid(issueWithKey(ecCa).der, ecCaKey, 'oursEc');
  say(`issuance: ${LABELS.oursEc}`);
  paths.oursEc = measureSync(() => issueWithKey(ecCa).bytes, budget);

  // 2. Ours from a CSR: the pool is made before timing; verifyCsr + issue + cert PEM are timed.
  const x509 = await loadX509();
  say(`issuance: making ${csrPoolSize} CSRs with @peculiar/x509 (untimed)`);
  const pool = await csrPool(x509, csrPoolSize);
  let next = 0;
  const issueFromCsr = (): Issued => {
    const csr = pool[next++ % pool.length] as Buffer;
    const svid = ecCa.issue({ id, publicKey: verifyCsr(csr).publicKey });
    return { der: svid.chain[0] as Buffer, bytes: chainPem(svid.chain).length };
  };
  assertSvid(issueFromCsr().der, ecCaKey, 'oursEcCsr');
  say(`issuance: ${LABELS.oursEcCsr}`);
  paths.oursEcCsr = measureSync(() => issueFromCsr().bytes, budget);

  // 3. Ours, RSA-2048 under an RSA root: RSA key generation dominates; at least 3 are counted.
  const rsaCa = CertificateAuthority.create({ trustDomain: td, keyType: 'rsa-2048' });
  assertSvid(issueWithKey(rsaCa).der, rsaCa.issuingCertificate.publicKey, 'oursRsa');
  say(`issuance: ${LABELS.oursRsa}`);
  paths.oursRsa = measureSync(() => issueWithKey(rsaCa).bytes, { ...budget, warmupMs: 0, minOps: 3 });

  // 4. @peculiar/x509's own path, async, one certificate at a time.
  const peculiar = await peculiarIssuer(x509);
  assertSvid((await peculiar.issue()).der, peculiar.caPublicKey, 'peculiarX509Ec');
  say(`issuance: ${LABELS.peculiarX509Ec}`);
  paths.peculiarX509Ec = await measureAsync(async () => (await peculiar.issue()).bytes, budget);

  // 5. The openssl CLI, one process per certificate, sequentially.
  const opensslCli = opensslVersion();
  if (opensslCli !== null) {
    const dir = mkdtempSync(join(tmpdir(), 'mtls-lab-bench-'));
    try {
      const viaOpenssl = opensslIssuer(dir, ecCa);
      assertSvid(viaOpenssl().der, ecCaKey, 'opensslCliEc');
      say(`issuance: ${LABELS.opensslCliEc}`);
      paths.opensslCliEc = measureSync(() => viaOpenssl().bytes, budget);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    say('issuance: no openssl command on the PATH; its row is skipped');
  }

  // 6. The floor: the node:crypto calls any issuer must make, with no certificate around them.
  const floorCa = generateKeyPair('ec-p256').privateKey;
  const tbs = randomBytes(TBS_SIZE);
  say(`issuance: ${LABELS.nodeCryptoFloorEc}`);
  paths.nodeCryptoFloorEc = measureSync(() => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return sign('sha256', tbs, floorCa).length + privateKey.export({ type: 'pkcs8', format: 'der' }).length;
  }, budget);

  const ec = paths.oursEc.perSec;
  const r3 = (a: number | undefined, b: number | undefined): number | null => {
    const v = ratio(a, b);
    return v === null ? null : Number(v.toPrecision(3));
  };
  return {
    ecP256PerSec: ec,
    ecP256CsrPerSec: paths.oursEcCsr.perSec,
    rsa2048PerSec: paths.oursRsa.perSec,
    peers: {
      peculiarX509EcPerSec: paths.peculiarX509Ec.perSec,
      opensslCliEcPerSec: paths.opensslCliEc?.perSec ?? null,
      nodeCryptoFloorEcPerSec: paths.nodeCryptoFloorEc.perSec,
    },
    ratios: {
      oursOverPeculiarX509: r3(ec, paths.peculiarX509Ec.perSec),
      oursOverOpensslCli: r3(ec, paths.opensslCliEc?.perSec),
      oursOverFloor: r3(ec, paths.nodeCryptoFloorEc.perSec),
      csrOverOurs: r3(paths.oursEcCsr.perSec, ec),
      rsaOverOurs: r3(paths.oursRsa.perSec, ec),
    },
    target: { ecP256PerSec: TARGET_EC_PER_SEC, met: ec >= TARGET_EC_PER_SEC },
    budgetMs,
    warmupMs,
    csrPoolSize,
    paths,
    versions: {
      node: process.version,
      nodeOpenssl: process.versions.openssl,
      opensslCli,
      peculiarX509: x509Package.version,
    },
  };
}

const ROW_ORDER: readonly PathKey[] = ['oursEc', 'oursEcCsr', 'oursRsa', 'peculiarX509Ec', 'opensslCliEc', 'nodeCryptoFloorEc'];

/** The target line: "EC P-256 including keygen: N/s (target ≥ 3,000/s): PASS|BELOW". */
export function targetLine(perSec: number): string {
  const verdict = perSec >= TARGET_EC_PER_SEC ? 'PASS' : 'BELOW';
  return `EC P-256 including keygen: ${formatCount(perSec)}/s (target ≥ ${formatCount(TARGET_EC_PER_SEC)}/s): ${verdict}`;
}

/** The section as a table, a legend and the target line. */
export function renderIssuance(r: IssuanceResult): string {
  const ours = r.paths.oursEc?.perSec;
  const floor = r.paths.nodeCryptoFloorEc?.perSec;
  const columns: Column[] = [
    { header: 'path' },
    { header: 'certs' },
    { header: 'per second' },
    { header: 'µs per cert' },
    { header: 'CPU µs/cert' },
    { header: 'cores' },
    { header: '× ours' },
    { header: '× floor' },
  ];
  const rows = ROW_ORDER.map((key) => {
    const m = r.paths[key];
    if (!m) return [LABELS[key], 'not run'];
    return [
      LABELS[key],
      formatCount(m.ops),
      formatCount(m.perSec),
      formatFixed(m.usPerOp, 1),
      formatFixed(m.cpuUsPerOp, 1),
      formatFixed(m.cores, 2),
      formatRatio(m.perSec, ours),
      formatRatio(m.perSec, floor),
    ];
  });
  const seconds = (ms: number): string => `${formatFixed(ms / 1000, ms < 1000 ? 2 : 1)} s`;
  return [
    `Issuance: one X.509-SVID at a time on this thread, ${seconds(r.budgetMs)} per path after a ${seconds(r.warmupMs)} warm-up`,
    `  peers: @peculiar/x509 ${r.versions.peculiarX509} on webcrypto; openssl CLI ${r.versions.opensslCli ?? 'not found'}`,
    '',
    renderTable(columns, rows),
    '',
    '  × ours: row per second over "ours: EC P-256, key generated"; × floor: over the floor row.',
    '  cores: CPU time (all threads, plus child processes for openssl) over wall time; well below 1',
    '  means the path waited (or the machine was busy elsewhere), so compare rows from a quiet run.',
    '',
    targetLine(r.ecP256PerSec),
  ].join('\n');
}

/** The issuance section for bench/main.ts's registry. */
export const issuanceSection = {
  name: 'issuance',
  async run(o: IssuanceOptions): Promise<{ json: IssuanceResult; text: string }> {
    const result = await runIssuance(o);
    return { json: result, text: renderIssuance(result) };
  },
};
