import { formatDuration } from '../core/duration.js';
import type { CertificateFacts } from '../core/pki/inspect.js';

/** "valid 2026-12-04T16:00:00Z → 2026-12-04T17:00:00Z (42m10s left)" */
export function validityLine(f: CertificateFacts, now: Date): string {
  const left = f.notAfter.getTime() - now.getTime();
  const state =
    now < f.notBefore
      ? `not valid for another ${formatDuration(f.notBefore.getTime() - now.getTime())}`
      : left <= 0
        ? `EXPIRED ${formatDuration(-left)} ago`
        : `${formatDuration(left)} left`;
  return `${f.notBefore.toISOString()} → ${f.notAfter.toISOString()} (${state})`;
}

/** A human view of one certificate of a chain. */
export function describeCertificate(f: CertificateFacts, now: Date, role: string): string[] {
  const lines = [`${role}:`];
  const id = f.uris.find((u) => u.startsWith('spiffe://'));
  if (id) lines.push(`  SPIFFE ID   ${id}`);
  if (f.uris.length > 1) lines.push(`  URI SANs    ${f.uris.join(', ')}`);
  if (f.dnsNames.length) lines.push(`  DNS names   ${f.dnsNames.join(', ')}`);
  lines.push(`  Subject     ${f.subject}`);
  lines.push(`  Issuer      ${f.issuer}${f.selfSigned ? ' (self-signed)' : ''}`);
  lines.push(`  Serial      ${f.serial}`);
  lines.push(`  Validity    ${validityLine(f, now)}`);
  lines.push(`  Key         ${f.keyType}`);
  lines.push(`  CA          ${f.isCa === undefined ? 'no basicConstraints' : f.isCa ? `yes${f.pathLength !== undefined ? ` (path length ${f.pathLength})` : ''}` : 'no'}`);
  if (f.keyUsage) lines.push(`  Key usage   ${f.keyUsage.join(', ')}${f.keyUsageCritical ? ' (critical)' : ''}`);
  if (f.extKeyUsage) lines.push(`  Ext usage   ${f.extKeyUsage.join(', ')}`);
  lines.push(`  SHA-256     ${f.fingerprintSha256}`);
  return lines;
}

/** Facts as JSON: dates as ISO strings. */
export function factsJson(f: CertificateFacts): Record<string, unknown> {
  return { ...f, notBefore: f.notBefore.toISOString(), notAfter: f.notAfter.toISOString() };
}
