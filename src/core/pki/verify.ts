import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import { Certificate as PkiCertificate, CertificateChainValidationEngine, CryptoEngine } from 'pkijs';
import { SpiffeError, SpiffeId, type TrustDomain } from '../spiffe/index.js';
import { formatDuration } from '../duration.js';
import { PkiError } from './errors.js';
import { certificateFacts, type CertificateFacts } from './inspect.js';

/** Why an X.509-SVID was refused; the names of MeshEvent failure reasons. */
export type SvidFailureReason = 'unknown-ca' | 'expired' | 'not-yet-valid' | 'not-an-svid' | 'wrong-trust-domain' | 'unexpected-id';

export interface SvidVerification {
  readonly valid: boolean;
  /** Absent when valid. */
  readonly reason?: SvidFailureReason;
  /** A sentence a person can act on: what failed, for which certificate, and what to do. */
  readonly detail: string;
  /** The leaf's SPIFFE ID when it could be read. */
  readonly spiffeId?: string;
  /** The decoded presented chain, leaf first (only the certificates before one that could not be decoded). */
  readonly chain: readonly CertificateFacts[];
}

/** Trust bundles keyed by trust domain name: trust domain name → CA certificate DERs. */
export type BundleSet = ReadonlyMap<string, readonly Buffer[]>;

export interface VerifyOptions {
  /** The time to verify at; default the current time. */
  readonly now?: Date;
  /** The ID the peer must have; its trust domain is then expected too. */
  readonly expectedId?: SpiffeId;
  readonly expectedTrustDomain?: TrustDomain;
}

/** A leaf-rule failure, as `checkLeafRules` reports it. */
export interface LeafRuleFailure {
  readonly reason: 'not-an-svid';
  readonly detail: string;
}

// node's webcrypto drives pkijs, handed to each call rather than installed as pkijs's global engine.
// The cast bridges @types/node's webcrypto.Crypto and the DOM lib's Crypto: the same object at run time.
const engine = new CryptoEngine({ name: 'node-webcrypto', crypto: webcrypto as unknown as Crypto });

const ISSUE_HINT = 'mtls-lab issue';
const NAME_CONSTRAINTS = '2.5.29.30';

const quoted = (s: string): string => JSON.stringify(s);

/** "CN" of a subject as CertificateFacts prints it, else the whole name. */
function commonName(name: string): string {
  const m = /(?:^|, )CN=([^,]*)/.exec(name);
  return m?.[1] ?? name;
}

function fail(reason: SvidFailureReason, detail: string, chain: readonly CertificateFacts[], spiffeId?: string): SvidVerification {
  return spiffeId === undefined ? { valid: false, reason, detail, chain } : { valid: false, reason, detail, chain, spiffeId };
}

/**
 * The X.509-SVID leaf rules alone (SPIFFE X.509-SVID spec §4–5): CA:FALSE present; keyUsage with
 * digitalSignature and neither keyCertSign nor cRLSign; exactly one URI SAN holding a valid SPIFFE
 * ID with a non-root path; not self-signed. Used per TLS connection after OpenSSL validated the
 * chain, so it only reads the decoded facts. Returns undefined for a valid SVID leaf, else the
 * first broken rule, named exactly.
 */
