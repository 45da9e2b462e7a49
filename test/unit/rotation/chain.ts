// Offline chain check for rotation tests: every certificate valid at `now`, each signed by the
// next, the last signed by a root of the bundle. Enough to tell which root an SVID hangs from;
// the full RFC 5280 + SPIFFE verification lives in src/core/pki/verify.ts. Parses and signature
// checks are memoised (a pair's answer never changes; only the dates depend on `now`), because the
// rotation tests check every SVID against every bundle on every event.
import { createHash, X509Certificate } from 'node:crypto';

const parsed = new Map<string, X509Certificate>();
const signedBy = new Map<string, boolean>();

function cert(der: Buffer): [string, X509Certificate] {
  const key = createHash('sha1').update(der).digest('hex');
  let c = parsed.get(key);
  if (!c) parsed.set(key, (c = new X509Certificate(der)));
  return [key, c];
}

function issuedBy(child: [string, X509Certificate], parent: [string, X509Certificate]): boolean {
  const key = `${child[0]}<${parent[0]}`;
  let ok = signedBy.get(key);
  if (ok === undefined) signedBy.set(key, (ok = child[1].checkIssued(parent[1]) && child[1].verify(parent[1].publicKey)));
  return ok;
}

const validAt = (c: X509Certificate, now: number): boolean => now >= Date.parse(c.validFrom) && now <= Date.parse(c.validTo);

export function chainVerifies(chain: readonly Buffer[], bundle: readonly Buffer[], now: number): boolean {
  const certs = chain.map(cert);
  if (certs.length === 0 || !certs.every(([, c]) => validAt(c, now))) return false;
  for (let i = 0; i + 1 < certs.length; i++) if (!issuedBy(certs[i] as [string, X509Certificate], certs[i + 1] as [string, X509Certificate])) return false;
  const top = certs[certs.length - 1] as [string, X509Certificate];
  return bundle.some((der) => {
    const root = cert(der);
    return validAt(root[1], now) && issuedBy(top, root);
  });
}
