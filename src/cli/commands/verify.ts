import { verifySvid, type BundleSet } from '../../core/pki/verify.js';
import { certificateFacts } from '../../core/pki/inspect.js';
import { SpiffeId, TrustDomain } from '../../core/spiffe/index.js';
import { flag, parse, str } from '../args.js';
import { factsJson } from '../format.js';
import { UsageError, type CliIo } from '../io.js';
import { readCertificates } from '../readCerts.js';

const USAGE = 'mtls-lab verify CERT --bundle FILE [--id ID | --trust-domain TD] [--json]';

/**
 * Which trust domain the bundle file speaks for: the one its CA certificates name in a
 * `spiffe://td` URI SAN (as mTLS Lab's and SPIRE's do), else the one asked for, else the leaf's.
 */
function bundleSet(bundle: Buffer[], fallback: string | undefined): BundleSet {
  const set = new Map<string, Buffer[]>();
  for (const der of bundle) {
    const named = certificateFacts(der, 'a bundle certificate').uris.find((u) => /^spiffe:\/\/[^/]+$/.test(u));
    const td = named ? named.slice('spiffe://'.length) : fallback;
    if (td === undefined) continue;
    set.set(td, [...(set.get(td) ?? []), der]);
  }
  return set;
}

export async function verify(argv: readonly string[], io: CliIo): Promise<number> {
  const p = parse(argv, { bundle: { type: 'string' }, id: { type: 'string' }, 'trust-domain': { type: 'string' }, json: { type: 'boolean' } }, USAGE, { min: 1, max: 1 });
  const bundlePath = str(p, 'bundle');
  if (!bundlePath) throw new UsageError(`missing --bundle FILE (the CA bundle to verify against, e.g. svid_bundle.pem); usage: ${USAGE}`);
  if (str(p, 'id') && str(p, 'trust-domain')) throw new UsageError(`give --id or --trust-domain, not both; usage: ${USAGE}`);
  const expectedId = str(p, 'id') ? SpiffeId.parse(str(p, 'id') as string) : undefined;
  const expectedTrustDomain = str(p, 'trust-domain') ? TrustDomain.parse(str(p, 'trust-domain') as string) : undefined;
  const file = p.positionals[0] as string;
  const chain = readCertificates(file, io);
  const bundle = readCertificates(bundlePath, io, 'bundle file');
  const leafTd = certificateFacts(chain[0] as Buffer, `"${file}"`).uris.find((u) => u.startsWith('spiffe://'))?.slice(9).split('/')[0];
  const result = await verifySvid(chain, bundleSet(bundle, expectedTrustDomain?.name ?? expectedId?.trustDomain.name ?? leafTd), {
    now: io.now(),
    expectedId,
    expectedTrustDomain,
  });
  if (flag(p, 'json')) {
    io.out(`${JSON.stringify({ valid: result.valid, reason: result.reason ?? null, detail: result.detail, spiffeId: result.spiffeId ?? null, chain: result.chain.map(factsJson) }, null, 2)}\n`);
  } else if (result.valid) {
    io.out(`OK: ${result.detail}\n`);
  } else {
    io.out(`FAILED (${result.reason}): ${result.detail}\n`);
  }
  return result.valid ? 0 : 1;
}