export function checkLeafRules(leaf: CertificateFacts): LeafRuleFailure | undefined {
  const bad = (detail: string): LeafRuleFailure => ({ reason: 'not-an-svid', detail });
  if (leaf.isCa === undefined) {
    return bad('the certificate has no basicConstraints extension; an X.509-SVID leaf must state CA:FALSE, so issue it again with an SVID issuer (mtls-lab issue …).');
  }
  if (leaf.isCa) {
    return bad('the certificate is a CA certificate (CA:TRUE); an X.509-SVID leaf must be CA:FALSE: present the workload\'s svid.pem, not a CA certificate.');
  }
  const usage = leaf.keyUsage;
  if (usage === undefined) {
    return bad('the certificate has no keyUsage extension; an X.509-SVID leaf must have keyUsage digitalSignature, so issue it again with an SVID issuer (mtls-lab issue …).');
  }
  for (const forbidden of ['keyCertSign', 'cRLSign']) {
    if (usage.includes(forbidden)) {
      return bad(`the certificate has keyUsage ${forbidden}; an X.509-SVID leaf must not sign certificates or CRLs, so issue it again without ${forbidden}.`);
    }
  }
  if (!usage.includes('digitalSignature')) {
    const has = usage.length > 0 ? usage.join(', ') : 'nothing';
    return bad(`the certificate's keyUsage lacks digitalSignature (it has ${has}); an X.509-SVID leaf must have digitalSignature to sign TLS handshakes, so issue it again.`);
  }
  if (leaf.uris.length !== 1) {
    if (leaf.uris.length === 0) {
      const asDns = leaf.dnsNames.find((d) => d.startsWith('spiffe://'));
      const why = asDns !== undefined ? ` (it carries ${quoted(asDns)} as a DNS SAN, as cfssl 1.2 does; the SPIFFE ID belongs in a URI SAN)` : '';
      return bad(`the certificate has no URI SAN${why}; an X.509-SVID has exactly one, its SPIFFE ID, so issue it with ${ISSUE_HINT} or another SPIFFE-aware CA.`);
    }
    return bad(`the certificate has ${leaf.uris.length} URI SANs; an X.509-SVID has exactly one (found ${leaf.uris.map(quoted).join(', ')}), so issue one SVID per identity.`);
  }
  const uri = leaf.uris[0] as string;
  let id: SpiffeId;
  try {
    id = SpiffeId.parse(uri);
  } catch (err) {
    const why = err instanceof SpiffeError ? err.message.replace(/^spiffe: /, '') : 'an X.509-SVID names its workload as spiffe://<trust domain>/<path>.';
    return bad(`the certificate's URI SAN ${quoted(uri)} is not a valid SPIFFE ID, so this is not an X.509-SVID: ${why}`);
  }
  if (id.isRoot()) {
    return bad(`the certificate's URI SAN ${quoted(uri)} is the ID of trust domain ${quoted(id.trustDomain.name)} itself, with no path; an X.509-SVID names a workload, e.g. ${uri}/ns/default/sa/web.`);
  }
  if (leaf.selfSigned) {
    return bad(`the certificate for ${uri} is self-signed; an X.509-SVID is signed by a CA of its trust domain, so issue it with ${ISSUE_HINT} ${uri}.`);
  }
  return undefined;
}

/** The single URI SAN of a leaf when it is a SPIFFE ID (root IDs included), for reporting. */
function readableId(leaf: CertificateFacts): SpiffeId | undefined {
  if (leaf.uris.length !== 1) return undefined;
  try {
    return SpiffeId.parse(leaf.uris[0] as string);
  } catch {
    return undefined;
  }
}

interface ChainCert {
  readonly der: Buffer;
  readonly facts: CertificateFacts;
  readonly x509: X509Certificate;
  readonly pkijs: PkiCertificate;
  readonly anchor: boolean;
}

function chainCert(der: Buffer, facts: CertificateFacts, anchor: boolean): ChainCert {
  return { der, facts, x509: new X509Certificate(der), pkijs: PkiCertificate.fromBER(new Uint8Array(der)), anchor };
}

/** Names the i-th certificate of a path (leaf first) in a detail sentence. */
type RoleOf = (i: number) => string;

function describeCa(f: CertificateFacts, anchor: boolean, td: string): string {
  return anchor ? `root CA ${quoted(commonName(f.subject))} of the ${td} bundle` : `intermediate CA ${quoted(commonName(f.subject))}`;
}

function chainRoles(path: readonly ChainCert[], td: string): RoleOf {
  return (i) => (i === 0 ? 'the certificate' : describeCa((path[i] as ChainCert).facts, (path[i] as ChainCert).anchor, td));
}

