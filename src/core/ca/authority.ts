import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { TrustDomain, type SpiffeId } from '../spiffe/index.js';
import { buildCertificate, caExtensions, isRsaSpki, keyIdentifier, labName, parseSpki, randomSerial, subjectKeyId } from '../pki/certificate.js';
import { keyTypeOf, loadPrivateKey, newSubjectKey, privateKeyPem, type KeyType, type SubjectKey } from '../pki/keys.js';
import { certificatesFromPem, toPem } from '../pki/pem.js';
import { SvidEncoder } from '../pki/svidEncoder.js';
import { ensureDir, PRIVATE_DIR, PRIVATE_FILE, PUBLIC_FILE, writeFilesAtomic, type FileToWrite } from '../fs/atomic.js';
import { spiffeBundle, type SpiffeBundleDocument } from './bundle.js';
import { CaError } from './errors.js';

/** Leaves and CA certificates start a little in the past so a peer with a slow clock accepts them. */
export const LEAF_BACKDATE_MS = 30_000;
export const CA_BACKDATE_MS = 60_000;
export const DEFAULT_CA_TTL_MS = 365 * 86_400_000;
export const MAX_SVID_TTL_MS = 24 * 3_600_000;
export const DEFAULT_SVID_TTL_MS = 3_600_000;

export interface CaOptions {
  readonly trustDomain: TrustDomain;
  readonly keyType?: KeyType;
  readonly intermediate?: boolean;
  readonly now?: Date;
  readonly caTtlMs?: number;
}

export interface IssueRequest {
  readonly id: SpiffeId;
  readonly ttlMs?: number;
  readonly dnsNames?: readonly string[];
  /** SPKI DER from a verified CSR; without it a key pair is generated. */
  readonly publicKey?: Buffer;
  readonly now?: Date;
}

/** A freshly issued X.509-SVID. */
export interface IssuedSvid {
  readonly spiffeId: string;
  /** Leaf DER followed by the intermediates, as svid.pem holds them. */
  readonly chain: readonly Buffer[];
  /** Absent when the request brought its own public key (CSR). */
  readonly key?: SubjectKey;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

interface Signer {
  readonly cert: Buffer;
  readonly key: KeyObject;
  readonly x509: X509Certificate;
  readonly keyId: Buffer;
}

interface CaManifest {
  readonly version: 1;
  readonly trustDomain: string;
  readonly keyType: KeyType;
  readonly intermediate: boolean;
  readonly sequence: number;
  readonly createdAt: string;
}

function signerFrom(cert: Buffer, key: KeyObject): Signer {
  const x509 = new X509Certificate(cert);
  const parsed = AsnConvert.parse(cert, Certificate);
  return { cert, key, x509, keyId: keyIdentifier(parsed.tbsCertificate.subjectPublicKeyInfo) };
}

/** A local certificate authority for one trust domain: a root and optionally an intermediate that signs the leaves. */
export class CertificateAuthority {
  private readonly encoder: SvidEncoder;
  private readonly issuerName: ReturnType<typeof labName>;

  private constructor(
    readonly trustDomain: TrustDomain,
    readonly keyType: KeyType,
    private readonly root: Signer,
    private readonly intermediate: Signer | undefined,
    readonly sequence: number,
    readonly createdAt: Date,
  ) {
    const issuing = this.issuing;
    this.issuerName = AsnConvert.parse(issuing.cert, Certificate).tbsCertificate.subject;
    this.encoder = new SvidEncoder(this.issuerName, issuing.keyId, issuing.key);
  }

