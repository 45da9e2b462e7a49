import { describe, it, expect } from 'vitest';
import { SpiffeError, TrustDomain } from '../../../src/core/spiffe/index.js';
import type { SpiffeErrorCode } from '../../../src/core/spiffe/index.js';

function errorOf(fn: () => unknown): SpiffeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpiffeError);
    if (err instanceof SpiffeError) return err;
  }
  throw new Error('test: expected a SpiffeError, but nothing was thrown.');
}

const name255 = 'a'.repeat(255);

const validRows: readonly { name: string; input: string; want: string }[] = [
  { name: 'DNS-like name', input: 'lab.local', want: 'lab.local' },
  { name: 'spec example', input: 'example.org', want: 'example.org' },
  { name: 'ID of the trust domain', input: 'spiffe://lab.local', want: 'lab.local' },
  { name: 'one character', input: 'a', want: 'a' },
  { name: 'digits only', input: '1234', want: '1234' },
  { name: 'IPv4 dotted quad', input: '192.168.0.1', want: '192.168.0.1' },
  { name: 'underscore (spec §2.1.1)', input: 'trust_domain_name.example.com', want: 'trust_domain_name.example.com' },
  { name: 'punycode', input: 'xn--bcher-kva.example', want: 'xn--bcher-kva.example' },
  { name: 'not a DNS name, still valid', input: '-.._', want: '-.._' },
  { name: 'exactly 255 bytes', input: name255, want: name255 },
  { name: 'ID with a 255-byte name', input: `spiffe://${name255}`, want: name255 },
];

const invalidRows: readonly { name: string; input: string; code: SpiffeErrorCode }[] = [
  { name: 'empty string', input: '', code: 'missing-trust-domain' },
  { name: 'scheme only', input: 'spiffe://', code: 'missing-trust-domain' },
  { name: 'uppercase letter', input: 'Lab.local', code: 'bad-trust-domain-char' },
  { name: 'uppercase in ID form', input: 'spiffe://Lab.local', code: 'bad-trust-domain-char' },
  { name: 'space', input: 'lab local', code: 'bad-trust-domain-char' },
  { name: 'non-ASCII letter', input: 'bücher.example', code: 'bad-trust-domain-char' },
  { name: 'IPv6 literal', input: '[::1]', code: 'bad-trust-domain-char' },
  { name: 'a path after a bare name', input: 'lab.local/x', code: 'bad-trust-domain-char' },
  { name: 'a path after the ID form', input: 'spiffe://lab.local/ns/a', code: 'bad-trust-domain-char' },
  { name: 'port', input: 'lab.local:8080', code: 'port-or-userinfo' },
  { name: 'user info', input: 'user@lab.local', code: 'port-or-userinfo' },
  { name: 'port in ID form', input: 'spiffe://lab.local:8080', code: 'port-or-userinfo' },
  { name: 'percent-encoding', input: 'lab%2Elocal', code: 'percent-encoded' },
  { name: 'query after a bare name', input: 'lab.local?x', code: 'query-or-fragment' },
  { name: 'fragment after a bare name', input: 'lab.local#x', code: 'query-or-fragment' },
  { name: 'query after the ID form', input: 'spiffe://lab.local?x', code: 'query-or-fragment' },
  { name: 'trailing slash on the ID form', input: 'spiffe://lab.local/', code: 'trailing-slash' },
  { name: 'uppercase scheme', input: 'SPIFFE://lab.local', code: 'wrong-scheme' },
  { name: 'http scheme', input: 'http://lab.local', code: 'wrong-scheme' },
  { name: 'scheme without slashes', input: 'spiffe:lab.local', code: 'wrong-scheme' },
  { name: '256 bytes', input: 'a'.repeat(256), code: 'trust-domain-too-long' },
  { name: '256 bytes in ID form', input: `spiffe://${'a'.repeat(256)}`, code: 'trust-domain-too-long' },
];

describe('TrustDomain.parse: valid', () => {
  it.each(validRows)('$name', (row) => {
    const td = TrustDomain.parse(row.input);
    expect(td.name).toBe(row.want);
    expect(td.toString()).toBe(row.want);
    expect(td.idString()).toBe(`spiffe://${row.want}`);
    expect(TrustDomain.parse(td.idString()).equals(td)).toBe(true);
  });
});

describe('TrustDomain.parse: invalid', () => {
  it.each(invalidRows)('$name', (row) => {
    const err = errorOf(() => TrustDomain.parse(row.input));
    expect(err.code).toBe(row.code);
    expect(err.name).toBe('SpiffeError');
    expect(err.message).toMatch(/^spiffe: .+\.$/s);
  });
});

describe('TrustDomain messages', () => {
  it('names the offending letter and the lowercase fix', () => {
    expect(errorOf(() => TrustDomain.parse('Lab.local')).message).toBe(
      'spiffe: trust domain "Lab.local" contains "L": a trust domain may hold only lowercase letters, digits, ".", "-" and "_" (try "lab.local").',
    );
  });

  it('offers the name without its port', () => {
    expect(errorOf(() => TrustDomain.parse('lab.local:8080')).message).toContain('drop ":8080" (try "lab.local")');
  });

  it('offers a lowercase scheme in the form it was given', () => {
    expect(errorOf(() => TrustDomain.parse('SPIFFE://lab.local')).message).toContain('(try "spiffe://lab.local")');
  });

  it('points a workload ID at SpiffeId.parse', () => {
    expect(errorOf(() => TrustDomain.parse('spiffe://lab.local/ns/a')).message).toContain('SpiffeId.parse(s).trustDomain');
  });

  it('has no fix to offer for a space', () => {
    expect(errorOf(() => TrustDomain.parse('lab local')).message).toBe(
      'spiffe: trust domain "lab local" contains " ": a trust domain may hold only lowercase letters, digits, ".", "-" and "_", so remove or replace it.',
    );
  });
});

describe('TrustDomain comparisons', () => {
  const rows: readonly { name: string; a: string; b: string; want: boolean }[] = [
    { name: 'same name', a: 'lab.local', b: 'lab.local', want: true },
    { name: 'name and ID form', a: 'lab.local', b: 'spiffe://lab.local', want: true },
    { name: 'different names', a: 'lab.local', b: 'other.local', want: false },
    { name: 'prefix only', a: 'lab.local', b: 'lab.localhost', want: false },
  ];

  it.each(rows)('equals: $name', (row) => {
    const a = TrustDomain.parse(row.a);
    const b = TrustDomain.parse(row.b);
    expect(a.equals(b)).toBe(row.want);
    expect(b.equals(a)).toBe(row.want);
  });

  it('mustParse returns the same trust domain as parse', () => {
    expect(TrustDomain.mustParse('lab.local').equals(TrustDomain.parse('lab.local'))).toBe(true);
    expect(() => TrustDomain.mustParse('Lab.local')).toThrow(SpiffeError);
  });

  it('serializes as its bare name', () => {
    expect(JSON.stringify({ td: TrustDomain.parse('lab.local') })).toBe('{"td":"lab.local"}');
  });
});