/** Roles for a chain whose last certificate is the trust anchor when it is self-signed (a TLS peer's chain). */
function factRoles(path: readonly CertificateFacts[], td: string): RoleOf {
  const last = path.length - 1;
  return (i) => (i === 0 ? 'the certificate' : describeCa(path[i] as CertificateFacts, i === last && (path[i] as CertificateFacts).selfSigned, td));
}

/** The first certificate of a path outside its validity period at `now`, with what to do about it. */
function timeProblem(path: readonly CertificateFacts[], roleOf: RoleOf, now: Date, id: string): { reason: 'expired' | 'not-yet-valid'; detail: string } | undefined {
  const t = now.getTime();
  const last = path.length - 1;
  for (let i = 0; i <= last; i++) {
    const f = path[i] as CertificateFacts;
    if (f.notAfter.getTime() < t) {
      const ago = formatDuration(t - f.notAfter.getTime());
      const fix =
        i === 0
          ? `issue a new one (${ISSUE_HINT} ${id}) and check that rotation is running`
          : i === last && f.selfSigned
            ? 'make a new CA (mtls-lab ca init --force) and hand out its bundle'
            : 'every SVID it signed fails with it: renew the CA (mtls-lab ca init --force) and issue new SVIDs';
      return { reason: 'expired', detail: `${roleOf(i)} expired ${ago} ago at ${f.notAfter.toISOString()}; ${fix}.` };
    }
    if (f.notBefore.getTime() > t) {
      const until = formatDuration(f.notBefore.getTime() - t);
      return {
        reason: 'not-yet-valid',
        detail: `${roleOf(i)} is not valid until ${f.notBefore.toISOString()}, ${until} from now; check the clocks of this machine and of the issuer, or issue a new one (${ISSUE_HINT} ${id}).`,
      };
    }
  }
  return undefined;
}

/** The first signer of `path` (leaf first) that may not sign: CA:TRUE with keyCertSign, within its pathLenConstraint. */
function signerProblem(path: readonly CertificateFacts[], roleOf: RoleOf, td: string): string | undefined {
  for (let i = 1; i < path.length; i++) {
    const f = path[i] as CertificateFacts;
    const who = roleOf(i);
    if (f.isCa !== true) {
      return `${who}, which signed ${roleOf(i - 1)}, is not a CA certificate (it lacks CA:TRUE), so nothing it signs is trusted; issue from a real CA of the ${td} trust domain.`;
    }
    if (f.keyUsage === undefined || !f.keyUsage.includes('keyCertSign')) {
      const has = f.keyUsage === undefined ? 'has no keyUsage extension' : `has keyUsage ${f.keyUsage.join(', ') || '(empty)'} but not keyCertSign`;
      return `${who} ${has}, so it may not sign certificates (a signing certificate needs CA:TRUE and keyCertSign); issue from a CA whose certificate has keyCertSign.`;
    }
    // Intermediate CA certificates below this one; the leaf does not count (RFC 5280 §4.2.1.9).
    const below = i - 1;
    if (f.pathLength !== undefined && below > f.pathLength) {
      return `${who} allows ${f.pathLength} intermediate CA${f.pathLength === 1 ? '' : 's'} below it (pathLenConstraint) but the chain has ${below}; issue from a CA allowed to sign at that depth.`;
    }
  }
  return undefined;
}

/**
 * The signer rules alone, for a validated path (leaf first, trust anchor last) such as a TLS peer's
 * chain: every certificate above the leaf is CA:TRUE with keyCertSign and within its
 * pathLenConstraint. Node's TLS (no X509_V_FLAG_X509_STRICT) accepts a CA certificate with no
 * keyUsage; this keeps a sidecar's verdict equal to `verifySvid`'s. `trustDomain` only names the
 * bundle in the detail.
 */
export function checkSignerRules(path: readonly CertificateFacts[], trustDomain: string): { reason: 'unknown-ca'; detail: string } | undefined {
  const detail = signerProblem(path, factRoles(path, trustDomain), trustDomain);
  return detail === undefined ? undefined : { reason: 'unknown-ca', detail };
}

