import { createHash, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  KeyUsageFlags,
  SubjectAlternativeName,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_kp_clientAuth,
  id_kp_serverAuth,
} from '@peculiar/asn1-x509';
import { PkiError } from './errors.js';
import { describeKey } from './keys.js';

/** Everything a person or a rule needs to know about one certificate; no key material. */
export interface CertificateFacts {
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
  readonly otherNames: number;
  readonly keyType: string;
  /** `undefined` when basicConstraints is absent. */
  readonly isCa: boolean | undefined;
  readonly pathLength: number | undefined;
  readonly keyUsage: readonly string[] | undefined;
  readonly keyUsageCritical: boolean;
  readonly extKeyUsage: readonly string[] | undefined;
  readonly selfSigned: boolean;
  readonly fingerprintSha256: string;
}

const KEY_USAGE_NAMES: [KeyUsageFlags, string][] = [
  [KeyUsageFlags.digitalSignature, 'digitalSignature'],
  [KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
  [KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
  [KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [KeyUsageFlags.keyAgreement, 'keyAgreement'],
  [KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [KeyUsageFlags.cRLSign, 'cRLSign'],
  [KeyUsageFlags.encipherOnly, 'encipherOnly'],
  [KeyUsageFlags.decipherOnly, 'decipherOnly'],
];

const EKU_NAMES: Record<string, string> = { [id_kp_serverAuth]: 'serverAuth', [id_kp_clientAuth]: 'clientAuth' };

/** Decodes one DER certificate. Throws `bad-certificate` naming the source when it is not one. */
export function certificateFacts(der: Buffer, source = 'the certificate'): CertificateFacts {
  let x509: X509Certificate;
  let cert: Certificate;
  try {
    x509 = new X509Certificate(der);
    cert = AsnConvert.parse(der, Certificate);
  } catch {
    throw new PkiError('bad-certificate', `pki: ${source} is not a valid X.509 certificate; pass the PEM file that mTLS Lab (or your CA) issued.`);
  }
  const uris: string[] = [];
  const dnsNames: string[] = [];
  let otherNames = 0;
  let isCa: boolean | undefined;
  let pathLength: number | undefined;
  let keyUsage: string[] | undefined;
  let keyUsageCritical = false;
  let extKeyUsage: string[] | undefined;
  for (const ext of cert.tbsCertificate.extensions ?? []) {
    const value = ext.extnValue.buffer;
    switch (ext.extnID) {
      case id_ce_subjectAltName:
        for (const name of AsnConvert.parse(value, SubjectAlternativeName)) {
          if (name.uniformResourceIdentifier !== undefined) uris.push(name.uniformResourceIdentifier);
          else if (name.dNSName !== undefined) dnsNames.push(name.dNSName);
          else otherNames++;
        }
        break;
      case id_ce_basicConstraints: {
        const bc = AsnConvert.parse(value, BasicConstraints);
        isCa = bc.cA;
        pathLength = bc.pathLenConstraint;
        break;
      }
      case id_ce_keyUsage: {
        const flags = AsnConvert.parse(value, KeyUsage).toNumber();
        keyUsage = KEY_USAGE_NAMES.filter(([f]) => (flags & f) !== 0).map(([, n]) => n);
        keyUsageCritical = ext.critical;
        break;
      }
      case id_ce_extKeyUsage:
        extKeyUsage = AsnConvert.parse(value, ExtendedKeyUsage).map((oid) => EKU_NAMES[oid] ?? oid);
        break;
      default:
        break;
    }
  }
  return {
    subject: x509.subject.replace(/\n/g, ', '),
    issuer: x509.issuer.replace(/\n/g, ', '),
    serial: x509.serialNumber.toLowerCase(),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    uris,
    dnsNames,
    otherNames,
    keyType: describeKey(x509.publicKey),
    isCa,
    pathLength,
    keyUsage,
    keyUsageCritical,
    extKeyUsage,
    selfSigned: x509.subject === x509.issuer && x509.verify(x509.publicKey),
    fingerprintSha256: createHash('sha256').update(der).digest('hex'),
  };
}
