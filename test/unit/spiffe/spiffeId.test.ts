import { describe, it, expect } from 'vitest';
import { MAX_SPIFFE_ID_BYTES, SpiffeError, SpiffeId, TrustDomain, parseWorkloadId, workloadId } from '../../../src/core/spiffe/index.js';
import type { SpiffeErrorCode } from '../../../src/core/spiffe/index.js';

/** Runs `fn` and returns the SpiffeError it throws; fails the test if it throws anything else or nothing. */
function errorOf(fn: () => unknown): SpiffeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpiffeError);
    if (err instanceof SpiffeError) return err;
  }
  throw new Error('test: expected a SpiffeError, but nothing was thrown.');
}

function expectWellFormedMessage(err: SpiffeError): void {
  expect(err.name).toBe('SpiffeError');
  expect(err.message).toMatch(/^spiffe: .+\.$/s);
}

interface ValidRow {
  readonly name: string;
  readonly input: string;
  readonly trustDomain: string;
  readonly path: string;
}

interface InvalidRow {
  readonly name: string;
  readonly input: string;
  readonly code: SpiffeErrorCode;
}

const longTrustDomain = 'a'.repeat(255);
// 'spiffe://lab.local' is 18 bytes; the rest of a maximal ID is one long segment after '/'.
const maxLengthPath = `/${'p'.repeat(MAX_SPIFFE_ID_BYTES - 'spiffe://lab.local/'.length)}`;

// Valid IDs: the spec's own examples (SPIFFE-ID.md §2.1–2.3) and the edges of each rule.
const validIds: readonly ValidRow[] = [
  { name: 'root ID (trust domain only)', input: 'spiffe://example.org', trustDomain: 'example.org', path: '' },
  { name: 'single segment', input: 'spiffe://example.org/workload', trustDomain: 'example.org', path: '/workload' },
  { name: 'spec: payments/mysql', input: 'spiffe://staging.example.com/payments/mysql', trustDomain: 'staging.example.com', path: '/payments/mysql' },
  { name: 'spec: payments/web-fe', input: 'spiffe://staging.example.com/payments/web-fe', trustDomain: 'staging.example.com', path: '/payments/web-fe' },
  { name: 'spec: kubernetes service account', input: 'spiffe://k8s-west.example.com/ns/staging/sa/default', trustDomain: 'k8s-west.example.com', path: '/ns/staging/sa/default' },
  { name: 'spec: opaque UUID path', input: 'spiffe://example.com/9eebccd2-12bf-40a6-b262-65fe0487d453', trustDomain: 'example.com', path: '/9eebccd2-12bf-40a6-b262-65fe0487d453' },
  { name: 'spec: underscore in trust domain', input: 'spiffe://trust_domain_name.example.com/x', trustDomain: 'trust_domain_name.example.com', path: '/x' },
  { name: 'spec: IPv4 dotted quad is a trust domain', input: 'spiffe://192.168.0.1/ip', trustDomain: '192.168.0.1', path: '/ip' },
  { name: 'path is case-sensitive and may hold uppercase', input: 'spiffe://lab.local/MixedCase/PATH', trustDomain: 'lab.local', path: '/MixedCase/PATH' },
  { name: 'path holds ".", "-" and "_"', input: 'spiffe://lab.local/a.b/c_d/e-f', trustDomain: 'lab.local', path: '/a.b/c_d/e-f' },
  { name: 'three dots is not a dot segment', input: 'spiffe://lab.local/...', trustDomain: 'lab.local', path: '/...' },
  { name: 'segment starting with a dot', input: 'spiffe://lab.local/.hidden', trustDomain: 'lab.local', path: '/.hidden' },
  { name: 'segment starting with two dots', input: 'spiffe://lab.local/..x', trustDomain: 'lab.local', path: '/..x' },
  { name: 'one-character trust domain', input: 'spiffe://a', trustDomain: 'a', path: '' },
  { name: 'punctuation-only names', input: 'spiffe://-._/_.-', trustDomain: '-._', path: '/_.-' },
  { name: 'trust domain of exactly 255 bytes', input: `spiffe://${longTrustDomain}/x`, trustDomain: longTrustDomain, path: '/x' },
  { name: 'ID of exactly 2048 bytes', input: `spiffe://lab.local${maxLengthPath}`, trustDomain: 'lab.local', path: maxLengthPath },
];