interface Walk {
  readonly path: ChainCert[];
  readonly anchored: boolean;
  /** A certificate whose issuer name matched a CA whose key did not verify its signature. */
  readonly forged?: { readonly child: number; readonly issuer: ChainCert };
}

/**
 * Builds the path by name and signature alone, the way a person would follow it, to explain a
 * failure: which certificate ends the chain, and whether the bundle was reached. Dates and CA flags
 * are not considered here.
 */
function walk(leaf: ChainCert, intermediates: readonly ChainCert[], anchors: readonly ChainCert[]): Walk {
  const path: ChainCert[] = [leaf];
  for (let cur = leaf; path.length <= 16; ) {
    if (anchors.some((a) => a.der.equals(cur.der))) return { path, anchored: true };
    if (cur.facts.selfSigned) break;
    let next: ChainCert | undefined;
    let namesake: ChainCert | undefined;
    for (const cand of [...anchors, ...intermediates]) {
      if (path.includes(cand) || cand.x509.subject !== cur.x509.issuer) continue;
      if (signedBy(cur, cand)) {
        next = cand;
        break;
      }
      namesake ??= cand;
    }
    if (next === undefined) {
      return namesake ? { path, anchored: false, forged: { child: path.length - 1, issuer: namesake } } : { path, anchored: false };
    }
    path.push(next);
    if (next.anchor) return { path, anchored: true };
    cur = next;
  }
  return { path, anchored: false };
}

function signedBy(child: ChainCert, issuer: ChainCert): boolean {
  try {
    return child.x509.verify(issuer.x509.publicKey);
  } catch {
    return false; // e.g. an RSA signature against an EC key
  }
}

function unknownCaDetail(w: Walk, td: string, sent: number): string {
  const last = w.path.length - 1;
  const roleOf = chainRoles(w.path, td);
  if (w.forged) {
    const who = roleOf(w.forged.child);
    const whose = describeCa(w.forged.issuer.facts, w.forged.issuer.anchor, td);
    return `${who} is not signed by any CA in the ${td} bundle: its issuer is named like ${whose}, but that CA's key does not verify its signature, so it was signed by a different key under the same name (a rogue CA) or altered; trust only SVIDs issued by the ${td} CA.`;
  }
  const end = w.path[last] as ChainCert;
  const who = roleOf(last);
  const issuerName = end.x509.issuer.replace(/\n/g, ', ');
  if (end.facts.selfSigned) {
    return `${who} is not signed by any CA in the ${td} bundle: the chain ends at self-signed ${quoted(issuerName)}, which the bundle does not hold; use an SVID issued by the ${td} CA, or add that CA's bundle if you mean to trust it.`;
  }
  const others = sent - 1;
  const missing =
    last === 0 && others === 0
      ? 'if that is an intermediate CA, send it after the leaf (svid.pem holds the leaf, then its intermediates)'
      : `it is neither in the bundle nor among the ${others} other certificate${others === 1 ? '' : 's'} sent with it; send the missing intermediate, or trust the right bundle`;
  const sub = last === 0 ? '' : ` (reached through ${last} intermediate${last === 1 ? '' : 's'})`;
  return `${who}${sub} is not signed by any CA in the ${td} bundle: its issuer is ${quoted(issuerName)}; ${missing}.`;
}

type Identity = { readonly id: SpiffeId; readonly bundle: readonly Buffer[] } | { readonly failure: SvidVerification };

