// Judges the peer of a TLS connection with the SVID rules, on every connection, cheaply. OpenSSL
// has already checked the chain's signatures and dates (its verdict is `authorizationError`); the
// rest (leaf rules, trust domain, signer rules, anchor in the bundle of the leaf's own trust
// domain) is `verifyTlsPeer`. Decoding certificates with ASN.1 costs far more than a handshake's
// bookkeeping, so verdicts are cached per leaf fingerprint: a repeated handshake costs a map lookup.
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { RejectReason } from '../events/types.js';
import { certificateFacts, type CertificateFacts } from '../pki/inspect.js';
import { certificatesFromPem } from '../pki/pem.js';
import type { X509BundleSource } from '../pki/source.js';
import { verifyTlsPeer, reasonForTlsError, type BundleSet } from '../pki/verify.js';
import { SpiffeId } from '../spiffe/index.js';

/** A TLS peer was refused; `code` is the mesh's reason, the message a sentence for people. */
export class TlsPeerError extends Error {
  override readonly name = 'TlsPeerError';
  constructor(
    readonly code: RejectReason,
    message: string,
    /** The peer's SPIFFE ID when its certificate named one. */
    readonly spiffeId?: string,
  ) {
    super(message);
  }
}

export type PeerCheck =
  | { readonly ok: true; readonly id: SpiffeId; readonly spiffeId: string }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string; readonly spiffeId?: string };

interface Verdict {
  readonly check: PeerCheck;
  readonly chain: readonly CertificateFacts[];
  /** The window in which every certificate of the chain is valid (ms since the epoch). */
  readonly from: number;
  readonly until: number;
  /** The bundle generation the verdict was made with. */
  readonly generation: number;
}

/** Longest chain followed through `issuerCertificate`; a loop guard, SVID chains are 2–4 long. */
const MAX_CHAIN = 8;
const ACCEPTED_CAPACITY = 4096;
const REFUSED_CAPACITY = 1024;
const FACTS_CAPACITY = 1024;

function remember<V>(map: Map<string, V>, key: string, value: V, capacity: number): void {
  map.set(key, value);
  // Insertion order: the first key is the oldest.
  while (map.size > capacity) {
    const oldest = map.keys().next();
    if (oldest.done === true) break;
    map.delete(oldest.value);
  }
}

/** Leaf first, each certificate's DER and fingerprint, following `issuerCertificate` until it loops. */
function chainOf(cert: DetailedPeerCertificate): { raw: Buffer; fingerprint: string }[] {
  const out: { raw: Buffer; fingerprint: string }[] = [];
  let cur: DetailedPeerCertificate | undefined = cert;
  while (cur !== undefined && cur.raw !== undefined && out.length < MAX_CHAIN) {
    out.push({ raw: cur.raw, fingerprint: cur.fingerprint256 });
    // Typed as always present, but absent when the issuer was not sent and is not in the store.
    const next: DetailedPeerCertificate | undefined = cur.issuerCertificate as DetailedPeerCertificate | undefined;
    if (next === undefined || next === cur || next.fingerprint256 === cur.fingerprint256) break;
    cur = next;
  }
  return out;
}

/**
 * The peer verdicts of one sidecar. `invalidate()` when the bundle changes: a verdict is only as
 * good as the bundle it was made with, so an older one is made again from the chain it kept. The
 * verdicts themselves are kept, because a session resumed across the change (its handshake began
 * just before it) carries only the leaf, and its chain is then known from its verdict alone.
 */
export class PeerVerifier {
  private readonly accepted = new Map<string, Verdict>();
  private readonly refused = new Map<string, Verdict>();
  private readonly facts = new Map<string, CertificateFacts>();
  private readonly bundleDers = new Map<string, readonly Buffer[]>();
  private allRoots?: readonly X509Certificate[];
  private generation = 0;

  constructor(
    private readonly bundles: X509BundleSource,
    private readonly ownTrustDomain: string,
  ) {}

