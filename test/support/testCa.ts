// An in-memory test CA in the style of go-spiffe's `testca`: `newTestCa(td).childCa().issue(id)`.
// Every certificate it makes can be made defective on purpose (dates, extensions, signer), so one
// builder serves the fixture script and the table tests alike. Test code only.
import type { KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Extension,
  GeneralName,
  GeneralSubtree,
  GeneralSubtrees,
  KeyUsage,
  KeyUsageFlags,
  NameConstraints,
  SubjectAlternativeName,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_nameConstraints,
  id_ce_subjectAltName,
  type Name,
} from '@peculiar/asn1-x509';
import { buildCertificate, caExtensions, labName, randomSerial, subjectKeyId, svidExtensions } from '../../src/core/pki/certificate.js';
import { newSubjectKey, privateKeyPem, type KeyType } from '../../src/core/pki/keys.js';
import { toPem } from '../../src/core/pki/pem.js';
import { TrustDomain } from '../../src/core/spiffe/index.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Edits the extension list just before signing; return the list to sign. */
export type ExtensionMutator = (extensions: Extension[]) => Extension[];

export interface TestCaOptions {
  readonly keyType?: KeyType;
  /** Default: a day before the builder's `now`. */
  readonly notBefore?: Date;
  /** Default: ten years after the builder's `now`. */
  readonly notAfter?: Date;
  /** Default: "mTLS Lab test root CA <td>" / "mTLS Lab test intermediate CA <td> <depth>": two test CAs of one trust domain share names, as a rogue CA would. */
  readonly commonName?: string;
  /** basicConstraints pathLenConstraint. */
  readonly pathLength?: number;
  readonly mutate?: ExtensionMutator;
  /** The clock the defaults are computed from (root only; children inherit it). */
  readonly now?: Date;
}

export interface TestSvidOptions {
  readonly keyType?: KeyType;
  /** Default: a minute before the builder's `now`. */
  readonly notBefore?: Date;
  /** Default: an hour after the builder's `now`. */
  readonly notAfter?: Date;
  /** The URI SANs; default `[id]`. */
  readonly uris?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly commonName?: string;
  /** Sign the leaf with its own key (issuer = subject) instead of this CA's. */
  readonly selfSigned?: boolean;
  readonly mutate?: ExtensionMutator;
}

/** A leaf made by a TestCa, with everything a test or a TLS peer needs. */
export interface TestSvid {
  readonly id: string;
  readonly leaf: Buffer;
  /** Leaf first, then this CA and its parents up to (not including) the root: what svid.pem holds. */
  readonly chain: readonly Buffer[];
  readonly key: KeyObject;
  readonly keyPem: string;
  readonly chainPem: string;
}

