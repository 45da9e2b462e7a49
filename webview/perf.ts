// Frame-time measurement: the page records requestAnimationFrame deltas while a probe runs, and
// anyone (the browser test, the benchmark) reads the same summary through the test hook.

export interface FrameStats {
  readonly frames: number;
  readonly durationMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Frames that took longer than 50 ms (a "long" frame a person notices). */
  readonly longFrames: number;
}

/** The q-quantile (0..1) of `sorted` (ascending), nearest rank. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

const round = (n: number): number => Math.round(n * 100) / 100;

/** Summarizes frame deltas in milliseconds. */
export function summarizeFrames(deltas: readonly number[]): FrameStats {
  const sorted = [...deltas].sort((a, b) => a - b);
  const total = deltas.reduce((a, b) => a + b, 0);
  return {
    frames: deltas.length,
    durationMs: round(total),
    meanMs: round(deltas.length === 0 ? 0 : total / deltas.length),
    p50Ms: round(quantile(sorted, 0.5)),
    p95Ms: round(quantile(sorted, 0.95)),
    p99Ms: round(quantile(sorted, 0.99)),
    maxMs: round(sorted[sorted.length - 1] ?? 0),
    longFrames: deltas.filter((d) => d > 50).length,
  };
}

export interface FrameProbe {
  start(): void;
  /** Stops recording and summarizes the frames since `start`. */
  stop(): FrameStats;
  readonly running: boolean;
}

/** Records requestAnimationFrame deltas between `start` and `stop`. */
export function createFrameProbe(raf: (cb: (t: number) => void) => number, caf: (handle: number) => void): FrameProbe {
  let deltas: number[] = [];
  let last: number | undefined;
  let handle: number | undefined;
  const tick = (t: number): void => {
    if (last !== undefined) deltas.push(t - last);
    last = t;
    handle = raf(tick);
  };
  return {
    start() {
      if (handle !== undefined) caf(handle);
      deltas = [];
      last = undefined;
      handle = raf(tick);
    },
    stop() {
      if (handle !== undefined) caf(handle);
      handle = undefined;
      return summarizeFrames(deltas);
    },
    get running() {
      return handle !== undefined;
    },
  };
}