  /** Creates a new CA in memory; `save` persists it. */
  static create(o: CaOptions): CertificateAuthority {
    const keyType = o.keyType ?? 'ec-p256';
    const now = o.now ?? new Date();
    const notBefore = new Date(now.getTime() - CA_BACKDATE_MS);
    const notAfter = new Date(now.getTime() + (o.caTtlMs ?? DEFAULT_CA_TTL_MS));
    const td = o.trustDomain;
    const rootKey = newSubjectKey(keyType);
    const rootKeyId = keyIdentifier(parseSpki(rootKey.spki));
    const rootName = labName(`mTLS Lab root CA ${td.name}`);
    const rootCert = buildCertificate({
      subject: rootName,
      issuer: rootName,
      serial: randomSerial(),
      notBefore,
      notAfter,
      publicKey: rootKey.spki,
      signer: rootKey.privateKey,
      extensions: caExtensions({ trustDomainId: td.idString(), subjectKeyId: rootKeyId }),
    });
    const root = signerFrom(rootCert, rootKey.privateKey);
    let intermediate: Signer | undefined;
    if (o.intermediate) {
      const key = newSubjectKey(keyType);
      const keyId = keyIdentifier(parseSpki(key.spki));
      const cert = buildCertificate({
        subject: labName(`mTLS Lab intermediate CA ${td.name}`),
        issuer: rootName,
        serial: randomSerial(),
        notBefore,
        notAfter,
        publicKey: key.spki,
        signer: rootKey.privateKey,
        extensions: caExtensions({ trustDomainId: td.idString(), subjectKeyId: keyId, authorityKeyId: rootKeyId, pathLength: 0 }),
      });
      intermediate = signerFrom(cert, key.privateKey);
    }
    return new CertificateAuthority(td, keyType, root, intermediate, 1, now);
  }

  static exists(stateDir: string): boolean {
    return existsSync(join(stateDir, 'ca', 'ca.json'));
  }

