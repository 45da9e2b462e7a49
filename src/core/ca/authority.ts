import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
/** X.509's notAfter is inclusive and in whole seconds: a leaf is still valid during that second, so an old CA leaves one second later. */
export const LEAF_EXPIRY_GRACE_MS = 1_000;

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

/**
 * Where a CA stands in a rotation (SPIRE's prepare → activate → retire): a prepared CA is in the
 * bundle but does not sign yet; the active one signs; an old one stays in the bundle until the
 * last SVID it signed has expired.
 */
export type CaAuthorityState = 'prepared' | 'active' | 'old';

/** One root (+ intermediate) of the CA, as a UI or the control API shows it. */
export interface CaAuthorityInfo {
  /** 1 for the CA `create` made, then one more per `prepare`. */
  readonly generation: number;
  readonly state: CaAuthorityState;
  /** Lower-case hex. */
  readonly rootSerial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly hasIntermediate: boolean;
  /** The latest notAfter of the SVIDs it signed; absent when it signed none. */
  readonly lastLeafNotAfter?: Date;
}

/** What a rotation step changed: the fields of a 'ca/changed' event, which the caller emits. */
export interface CaChange {
  readonly phase: 'prepared' | 'activated' | 'retired';
  /** Serial of the root this step concerns (lower-case hex). */
  readonly serial: string;
  /** That root's notAfter, ISO 8601. */
  readonly notAfter: string;
  /** Serials of every root in the bundle after the step. */
  readonly bundle: readonly string[];
  /** The SPIFFE bundle's `spiffe_sequence` after the step. */
  readonly sequence: number;
}

interface Authority {
  readonly generation: number;
  readonly root: Signer;
  readonly intermediate: Signer | undefined;
  state: CaAuthorityState;
  /** ms since the epoch; undefined while it has signed nothing. */
  lastLeafNotAfter: number | undefined;
  encoder: SvidEncoder | undefined;
}

interface AuthorityRecord {
  readonly generation: number;
  readonly state: CaAuthorityState;
  readonly intermediate: boolean;
  readonly lastLeafNotAfter: string | null;
}

interface CaManifest {
  readonly version: 1;
  readonly trustDomain: string;
  /** Of the active CA; the fields up to `createdAt` keep the single-root layout readable. */
  readonly keyType: KeyType;
  readonly intermediate: boolean;
  readonly sequence: number;
  readonly createdAt: string;
  /** Absent in the single-root layout written before CA rotation existed. */
  readonly authorities?: readonly AuthorityRecord[];
}

function signerFrom(cert: Buffer, key: KeyObject): Signer {
  const x509 = new X509Certificate(cert);
  const parsed = AsnConvert.parse(cert, Certificate);
  return { cert, key, x509, keyId: keyIdentifier(parsed.tbsCertificate.subjectPublicKeyInfo) };
}

/** File stem of a generation's certificate: generation 1 keeps the names of the single-root layout. */
function stem(kind: 'root' | 'intermediate', generation: number): string {
  return generation === 1 ? kind : `${kind}-${generation}`;
}

const CA_FILE = /^(root|intermediate)(?:-(\d+))?(?:_key)?\.pem$/;

const serialOf = (s: Signer): string => s.x509.serialNumber.toLowerCase();