// Invalid IDs: each row breaks exactly one rule of SPIFFE-ID.md and names the code it must get.
const invalidIds: readonly InvalidRow[] = [
  { name: 'empty string', input: '', code: 'empty' },
  { name: 'http scheme', input: 'http://lab.local/x', code: 'wrong-scheme' },
  { name: 'uppercase scheme', input: 'SPIFFE://lab.local/x', code: 'wrong-scheme' },
  { name: 'mixed-case scheme', input: 'Spiffe://lab.local', code: 'wrong-scheme' },
  { name: 'single slash after scheme', input: 'spiffe:/lab.local/x', code: 'wrong-scheme' },
  { name: 'no slashes after scheme', input: 'spiffe:lab.local', code: 'wrong-scheme' },
  { name: 'no scheme at all', input: 'lab.local/x', code: 'wrong-scheme' },
  { name: 'leading whitespace', input: ' spiffe://lab.local', code: 'wrong-scheme' },
  { name: 'scheme only', input: 'spiffe://', code: 'missing-trust-domain' },
  { name: 'empty host before path', input: 'spiffe:///path', code: 'missing-trust-domain' },
  { name: 'empty host before query', input: 'spiffe://?x', code: 'missing-trust-domain' },
  { name: 'uppercase letter in trust domain', input: 'spiffe://Lab.local/x', code: 'bad-trust-domain-char' },
  { name: 'all-uppercase trust domain', input: 'spiffe://LAB.LOCAL', code: 'bad-trust-domain-char' },
  { name: 'space in trust domain', input: 'spiffe://lab local/x', code: 'bad-trust-domain-char' },
  { name: 'non-ASCII letter in trust domain', input: 'spiffe://lab.lócal', code: 'bad-trust-domain-char' },
  { name: 'IPv6 literal is excluded', input: 'spiffe://[::1]/x', code: 'bad-trust-domain-char' },
  { name: 'trailing whitespace', input: 'spiffe://lab.local ', code: 'bad-trust-domain-char' },
  { name: 'port', input: 'spiffe://lab.local:8443/x', code: 'port-or-userinfo' },
  { name: 'empty port (":" alone)', input: 'spiffe://lab.local:/x', code: 'port-or-userinfo' },
  { name: 'user info with password', input: 'spiffe://user:password@lab.local/x', code: 'port-or-userinfo' },
  { name: 'empty user info', input: 'spiffe://@lab.local', code: 'port-or-userinfo' },
  { name: 'user info and port', input: 'spiffe://user@lab.local:8443', code: 'port-or-userinfo' },
  { name: 'percent-encoding in trust domain', input: 'spiffe://lab%2Elocal/x', code: 'percent-encoded' },
  { name: 'percent-encoding in path', input: 'spiffe://lab.local/a%20b', code: 'percent-encoded' },
  { name: 'percent-encoded letter in path', input: 'spiffe://lab.local/a%41b', code: 'percent-encoded' },
  { name: 'lone percent at end', input: 'spiffe://lab.local/a%', code: 'percent-encoded' },
  { name: 'query after path', input: 'spiffe://lab.local/a/b?query=1', code: 'query-or-fragment' },
  { name: 'fragment after path', input: 'spiffe://lab.local/a#frag', code: 'query-or-fragment' },
  { name: 'query right after trust domain', input: 'spiffe://lab.local?x', code: 'query-or-fragment' },
  { name: 'fragment right after trust domain', input: 'spiffe://lab.local#x', code: 'query-or-fragment' },
  { name: 'empty query', input: 'spiffe://lab.local/a?', code: 'query-or-fragment' },
  { name: 'root with trailing slash', input: 'spiffe://lab.local/', code: 'trailing-slash' },
  { name: 'path with trailing slash', input: 'spiffe://lab.local/a/', code: 'trailing-slash' },
  { name: 'empty first segment', input: 'spiffe://lab.local//a', code: 'empty-segment' },
  { name: 'empty middle segment', input: 'spiffe://lab.local/a//b', code: 'empty-segment' },
  { name: 'only slashes', input: 'spiffe://lab.local//', code: 'empty-segment' },
  { name: '"." as first segment', input: 'spiffe://lab.local/./a', code: 'dot-segment' },
  { name: '".." as last segment', input: 'spiffe://lab.local/a/..', code: 'dot-segment' },
  { name: '".." in the middle', input: 'spiffe://lab.local/a/../b', code: 'dot-segment' },
  { name: '"." as the only segment', input: 'spiffe://lab.local/.', code: 'dot-segment' },
  { name: 'space in path', input: 'spiffe://lab.local/a b', code: 'bad-path-char' },
  { name: 'colon in path', input: 'spiffe://lab.local/pa:th', code: 'bad-path-char' },
  { name: '"@" in path', input: 'spiffe://lab.local/pa@th', code: 'bad-path-char' },
  { name: 'URI sub-delims in path', input: "spiffe://lab.local/p!a$t&h'", code: 'bad-path-char' },
  { name: 'brackets in path', input: 'spiffe://lab.local/elem[ent]', code: 'bad-path-char' },
  { name: 'backslash in path', input: 'spiffe://lab.local/a\\b', code: 'bad-path-char' },
  { name: 'non-ASCII letters in path', input: 'spiffe://lab.local/ünïcode', code: 'bad-path-char' },
  { name: 'emoji (surrogate pair) in path', input: 'spiffe://lab.local/\u{1F600}', code: 'bad-path-char' },
  { name: 'zero-width space in path', input: 'spiffe://lab.local/a\u200Bb', code: 'bad-path-char' },
  { name: 'NUL in path', input: 'spiffe://lab.local/a\u0000b', code: 'bad-path-char' },
  { name: 'newline at the end', input: 'spiffe://lab.local/x\n', code: 'bad-path-char' },
  { name: 'trust domain of 256 bytes', input: `spiffe://${'a'.repeat(256)}/x`, code: 'trust-domain-too-long' },
  { name: 'ID of 2049 bytes', input: `spiffe://lab.local${maxLengthPath}p`, code: 'id-too-long' },
  { name: 'very long ID (100 kB)', input: `spiffe://lab.local/${'x'.repeat(100_000)}`, code: 'id-too-long' },
];

