import { PkiError } from './errors.js';

export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/** PEM armour for a DER value, 64 characters a line, ending in a newline. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [`-----BEGIN ${label}-----`];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  lines.push(`-----END ${label}-----`, '');
  return lines.join('\n');
}

/** Every PEM block in `text`, in order. Throws `bad-pem` when a block is unterminated or not base64. */
export function parsePem(text: string, source = 'the input'): PemBlock[] {
  const blocks: PemBlock[] = [];
  BEGIN.lastIndex = 0;
  for (let m = BEGIN.exec(text); m; m = BEGIN.exec(text)) {
    const label = m[1] ?? '';
    const endMarker = `-----END ${label}-----`;
    const start = m.index + m[0].length;
    const end = text.indexOf(endMarker, start);
    if (end < 0) {
      throw new PkiError('bad-pem', `pki: ${source} has a "BEGIN ${label}" block with no matching "END ${label}" line; the file is truncated, so copy it again.`);
    }
    const body = text.slice(start, end).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length === 0) {
      throw new PkiError('bad-pem', `pki: ${source} has a "${label}" block that is not valid base64; the file is damaged, so copy it again.`);
    }
    blocks.push({ label, der: Buffer.from(body, 'base64') });
    BEGIN.lastIndex = end + endMarker.length;
  }
  return blocks;
}

/** The DER of every CERTIFICATE block, leaf first as written. Throws `bad-pem` if there is none. */
export function certificatesFromPem(text: string, source = 'the input'): Buffer[] {
  const certs = parsePem(text, source).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
  if (certs.length === 0) {
    throw new PkiError('bad-pem', `pki: ${source} holds no "BEGIN CERTIFICATE" block; pass a PEM certificate file (svid.pem or a bundle).`);
  }
  return certs;
}