function makeAuthority(td: TrustDomain, keyType: KeyType, generation: number, now: Date, caTtlMs: number, withIntermediate: boolean): Authority {
  const notBefore = new Date(now.getTime() - CA_BACKDATE_MS);
  const notAfter = new Date(now.getTime() + caTtlMs);
  // Later generations get their own names so a person (and a name-only issuer match) can tell the roots apart.
  const suffix = generation === 1 ? '' : ` gen ${generation}`;
  const rootKey = newSubjectKey(keyType);
  const rootKeyId = keyIdentifier(parseSpki(rootKey.spki));
  const rootName = labName(`mTLS Lab root CA ${td.name}${suffix}`);
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
  if (withIntermediate) {
    const key = newSubjectKey(keyType);
    const keyId = keyIdentifier(parseSpki(key.spki));
    const cert = buildCertificate({
      subject: labName(`mTLS Lab intermediate CA ${td.name}${suffix}`),
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
  return { generation, root, intermediate, state: 'active', lastLeafNotAfter: undefined, encoder: undefined };
}

/**
 * A local certificate authority for one trust domain: a root and optionally an intermediate that
 * signs the leaves. It can rotate (prepare → activate → retire), so it may hold several roots at
 * once; exactly one of them signs.
 */
export class CertificateAuthority {
  private constructor(
    readonly trustDomain: TrustDomain,
    readonly keyType: KeyType,
    private readonly authorityList: Authority[],
    private seq: number,
    readonly createdAt: Date,
  ) {}

  /** Creates a new CA in memory; `save` persists it. */
  static create(o: CaOptions): CertificateAuthority {
    const keyType = o.keyType ?? 'ec-p256';
    const now = o.now ?? new Date();
    const first = makeAuthority(o.trustDomain, keyType, 1, now, o.caTtlMs ?? DEFAULT_CA_TTL_MS, o.intermediate === true);
    return new CertificateAuthority(o.trustDomain, keyType, [first], 1, now);
  }

  static exists(stateDir: string): boolean {
    return existsSync(join(stateDir, 'ca', 'ca.json'));
  }

  /**
   * Loads the CA persisted under `stateDir/ca`, in either layout. A CA saved before rotation
   * existed has no record of the SVIDs it signed, so it is assumed to have signed one valid for
   * the longest TTL from `now` (it cannot be retired early by mistake).
   */
  static load(stateDir: string, o: { now?: Date } = {}): CertificateAuthority {
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
      const records: readonly AuthorityRecord[] = m.authorities ?? [{ generation: 1, state: 'active', intermediate: m.intermediate, lastLeafNotAfter: null }];
      const authorities = records.map((r): Authority => {
        if (!Number.isInteger(r.generation) || r.generation < 1 || !['prepared', 'active', 'old'].includes(r.state)) {
          throw new Error(`ca.json lists an authority with generation ${String(r.generation)} and state ${String(r.state)}`);
        }
        const root = read(stem('root', r.generation));
        const intermediate = r.intermediate ? read(stem('intermediate', r.generation)) : undefined;
        let last = r.lastLeafNotAfter === null ? undefined : Date.parse(r.lastLeafNotAfter);
        if (m.authorities === undefined) {
          const issuerEnd = Date.parse((intermediate ?? root).x509.validTo);
          last = Math.min(issuerEnd, (o.now ?? new Date()).getTime() + MAX_SVID_TTL_MS);
        }
        if (last !== undefined && Number.isNaN(last)) throw new Error(`ca.json has an unreadable lastLeafNotAfter for generation ${r.generation}`);
        return { generation: r.generation, root, intermediate, state: r.state, lastLeafNotAfter: last, encoder: undefined };
      });
      const count = (state: CaAuthorityState): number => authorities.filter((a) => a.state === state).length;
      if (count('active') !== 1 || count('prepared') > 1 || new Set(authorities.map((a) => a.generation)).size !== authorities.length) {
        throw new Error('ca.json must list exactly one active authority, at most one prepared, and no generation twice');
      }
      authorities.sort((a, b) => a.generation - b.generation);
      const active = authorities.find((a) => a.state === 'active') as Authority;
      return new CertificateAuthority(td, keyTypeOf((active.intermediate ?? active.root).key), authorities, m.sequence, new Date(m.createdAt));
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
    CertificateAuthority.assertCanCreate(stateDir, o.force);
    this.write(stateDir);
  }

  /**
   * Writes this CA's current state (rotation steps, what each authority signed) over its own
   * earlier save. Refuses with `ca-exists` when the folder holds a different CA, one that shares
   * no root with this one.
   */
  persist(stateDir: string): void {
    if (CertificateAuthority.exists(stateDir)) {
      const dir = join(stateDir, 'ca');
      let onDisk: Buffer[] = [];
      try {
        onDisk = certificatesFromPem(readFileSync(join(dir, 'bundle.pem'), 'utf8'), 'bundle.pem');
      } catch {
        // An unreadable bundle shares no root with us: refused below.
      }
      if (!onDisk.some((d) => this.authorityList.some((a) => a.root.cert.equals(d)))) {
        throw new CaError('ca-exists', `ca: ${dir} holds a different CA; save this one elsewhere, or replace that one (every SVID it issued stops verifying) with "mtls-lab ca init --force".`);
      }
    }
    this.write(stateDir);
  }

  private write(stateDir: string): void {
    const dir = join(stateDir, 'ca');
    ensureDir(stateDir, PRIVATE_DIR);
    ensureDir(dir, PRIVATE_DIR);
    const keys: FileToWrite[] = [];
    const certs: FileToWrite[] = [];
    for (const a of this.authorityList) {
      for (const [kind, signer] of [['root', a.root], ['intermediate', a.intermediate]] as const) {
        if (!signer) continue;
        const name = stem(kind, a.generation);
        keys.push({ path: join(dir, `${name}_key.pem`), data: privateKeyPem(signer.key), mode: PRIVATE_FILE });
        certs.push({ path: join(dir, `${name}.pem`), data: toPem('CERTIFICATE', signer.cert), mode: PUBLIC_FILE });
      }
    }
    const active = this.active;
    const manifest: CaManifest = {
      version: 1,
      trustDomain: this.trustDomain.name,
      keyType: this.keyType,
      intermediate: active.intermediate !== undefined,
      sequence: this.seq,
      createdAt: this.createdAt.toISOString(),
      authorities: this.authorityList.map((a) => ({
        generation: a.generation,
        state: a.state,
        intermediate: a.intermediate !== undefined,
        lastLeafNotAfter: a.lastLeafNotAfter === undefined ? null : new Date(a.lastLeafNotAfter).toISOString(),
      })),
    };
    // The manifest goes last: a CA counts as present only once all its files are.
    writeFilesAtomic([
      ...keys,
      ...certs,
      { path: join(dir, 'bundle.pem'), data: this.bundlePem(), mode: PUBLIC_FILE },
      { path: join(dir, 'ca.json'), data: `${JSON.stringify(manifest, null, 2)}\n`, mode: PUBLIC_FILE },
    ]);
    // Only once the manifest no longer names them: files of retired (or replaced) authorities.
    const kept = new Set([...keys, ...certs].map((f) => f.path));
    for (const name of readdirSync(dir)) {
      if (CA_FILE.test(name) && !kept.has(join(dir, name))) rmSync(join(dir, name), { force: true });
    }
  }

  private get active(): Authority {
    return this.authorityList.find((a) => a.state === 'active') as Authority;
  }

  private get issuing(): Signer {
    const a = this.active;
    return a.intermediate ?? a.root;
  }

  get hasIntermediate(): boolean {
    return this.active.intermediate !== undefined;
  }

  /** The active (signing) authority's root. */
  get rootCertificate(): X509Certificate {
    return this.active.root.x509;
  }

  get issuingCertificate(): X509Certificate {
    return this.issuing.x509;
  }

  /** The SPIFFE bundle's `spiffe_sequence`: one more on every change of the bundle. */
  get sequence(): number {
    return this.seq;
  }

  /** Root certificates a peer trusts for this trust domain (DER): every root not retired, oldest first. */
  bundleDers(): Buffer[] {
    return this.authorityList.map((a) => a.root.cert);
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
    const active = this.active;
    active.encoder ??= new SvidEncoder(AsnConvert.parse(this.issuing.cert, Certificate).tbsCertificate.subject, this.issuing.keyId, this.issuing.key);
    const leaf = active.encoder.encode({
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
    const chain = active.intermediate ? [leaf, active.intermediate.cert] : [leaf];
    active.lastLeafNotAfter = Math.max(active.lastLeafNotAfter ?? notAfter.getTime(), notAfter.getTime());
    return { spiffeId, chain, key, serial: serial.toString('hex'), notBefore, notAfter };
  }

  /** Every authority, oldest first. */
  authorities(): CaAuthorityInfo[] {
    return this.authorityList.map((a) => ({
      generation: a.generation,
      state: a.state,
      rootSerial: serialOf(a.root),
      notBefore: new Date(a.root.x509.validFrom),
      notAfter: new Date(a.root.x509.validTo),
      hasIntermediate: a.intermediate !== undefined,
      ...(a.lastLeafNotAfter === undefined ? {} : { lastLeafNotAfter: new Date(a.lastLeafNotAfter) }),
    }));
  }

  /**
   * Rotation step 1: makes a new root (+ intermediate when the active CA has one) that enters the
   * bundle but does not sign, so every peer can learn it before any SVID depends on it. Its
   * lifetime is the active root's unless `caTtlMs` says otherwise.
   */
  prepare(o: { now?: Date; caTtlMs?: number } = {}): CaChange {
    const pending = this.authorityList.find((a) => a.state === 'prepared');
    if (pending) {
      throw new CaError('already-prepared', `ca: a new CA (root serial ${serialOf(pending.root)}) is already prepared and in the bundle; activate it before preparing another.`);
    }
    const active = this.active;
    const lifetime = Date.parse(active.root.x509.validTo) - Date.parse(active.root.x509.validFrom) - CA_BACKDATE_MS;
    const generation = Math.max(...this.authorityList.map((a) => a.generation)) + 1;
    const next = makeAuthority(this.trustDomain, this.keyType, generation, o.now ?? new Date(), o.caTtlMs ?? Math.max(lifetime, 1000), active.intermediate !== undefined);
    next.state = 'prepared';
    this.authorityList.push(next);
    this.seq++;
    return this.change('prepared', next);
  }

  /**
   * Rotation step 2: the prepared CA signs from now on; the one that signed until now becomes old
   * and stays in the bundle. Call it only once every peer has the bundle with the new root.
   */
  activate(): CaChange {
    const next = this.authorityList.find((a) => a.state === 'prepared');
    if (!next) {
      throw new CaError('not-prepared', 'ca: there is no prepared CA to activate; prepare one first, so its root is in every bundle before it signs anything.');
    }
    this.active.state = 'old';
    next.state = 'active';
    return this.change('activated', next);
  }

  /** When every old authority can be retired: a second after the latest notAfter of what they signed. Undefined when there is no old authority. */
  retireAt(): Date | undefined {
    const old = this.authorityList.filter((a) => a.state === 'old');
    if (old.length === 0) return undefined;
    const last = Math.max(-Infinity, ...old.map((a) => a.lastLeafNotAfter ?? -Infinity));
    return new Date(Number.isFinite(last) ? last + LEAF_EXPIRY_GRACE_MS : 0);
  }

  /**
   * Rotation step 3: drops from the bundle every old authority whose last SVID has expired by
   * `now`, i.e. its notAfter second has passed (every old one with `force`, which breaks the SVIDs
   * they signed). Refuses with
   * `retire-too-early` when none can go yet, `nothing-to-retire` when there is no old authority.
   */
  retire(o: { now?: Date; force?: boolean } = {}): CaChange[] {
    const now = (o.now ?? new Date()).getTime();
    const old = this.authorityList.filter((a) => a.state === 'old');
    if (old.length === 0) {
      throw new CaError('nothing-to-retire', 'ca: there is no old CA to retire; only a CA replaced by a rotation can be retired.');
    }
    const going = old.filter((a) => o.force === true || a.lastLeafNotAfter === undefined || a.lastLeafNotAfter + LEAF_EXPIRY_GRACE_MS <= now);
    if (going.length === 0) {
      const first = old.reduce((a, b) => ((a.lastLeafNotAfter ?? 0) <= (b.lastLeafNotAfter ?? 0) ? a : b));
      throw new CaError(
        'retire-too-early',
        `ca: the old CA (root serial ${serialOf(first.root)}) signed SVIDs that stay valid until ${new Date(first.lastLeafNotAfter ?? 0).toISOString()}; retire it from ${new Date((first.lastLeafNotAfter ?? 0) + LEAF_EXPIRY_GRACE_MS).toISOString()} on, or force it (those SVIDs stop verifying at once).`,
      );
    }
    const changes: CaChange[] = [];
    for (const a of going) {
      this.authorityList.splice(this.authorityList.indexOf(a), 1);
      this.seq++;
      changes.push(this.change('retired', a));
    }
    return changes;
  }

  private change(phase: CaChange['phase'], a: Authority): CaChange {
    return {
      phase,
      serial: serialOf(a.root),
      notAfter: new Date(a.root.x509.validTo).toISOString(),
      bundle: this.authorityList.map((x) => serialOf(x.root)),
      sequence: this.seq,
    };
  }
}