  /** Loads the CA persisted under `stateDir/ca`. */
  static load(stateDir: string): CertificateAuthority {
    const dir = join(stateDir, 'ca');
    const manifestPath = join(dir, 'ca.json');
    if (!existsSync(manifestPath)) {
      throw new CaError('no-ca', `ca: there is no CA in ${dir}; create one with "mtls-lab ca init --state ${stateDir}".`);
    }
    try {
      const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as CaManifest;
      const td = TrustDomain.parse(m.trustDomain);
      const read = (name: string): Signer => {
        const cert = certificatesFromPem(readFileSync(join(dir, `${name}.pem`), 'utf8'), `${name}.pem`)[0] as Buffer;
        const key = loadPrivateKey(readFileSync(join(dir, `${name}_key.pem`), 'utf8'), `${name}_key.pem`);
        return signerFrom(cert, key);
      };
      const root = read('root');
      const intermediate = m.intermediate ? read('intermediate') : undefined;
      return new CertificateAuthority(td, keyTypeOf((intermediate ?? root).key), root, intermediate, m.sequence, new Date(m.createdAt));
    } catch (err) {
      if (err instanceof CaError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new CaError('bad-state', `ca: the CA in ${dir} cannot be read (${why}); restore it or make a new one with "mtls-lab ca init --force --state ${stateDir}".`);
    }
  }

  /** Throws `ca-exists` unless `force` or there is no CA under `stateDir` yet. */
  static assertCanCreate(stateDir: string, force = false): void {
    if (!force && CertificateAuthority.exists(stateDir)) {
      throw new CaError('ca-exists', `ca: a CA already exists in ${join(stateDir, 'ca')}; keep it, or replace it (every SVID it issued stops verifying) with "mtls-lab ca init --force".`);
    }
  }

  /** Writes the CA under `stateDir/ca`: folder 0700, keys 0600, every file atomic, keys first. */
  save(stateDir: string, o: { force?: boolean } = {}): void {
    const dir = join(stateDir, 'ca');
    CertificateAuthority.assertCanCreate(stateDir, o.force);
    ensureDir(stateDir, PRIVATE_DIR);
    ensureDir(dir, PRIVATE_DIR);
    const files: FileToWrite[] = [{ path: join(dir, 'root_key.pem'), data: privateKeyPem(this.root.key), mode: PRIVATE_FILE }];
    if (this.intermediate) files.push({ path: join(dir, 'intermediate_key.pem'), data: privateKeyPem(this.intermediate.key), mode: PRIVATE_FILE });
    files.push({ path: join(dir, 'root.pem'), data: toPem('CERTIFICATE', this.root.cert), mode: PUBLIC_FILE });
    if (this.intermediate) files.push({ path: join(dir, 'intermediate.pem'), data: toPem('CERTIFICATE', this.intermediate.cert), mode: PUBLIC_FILE });
    files.push({ path: join(dir, 'bundle.pem'), data: this.bundlePem(), mode: PUBLIC_FILE });
    const manifest: CaManifest = {
      version: 1,
      trustDomain: this.trustDomain.name,
      keyType: this.keyType,
      intermediate: this.intermediate !== undefined,
      sequence: this.sequence,
      createdAt: this.createdAt.toISOString(),
    };
    // The manifest goes last: a CA counts as present only once all its files are.
    files.push({ path: join(dir, 'ca.json'), data: `${JSON.stringify(manifest, null, 2)}\n`, mode: PUBLIC_FILE });
    writeFilesAtomic(files);
  }

  private get issuing(): Signer {
    return this.intermediate ?? this.root;
  }

  get hasIntermediate(): boolean {
    return this.intermediate !== undefined;
  }

  get rootCertificate(): X509Certificate {
    return this.root.x509;
  }

  get issuingCertificate(): X509Certificate {
    return this.issuing.x509;
  }

  /** Root certificates a peer trusts for this trust domain (DER). */
  bundleDers(): Buffer[] {
    return [this.root.cert];
  }

  bundlePem(): string {
    return this.bundleDers().map((d) => toPem('CERTIFICATE', d)).join('');
  }

  /** The SPIFFE trust bundle (JWKS) per the SPIFFE Trust Domain and Bundle spec. */
  spiffeBundle(refreshHintSeconds = 300): SpiffeBundleDocument {
    return spiffeBundle(this.bundleDers(), this.sequence, refreshHintSeconds);
  }

  /** Issues an X.509-SVID. notAfter never passes the issuing CA's. */
  issue(req: IssueRequest): IssuedSvid {
    const ttl = req.ttlMs ?? DEFAULT_SVID_TTL_MS;
    if (!(ttl > 0) || ttl > MAX_SVID_TTL_MS) {
      throw new CaError('bad-ttl', `ca: a TTL of ${ttl} ms is out of range; SVIDs live from 1s to 24h (SPIFFE recommends 1h or less), e.g. --ttl 1h.`);
    }
    if (req.id.isRoot()) {
      throw new CaError('bad-ttl', `ca: "${req.id.toString()}" is a trust domain ID, not a workload ID; an SVID needs a path, e.g. spiffe://${req.id.trustDomain.name}/ns/default/sa/orders.`);
    }
    if (!req.id.memberOf(this.trustDomain)) {
      throw new CaError('bad-state', `ca: "${req.id.toString()}" is outside trust domain "${this.trustDomain.name}" that this CA signs for; use an ID that starts with ${this.trustDomain.idString()}/.`);
    }
    const now = (req.now ?? new Date()).getTime();
    const issuerNotAfter = new Date(this.issuing.x509.validTo).getTime();
    if (issuerNotAfter <= now) {
      throw new CaError('ca-expired', `ca: the issuing CA expired at ${new Date(issuerNotAfter).toISOString()}; make a new one with "mtls-lab ca init --force".`);
    }
    const notBefore = new Date(Math.floor((now - LEAF_BACKDATE_MS) / 1000) * 1000);
    const notAfter = new Date(Math.floor(Math.min(now + ttl, issuerNotAfter) / 1000) * 1000);
    const key = req.publicKey ? undefined : newSubjectKey(this.keyType);
    const spki = req.publicKey ?? (key as SubjectKey).spki;
    const serial = randomSerial();
    const spiffeId = req.id.toString();
    const segments = req.id.path.split('/');
    const leaf = this.encoder.encode({
      spiffeId,
      dnsNames: req.dnsNames ?? [],
      commonName: segments[segments.length - 1] || spiffeId,
      serial,
      notBefore,
      notAfter,
      publicKey: spki,
      rsa: key ? key.type === 'rsa-2048' : isRsaSpki(spki),
      subjectKeyId: subjectKeyId(spki),
    });
    const chain = this.intermediate ? [leaf, this.intermediate.cert] : [leaf];
    return { spiffeId, chain, key, serial: serial.toString('hex'), notBefore, notAfter };
  }
}
