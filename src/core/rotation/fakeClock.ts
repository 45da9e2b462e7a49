import type { Clock, TimerHandle } from './clock.js';

/** A timer waiting on a FakeClock. */
export interface PendingTimer {
  /** Clock time at which it runs. */
  readonly dueAt: number;
  /** `dueAt` minus the clock's time when it was asked for. */
  readonly delayMs: number;
}

interface FakeTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly fn: () => void;
}

interface Waiter {
  readonly match: (t: PendingTimer) => boolean;
  readonly resolve: (t: PendingTimer) => void;
}

/**
 * A clock for tests: time moves only when the test says so, timers run in due order (ties in the
 * order they were set), and `waitForTimer` lets a test wait for the code under test to schedule
 * its next timer instead of sleeping.
 */
export class FakeClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Map<number, FakeTimer>();
  private readonly waiters = new Set<Waiter>();

  constructor(start: number | Date = Date.UTC(2026, 11, 4, 12)) {
    this.time = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: ++this.seq, dueAt: this.time + Math.max(0, ms), fn };
    this.timers.set(timer.id, timer);
    const view = this.view(timer);
    for (const w of this.waiters) {
      if (w.match(view)) {
        this.waiters.delete(w);
        w.resolve(view);
      }
    }
    return timer as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as unknown as FakeTimer).id);
  }

  /** How many timers are waiting. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** The timer that runs first, if any. */
  nextTimer(): PendingTimer | undefined {
    const t = this.earliest();
    return t ? this.view(t) : undefined;
  }

  /**
   * Resolves with the first pending timer that matches (at once if one is already set, else when
   * the code sets one). Rejects after `timeoutMs` of real time so a test that waits for a timer
   * the code never sets fails with a sentence instead of hanging.
   */
  waitForTimer(match: (t: PendingTimer) => boolean = () => true, timeoutMs = 5_000): Promise<PendingTimer> {
    for (const t of this.timers.values()) {
      const view = this.view(t);
      if (match(view)) return Promise.resolve(view);
    }
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`fakeClock: no matching timer was set within ${timeoutMs} ms of real time; the code under test never scheduled it.`));
      }, timeoutMs);
      guard.unref();
      const waiter: Waiter = {
        match,
        resolve: (t) => {
          clearTimeout(guard);
          resolve(t);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way, in order. Returns how many ran. */
  advance(ms: number): number {
    return this.advanceTo(this.time + ms);
  }

  /** Moves time to `time` (never backwards), running the timers due by then, including ones they set. */
  advanceTo(time: number): number {
    let ran = 0;
    for (let t = this.earliest(); t && t.dueAt <= time; t = this.earliest()) {
      this.timers.delete(t.id);
      this.time = Math.max(this.time, t.dueAt);
      ran++;
      t.fn();
    }
    this.time = Math.max(this.time, time);
    return ran;
  }

  /** Moves time to the next timer and runs every timer due then. Returns false when none was pending. */
  runNext(): boolean {
    const t = this.earliest();
    if (!t) return false;
    this.advanceTo(t.dueAt);
    return true;
  }

  /**
   * Settles `promise` for code that awaits the clock: lets promise callbacks and I/O run, then
   * moves to the next timer, until the promise settles. When no timer is pending it waits for the
   * promise or for the code to set one (real I/O such as a child process may be in between), at
   * most `idleTimeoutMs` of real time; at most `maxSteps` timer steps, so it never loops for ever.
   */
  async drive<T>(promise: Promise<T>, o: { maxSteps?: number; idleTimeoutMs?: number } = {}): Promise<T> {
    const maxSteps = o.maxSteps ?? 1_000;
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    const quiet = watched.then(
      () => undefined,
      () => undefined,
    );
    for (let step = 0; step < maxSteps; step++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (settled) return watched;
      if (this.timers.size === 0) await Promise.race([quiet, this.waitForTimer(() => true, o.idleTimeoutMs ?? 5_000)]);
      else this.runNext();
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (settled) return watched;
    throw new Error(`fakeClock: the promise did not settle within ${maxSteps} timer steps.`);
  }

  private earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers.values()) if (!best || t.dueAt < best.dueAt) best = t;
    return best;
  }

  private view(t: FakeTimer): PendingTimer {
    return { dueAt: t.dueAt, delayMs: t.dueAt - this.time };
  }
}
