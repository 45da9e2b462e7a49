import { describe, expect, it } from 'vitest';
import { delay } from '../../../src/core/rotation/clock.js';
import { FakeClock } from '../../../src/core/rotation/fakeClock.js';

describe('FakeClock', () => {
  it('runs due timers in due order, ties in the order they were set, at their own time', () => {
    const clock = new FakeClock(1000);
    const seen: string[] = [];
    const mark = (name: string) => (): void => void seen.push(`${name}@${clock.now()}`);
    clock.setTimeout(mark('c'), 30);
    clock.setTimeout(mark('a'), 10);
    clock.setTimeout(mark('b'), 10);
    const gone = clock.setTimeout(mark('never'), 20);
    clock.clearTimeout(gone);
    expect(clock.advance(25)).toBe(2);
    expect(seen).toEqual(['a@1010', 'b@1010']);
    expect(clock.now()).toBe(1025);
    expect(clock.nextTimer()).toEqual({ dueAt: 1030, delayMs: 5 });
    expect(clock.runNext()).toBe(true);
    expect(seen).toEqual(['a@1010', 'b@1010', 'c@1030']);
    expect(clock.runNext()).toBe(false);
  });

  it('runs timers that due timers set, when they fall due within the same advance', () => {
    const clock = new FakeClock(0);
    const seen: number[] = [];
    const tick = (): void => {
      seen.push(clock.now());
      if (seen.length < 10) clock.setTimeout(tick, 100);
    };
    clock.setTimeout(tick, 100);
    clock.advance(350);
    expect(seen).toEqual([100, 200, 300]);
    expect(clock.pendingTimers()).toBe(1);
  });

  it('waitForTimer resolves with a timer already set, or with the next one the code sets', async () => {
    const clock = new FakeClock(0);
    clock.setTimeout(() => undefined, 50);
    await expect(clock.waitForTimer()).resolves.toEqual({ dueAt: 50, delayMs: 50 });
    const later = clock.waitForTimer((t) => t.delayMs === 500);
    queueMicrotask(() => clock.setTimeout(() => undefined, 500));
    await expect(later).resolves.toEqual({ dueAt: 500, delayMs: 500 });
  });

  it('waitForTimer fails with a sentence when the code never sets the timer', async () => {
    await expect(new FakeClock(0).waitForTimer(() => true, 20)).rejects.toThrow(/never scheduled it/);
  });

  it('drive settles code that awaits the clock, without sleeping', async () => {
    const clock = new FakeClock(0);
    const work = async (): Promise<number> => {
      await delay(clock, 60_000);
      await delay(clock, 3_600_000);
      return clock.now();
    };
    const started = Date.now();
    await expect(clock.drive(work())).resolves.toBe(3_660_000);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('drive gives up after its step budget', async () => {
    const clock = new FakeClock(0);
    const forever = async (): Promise<void> => {
      for (;;) await delay(clock, 1000);
    };
    await expect(clock.drive(forever(), { maxSteps: 5 })).rejects.toThrow(/did not settle within 5 timer steps/);
  });
});
