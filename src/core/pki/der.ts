// A minimal DER writer for the issuance hot path only. The structures themselves are defined by
// @peculiar/asn1-x509 (see certificate.ts); a test asserts that both paths give identical bytes.

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
}

/** Tag-length-value with the given tag byte. */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = content.length === 1 ? (content[0] as Uint8Array) : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const sequence = (...content: Uint8Array[]): Buffer => tlv(0x30, ...content);
export const octetString = (content: Uint8Array): Buffer => tlv(0x04, content);

/** A positive INTEGER from big-endian magnitude bytes. */
export function positiveInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const pad = (trimmed[0] ?? 0) & 0x80 ? Buffer.from([0]) : Buffer.alloc(0);
  return tlv(0x02, pad, trimmed);
}

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, whole seconds, Z. */
export function time(date: Date): Buffer {
  const y = date.getUTCFullYear();
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return y < 2050 ? tlv(0x17, Buffer.from(`${two(y % 100)}${rest}`, 'latin1')) : tlv(0x18, Buffer.from(`${y}${rest}`, 'latin1'));
}
