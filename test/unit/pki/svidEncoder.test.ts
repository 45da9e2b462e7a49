import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { generateKeyPair, newSubjectKey, spkiDer } from '../../../src/core/pki/keys.js';
import { keyIdentifier, labName, parseSpki, randomSerial } from '../../../src/core/pki/certificate.js';
import { SvidEncoder } from '../../../src/core/pki/svidEncoder.js';

const tbsOf = (der: Buffer): Buffer => Buffer.from(new Uint8Array(AsnConvert.parse(der, Certificate).tbsCertificateRaw as ArrayBuffer));

describe('SvidEncoder fast path', () => {
  const ca = generateKeyPair('ec-p256');
  const caKeyId = keyIdentifier(parseSpki(spkiDer(ca.publicKey)));
  const encoder = new SvidEncoder(labName('mTLS Lab root CA lab.local'), caKeyId, ca.privateKey);
  const subject = newSubjectKey('ec-p256');
  const rsaSubject = newSubjectKey('rsa-2048');

  it('encodes the same TBS bytes as @peculiar/asn1-x509 end to end, for any leaf fields', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 6 }),
        fc.array(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}(\.[a-z]{2,8}){0,2}$/), { maxLength: 3 }),
        fc.date({ min: new Date('2000-01-01'), max: new Date('2090-12-31'), noInvalidDate: true }),
        fc.integer({ min: 1, max: 86_400 }),
        fc.boolean(),
        (segments, dnsNames, start, ttlSeconds, rsa) => {
          const notBefore = new Date(Math.floor(start.getTime() / 1000) * 1000);
          const fields = {
            spiffeId: `spiffe://lab.local/${segments.join('/')}`,
            dnsNames,
            commonName: segments[segments.length - 1] as string,
            serial: randomSerial(),
            notBefore,
            notAfter: new Date(notBefore.getTime() + ttlSeconds * 1000),
            publicKey: rsa ? rsaSubject.spki : subject.spki,
            rsa,
          };
          expect(tbsOf(encoder.encode(fields)).equals(tbsOf(encoder.encodeWithLibrary(fields)))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('derives SPKI and PKCS#8 from the P-256 key that node:crypto would export itself', () => {
    for (let i = 0; i < 50; i++) {
      const k = newSubjectKey('ec-p256');
      expect(k.spki.equals(spkiDer(createPublicKey(k.privateKey)))).toBe(true);
      expect(k.pkcs8.equals(k.privateKey.export({ type: 'pkcs8', format: 'der' }))).toBe(true);
    }
  });
});
