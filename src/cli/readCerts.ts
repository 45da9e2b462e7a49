import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parsePem } from '../core/pki/pem.js';
import { UsageError, type CliIo } from './io.js';

/** Every certificate in a PEM file or a SPIFFE bundle (JWKS `x5c`), leaf first as written. */
export function readCertificates(path: string, io: CliIo, what = 'certificate file'): Buffer[] {
  const abs = isAbsolute(path) ? path : resolve(io.cwd, path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${what} "${path}"; check the path and that the file is readable.`);
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) return certificatesFromSpiffeBundle(trimmed, path);
  const blocks = parsePem(text, `"${path}"`);
  const certs = blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
  if (certs.length === 0) {
    if (blocks.some((b) => b.label.includes('PRIVATE KEY'))) {
      throw new UsageError(`"${path}" holds a private key, not a certificate; pass the certificate file (svid.pem) instead.`);
    }
    throw new UsageError(`"${path}" holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); pass svid.pem, a bundle or another PEM certificate file.`);
  }
  return certs;
}

function certificatesFromSpiffeBundle(text: string, path: string): Buffer[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UsageError(`"${path}" starts like JSON but does not parse; pass a PEM file or a SPIFFE bundle from "mtls-lab ca bundle --format spiffe".`);
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new UsageError(`"${path}" is JSON without a "keys" array, so it is not a SPIFFE bundle; pass one from "mtls-lab ca bundle --format spiffe".`);
  const certs: Buffer[] = [];
  for (const k of keys as { use?: unknown; x5c?: unknown }[]) {
    if (k.use !== 'x509-svid') continue;
    if (!Array.isArray(k.x5c) || k.x5c.length !== 1 || typeof k.x5c[0] !== 'string') {
      throw new UsageError(`"${path}" has an x509-svid key whose x5c does not hold exactly one certificate, as the SPIFFE bundle spec requires; export the bundle again.`);
    }
    certs.push(Buffer.from(k.x5c[0], 'base64'));
  }
  if (certs.length === 0) throw new UsageError(`"${path}" is a SPIFFE bundle with no x509-svid keys; it cannot verify X.509-SVIDs.`);
  return certs;
}