  invalidate(): void {
    this.generation++;
    this.bundleDers.clear();
    this.allRoots = undefined;
  }

  /**
   * The verdict on the client of an inbound connection; the caller checks first that it sent a
   * certificate (`getPeerX509Certificate()`). A resumed session carries only the leaf, so it is
   * judged by the verdict cached at its full handshake (against the current bundle, and the dates
   * again); when that verdict is gone the connection is refused rather than trusted blind.
   */
  checkClient(socket: TLSSocket, leaf: X509Certificate, now: number): PeerCheck {
    const authorizationError = socket.authorizationError === undefined || socket.authorizationError === null ? '' : String(socket.authorizationError);
    const key = `${leaf.fingerprint256}|${authorizationError}`;
    const cached = this.cached(key, authorizationError, now);
    if (cached !== undefined) return cached;
    if (socket.isSessionReused()) {
      return {
        ok: false,
        reason: 'unknown-ca',
        detail: 'the caller resumed a TLS session whose certificate chain this sidecar no longer holds (the trust bundle changed or the cache turned over), so it cannot be checked again; connect afresh without the old session.',
      };
    }
    return this.judge(key, this.x509Chain(leaf, authorizationError === ''), authorizationError, now).check;
  }

  /**
   * The verdict on the server of an outbound connection, from `checkServerIdentity`'s certificate
   * (OpenSSL has accepted the chain by then): the SVID rules, then exactly the `expected` ID.
   */
  checkServer(cert: DetailedPeerCertificate, expected: SpiffeId, now: number): PeerCheck {
    const key = `${cert.fingerprint256}|`;
    const verdict = this.cached(key, '', now) ?? this.judge(key, chainOf(cert), '', now).check;
    if (!verdict.ok) return verdict;
    if (!verdict.id.equals(expected)) {
      return {
        ok: false,
        reason: 'unexpected-id',
        spiffeId: verdict.spiffeId,
        detail: `the upstream presented ${verdict.spiffeId}, not the expected ${expected.toString()}; another workload answers on that port, or the upstream's expected ID is wrong.`,
      };
    }
    return verdict;
  }

  /** The cached verdict for `key`, made again first when the bundle changed since. */
  private cached(key: string, authorizationError: string, now: number): PeerCheck | undefined {
    const v = this.accepted.get(key) ?? this.refused.get(key);
    if (v === undefined) return undefined;
    const current = v.generation === this.generation || v.chain.length === 0 ? v : this.judgeFacts(key, v.chain, authorizationError, now);
    return this.inTime(current, authorizationError, now);
  }

  private judge(key: string, chain: readonly { raw: Buffer; fingerprint: string }[], authorizationError: string, now: number): Verdict {
    let facts: CertificateFacts[];
    try {
      facts = chain.map((c) => this.factsOf(c.raw, c.fingerprint));
    } catch {
      const verdict: Verdict = {
        check: { ok: false, reason: 'not-an-svid', detail: 'the peer presented a certificate that cannot be decoded as X.509; present the svid.pem that mTLS Lab (or your SPIFFE CA) issued.' },
        chain: [],
        from: -Infinity,
        until: Infinity,
        generation: this.generation,
      };
      remember(this.refused, key, verdict, REFUSED_CAPACITY);
      return verdict;
    }
    return this.judgeFacts(key, facts, authorizationError, now);
  }

  private judgeFacts(key: string, facts: readonly CertificateFacts[], authorizationError: string, now: number): Verdict {
    const v = verifyTlsPeer(facts, authorizationError === '' ? null : authorizationError, this.bundleSet(facts[0]), { now: new Date(now) });
    const from = Math.max(...facts.map((f) => f.notBefore.getTime()));
    const until = Math.min(...facts.map((f) => f.notAfter.getTime()));
    let check: PeerCheck;
    if (v.valid && v.spiffeId !== undefined) {
      check = { ok: true, id: SpiffeId.parse(v.spiffeId), spiffeId: v.spiffeId };
    } else {
      const reason = v.reason ?? 'unknown-ca';
      check = v.spiffeId === undefined ? { ok: false, reason, detail: v.detail } : { ok: false, reason, detail: v.detail, spiffeId: v.spiffeId };
    }
    const verdict: Verdict = { check, chain: facts, from, until, generation: this.generation };
    this.accepted.delete(key);
    this.refused.delete(key);
    if (check.ok) remember(this.accepted, key, verdict, ACCEPTED_CAPACITY);
    else remember(this.refused, key, verdict, REFUSED_CAPACITY);
    return verdict;
  }

