import { createPublicKey, verify } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { PkiError } from './errors.js';
import { keyTypeOf, type KeyType } from './keys.js';
import { parsePem } from './pem.js';

// Signature algorithm OIDs a PKCS#10 request may use, with the hash they imply.
const SIGNATURE_HASHES: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

export interface VerifiedCsr {
  /** The requested public key as SPKI DER: the only thing taken from the request. */
  readonly publicKey: Buffer;
  readonly keyType: KeyType;
}

/**
 * Reads a PEM or DER PKCS#10 request and checks its self-signature (proof the requester holds the
 * key). Subject and requested extensions are ignored on purpose: the CA alone decides the identity.
 */
export function verifyCsr(input: Buffer, source = 'the CSR'): VerifiedCsr {
  const text = input.toString('latin1');
  let der: Buffer = input;
  if (text.includes('-----BEGIN')) {
    const block = parsePem(text, source).find((b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST');
    if (!block) throw new PkiError('bad-csr', `pki: ${source} holds no "BEGIN CERTIFICATE REQUEST" block; make one with e.g. "openssl req -new -key key.pem -subj /CN=x -out req.csr".`);
    der = block.der;
  }
  let csr: CertificationRequest;
  try {
    csr = AsnConvert.parse(der, CertificationRequest);
  } catch {
    throw new PkiError('bad-csr', `pki: ${source} is not a PKCS#10 certificate request; make one with e.g. "openssl req -new -key key.pem -subj /CN=x -out req.csr".`);
  }
  const spki = Buffer.from(AsnConvert.serialize(csr.certificationRequestInfo.subjectPKInfo));
  let key;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    throw new PkiError('bad-csr', `pki: ${source} carries a public key that cannot be read; regenerate the request from a valid EC P-256 or RSA key.`);
  }
  const keyType = keyTypeOf(key);
  const hash = SIGNATURE_HASHES[csr.signatureAlgorithm.algorithm];
  if (!hash) {
    throw new PkiError('bad-csr', `pki: ${source} is signed with algorithm ${csr.signatureAlgorithm.algorithm}, which is not supported; sign it with ECDSA or RSA PKCS#1 and SHA-256.`);
  }
  const raw = csr.certificationRequestInfoRaw;
  const tbs = raw ? new Uint8Array(raw) : new Uint8Array(AsnConvert.serialize(csr.certificationRequestInfo));
  if (!verify(hash, tbs, key, new Uint8Array(csr.signature))) {
    throw new PkiError('csr-signature', `pki: the signature on ${source} does not match its public key, so the requester has not proven it holds the key; create the request again with its own private key.`);
  }
  return { publicKey: spki, keyType };
}