/** Leaf rules, then the trust domain: the checks shared by `verifySvid` and `verifyTlsPeer`, in their order. */
function identityOf(facts: readonly CertificateFacts[], bundles: BundleSet, opts: VerifyOptions): Identity {
  const leaf = facts[0] as CertificateFacts;
  const readable = readableId(leaf);
  const spiffeId = readable?.toString();
  const ruleBroken = checkLeafRules(leaf);
  if (ruleBroken) return { failure: fail(ruleBroken.reason, ruleBroken.detail, facts, spiffeId) };
  const id = readable as SpiffeId;
  const td = id.trustDomain;
  const expectedTd = opts.expectedTrustDomain ?? opts.expectedId?.trustDomain;
  if (expectedTd !== undefined && !td.equals(expectedTd)) {
    const detail = `${id.toString()} belongs to trust domain ${quoted(td.name)}, but ${quoted(expectedTd.name)} was expected; present an SVID of ${expectedTd.name}.`;
    return { failure: fail('wrong-trust-domain', detail, facts, spiffeId) };
  }
  const bundle = bundles.get(td.name);
  if (bundle === undefined || bundle.length === 0) {
    const known = [...bundles].filter(([, b]) => b.length > 0).map(([name]) => name);
    const have = known.length > 0 ? `only for ${known.map(quoted).join(', ')}` : 'for no trust domain';
    const detail = `${id.toString()} belongs to trust domain ${quoted(td.name)}, but there is a bundle ${have}; present an SVID of a trusted trust domain, or add the ${td.name} bundle to federate with it.`;
    return { failure: fail('wrong-trust-domain', detail, facts, spiffeId) };
  }
  return { id, bundle };
}

/** The last check, once the chain is trusted: the expected ID. */
function finish(id: SpiffeId, facts: readonly CertificateFacts[], opts: VerifyOptions, now: Date): SvidVerification {
  if (opts.expectedId !== undefined && !opts.expectedId.equals(id)) {
    const detail = `the peer is ${id.toString()}, not the expected ${opts.expectedId.toString()}; check which service answered, or expect the ID it really has.`;
    return fail('unexpected-id', detail, facts, id.toString());
  }
  const left = formatDuration((facts[0] as CertificateFacts).notAfter.getTime() - now.getTime());
  return { valid: true, detail: `${id.toString()} verified to the ${id.trustDomain.name} bundle, expires in ${left}`, spiffeId: id.toString(), chain: facts };
}

/**
 * Full offline verification of an X.509-SVID chain (leaf first, then intermediates) against the
 * bundle of the leaf's trust domain. In order: undecodable input and the SVID leaf rules
 * (`not-an-svid`); the leaf's trust domain has no bundle or is not the expected one
 * (`wrong-trust-domain`); RFC 5280 path validation by pkijs's CertificateChainValidationEngine
 * (node's webcrypto) plus the signer checks pkijs does not make (CA:TRUE with keyCertSign,
 * pathLenConstraint), where a path that reaches the bundle through a certificate outside its
 * validity is `expired` / `not-yet-valid` and any other failure `unknown-ca`; finally the expected
 * ID (`unexpected-id`). Never throws for a bad presented chain: the verdict says what failed, for
 * which certificate. Throws PkiError `bad-certificate` when a bundle certificate cannot be decoded
 * (bad input, not a bad peer).
 */
