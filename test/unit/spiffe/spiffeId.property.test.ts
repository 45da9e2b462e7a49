import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SpiffeError, SpiffeId, TrustDomain, parseWorkloadId } from '../../../src/core/spiffe/index.js';
import type { SpiffeErrorCode } from '../../../src/core/spiffe/index.js';

const CODES: readonly SpiffeErrorCode[] = [
  'empty',
  'wrong-scheme',
  'missing-trust-domain',
  'bad-trust-domain-char',
  'trust-domain-too-long',
  'port-or-userinfo',
  'bad-path-char',
  'empty-segment',
  'dot-segment',
  'trailing-slash',
  'percent-encoded',
  'query-or-fragment',
  'id-too-long',
  'root-path',
  'not-absolute-path',
];

const TD_CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789.-_'];
const PATH_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_'];
// Characters that sit on the edge of some rule, mixed with valid ones so inputs get deep into the scan.
const TRICKY_CHARS = [...TD_CHARS, 'A', 'Z', '/', '/', '/', '.', '.', ':', '@', '%', '?', '#', ' ', '[', ']', '\\', '\u0000', '\n', 'é', '\u200B', '\u{1F600}', '\uD800', '\uDC00'];

const tdName = fc.oneof(
  { weight: 9, arbitrary: fc.string({ unit: fc.constantFrom(...TD_CHARS), minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...TD_CHARS), minLength: 200, maxLength: 255 }) },
);
const segment = fc
  .string({ unit: fc.constantFrom(...PATH_CHARS), minLength: 1, maxLength: 20 })
  .filter((s) => s !== '.' && s !== '..');
const segments = fc.array(segment, { maxLength: 8 });
const validId = fc
  .tuple(tdName, segments)
  .map(([td, segs]) => `spiffe://${td}${segs.map((s) => `/${s}`).join('')}`)
  .filter((id) => id.length <= 2048);

const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  // Lone surrogates and every other UTF-16 unit, which 'binary' never produces.
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 100 }),
  fc.string({ unit: fc.constantFrom(...TRICKY_CHARS), maxLength: 60 }).map((s) => `spiffe://${s}`),
  fc.string({ unit: fc.constantFrom(...TRICKY_CHARS), maxLength: 60 }),
);

/** Calls `fn`; a throw must be a well-formed SpiffeError. Returns the error, or undefined if `fn` returned. */
function onlySpiffeErrors(fn: () => unknown): SpiffeError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof SpiffeError)) throw new Error(`test: expected a SpiffeError, got ${String(err)}.`);
    expect(CODES).toContain(err.code);
    expect(err.message).toMatch(/^spiffe: .+\.$/s);
    return err;
  }
}

/** The rules of SPIFFE-ID.md written the slow, obvious way, to check the fast scanner against. */
function referenceIsValid(s: string): boolean {
  const m = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._-]+)*)$/.exec(s);
  if (m === null) return false;
  const [, td = '', path = ''] = m;
  if (td.length > 255 || s.length > 2048) return false;
  return !path.split('/').some((seg) => seg === '.' || seg === '..');
}

