import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { RSAPublicKey } from '@peculiar/asn1-rsa';
import { RSA_ENCRYPTION } from '../pki/keys.js';

/** One JWK of a SPIFFE bundle: a CA certificate usable for X.509-SVID validation. */
export interface SpiffeBundleKey {
  readonly use: 'x509-svid';
  readonly kty: 'EC' | 'RSA';
  readonly crv?: 'P-256';
  readonly x?: string;
  readonly y?: string;
  readonly n?: string;
  readonly e?: string;
  readonly x5c: [string];
}

export interface SpiffeBundleDocument {
  readonly keys: SpiffeBundleKey[];
  readonly spiffe_sequence: number;
  readonly spiffe_refresh_hint: number;
}

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/**
 * The SPIFFE bundle (SPIFFE Trust Domain and Bundle spec §4): a JWKS with one `x509-svid` key per
 * CA certificate, each carrying exactly that certificate in `x5c`. Key parameters come from the
 * certificate's SPKI, never from a JWK export of a live key (it can hang Node 20).
 */
export function spiffeBundle(caDers: readonly Buffer[], sequence: number, refreshHintSeconds: number): SpiffeBundleDocument {
  const keys = caDers.map((der): SpiffeBundleKey => {
    const spki = AsnConvert.parse(der, Certificate).tbsCertificate.subjectPublicKeyInfo;
    const x5c: [string] = [der.toString('base64')];
    const bits = new Uint8Array(spki.subjectPublicKey);
    if (spki.algorithm.algorithm === EC_PUBLIC_KEY) {
      // Uncompressed point: 0x04 || X (32) || Y (32).
      return { use: 'x509-svid', kty: 'EC', crv: 'P-256', x: b64url(bits.subarray(1, 33)), y: b64url(bits.subarray(33, 65)), x5c };
    }
    if (spki.algorithm.algorithm === RSA_ENCRYPTION) {
      const rsa = AsnConvert.parse(bits, RSAPublicKey);
      const strip = (b: ArrayBuffer): Uint8Array => {
        const u = new Uint8Array(b);
        let i = 0;
        while (i < u.length - 1 && u[i] === 0) i++;
        return u.subarray(i);
      };
      return { use: 'x509-svid', kty: 'RSA', n: b64url(strip(rsa.modulus)), e: b64url(strip(rsa.publicExponent)), x5c };
    }
    throw new Error(`bundle: a CA certificate has key algorithm ${spki.algorithm.algorithm}, which a SPIFFE bundle here cannot describe; use an EC P-256 or RSA CA.`);
  });
  return { keys, spiffe_sequence: sequence, spiffe_refresh_hint: refreshHintSeconds };
}