export async function verifySvid(chain: readonly Buffer[], bundles: BundleSet, opts: VerifyOptions = {}): Promise<SvidVerification> {
  const now = opts.now ?? new Date();
  if (chain.length === 0) {
    return fail('not-an-svid', 'no certificate was presented; pass the SVID file (svid.pem: the leaf, then its intermediates).', []);
  }
  const facts: CertificateFacts[] = [];
  for (let i = 0; i < chain.length; i++) {
    try {
      facts.push(certificateFacts(chain[i] as Buffer));
    } catch {
      const which = i === 0 ? 'the leaf certificate' : `certificate ${i + 1} of the chain`;
      return fail('not-an-svid', `${which} is not a valid X.509 certificate; pass the svid.pem that mTLS Lab (or your SPIFFE CA) issued.`, facts);
    }
  }
  const identity = identityOf(facts, bundles, opts);
  if ('failure' in identity) return identity.failure;
  const { id } = identity;
  const td = id.trustDomain.name;
  const spiffeId = id.toString();

  const anchors = identity.bundle.map((der, i) => {
    try {
      return chainCert(der, certificateFacts(der), true);
    } catch {
      throw new PkiError('bad-certificate', `pki: certificate ${i + 1} of the ${td} bundle is not a valid X.509 certificate; pass the bundle.pem that "mtls-lab ca bundle" wrote.`);
    }
  });
  let presented: ChainCert[];
  try {
    presented = chain.map((der, i) => chainCert(der, facts[i] as CertificateFacts, false));
  } catch {
    return fail('not-an-svid', 'the chain holds a certificate that cannot be decoded for path validation; pass the svid.pem that mTLS Lab (or your SPIFFE CA) issued.', facts, spiffeId);
  }
  const [leaf, ...intermediates] = presented as [ChainCert, ...ChainCert[]];

  const validator = new CertificateChainValidationEngine({
    trustedCerts: anchors.map((a) => a.pkijs),
    // pkijs validates the last certificate of `certs`.
    certs: [...intermediates.map((n) => n.pkijs), leaf.pkijs],
    checkDate: now,
  });
  const result = await validator.verify({}, engine);
  if (result.result) {
    const byObject = new Map<PkiCertificate, ChainCert>([...anchors, ...presented].map((n) => [n.pkijs, n]));
    const path = (result.certificatePath ?? []).map((c) => byObject.get(c)).filter((n): n is ChainCert => n !== undefined);
    const problem = signerProblem(
      path.map((n) => n.facts),
      chainRoles(path, td),
      td,
    );
    if (problem !== undefined) return fail('unknown-ca', problem, facts, spiffeId);
    return finish(id, facts, opts, now);
  }
  // pkijs says no; find out why, in the terms a person can act on.
  const w = walk(leaf, intermediates, anchors);
  if (!w.anchored) return fail('unknown-ca', unknownCaDetail(w, td, chain.length), facts, spiffeId);
  const pathFacts = w.path.map((n) => n.facts);
  const roles = chainRoles(w.path, td);
  const late = timeProblem(pathFacts, roles, now, spiffeId);
  if (late) return fail(late.reason, late.detail, facts, spiffeId);
  const constrained = w.path.findIndex((n, i) => i > 0 && (n.pkijs.extensions ?? []).some((e) => e.extnID === NAME_CONSTRAINTS));
  const why =
    signerProblem(pathFacts, roles, td) ??
    (constrained > 0 && /name constraint/i.test(result.resultMessage)
      ? `${roles(constrained)} may sign only names within its nameConstraints, and ${spiffeId} is outside them; issue the SVID from a CA whose name constraints permit ${td}.`
      : `the chain to the ${td} bundle is not valid (${result.resultMessage.replace(/\.$/, '')}); issue the SVID again from the ${td} CA.`);
  return fail('unknown-ca', why, facts, spiffeId);
}

/**
 * The verdict for a TLS peer whose chain OpenSSL has already checked, with the reasons and order of
 * `verifySvid`, so a handshake and `mtls-lab verify` agree about a certificate: leaf rules, trust
 * domain, OpenSSL's `authorizationError` (explained with the dates of the chain), the signer rules
 * Node's TLS does not enforce, that the anchor OpenSSL chained to is in the bundle *of the leaf's
 * trust domain* (OpenSSL trusts every CA it was given for every ID), then the expected ID.
 * `peerChain` is `socket.getPeerCertificate(true)` followed through `issuerCertificate`, decoded,
 * leaf first; synchronous and cheap, for use on every connection.
 */