  /** A cached verdict, unless the clock has left the chain's validity since (a resumed session is not re-checked by OpenSSL). */
  private inTime(v: Verdict, authorizationError: string, now: number): PeerCheck {
    if (!v.check.ok || (now >= v.from && now <= v.until)) return v.check;
    const code = now > v.until ? 'CERT_HAS_EXPIRED' : 'CERT_NOT_YET_VALID';
    const first = v.chain[0];
    const late = verifyTlsPeer(v.chain, authorizationError === '' ? code : authorizationError, this.bundleSet(first), { now: new Date(now) });
    const reason = late.reason ?? reasonForTlsError(code);
    return { ok: false, reason, detail: late.detail, spiffeId: v.check.spiffeId };
  }

  /**
   * The chain of an inbound peer: the certificates it sent, followed through `issuerCertificate`,
   * then the bundle root that signed the last of them when OpenSSL accepted the chain. (Node's
   * `getPeerCertificate(true)` would add the root itself, but after `getPeerX509Certificate()` on
   * the same socket it returns the leaf alone; measured on Node 20.20.)
   */
  private x509Chain(leaf: X509Certificate, trusted: boolean): { raw: Buffer; fingerprint: string }[] {
    const out: { raw: Buffer; fingerprint: string }[] = [];
    let cur: X509Certificate | undefined = leaf;
    let last = leaf;
    while (cur !== undefined && out.length < MAX_CHAIN) {
      out.push({ raw: cur.raw, fingerprint: cur.fingerprint256 });
      last = cur;
      const next: X509Certificate | undefined = cur.issuerCertificate;
      if (next === undefined || next.fingerprint256 === cur.fingerprint256) break;
      cur = next;
    }
    if (trusted && !(last.subject === last.issuer && last.checkIssued(last))) {
      const anchor = this.roots().find((r) => last.checkIssued(r) && last.verify(r.publicKey));
      if (anchor !== undefined) out.push({ raw: anchor.raw, fingerprint: anchor.fingerprint256 });
    }
    return out;
  }

  /** Every trusted root of every trust domain: OpenSSL chains to any of them, so the anchor may be another trust domain's. */
  private roots(): readonly X509Certificate[] {
    if (this.allRoots === undefined) {
      const pem = this.bundles.allBundlesPem();
      let roots: X509Certificate[] = [];
      try {
        roots = pem.includes('-----BEGIN CERTIFICATE-----') ? certificatesFromPem(pem, 'the bundles').map((der) => new X509Certificate(der)) : [];
      } catch {
        roots = [];
      }
      this.allRoots = roots;
    }
    return this.allRoots;
  }

  private factsOf(raw: Buffer, fingerprint: string): CertificateFacts {
    const known = this.facts.get(fingerprint);
    if (known !== undefined) return known;
    const f = certificateFacts(raw, 'the peer certificate');
    remember(this.facts, fingerprint, f, FACTS_CAPACITY);
    return f;
  }

  /** The bundles `verifyTlsPeer` needs: this sidecar's trust domain and the leaf's, as DER. */
  private bundleSet(leaf: CertificateFacts | undefined): BundleSet {
    const names = [this.ownTrustDomain];
    const uri = leaf?.uris.length === 1 ? leaf.uris[0] : undefined;
    if (uri !== undefined) {
      const m = /^spiffe:\/\/([^/]+)/i.exec(uri);
      if (m?.[1] !== undefined && m[1] !== this.ownTrustDomain) names.push(m[1]);
    }
    const set = new Map<string, readonly Buffer[]>();
    for (const name of names) set.set(name, this.bundleFor(name));
    return set;
  }