describe('SpiffeId.parse: valid IDs', () => {
  it.each(validIds)('$name', (row) => {
    const id = SpiffeId.parse(row.input);
    expect(id.toString()).toBe(row.input);
    expect(id.trustDomain.name).toBe(row.trustDomain);
    expect(id.path).toBe(row.path);
    expect(id.isRoot()).toBe(row.path === '');
    expect(id.memberOf(TrustDomain.parse(row.trustDomain))).toBe(true);
  });
});

describe('SpiffeId.parse: invalid IDs', () => {
  it.each(invalidIds)('$name', (row) => {
    const err = errorOf(() => SpiffeId.parse(row.input));
    expect(err.code).toBe(row.code);
    expectWellFormedMessage(err);
  });
});

describe('SpiffeId.parse: messages', () => {
  it('quotes the input and offers a lowercase scheme', () => {
    expect(errorOf(() => SpiffeId.parse('SPIFFE://lab.local/x')).message).toBe(
      'spiffe: ID "SPIFFE://lab.local/x" does not start with "spiffe://": a SPIFFE ID is a URI whose scheme is "spiffe", in lowercase, followed by "://" (try "spiffe://lab.local/x").',
    );
  });

  it('names the uppercase letter and the lowercase fix', () => {
    expect(errorOf(() => SpiffeId.parse('spiffe://Lab.local/x')).message).toBe(
      'spiffe: trust domain "Lab.local" in ID "spiffe://Lab.local/x" contains "L": a trust domain may hold only lowercase letters, digits, ".", "-" and "_" (try "spiffe://lab.local/x").',
    );
  });

  it('offers the ID without the port', () => {
    expect(errorOf(() => SpiffeId.parse('spiffe://lab.local:8443/x')).message).toContain('drop ":8443" (try "spiffe://lab.local/x")');
  });

  it('offers the ID without the trailing slash', () => {
    expect(errorOf(() => SpiffeId.parse('spiffe://lab.local/a/')).message).toContain('(try "spiffe://lab.local/a")');
  });

  it('offers no fix it cannot stand behind', () => {
    const message = errorOf(() => SpiffeId.parse('spiffe://lab.local/a/../b')).message;
    expect(message).not.toContain('(try');
    expect(message).toContain('".."');
  });

  it('makes invisible characters visible', () => {
    expect(errorOf(() => SpiffeId.parse('spiffe://lab.local/a\u200Bb')).message).toContain('(U+200B)');
  });

  it('shortens a huge input instead of quoting all of it', () => {
    const message = errorOf(() => SpiffeId.parse(`spiffe://lab.local/${'x'.repeat(100_000)}`)).message;
    expect(message.length).toBeLessThan(400);
    expect(message).toContain('100019 bytes');
  });
});

