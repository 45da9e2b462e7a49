import type { KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import type { Name } from '@peculiar/asn1-x509';
import { buildCertificate, keyIdentifier, labName, parseSpki, svidExtensions } from './certificate.js';
import { octetString, positiveInteger, sequence, time, tlv } from './der.js';
import { signatureAlgorithm, signDer } from './keys.js';

const OID_SKI = Buffer.from('0603551d0e', 'hex');
const OID_SAN = Buffer.from('0603551d11', 'hex');
const OID_O = Buffer.from('060355040a', 'hex'); // 2.5.4.10
const OID_CN = Buffer.from('0603550403', 'hex'); // 2.5.4.3
const VERSION_3 = Buffer.from('a003020102', 'hex');

export interface SvidFields {
  readonly spiffeId: string;
  readonly dnsNames: readonly string[];
  readonly commonName: string;
  readonly serial: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SPKI DER of the subject key. */
  readonly publicKey: Buffer;
  readonly rsa: boolean;
  /** Supply when already known (e.g. SHA-1 of the EC point); derived from the SPKI otherwise. */
  readonly subjectKeyId?: Buffer;
}

function utf8Attr(oid: Buffer, value: string): Buffer {
  return tlv(0x31, sequence(oid, tlv(0x0c, Buffer.from(value, 'utf8'))));
}

/**
 * Encodes X.509-SVIDs for one issuing CA quickly: the constant parts (issuer, algorithm, the
 * fixed extensions) are encoded once by @peculiar/asn1-x509, and only the per-leaf fields are
 * written per certificate. `encodeWithLibrary` is the reference the fast path must equal.
 */
export class SvidEncoder {
  private readonly sigAlg: Buffer;
  private readonly issuer: Buffer;
  private readonly fixedExtensions: { ec: Buffer; rsa: Buffer };
  private readonly orgAttr = utf8Attr(OID_O, 'mTLS Lab');

  constructor(
    private readonly issuerName: Name,
    private readonly authorityKeyId: Buffer,
    private readonly signer: KeyObject,
  ) {
    this.sigAlg = Buffer.from(AsnConvert.serialize(signatureAlgorithm(signer)));
    this.issuer = Buffer.from(AsnConvert.serialize(issuerName));
    const fixed = (rsa: boolean): Buffer => {
      // basicConstraints, keyUsage, extKeyUsage come first; SKI, AKI, SAN follow (see svidExtensions).
      const exts = svidExtensions({ spiffeId: 'spiffe://x/y', dnsNames: [], rsa, subjectKeyId: Buffer.alloc(20), authorityKeyId });
      return Buffer.concat(exts.slice(0, 3).map((e) => Buffer.from(AsnConvert.serialize(e))));
    };
    this.fixedExtensions = { ec: fixed(false), rsa: fixed(true) };
    this.akiExtension = Buffer.from(AsnConvert.serialize(svidExtensions({ spiffeId: 'spiffe://x/y', dnsNames: [], rsa: false, subjectKeyId: Buffer.alloc(20), authorityKeyId })[4]!));
  }

  private readonly akiExtension: Buffer;

  /** DER of a signed X.509-SVID. */
  encode(f: SvidFields): Buffer {
    const ski = f.subjectKeyId ?? keyIdentifier(parseSpki(f.publicKey));
    const names = [tlv(0x86, Buffer.from(f.spiffeId, 'latin1')), ...f.dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'latin1')))];
    const extensions = tlv(
      0xa3,
      sequence(
        f.rsa ? this.fixedExtensions.rsa : this.fixedExtensions.ec,
        sequence(OID_SKI, octetString(octetString(ski))),
        this.akiExtension,
        sequence(OID_SAN, octetString(sequence(...names))),
      ),
    );
    const tbs = sequence(
      VERSION_3,
      positiveInteger(f.serial),
      this.sigAlg,
      this.issuer,
      sequence(time(f.notBefore), time(f.notAfter)),
      sequence(this.orgAttr, utf8Attr(OID_CN, f.commonName.slice(0, 64))),
      f.publicKey,
      extensions,
    );
    const signature = signDer(tbs, this.signer);
    return sequence(tbs, this.sigAlg, tlv(0x03, Buffer.from([0]), signature));
  }

  /** The same certificate through @peculiar/asn1-x509 end to end: slower, the reference for tests. */
  encodeWithLibrary(f: SvidFields): Buffer {
    const ski = f.subjectKeyId ?? keyIdentifier(parseSpki(f.publicKey));
    return buildCertificate({
      subject: labName(f.commonName),
      issuer: this.issuerName,
      serial: f.serial,
      notBefore: f.notBefore,
      notAfter: f.notAfter,
      publicKey: f.publicKey,
      signer: this.signer,
      extensions: svidExtensions({ spiffeId: f.spiffeId, dnsNames: f.dnsNames, rsa: f.rsa, subjectKeyId: ski, authorityKeyId: this.authorityKeyId }),
    });
  }
}
