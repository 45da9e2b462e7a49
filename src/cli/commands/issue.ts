import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { CertificateAuthority } from '../../core/ca/authority.js';
import { svidPaths, writeSvidFiles } from '../../core/ca/svidFiles.js';
import { parseDuration } from '../../core/duration.js';
import { verifyCsr } from '../../core/pki/csr.js';
import { parseWorkloadId } from '../../core/spiffe/index.js';
import { flag, parse, str, strs } from '../args.js';
import { validityLine } from '../format.js';
import { certificateFacts } from '../../core/pki/inspect.js';
import { UsageError, type CliIo } from '../io.js';
import { readDaemonFile } from '../../daemon/daemonFile.js';
import { resolveStateDir } from '../state.js';
import { join } from 'node:path';

const USAGE = 'mtls-lab issue ID [--state DIR] [--ttl DURATION] [--out DIR] [--csr FILE] [--dns NAME]...';
// RFC 1123 host names, optionally with one leading wildcard label.
const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function readInput(path: string, io: CliIo, what: string): Buffer {
  const abs = isAbsolute(path) ? path : resolve(io.cwd, path);
  try {
    return readFileSync(abs);
  } catch {
    throw new UsageError(`cannot read ${what} "${path}"; check the path and that the file is readable.`);
  }
}

export function issue(argv: readonly string[], io: CliIo): number {
  const p = parse(
    argv,
    { state: { type: 'string' }, ttl: { type: 'string' }, out: { type: 'string' }, csr: { type: 'string' }, dns: { type: 'string', multiple: true }, json: { type: 'boolean' } },
    USAGE,
    { min: 1, max: 1 },
  );
  const id = parseWorkloadId(p.positionals[0] as string);
  const ttlMs = str(p, 'ttl') === undefined ? undefined : parseDuration(str(p, 'ttl') as string);
  const dnsNames = strs(p, 'dns');
  for (const d of dnsNames) {
    if (!DNS_NAME.test(d) || d.length > 253) throw new UsageError(`"${d}" is not a DNS name; pass a host name such as --dns orders.local or --dns localhost.`);
  }
  const csrPath = str(p, 'csr');
  const publicKey = csrPath ? verifyCsr(readInput(csrPath, io, 'CSR file'), csrPath).publicKey : undefined;
  const stateDir = resolveStateDir(str(p, 'state'), io);
  const ca = CertificateAuthority.load(stateDir);
  const segments = id.path.split('/');
  // Not svids/: that folder belongs to a running mesh's rotator; a manual issue must never replace its files.
  const out = str(p, 'out') ?? join(stateDir, 'issued', segments[segments.length - 1] as string);
  const outDir = isAbsolute(out) ? out : resolve(io.cwd, out);
  const svid = ca.issue({ id, ttlMs, dnsNames, publicKey, now: io.now() });
  const paths = writeSvidFiles(outDir, svid, ca.bundlePem());
  // The CA remembers the latest notAfter it signed, so a CA rotation never retires a root early.
  // While a mesh runs, its daemon owns the CA state (it may hold a newer root): leave it alone.
  if (!readDaemonFile(stateDir)) ca.persist(stateDir);
  if (csrPath && existsSync(svidPaths(outDir).key)) {
    io.err(`warning: ${paths.key} is left from an earlier issue and does not match the new certificate; the CSR's key is yours to place there.\n`);
  }
  const facts = certificateFacts(svid.chain[0] as Buffer);
  if (flag(p, 'json')) {
    io.out(`${JSON.stringify({ spiffeId: svid.spiffeId, serial: svid.serial, notBefore: svid.notBefore.toISOString(), notAfter: svid.notAfter.toISOString(), files: { cert: paths.cert, key: svid.key ? paths.key : undefined, bundle: paths.bundle } })}\n`);
    return 0;
  }
  io.out(
    [
      `Issued ${svid.spiffeId}`,
      `  Serial      ${svid.serial}`,
      `  Validity    ${validityLine(facts, io.now())}`,
      `  Key         ${facts.keyType}${csrPath ? ' (from the CSR; no key file written)' : ''}`,
      `  Certificate ${paths.cert}${ca.hasIntermediate ? ' (leaf + intermediate)' : ''}`,
      ...(svid.key ? [`  Key file    ${paths.key} (0600)`] : []),
      `  Bundle      ${paths.bundle}`,
      '',
    ].join('\n'),
  );
  return 0;
}