describe('SpiffeId.fromPath', () => {
  const td = TrustDomain.mustParse('lab.local');
  const rows: readonly { name: string; path: string; want: string | SpiffeErrorCode }[] = [
    { name: 'empty path gives the root ID', path: '', want: 'spiffe://lab.local' },
    { name: 'one segment', path: '/web', want: 'spiffe://lab.local/web' },
    { name: 'several segments', path: '/ns/default/sa/web', want: 'spiffe://lab.local/ns/default/sa/web' },
    { name: 'no leading slash', path: 'web', want: 'not-absolute-path' },
    { name: 'bare slash', path: '/', want: 'trailing-slash' },
    { name: 'trailing slash', path: '/web/', want: 'trailing-slash' },
    { name: 'empty segment', path: '/a//b', want: 'empty-segment' },
    { name: 'dot segment', path: '/a/./b', want: 'dot-segment' },
    { name: 'bad character', path: '/a b', want: 'bad-path-char' },
    { name: 'percent-encoding', path: '/a%2Fb', want: 'percent-encoded' },
    { name: 'query', path: '/a?b', want: 'query-or-fragment' },
    { name: 'too long for an ID', path: `/${'p'.repeat(MAX_SPIFFE_ID_BYTES)}`, want: 'id-too-long' },
  ];

  it.each(rows)('$name', (row) => {
    if (row.want.startsWith('spiffe://')) {
      const id = SpiffeId.fromPath(td, row.path);
      expect(id.toString()).toBe(row.want);
      expect(id.path).toBe(row.path);
      expect(id.equals(SpiffeId.parse(row.want))).toBe(true);
    } else {
      const err = errorOf(() => SpiffeId.fromPath(td, row.path));
      expect(err.code).toBe(row.want);
      expectWellFormedMessage(err);
    }
  });

  it('suggests the absolute path', () => {
    expect(errorOf(() => SpiffeId.fromPath(td, 'ns/web')).message).toContain('(try "/ns/web")');
  });
});

describe('SpiffeId.fromSegments', () => {
  const td = TrustDomain.mustParse('lab.local');
  const rows: readonly { name: string; segments: readonly string[]; want: string | SpiffeErrorCode }[] = [
    { name: 'no segments gives the root ID', segments: [], want: 'spiffe://lab.local' },
    { name: 'one segment', segments: ['web'], want: 'spiffe://lab.local/web' },
    { name: 'several segments', segments: ['ns', 'default', 'sa', 'web'], want: 'spiffe://lab.local/ns/default/sa/web' },
    { name: 'uppercase and punctuation are fine', segments: ['Build_42', 'v1.2-rc'], want: 'spiffe://lab.local/Build_42/v1.2-rc' },
    { name: 'empty segment', segments: ['a', ''], want: 'empty-segment' },
    { name: '"." segment', segments: ['.'], want: 'dot-segment' },
    { name: '".." segment', segments: ['a', '..'], want: 'dot-segment' },
    { name: 'slash inside a segment', segments: ['a/b'], want: 'bad-path-char' },
    { name: 'leading slash on a segment', segments: ['/a'], want: 'bad-path-char' },
    { name: 'space in a segment', segments: ['a b'], want: 'bad-path-char' },
    { name: 'percent in a segment', segments: ['a%20b'], want: 'percent-encoded' },
    { name: 'hash in a segment', segments: ['a#b'], want: 'query-or-fragment' },
    { name: 'segments too long for an ID', segments: ['a'.repeat(1500), 'b'.repeat(1500)], want: 'id-too-long' },
  ];

  it.each(rows)('$name', (row) => {
    if (row.want.startsWith('spiffe://')) {
      expect(SpiffeId.fromSegments(td, ...row.segments).toString()).toBe(row.want);
    } else {
      const err = errorOf(() => SpiffeId.fromSegments(td, ...row.segments));
      expect(err.code).toBe(row.want);
      expectWellFormedMessage(err);
    }
  });

  it('tells the caller to split a segment holding "/"', () => {
    expect(errorOf(() => SpiffeId.fromSegments(td, 'ns/default')).message).toContain('fromSegments(td, "ns", "default")');
  });
});

describe('workloadId', () => {
  const td = TrustDomain.mustParse('lab.local');
  const rows: readonly { name: string; namespace: string; service: string; want: string | SpiffeErrorCode }[] = [
    { name: 'istio shape', namespace: 'default', service: 'web', want: 'spiffe://lab.local/ns/default/sa/web' },
    { name: 'dashes and dots', namespace: 'team-a', service: 'api.v2', want: 'spiffe://lab.local/ns/team-a/sa/api.v2' },
    { name: 'empty namespace', namespace: '', service: 'web', want: 'empty-segment' },
    { name: 'empty service', namespace: 'default', service: '', want: 'empty-segment' },
    { name: 'namespace with a space', namespace: 'my ns', service: 'web', want: 'bad-path-char' },
    { name: 'service with a slash', namespace: 'default', service: 'web/admin', want: 'bad-path-char' },
    { name: 'dot-dot service', namespace: 'default', service: '..', want: 'dot-segment' },
  ];

  it.each(rows)('$name', (row) => {
    if (row.want.startsWith('spiffe://')) {
      const id = workloadId(td, row.namespace, row.service);
      expect(id.toString()).toBe(row.want);
      expect(id.memberOf(td)).toBe(true);
    } else {
      const err = errorOf(() => workloadId(td, row.namespace, row.service));
      expect(err.code).toBe(row.want);
      expectWellFormedMessage(err);
    }
  });

  it('names which argument is wrong', () => {
    expect(errorOf(() => workloadId(td, 'my ns', 'web')).message).toMatch(/^spiffe: namespace "my ns" contains " "/);
    expect(errorOf(() => workloadId(td, 'default', '')).message).toMatch(/^spiffe: service is empty/);
  });
});