  private bundleFor(trustDomain: string): readonly Buffer[] {
    const known = this.bundleDers.get(trustDomain);
    if (known !== undefined) return known;
    const pem = this.bundles.bundlePemFor(trustDomain);
    let ders: readonly Buffer[] = [];
    if (pem !== undefined && pem.includes('-----BEGIN CERTIFICATE-----')) {
      try {
        ders = certificatesFromPem(pem, `the ${trustDomain} bundle`);
      } catch {
        // A damaged bundle trusts nothing; the verdict then says the trust domain has no bundle.
        ders = [];
      }
    }
    // Bounded: an attacker can name many trust domains, and each lookup is cheap to redo.
    if (this.bundleDers.size < 64) this.bundleDers.set(trustDomain, ders);
    return ders;
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ECONNABORTED']);

/** Why an outbound connection to an upstream sidecar failed before or during its handshake. */
export function classifyUpstreamError(err: unknown, upstream: string, address: string): { reason: RejectReason; detail: string } {
  if (err instanceof TlsPeerError) return { reason: err.code, detail: err.message };
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ECONNREFUSED') {
    return { reason: 'upstream-unavailable', detail: `nothing listens on ${address}, the mesh port of ${upstream}'s sidecar; start ${upstream} (or its sidecar) and call again.` };
  }
  if (NETWORK_CODES.has(code) || code === 'ERR_SIDECAR_TIMEOUT') {
    return { reason: 'upstream-unavailable', detail: `the connection to ${upstream}'s sidecar at ${address} failed before the TLS handshake finished (${code}: ${message}); check that ${upstream} is running.` };
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(message)) {
    return { reason: 'upstream-unavailable', detail: `${address} does not speak TLS, so it is not ${upstream}'s mesh port (a plain service port?); point the upstream at the sidecar's mesh port.` };
  }
  // OpenSSL verification codes are upper case without the ERR_ prefix (CERT_HAS_EXPIRED, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, …).
  if (/^[A-Z_]+$/.test(code) && !code.startsWith('ERR_')) {
    const reason = reasonForTlsError(code);
    return { reason, detail: `the certificate of ${upstream}'s sidecar at ${address} was refused (${code}: ${message}); ${upstream} needs an SVID from a CA in this sidecar's bundle, within its validity.` };
  }
  return { reason: 'upstream-unavailable', detail: `the TLS connection to ${upstream}'s sidecar at ${address} failed (${code === '' ? message : `${code}: ${message}`}).` };
}

/**
 * A reason for a TLS error on the server before `secureConnection`, when the error says one: the
 * caller's TLS stack refused this sidecar's certificate with an alert. Undefined when the error says
 * nothing about identity (a reset, a timeout, a malformed hello).
 */
export function classifyHandshakeError(err: Error, service: string): { reason: RejectReason; detail: string } | undefined {
  const m = err.message;
  if (/alert unknown ca/i.test(m)) {
    return { reason: 'unknown-ca', detail: `the caller refused ${service}'s certificate with TLS alert unknown_ca: it does not trust the CA that issued it; give the caller this trust domain's bundle.` };
  }
  if (/alert certificate expired/i.test(m)) {
    return { reason: 'expired', detail: `the caller refused ${service}'s certificate with TLS alert certificate_expired: this sidecar's SVID has expired, so check that rotation is running.` };
  }
  if (/alert certificate revoked/i.test(m)) {
    return { reason: 'revoked', detail: `the caller refused ${service}'s certificate with TLS alert certificate_revoked.` };
  }
  if (/http request|wrong version number/i.test(m)) {
    return { reason: 'plaintext-on-mtls-port', detail: `the caller sent plaintext where ${service}'s sidecar expected a TLS handshake; this port speaks mutual TLS only.` };
  }
  return undefined;
}
