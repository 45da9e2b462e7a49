import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { PkiError } from './errors.js';

export type KeyType = 'ec-p256' | 'rsa-2048';
export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'rsa-2048'];

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const RSA_SHA256 = '1.2.840.113549.1.1.11';
// DER NULL: RFC 4055 wants explicit NULL parameters for sha256WithRSAEncryption.
const DER_NULL = new Uint8Array([0x05, 0x00]).buffer;

export function isKeyType(value: string): value is KeyType {
  return (KEY_TYPES as readonly string[]).includes(value);
}

/** A fresh key pair: ECDSA P-256 (SPIRE's default) or RSA-2048. */
export function generateKeyPair(type: KeyType): KeyPair {
  if (type === 'ec-p256') return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
}

/** The key type of a key, or an `unsupported-key` error naming what was found. */
export function keyTypeOf(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ec-p256';
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return 'rsa-2048';
  const what = key.asymmetricKeyType === 'ec' ? `EC ${details?.namedCurve ?? 'unknown curve'}` : `${key.asymmetricKeyType ?? 'unknown'} ${details?.modulusLength ?? ''}`.trim();
  throw new PkiError('unsupported-key', `pki: a ${what} key is not supported; use an EC P-256 key or an RSA key of at least 2048 bits.`);
}

/** A human label for any public key: "EC P-256", "RSA 2048", "Ed25519". */
export function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      return `EC ${d?.namedCurve === 'prime256v1' ? 'P-256' : d?.namedCurve === 'secp384r1' ? 'P-384' : (d?.namedCurve ?? '?')}`;
    case 'rsa':
      return `RSA ${d?.modulusLength ?? '?'}`;
    case 'ed25519':
      return 'Ed25519';
    default:
      return key.asymmetricKeyType ?? 'unknown';
  }
}

/** The signature algorithm a CA key signs with. */
export function signatureAlgorithm(signer: KeyObject): AlgorithmIdentifier {
  return keyTypeOf(signer) === 'ec-p256'
    ? new AlgorithmIdentifier({ algorithm: ECDSA_SHA256 })
    : new AlgorithmIdentifier({ algorithm: RSA_SHA256, parameters: DER_NULL });
}

/** SHA-256 signature over `data`: DER ECDSA or PKCS#1 v1.5, as X.509 expects. */
export function signDer(data: Uint8Array, signer: KeyObject): Buffer {
  return sign('sha256', data, signer);
}

/** SPKI DER of a public key. */
export function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** PKCS#8 PEM of a private key (never a JWK: see DESIGN.md on Node 20). */
export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** Loads a PEM private key; `bad-key` names the file and the fix. */
export function loadPrivateKey(pem: string, source: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new PkiError('bad-key', `pki: ${source} is not a readable PEM private key; pass the svid_key.pem or CA key file mTLS Lab wrote.`);
  }
}

export function publicKeyFromSpki(der: Buffer): KeyObject {
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** A fresh subject key in the encodings an SVID needs. */
export interface SubjectKey {
  readonly type: KeyType;
  readonly privateKey: KeyObject;
  /** SPKI DER for the certificate. */
  readonly spki: Buffer;
  /** PKCS#8 DER, the content of svid_key.pem. */
  readonly pkcs8: Buffer;
}

// P-256 layouts (RFC 5915 inside RFC 5208; RFC 5480). Exporting SEC1 once and re-wrapping is
// ~10x cheaper in Node 20 than exporting SPKI and PKCS#8 separately (measured: 7 µs vs 138 µs).
const SEC1_P256_HEAD = Buffer.from('30770201010420', 'hex');
const SEC1_P256_MID = Buffer.from('a00a06082a8648ce3d030107a144034200', 'hex');
const PKCS8_P256_HEAD = Buffer.from('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420', 'hex');
const PKCS8_P256_MID = Buffer.from('a144034200', 'hex');
/** The 26 bytes before the 65-byte point in every P-256 SPKI. */
export const SPKI_P256_HEAD = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
/** rsaEncryption, the SPKI algorithm of an RSA key. */
export const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';

/** A new key pair encoded as SPKI and PKCS#8 DER. */
export function newSubjectKey(type: KeyType): SubjectKey {
  const { privateKey, publicKey } = generateKeyPair(type);
  if (type === 'ec-p256') {
    const sec1 = privateKey.export({ type: 'sec1', format: 'der' });
    if (sec1.length === 121 && sec1.subarray(0, 7).equals(SEC1_P256_HEAD) && sec1.subarray(39, 56).equals(SEC1_P256_MID)) {
      const scalar = sec1.subarray(7, 39);
      const point = sec1.subarray(56);
      return {
        type,
        privateKey,
        spki: Buffer.concat([SPKI_P256_HEAD, point]),
        pkcs8: Buffer.concat([PKCS8_P256_HEAD, scalar, PKCS8_P256_MID, point]),
      };
    }
  }
  return {
    type,
    privateKey,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    pkcs8: privateKey.export({ type: 'pkcs8', format: 'der' }),
  };
}