describe('parseWorkloadId', () => {
  const rows: readonly { name: string; input: string; want: string | SpiffeErrorCode }[] = [
    { name: 'workload ID', input: 'spiffe://lab.local/ns/default/sa/web', want: 'spiffe://lab.local/ns/default/sa/web' },
    { name: 'root ID names no workload', input: 'spiffe://lab.local', want: 'root-path' },
    { name: 'invalid IDs keep their own code', input: 'spiffe://lab.local/', want: 'trailing-slash' },
  ];

  it.each(rows)('$name', (row) => {
    if (row.want.startsWith('spiffe://')) {
      expect(parseWorkloadId(row.input).toString()).toBe(row.want);
    } else {
      const err = errorOf(() => parseWorkloadId(row.input));
      expect(err.code).toBe(row.want);
      expectWellFormedMessage(err);
    }
  });
});

describe('SpiffeId comparisons', () => {
  const lab = TrustDomain.mustParse('lab.local');
  const other = TrustDomain.mustParse('other.local');
  const web = SpiffeId.mustParse('spiffe://lab.local/ns/default/sa/web');

  const memberRows: readonly { name: string; id: string; td: TrustDomain; want: boolean }[] = [
    { name: 'workload in its trust domain', id: 'spiffe://lab.local/web', td: lab, want: true },
    { name: 'root ID in its trust domain', id: 'spiffe://lab.local', td: lab, want: true },
    { name: 'other trust domain', id: 'spiffe://other.local/web', td: lab, want: false },
    { name: 'trust domain that only shares a prefix', id: 'spiffe://lab.localhost/web', td: lab, want: false },
    { name: 'trust domain that only shares a suffix', id: 'spiffe://sub.lab.local/web', td: lab, want: false },
    { name: 'path that looks like a trust domain', id: 'spiffe://other.local/lab.local', td: lab, want: false },
    { name: 'matching other trust domain', id: 'spiffe://other.local/web', td: other, want: true },
  ];

  it.each(memberRows)('memberOf: $name', (row) => {
    expect(SpiffeId.parse(row.id).memberOf(row.td)).toBe(row.want);
  });

  const equalRows: readonly { name: string; a: SpiffeId; b: SpiffeId; want: boolean }[] = [
    { name: 'parsed twice', a: web, b: SpiffeId.parse('spiffe://lab.local/ns/default/sa/web'), want: true },
    { name: 'parsed and built from segments', a: web, b: SpiffeId.fromSegments(lab, 'ns', 'default', 'sa', 'web'), want: true },
    { name: 'parsed and built by workloadId', a: web, b: workloadId(lab, 'default', 'web'), want: true },
    { name: 'paths differ only in case', a: web, b: SpiffeId.parse('spiffe://lab.local/ns/default/sa/Web'), want: false },
    { name: 'same path, other trust domain', a: web, b: SpiffeId.fromPath(other, '/ns/default/sa/web'), want: false },
    { name: 'workload and its root', a: web, b: SpiffeId.fromPath(lab, ''), want: false },
  ];

  it.each(equalRows)('equals: $name', (row) => {
    expect(row.a.equals(row.b)).toBe(row.want);
    expect(row.b.equals(row.a)).toBe(row.want);
    expect(row.a.toString() === row.b.toString()).toBe(row.want);
  });

  it('serializes as its canonical string', () => {
    expect(JSON.stringify({ peer: web })).toBe('{"peer":"spiffe://lab.local/ns/default/sa/web"}');
    expect(`${web}`).toBe('spiffe://lab.local/ns/default/sa/web');
  });

  it('exposes its trust domain as a TrustDomain', () => {
    expect(web.trustDomain.equals(lab)).toBe(true);
    expect(web.trustDomain.idString()).toBe('spiffe://lab.local');
    expect(web.isRoot()).toBe(false);
  });
});
