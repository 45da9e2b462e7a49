// The graph benchmark's pure parts: percentiles, summaries, targets, ratios, the table and the
// JSON shape, from a made-up report. No browser, no timing: the numbers are invented.
import { describe, expect, it } from 'vitest';
import { framesPerSecond, graphOptions, graphResult, latencyStats, percentile, renderGraph, upperTarget } from '../../../bench/graph.js';
import type { ActivationResult, ActivationStats, BundleSize, PageResult } from '../../../bench/graph.js';
import { createVscodeStub } from '../../../bench/vscodeStub.js';
import type { FrameStats } from '../../../webview/perf.js';

describe('percentile (nearest rank)', () => {
  const cases: { name: string; values: number[]; q: number; want: number | null }[] = [
    { name: 'no values', values: [], q: 0.5, want: null },
    { name: 'one value is every percentile', values: [7], q: 0.95, want: 7 },
    { name: 'median of four is the second', values: [4, 1, 3, 2], q: 0.5, want: 2 },
    { name: 'p95 of twenty is the nineteenth', values: Array.from({ length: 20 }, (_, i) => 20 - i), q: 0.95, want: 19 },
    { name: 'p95 of eight is the largest', values: [1, 2, 3, 4, 5, 6, 7, 8], q: 0.95, want: 8 },
    { name: 'q 1 is the max', values: [3, 9, 1], q: 1, want: 9 },
    { name: 'q 0 is the min', values: [3, 9, 1], q: 0, want: 1 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(percentile(c.values, c.q)).toBe(c.want);
    });
  }

  it('leaves its input unsorted', () => {
    const values = [3, 1, 2];
    percentile(values, 0.5);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('latencyStats', () => {
  it('summarizes samples, rounded to 0.01 ms', () => {
    expect(latencyStats([10, 20.123, 30, 40])).toEqual({ count: 4, p50Ms: 20.12, p95Ms: 40, maxMs: 40, meanMs: 25.03 });
  });

  it('gives nulls for no samples', () => {
    expect(latencyStats([])).toEqual({ count: 0, p50Ms: null, p95Ms: null, maxMs: null, meanMs: null });
  });
});

describe('framesPerSecond', () => {
  it('is frames over the window', () => {
    expect(framesPerSecond(frames(16.7, { frames: 180, durationMs: 3000 }))).toBe(60);
  });
  it('is 0 for an empty window', () => {
    expect(framesPerSecond(frames(0, { frames: 0, durationMs: 0 }))).toBe(0);
  });
});

describe('upperTarget', () => {
  const cases: { name: string; value: number | null; inclusive: boolean; want: boolean | null }[] = [
    { name: 'under the bound', value: 16.7, inclusive: true, want: true },
    { name: 'at the bound, ≤', value: 20, inclusive: true, want: true },
    { name: 'at the bound, <', value: 100, inclusive: false, want: false },
    { name: 'over the bound', value: 345, inclusive: false, want: false },
    { name: 'nothing measured', value: null, inclusive: false, want: null },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(upperTarget('goal', c.value, c.inclusive ? 20 : 100, c.inclusive).met).toBe(c.want);
    });
  }
});

describe('graphOptions', () => {
  it('runs 3 s windows by default and 1.5 s with --quick, always at least 8 markers at 200 services and 1,000 events/s', () => {
    const full = graphOptions(false);
    const quick = graphOptions(true);
    expect([full.seconds, quick.seconds]).toEqual([3, 1.5]);
    for (const o of [full, quick]) {
      expect(o.services).toBe(200);
      expect(o.eventsPerSecond).toBe(1000);
      expect(o.minMarkers).toBeGreaterThanOrEqual(8);
    }
  });
});

// ── a made-up report ──────────────────────────────────────────────────────────────────────────

function frames(p95Ms: number, over: Partial<FrameStats> = {}): FrameStats {
  return { frames: 180, durationMs: 3000, meanMs: 16.7, p50Ms: 16.7, p95Ms, p99Ms: p95Ms * 2, maxMs: p95Ms * 3, longFrames: 0, ...over };
}

function page(eventsPerSecond: number, frameP95: number, e2p: number[]): PageResult {
  const f = frames(frameP95);
  return {
    eventsPerSecond,
    edges: 226,
    firstRenderMs: 700,
    frames: { ...f, fps: framesPerSecond(f) },
    eventToPixel: { ...latencyStats(e2p), markers: 12, samplesMs: e2p },
    eventsSent: eventsPerSecond * 6 + 12,
    eventsSeen: eventsPerSecond * 6 + 12,
    renders: { graph: 30, log: 20 },
    renderMs: { graph: 30.5, log: 12 },
  };
}

function stats(module: string, median: number): ActivationStats {
  const s = latencyStats([median, median, median * 2]);
  return { module, loads: 3, firstMs: median * 2, totalMs: s, requireMs: s, activateMs: latencyStats([0.1]) };
}

const activation: ActivationResult = { host: 'stub', extension: stats('dist/extension.js', 4), reference: stats('do-nothing extension', 0.1), unmodelled: [] };
const bundles: { reference: BundleSize; files: BundleSize[] } = {
  reference: { file: 'cytoscape.min.js', bytes: 400_000, gzipBytes: 100_000 },
  files: [
    { file: 'dist/webview/main.js', bytes: 500_000, gzipBytes: 150_000 },
    { file: 'dist/cli.js', bytes: null, gzipBytes: null },
  ],
};
const options = { services: 200, eventsPerSecond: 1000, seconds: 3, batchIntervalMs: 50, markerIntervalMs: 250, settleMs: 500, markerSeconds: 3, browser: 'Chromium 1.2.3' };

describe('graphResult', () => {
  const result = graphResult(options, { idle: page(0, 16.8, [50, 100, 150]), loaded: page(1000, 18, [60, 90, 120]) }, activation, bundles);

  it('divides each figure by the reference beside it', () => {
    expect(result.ratios.frameP95).toBe(1.071);
    expect(result.ratios.fps).toBe(1);
    expect(result.ratios.eventToPixelP50).toBe(0.9);
    expect(result.ratios.activationMedian).toBe(40);
    expect(result.ratios.bytes).toEqual({ 'dist/webview/main.js': 1.25, 'dist/cli.js': null });
    expect(result.ratios.gzipBytes['dist/webview/main.js']).toBe(1.5);
  });

  it('judges the loaded page against the issue’s targets', () => {
    expect(result.targets.frameP95).toEqual({ goal: 'frame p95 ≤ 20 ms', valueMs: 18, met: true });
    expect(result.targets.eventToPixelP95).toEqual({ goal: 'event-to-pixel p95 < 100 ms', valueMs: 120, met: false });
  });

  it('survives a JSON round trip with the keys --json promises', () => {
    const json = JSON.parse(JSON.stringify({ graph: result })) as { graph: Record<string, unknown> };
    expect(Object.keys(json.graph)).toEqual(
      expect.arrayContaining(['services', 'eventsPerSecond', 'seconds', 'browser', 'pages', 'activation', 'bundles', 'ratios', 'targets', 'versions']),
    );
    expect(json.graph['activation']).toMatchObject({ host: 'stub', extension: { module: 'dist/extension.js', totalMs: { p50Ms: 4 } } });
    expect(json.graph['pages']).toMatchObject({ idle: { eventsPerSecond: 0 }, loaded: { eventsPerSecond: 1000, eventToPixel: { count: 3, markers: 12 } } });
  });
});

describe('renderGraph', () => {
  const text = renderGraph(graphResult(options, { idle: page(0, 16.8, [50, 100, 150]), loaded: page(1000, 25, [40, 60, 80]) }, activation, bundles));
  const lines = text.split('\n');

  it('prints both target lines with their verdicts', () => {
    expect(lines).toContain('frame p95 ≤ 20 ms: BELOW (25.0 ms under 1,000 events/s)');
    expect(lines).toContain('event-to-pixel p95 < 100 ms: PASS (80.0 ms under 1,000 events/s)');
  });

  it('puts the reference rows first and the ratio rows last in the page tables', () => {
    const idle = lines.findIndex((l) => l.startsWith('idle, 0 events/s (reference)'));
    const loaded = lines.findIndex((l, i) => i > idle && l.startsWith('1,000 events/s'));
    const ratioRow = lines.findIndex((l, i) => i > loaded && l.startsWith('loaded ÷ idle'));
    expect(idle).toBeGreaterThan(0);
    expect(loaded).toBe(idle + 1);
    expect(ratioRow).toBe(loaded + 1);
    expect(lines[ratioRow]).toContain('1.49×');
  });

  it('says the stub replaces VS Code, and shows activation against the do-nothing extension', () => {
    expect(text).toContain('a stub replaces VS Code');
    const row = lines.find((l) => l.startsWith('dist/extension.js') && l.includes('40.0×'));
    expect(row).toBeDefined();
  });

  it('shows bundle sizes against cytoscape, a missing file as missing', () => {
    expect(lines.find((l) => l.startsWith('dist/webview/main.js'))).toMatch(/500,000\s+150,000\s+1\.25×\s+1\.50×$/);
    expect(lines.find((l) => l.startsWith('dist/cli.js'))).toMatch(/missing\s+n\/a\s+n\/a\s+n\/a$/);
  });

  it('a nothing-measured target says so instead of passing', () => {
    const empty = renderGraph(graphResult(options, { idle: page(0, 16.8, []), loaded: page(1000, 16.8, []) }, activation, bundles));
    expect(empty).toContain('event-to-pixel p95 < 100 ms: n/a (nothing measured)');
  });
});

describe('createVscodeStub', () => {
  it('answers what activation uses and lists what it does not model', () => {
    const stub = createVscodeStub();
    const window = stub.module['window'] as Record<string, unknown>;
    expect(typeof window['createTreeView']).toBe('function');
    expect(stub.missing).toEqual([]);
    const unknown = window['createTerminal'];
    expect(typeof unknown).toBe('function');
    expect(window['then']).toBeUndefined();
    expect(stub.missing).toEqual(['window.createTerminal']);
  });
});
