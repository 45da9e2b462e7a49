import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
} from '@peculiar/asn1-x509';
import { RSA_ENCRYPTION, signatureAlgorithm, signDer, SPKI_P256_HEAD } from './keys.js';

const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';

/** Everything a certificate states, already decided by the caller (CA or test builder). */
export interface CertificateSpec {
  readonly subject: Name;
  readonly issuer: Name;
  readonly serial: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Subject public key as SPKI DER. */
  readonly publicKey: Buffer;
  readonly signer: KeyObject;
  readonly extensions: readonly Extension[];
}

/** A random positive serial of 128 bits: RFC 5280 allows 20 octets; CA/B asks for at least 64 random bits. */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  // Clear the sign bit and set the next one: positive, and exactly 16 octets in DER.
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40;
  return serial;
}

/** O=mTLS Lab, CN=<commonName> (at most 64 characters, as X.520 allows). */
export function labName(commonName: string): Name {
  const attr = (type: string, value: string): RelativeDistinguishedName =>
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  return new Name([attr(OID_O, 'mTLS Lab'), attr(OID_CN, commonName.slice(0, 64))]);
}

export function parseSpki(der: Buffer): SubjectPublicKeyInfo {
  return AsnConvert.parse(der, SubjectPublicKeyInfo);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: SubjectPublicKeyInfo): Buffer {
  return createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest();
}


/** The SKI of an SPKI, without a full parse for the common P-256 layout. */
export function subjectKeyId(spki: Buffer): Buffer {
  if (spki.length === 91 && spki.subarray(0, 26).equals(SPKI_P256_HEAD)) return createHash('sha1').update(spki.subarray(26)).digest();
  return keyIdentifier(parseSpki(spki));
}

export function isRsaSpki(spki: Buffer): boolean {
  return parseSpki(spki).algorithm.algorithm === RSA_ENCRYPTION;
}

function extension(extnID: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

export interface SvidExtensionOptions {
  readonly spiffeId: string;
  readonly dnsNames: readonly string[];
  /** RSA keys also get keyEncipherment (RSA key exchange); EC keys only sign. */
  readonly rsa: boolean;
  readonly subjectKeyId: Buffer;
  readonly authorityKeyId: Buffer;
}

/** X.509-SVID leaf extensions: CA:FALSE, key usage critical, serverAuth+clientAuth, exactly one URI SAN. */
export function svidExtensions(o: SvidExtensionOptions): Extension[] {
  const usage = KeyUsageFlags.digitalSignature | (o.rsa ? KeyUsageFlags.keyEncipherment : 0);
  const names = [new GeneralName({ uniformResourceIdentifier: o.spiffeId }), ...o.dnsNames.map((dNSName) => new GeneralName({ dNSName }))];
  return [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    extension(id_ce_keyUsage, true, new KeyUsage(usage)),
    extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(o.subjectKeyId)),
    extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(o.authorityKeyId) })),
    extension(id_ce_subjectAltName, false, new SubjectAlternativeName(names)),
  ];
}

export interface CaExtensionOptions {
  /** The trust domain's own ID, `spiffe://td`, as SPIRE puts in its signing certificates. */
  readonly trustDomainId: string;
  readonly subjectKeyId: Buffer;
  /** Absent for a self-signed root. */
  readonly authorityKeyId?: Buffer;
  /** 0 for an intermediate that signs only leaves. */
  readonly pathLength?: number;
}

/** Signing certificate extensions: CA:TRUE critical, keyCertSign + cRLSign critical, the trust domain URI. */
export function caExtensions(o: CaExtensionOptions): Extension[] {
  const exts = [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true, pathLenConstraint: o.pathLength })),
    extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature)),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(o.subjectKeyId)),
  ];
  if (o.authorityKeyId) {
    exts.push(extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(o.authorityKeyId) })));
  }
  exts.push(extension(id_ce_subjectAltName, false, new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: o.trustDomainId })])));
  return exts;
}

/** Encodes and signs a v3 certificate; returns its DER. */
export function buildCertificate(spec: CertificateSpec): Buffer {
  const sigAlg = signatureAlgorithm(spec.signer);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(spec.serial).buffer,
    signature: sigAlg,
    issuer: spec.issuer,
    validity: new Validity({ notBefore: spec.notBefore, notAfter: spec.notAfter }),
    subject: spec.subject,
    subjectPublicKeyInfo: parseSpki(spec.publicKey),
    extensions: new Extensions([...spec.extensions]),
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = signDer(tbsDer, spec.signer);
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: sigAlg, signatureValue: new Uint8Array(signature).buffer });
  cert.tbsCertificateRaw = tbsDer.buffer;
  return Buffer.from(AsnConvert.serialize(cert));
}
