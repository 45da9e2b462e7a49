import { CertificateAuthority } from '../../core/ca/authority.js';
import { describeKey, isKeyType } from '../../core/pki/keys.js';
import { TrustDomain } from '../../core/spiffe/index.js';
import { flag, parse, str } from '../args.js';
import { UsageError, type CliIo } from '../io.js';
import { resolveStateDir } from '../state.js';
import { join } from 'node:path';

const INIT_USAGE = 'mtls-lab ca init [--state DIR] [--trust-domain TD] [--key-type ec-p256|rsa-2048] [--intermediate] [--force]';
const BUNDLE_USAGE = 'mtls-lab ca bundle [--state DIR] [--format pem|spiffe]';

export function caInit(argv: readonly string[], io: CliIo): number {
  const p = parse(
    argv,
    {
      state: { type: 'string' },
      'trust-domain': { type: 'string' },
      'key-type': { type: 'string' },
      intermediate: { type: 'boolean' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    INIT_USAGE,
    { min: 0, max: 0 },
  );
  const keyType = str(p, 'key-type') ?? 'ec-p256';
  if (!isKeyType(keyType)) throw new UsageError(`unknown key type "${keyType}"; use --key-type ec-p256 or --key-type rsa-2048.`);
  const trustDomain = TrustDomain.parse(str(p, 'trust-domain') ?? 'lab.local');
  const stateDir = resolveStateDir(str(p, 'state'), io);
  // Checked before the keys are made so a refusal costs nothing.
  CertificateAuthority.assertCanCreate(stateDir, flag(p, 'force'));
  const ca = CertificateAuthority.create({ trustDomain, keyType, intermediate: flag(p, 'intermediate'), now: io.now() });
  ca.save(stateDir, { force: flag(p, 'force') });
  const root = ca.rootCertificate;
  if (flag(p, 'json')) {
    io.out(`${JSON.stringify({ trustDomain: trustDomain.name, keyType, intermediate: ca.hasIntermediate, state: stateDir, bundle: join(stateDir, 'ca', 'bundle.pem'), rootSerial: root.serialNumber.toLowerCase(), notAfter: new Date(root.validTo).toISOString() })}\n`);
    return 0;
  }
  io.out(
    [
      `Created a CA for trust domain ${trustDomain.name} in ${join(stateDir, 'ca')}`,
      `  Root          ${describeKey(root.publicKey)}, serial ${root.serialNumber.toLowerCase()}, valid until ${new Date(root.validTo).toISOString()}`,
      ca.hasIntermediate ? `  Intermediate  ${describeKey(ca.issuingCertificate.publicKey)}, signs the SVIDs` : '  Signs SVIDs with the root (add --intermediate for a root + intermediate)',
      `  Bundle        ${join(stateDir, 'ca', 'bundle.pem')}`,
      `Next: mtls-lab issue spiffe://${trustDomain.name}/ns/default/sa/orders${str(p, 'state') ? ` --state ${stateDir}` : ''}`,
      '',
    ].join('\n'),
  );
  return 0;
}

export function caBundle(argv: readonly string[], io: CliIo): number {
  const p = parse(argv, { state: { type: 'string' }, format: { type: 'string' } }, BUNDLE_USAGE, { min: 0, max: 0 });
  const format = str(p, 'format') ?? 'pem';
  if (format !== 'pem' && format !== 'spiffe') throw new UsageError(`unknown bundle format "${format}"; use --format pem or --format spiffe.`);
  const ca = CertificateAuthority.load(resolveStateDir(str(p, 'state'), io));
  io.out(format === 'pem' ? ca.bundlePem() : `${JSON.stringify(ca.spiffeBundle(), null, 2)}\n`);
  return 0;
}
