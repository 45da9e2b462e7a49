import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff, rotationDeadline, shouldRotate } from '../../../src/core/rotation/policy.js';

const HOUR = 3_600_000;
const NB = Date.UTC(2026, 11, 4, 12);
const NA = NB + HOUR;
const fixed = (v: number) => (): number => v;

describe('rotationDeadline and shouldRotate (SPIRE: half the lifetime ±10%)', () => {
  const cases = [
    { name: 'random 0: rotates once 10% less than half is left', random: 0, deadline: NA - 0.45 * HOUR },
    { name: 'random 0.5: exactly half', random: 0.5, deadline: NB + HOUR / 2 },
    { name: 'random 0.75: rotates once 5% more than half is left', random: 0.75, deadline: NA - 0.525 * HOUR },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(rotationDeadline(NB, NA, fixed(c.random))).toBeCloseTo(c.deadline, 3);
      expect(shouldRotate(c.deadline - 1, NB, NA, fixed(c.random))).toBe(false);
      expect(shouldRotate(c.deadline, NB, NA, fixed(c.random))).toBe(true);
    });
  }

  const edges = [
    { name: 'fresh', now: NB, rotate: false },
    { name: 'expired exactly now', now: NA, rotate: true },
    { name: 'long expired', now: NA + HOUR, rotate: true },
    { name: 'not yet valid (clock behind)', now: NB - HOUR, rotate: false },
  ];
  for (const e of edges) {
    it(`${e.name}: ${e.rotate ? 'rotates' : 'keeps'} whatever the draw`, () => {
      for (const r of [0, 0.5, 0.999999]) expect(shouldRotate(e.now, NB, NA, fixed(r))).toBe(e.rotate);
    });
  }

  it('an empty or inverted lifetime rotates at once', () => {
    expect(shouldRotate(NB, NB, NB, fixed(0.5))).toBe(true);
    expect(rotationDeadline(NA, NB, fixed(0.5))).toBe(NA);
  });

  it('property: the deadline lies within ±10% of half the lifetime (to the ms), and before expiry', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1000, max: 86_400_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (nb, life, r) => {
        const d = rotationDeadline(nb, nb + life, fixed(r));
        const half = life / 2;
        expect(nb + life - d).toBeGreaterThanOrEqual(half * 0.9 - 1e-3);
        expect(nb + life - d).toBeLessThanOrEqual(half * 1.1 + 1);
        expect(d).toBeLessThan(nb + life);
      }),
    );
  });
});

describe('Backoff', () => {
  it('grows ×1.5 from the initial delay up to the cap, and starts over after reset', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 5000, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 1500, 2250, 3375, 5000, 5000]);
    expect(b.failures).toBe(6);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(1000);
  });

  const jitters = [
    { name: 'lowest draw', random: 0, first: 800 },
    { name: 'middle draw', random: 0.5, first: 1000 },
    { name: 'highest draw', random: 0.999999, first: 1200 },
  ];
  for (const j of jitters) {
    it(`jitters ±20% by default: ${j.name}`, () => {
      expect(new Backoff({ initialMs: 1000, maxMs: 60_000 }, fixed(j.random)).next()).toBe(j.first);
    });
  }

  it('never exceeds the cap, jitter included', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 2000, jitter: 0.5 }, fixed(0.999999));
    for (let i = 0; i < 10; i++) expect(b.next()).toBeLessThanOrEqual(2000);
  });

  const bad = [
    { name: 'zero initial', o: { initialMs: 0 } },
    { name: 'cap below initial', o: { initialMs: 2000, maxMs: 1000 } },
    { name: 'shrinking multiplier', o: { multiplier: 0.5 } },
    { name: 'jitter of 1', o: { jitter: 1 } },
  ];
  for (const b of bad) {
    it(`refuses ${b.name}`, () => {
      expect(() => new Backoff(b.o)).toThrow(/^rotation: backoff needs/);
    });
  }
});