export function verifyTlsPeer(
  peerChain: readonly CertificateFacts[],
  authorizationError: string | null | undefined,
  bundles: BundleSet,
  opts: VerifyOptions = {},
): SvidVerification {
  const now = opts.now ?? new Date();
  // A sidecar reports a missing client certificate as `no-client-cert` before it gets here.
  if (peerChain.length === 0) return fail('not-an-svid', 'the peer presented no certificate; configure it with its svid.pem and svid_key.pem.', []);
  const identity = identityOf(peerChain, bundles, opts);
  if ('failure' in identity) return identity.failure;
  const { id } = identity;
  const td = id.trustDomain.name;
  const spiffeId = id.toString();
  const roles = factRoles(peerChain, td);
  if (authorizationError) {
    const reason = reasonForTlsError(authorizationError);
    if (reason === 'expired' || reason === 'not-yet-valid') {
      const late = timeProblem(peerChain, roles, now, spiffeId);
      if (late) return fail(late.reason, late.detail, peerChain, spiffeId);
    }
    const end = peerChain[peerChain.length - 1] as CertificateFacts;
    let detail: string;
    if (reason !== 'unknown-ca') {
      detail = `OpenSSL refused the chain of ${spiffeId} (${authorizationError}); run "mtls-lab verify" on the certificate for the details.`;
    } else {
      // Node's peer chain stops where OpenSSL found no acceptable issuer, so say less than verifySvid and point to it.
      const fromSigner = end.selfSigned && inBundle(end, identity.bundle) ? signerProblem(peerChain, roles, td) : undefined;
      const what = TLS_CHAIN_HINTS[authorizationError] ?? `its chain as sent ends at issuer ${quoted(end.issuer)}`;
      detail =
        fromSigner ??
        `${roles(0)} is not signed by any CA in the ${td} bundle (OpenSSL: ${authorizationError}): ${what}; present an SVID issued by the ${td} CA with its intermediates, or run "mtls-lab verify" on it for the exact cause.`;
    }
    return fail(reason, detail, peerChain, spiffeId);
  }
  const signer = checkSignerRules(peerChain, td);
  if (signer) return fail(signer.reason, signer.detail, peerChain, spiffeId);
  const anchor = peerChain[peerChain.length - 1] as CertificateFacts;
  if (!inBundle(anchor, identity.bundle)) {
    const detail = `${roles(0)} chains to ${quoted(commonName(anchor.subject))}, which is not in the ${td} bundle (it is trusted for another trust domain); an SVID of ${td} must be issued by the ${td} CA.`;
    return fail('unknown-ca', detail, peerChain, spiffeId);
  }
  return finish(id, peerChain, opts, now);
}

const TLS_CHAIN_HINTS: Readonly<Record<string, string>> = {
  CERT_SIGNATURE_FAILURE: "a signature in its chain does not verify with the issuer's key, so a certificate was altered or signed by a different key under the same name (a rogue CA)",
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends at a self-signed CA that the bundle does not hold',
};

function inBundle(cert: CertificateFacts, bundle: readonly Buffer[]): boolean {
  return bundle.some((der) => createHash('sha256').update(der).digest('hex') === cert.fingerprintSha256);
}

const TLS_REASONS: Readonly<Record<string, SvidFailureReason>> = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not-yet-valid',
  // The peer's certificate itself is malformed or misused.
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'not-an-svid',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'not-an-svid',
  INVALID_PURPOSE: 'not-an-svid',
  // A self-signed leaf breaks an SVID leaf rule; verifySvid and checkLeafRules say not-an-svid too.
  DEPTH_ZERO_SELF_SIGNED_CERT: 'not-an-svid',
  // The identity check (checkServerIdentity) refused the peer's ID.
  HOSTNAME_MISMATCH: 'unexpected-id',
  ERR_TLS_CERT_ALTNAME_INVALID: 'unexpected-id',
};

/**
 * Maps a Node/OpenSSL TLS `authorizationError` code to our reason. Everything about the chain
 * (unknown issuer, bad signature, self-signed CA in the chain, invalid CA, path length, and the
 * `UNSPECIFIED` Node reports for newer OpenSSL codes) is `unknown-ca`; expiry and not-yet-valid are
 * their own. Run `checkLeafRules` on the leaf first, as `verifySvid` does, so both paths give a
 * certificate the same reason.
 */
export function reasonForTlsError(code: string): SvidFailureReason {
  return TLS_REASONS[code] ?? 'unknown-ca';
}