/** One extension from an ASN.1 value. */
export function extension(extnID: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** Builders for the extensions tests like to break. */
export const ext = {
  basicConstraints(cA: boolean, pathLenConstraint?: number, critical = true): Extension {
    return extension(id_ce_basicConstraints, critical, new BasicConstraints({ cA, pathLenConstraint }));
  },
  keyUsage(...usages: (keyof typeof KeyUsageFlags)[]): Extension {
    const flags = usages.reduce((acc, u) => acc | KeyUsageFlags[u], 0);
    return extension(id_ce_keyUsage, true, new KeyUsage(flags));
  },
  subjectAltName(o: { uris?: readonly string[]; dnsNames?: readonly string[] }): Extension {
    const names = [
      ...(o.uris ?? []).map((uniformResourceIdentifier) => new GeneralName({ uniformResourceIdentifier })),
      ...(o.dnsNames ?? []).map((dNSName) => new GeneralName({ dNSName })),
    ];
    return extension(id_ce_subjectAltName, false, new SubjectAlternativeName(names));
  },
  /** Permits only URIs whose host is one of `hosts` (e.g. a trust domain name), as a CA pinned to its trust domain. */
  permittedUriHosts(...hosts: string[]): Extension {
    const subtrees = new GeneralSubtrees(hosts.map((h) => new GeneralSubtree({ base: new GeneralName({ uniformResourceIdentifier: h }) })));
    return extension(id_ce_nameConstraints, true, new NameConstraints({ permittedSubtrees: subtrees }));
  },
};

/** Replaces the extension with the same OID as `replacement` (in place of it), or appends it. */
export function withExtension(extensions: readonly Extension[], replacement: Extension): Extension[] {
  const i = extensions.findIndex((e) => e.extnID === replacement.extnID);
  if (i < 0) return [...extensions, replacement];
  return extensions.map((e, j) => (j === i ? replacement : e));
}

/** The list without the extension `oid`. */
export function withoutExtension(extensions: readonly Extension[], oid: string): Extension[] {
  return extensions.filter((e) => e.extnID !== oid);
}

/** A CA certificate and its key; the root when `parent` is undefined. */
export class TestCa {
  private constructor(
    readonly trustDomain: TrustDomain,
    readonly cert: Buffer,
    readonly key: KeyObject,
    readonly name: Name,
    readonly keyId: Buffer,
    readonly keyType: KeyType,
    readonly parent: TestCa | undefined,
    private readonly now: Date,
    private readonly depth: number,
  ) {}

  /** A self-signed root for `td`. */
  static root(td: TrustDomain, o: TestCaOptions = {}): TestCa {
    return TestCa.make(td, undefined, o, o.now ?? new Date(), 0);
  }

  private static make(td: TrustDomain, parent: TestCa | undefined, o: TestCaOptions, now: Date, depth: number): TestCa {
    const keyType = o.keyType ?? parent?.keyType ?? 'ec-p256';
    const key = newSubjectKey(keyType);
    const keyId = subjectKeyId(key.spki);
    const name = labName(o.commonName ?? (parent ? `mTLS Lab test intermediate CA ${td.name} ${depth}` : `mTLS Lab test root CA ${td.name}`));
    const base = caExtensions({ trustDomainId: td.idString(), subjectKeyId: keyId, authorityKeyId: parent?.keyId, pathLength: o.pathLength });
    const cert = buildCertificate({
      subject: name,
      issuer: parent?.name ?? name,
      serial: randomSerial(),
      notBefore: o.notBefore ?? new Date(now.getTime() - DAY_MS),
      notAfter: o.notAfter ?? new Date(now.getTime() + 3650 * DAY_MS),
      publicKey: key.spki,
      signer: parent?.key ?? key.privateKey,
      extensions: o.mutate ? o.mutate(base) : base,
    });
    return new TestCa(td, cert, key.privateKey, name, keyId, keyType, parent, now, depth);
  }

  /** An intermediate CA signed by this one. */
  childCa(o: TestCaOptions = {}): TestCa {
    return TestCa.make(this.trustDomain, this, o, this.now, this.depth + 1);
  }

  /** The root of this CA's hierarchy. */
  get root(): TestCa {
    return this.parent ? this.parent.root : this;
  }

  /** The trust bundle of the hierarchy: the root certificate. */
  bundle(): Buffer[] {
    return [this.root.cert];
  }

  /** This CA's certificate and its parents', up to (not including) the root: what a leaf's chain carries. */
  intermediates(): Buffer[] {
    return this.parent ? [this.cert, ...this.parent.intermediates()] : [];
  }

  /** An X.509-SVID for `id` (any string, so invalid IDs can be tested), correct unless the options break it. */
  issue(id: string, o: TestSvidOptions = {}): TestSvid {
    const key = newSubjectKey(o.keyType ?? this.keyType);
    const keyId = subjectKeyId(key.spki);
    const subject = labName(o.commonName ?? (id.split('/').pop() || id));
    let extensions = svidExtensions({
      spiffeId: id,
      dnsNames: o.dnsNames ?? [],
      rsa: key.type === 'rsa-2048',
      subjectKeyId: keyId,
      authorityKeyId: o.selfSigned ? keyId : this.keyId,
    });
    if (o.uris) extensions = withExtension(extensions, ext.subjectAltName({ uris: o.uris, dnsNames: o.dnsNames }));
    if (o.mutate) extensions = o.mutate(extensions);
    const leaf = buildCertificate({
      subject,
      issuer: o.selfSigned ? subject : this.name,
      serial: randomSerial(),
      notBefore: o.notBefore ?? new Date(this.now.getTime() - 60_000),
      notAfter: o.notAfter ?? new Date(this.now.getTime() + HOUR_MS),
      publicKey: key.spki,
      signer: o.selfSigned ? key.privateKey : this.key,
      extensions,
    });
    const chain = o.selfSigned ? [leaf] : [leaf, ...this.intermediates()];
    return {
      id,
      leaf,
      chain,
      key: key.privateKey,
      keyPem: privateKeyPem(key.privateKey),
      chainPem: chain.map((d) => toPem('CERTIFICATE', d)).join(''),
    };
  }
}

/** A root test CA for `td` (a name such as "lab.local" or a TrustDomain). */
export function newTestCa(td: TrustDomain | string, o: TestCaOptions = {}): TestCa {
  return TestCa.root(typeof td === 'string' ? TrustDomain.mustParse(td) : td, o);
}