describe('SpiffeId properties', () => {
  it('parse throws nothing but SpiffeError, whatever the input', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const err = onlySpiffeErrors(() => SpiffeId.parse(s));
        if (err === undefined) expect(SpiffeId.parse(s).toString()).toBe(s);
        onlySpiffeErrors(() => parseWorkloadId(s));
        onlySpiffeErrors(() => TrustDomain.parse(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('fromPath and fromSegments throw nothing but SpiffeError', () => {
    const td = TrustDomain.mustParse('lab.local');
    fc.assert(
      fc.property(anyString, fc.array(anyString, { maxLength: 4 }), (path, segs) => {
        onlySpiffeErrors(() => SpiffeId.fromPath(td, path));
        onlySpiffeErrors(() => SpiffeId.fromSegments(td, ...segs));
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts exactly what the reference reading of the spec accepts', () => {
    const candidate = fc.oneof(
      validId,
      fc.string({ unit: fc.constantFrom(...TRICKY_CHARS), maxLength: 40 }).map((s) => `spiffe://${s}`),
      fc.tuple(validId, fc.string({ unit: fc.constantFrom(...TRICKY_CHARS), maxLength: 6 })).map(([id, tail]) => id + tail),
    );
    fc.assert(
      fc.property(candidate, (s) => {
        const err = onlySpiffeErrors(() => SpiffeId.parse(s));
        expect(err === undefined).toBe(referenceIsValid(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips every valid ID unchanged', () => {
    fc.assert(
      fc.property(validId, (s) => {
        const id = SpiffeId.parse(s);
        expect(id.toString()).toBe(s);
        expect(id.trustDomain.idString() + id.path).toBe(s);
        expect(SpiffeId.fromPath(id.trustDomain, id.path).equals(id)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('fromSegments builds the ID parse accepts', () => {
    fc.assert(
      fc.property(tdName, segments, (name, segs) => {
        const td = TrustDomain.parse(name);
        const expected = `spiffe://${name}${segs.map((s) => `/${s}`).join('')}`;
        fc.pre(expected.length <= 2048);
        const id = SpiffeId.fromSegments(td, ...segs);
        expect(id.toString()).toBe(expected);
        expect(id.equals(SpiffeId.parse(expected))).toBe(true);
        expect(id.memberOf(td)).toBe(true);
        expect(id.isRoot()).toBe(segs.length === 0);
      }),
      { numRuns: 500 },
    );
  });

  it('gives each injected defect its own code', () => {
    const defects: readonly { name: string; inject: (td: string, path: string) => string; code: SpiffeErrorCode }[] = [
      { name: 'trailing slash', inject: (td, path) => `spiffe://${td}${path}/`, code: 'trailing-slash' },
      { name: 'query', inject: (td, path) => `spiffe://${td}${path}?q=1`, code: 'query-or-fragment' },
      { name: 'fragment', inject: (td, path) => `spiffe://${td}${path}#f`, code: 'query-or-fragment' },
      { name: 'port', inject: (td, path) => `spiffe://${td}:8443${path}`, code: 'port-or-userinfo' },
      { name: 'user info', inject: (td, path) => `spiffe://me@${td}${path}`, code: 'port-or-userinfo' },
      { name: 'uppercase trust domain', inject: (td, path) => `spiffe://X${td}${path}`, code: 'bad-trust-domain-char' },
      { name: 'uppercase scheme', inject: (td, path) => `SPIFFE://${td}${path}`, code: 'wrong-scheme' },
      { name: 'empty segment', inject: (td, path) => `spiffe://${td}/${path}`, code: 'empty-segment' },
      { name: 'dot segment', inject: (td, path) => `spiffe://${td}/..${path}`, code: 'dot-segment' },
      { name: 'escape', inject: (td, path) => `spiffe://${td}/%41${path}`, code: 'percent-encoded' },
      { name: 'space', inject: (td, path) => `spiffe://${td}/a b${path}`, code: 'bad-path-char' },
    ];
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...TD_CHARS), minLength: 1, maxLength: 30 }), fc.array(segment, { minLength: 1, maxLength: 5 }), fc.constantFrom(...defects), (td, segs, defect) => {
        const input = defect.inject(td, segs.map((s) => `/${s}`).join(''));
        expect(onlySpiffeErrors(() => SpiffeId.parse(input))?.code).toBe(defect.code);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('TrustDomain properties', () => {
  it('round-trips every valid name, bare and as an ID', () => {
    fc.assert(
      fc.property(tdName, (name) => {
        const td = TrustDomain.parse(name);
        expect(td.name).toBe(name);
        expect(td.toString()).toBe(name);
        expect(td.idString()).toBe(`spiffe://${name}`);
        const again = TrustDomain.parse(td.idString());
        expect(again.equals(td)).toBe(true);
        expect(again.name).toBe(name);
        expect(SpiffeId.parse(td.idString()).trustDomain.equals(td)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts a bare name exactly when the ID built from it has that trust domain', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...TRICKY_CHARS.filter((c) => c !== '/' && c !== '?' && c !== '#')), maxLength: 30 }), (name) => {
        const asName = onlySpiffeErrors(() => TrustDomain.parse(name));
        const asId = onlySpiffeErrors(() => SpiffeId.parse(`spiffe://${name}`));
        expect(asName === undefined).toBe(asId === undefined);
        if (asName !== undefined && asId !== undefined) expect(asName.code).toBe(asId.code);
      }),
      { numRuns: 1000 },
    );
  });
});
