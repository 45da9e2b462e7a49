// SPIRE's agent rotation rule, as pure functions of time and certificate dates.

/** How far the rotation point moves at random, as a fraction of half the lifetime (SPIRE: ±10%). */
export const ROTATION_JITTER = 0.1;

/**
 * The moment an SVID valid from `notBefore` to `notAfter` (ms) should be replaced: when the time
 * left reaches half its lifetime, moved by up to ±10% at random. Draw it once per SVID and keep
 * it, as SPIRE does, so repeated checks agree with each other.
 */
export function rotationDeadline(notBefore: number, notAfter: number, random: () => number): number {
  const lifetime = notAfter - notBefore;
  if (!(lifetime > 0)) return notBefore;
  const jitter = random() * 2 * ROTATION_JITTER - ROTATION_JITTER;
  // Whole milliseconds, so a deadline reads the same as a Date and in a timer.
  return Math.floor(notAfter - (lifetime / 2) * (1 + jitter));
}

/**
 * SPIRE's `shouldRotate`: true once the SVID has expired, or once the time left is at or below
 * half its lifetime moved by up to ±10% at random (a fresh draw per call; keep a
 * `rotationDeadline` instead when the answer must be stable between checks).
 */
export function shouldRotate(now: number, notBefore: number, notAfter: number, random: () => number): boolean {
  return now >= notAfter || now >= rotationDeadline(notBefore, notAfter, random);
}

export interface BackoffOptions {
  /** First delay. Default 1 s. */
  readonly initialMs?: number;
  /** No delay exceeds this, jitter included. Default 30 s. */
  readonly maxMs?: number;
  /** Growth per failure. Default 1.5 (SPIRE's). */
  readonly multiplier?: number;
  /** Each delay is moved by up to this fraction at random, so failing workloads do not retry in step. Default 0.2. */
  readonly jitter?: number;
}

/** Retry delays after failures: initial, ×1.5 each time, with jitter, up to a cap; `reset` after a success. */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;
  private base: number;
  private count = 0;

  constructor(
    o: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialMs = o.initialMs ?? 1_000;
    this.maxMs = o.maxMs ?? 30_000;
    this.multiplier = o.multiplier ?? 1.5;
    this.jitter = o.jitter ?? 0.2;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs) || !(this.multiplier >= 1) || !(this.jitter >= 0 && this.jitter < 1)) {
      throw new RangeError(
        `rotation: backoff needs 0 < initial <= max, a multiplier of at least 1 and a jitter in [0, 1); got initial ${this.initialMs} ms, max ${this.maxMs} ms, multiplier ${this.multiplier}, jitter ${this.jitter}.`,
      );
    }
    this.base = this.initialMs;
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.count;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = this.base;
    this.base = Math.min(this.maxMs, this.base * this.multiplier);
    this.count++;
    const moved = base * (1 + (this.random() * 2 - 1) * this.jitter);
    return Math.max(1, Math.min(this.maxMs, Math.round(moved)));
  }

  reset(): void {
    this.base = this.initialMs;
    this.count = 0;
  }
}
