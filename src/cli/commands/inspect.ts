import { certificateFacts, type CertificateFacts } from '../../core/pki/inspect.js';
import { flag, parse } from '../args.js';
import { describeCertificate, factsJson } from '../format.js';
import type { CliIo } from '../io.js';
import { readCertificates } from '../readCerts.js';

const USAGE = 'mtls-lab inspect FILE [--json]';

function role(f: CertificateFacts, index: number, count: number): string {
  if (!f.isCa) return index === 0 ? 'Leaf (X.509-SVID)' : `Certificate ${index + 1}`;
  if (f.selfSigned) return count === 1 ? 'Root CA' : `Root CA (${index + 1} of ${count})`;
  return 'Intermediate CA';
}

export function inspect(argv: readonly string[], io: CliIo): number {
  const p = parse(argv, { json: { type: 'boolean' } }, USAGE, { min: 1, max: 1 });
  const file = p.positionals[0] as string;
  const ders = readCertificates(file, io);
  const facts = ders.map((d, i) => certificateFacts(d, `certificate ${i + 1} in "${file}"`));
  const now = io.now();
  const leaf = facts[0] as CertificateFacts;
  const spiffeId = leaf.isCa ? undefined : leaf.uris.find((u) => u.startsWith('spiffe://'));
  if (flag(p, 'json')) {
    const secondsLeft = Math.round((leaf.notAfter.getTime() - now.getTime()) / 1000);
    io.out(`${JSON.stringify({ file, spiffeId, secondsLeft, certificates: facts.map(factsJson) }, null, 2)}\n`);
    return 0;
  }
  const lines: string[] = [];
  facts.forEach((f, i) => {
    if (i > 0) lines.push('');
    lines.push(...describeCertificate(f, now, role(f, i, facts.length)));
  });
  if (facts.length > 1 && !leaf.isCa) lines.push('', `Chain: ${facts.map((f) => f.uris[0] ?? f.subject).join(' ← ')}`);
  io.out(`${lines.join('\n')}\n`);
  return 0;
}
