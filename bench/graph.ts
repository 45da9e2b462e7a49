// Graph benchmark: the page in headless Chromium with 200 services, idle and under 1,000 events/s
// (frame times by requestAnimationFrame, and event-to-pixel: from a marker event leaving Node to
// its row painted in the page's text view), the extension's activation time with a stub `vscode`,
// and the bundle sizes. Every figure sits beside a reference from the same run: the idle page, a
// do-nothing extension loaded the same way, and cytoscape's own minified file.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import type { MeshSnapshot } from '../src/protocol/snapshot.js';
import { EventFactory, FakeMesh, meshSnapshot, seededRandom, trafficEvents } from '../test/e2e/meshFixture.js';
import { hook, launchChromium, startPageServer } from '../test/e2e/pageHarness.js';
import type { BrowserHandle, PageServer } from '../test/e2e/pageHarness.js';
import type { FrameStats } from '../webview/perf.js';
import { round } from './measure.js';
import { formatCount, formatFixed, formatRatio, ratio, renderTable } from './table.js';
import type { Column } from './table.js';
import { createVscodeStub, stubExtensionContext, withVscodeStub } from './vscodeStub.js';

/** The targets: frame p95 ≤ 20 ms (≥ 50 fps) and event-to-pixel p95 under 100 ms. */
export const GRAPH_GOALS = { frameP95Ms: 20, eventToPixelP95Ms: 100 } as const;

export interface GraphBenchOptions {
  readonly services: number;
  readonly eventsPerSecond: number;
  /** Frame-time window per page, and (at least 8 markers' worth) the event-to-pixel window. */
  readonly seconds: number;
  /** The daemon's batching: events go out in one WebSocket message per interval. */
  readonly batchIntervalMs: number;
  readonly markerIntervalMs: number;
  readonly minMarkers: number;
  /** After the first render, with the load already running, before anything is counted. */
  readonly settleMs: number;
  /** Fresh require + activate() of each module. */
  readonly activationLoads: number;
  /** Where dist/ is: the bundle's own folder by default. */
  readonly distDir?: string;
  readonly progress?: (line: string) => void;
}

/** The defaults: 3 s windows, 1.5 s with --quick; markers every 250 ms, at least 8. */
export function graphOptions(quick: boolean): GraphBenchOptions {
  return { services: 200, eventsPerSecond: 1000, seconds: quick ? 1.5 : 3, batchIntervalMs: 50, markerIntervalMs: 250, minMarkers: 8, settleMs: 500, activationLoads: 20 };
}

// ---------------------------------------------------------------------------------------------
// Pure parts: percentiles, summaries, ratios, the table

export interface LatencyStats {
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly maxMs: number | null;
  readonly meanMs: number | null;
}

/** The q-quantile (0..1) of `values` by nearest rank (as the page's frame probe reads its own); null for none. */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** p50, p95, max and mean of samples in ms, rounded to 0.01 ms; nulls for no samples. */
export function latencyStats(samples: readonly number[]): LatencyStats {
  const r = (v: number | null): number | null => (v === null ? null : round(v, 2));
  const mean = samples.length === 0 ? null : samples.reduce((a, b) => a + b, 0) / samples.length;
  return { count: samples.length, p50Ms: r(percentile(samples, 0.5)), p95Ms: r(percentile(samples, 0.95)), maxMs: r(percentile(samples, 1)), meanMs: r(mean) };
}

/** Frames per second over the probe's window; 0 for an empty one. */
export function framesPerSecond(f: FrameStats): number {
  return f.durationMs > 0 ? round((f.frames * 1000) / f.durationMs, 1) : 0;
}

export interface Target {
  readonly goal: string;
  readonly valueMs: number | null;
  /** null when nothing was measured. */
  readonly met: boolean | null;
}

/** `value` against an upper bound: `inclusive` for "≤", else "<". */
export function upperTarget(goal: string, value: number | null, bound: number, inclusive: boolean): Target {
  return { goal, valueMs: value, met: value === null ? null : inclusive ? value <= bound : value < bound };
}

export interface PageResult {
  readonly eventsPerSecond: number;
  readonly edges: number;
  /** From navigation to every service in the graph and the table. */
  readonly firstRenderMs: number;
  readonly frames: FrameStats & { readonly fps: number };
  readonly eventToPixel: LatencyStats & { readonly markers: number; readonly samplesMs: readonly number[] };
  /** Traffic and markers sent, and what the page's model counted, over the whole run. */
  readonly eventsSent: number;
  readonly eventsSeen: number;
  /** Renders of each part of the page, and ms spent in them, during the counted windows. */
  readonly renders: Readonly<Record<string, number>>;
  readonly renderMs: Readonly<Record<string, number>>;
}

export interface ActivationStats {
  readonly module: string;
  readonly loads: number;
  /** The first load: nothing of the module cached by V8 yet. */
  readonly firstMs: number | null;
  /** require + activate(), per load. */
  readonly totalMs: LatencyStats;
  readonly requireMs: LatencyStats;
  readonly activateMs: LatencyStats;
}

export interface ActivationResult {
  readonly host: 'stub';
  readonly extension: ActivationStats;
  readonly reference: ActivationStats;
  /** vscode members activation used that the stub does not model (answered by a no-op). */
  readonly unmodelled: readonly string[];
}

export interface BundleSize {
  readonly file: string;
  /** null when the file is missing (not built). */
  readonly bytes: number | null;
  readonly gzipBytes: number | null;
}

export interface GraphResult {
  readonly services: number;
  readonly eventsPerSecond: number;
  readonly seconds: number;
  readonly markerSeconds: number;
  readonly batchIntervalMs: number;
  readonly markerIntervalMs: number;
  readonly settleMs: number;
  readonly browser: string;
  readonly pages: { readonly idle: PageResult; readonly loaded: PageResult };
  readonly activation: ActivationResult;
  readonly bundles: { readonly reference: BundleSize; readonly files: readonly BundleSize[] };
  /** Each is ours over the reference beside it: loaded ÷ idle, extension ÷ do-nothing, file ÷ cytoscape. */
  readonly ratios: {
    readonly frameP50: number | null;
    readonly frameP95: number | null;
    readonly frameP99: number | null;
    readonly frameMax: number | null;
    readonly fps: number | null;
    readonly eventToPixelP50: number | null;
    readonly eventToPixelP95: number | null;
    readonly eventToPixelMax: number | null;
    readonly activationMedian: number | null;
    readonly activationP95: number | null;
    readonly bytes: Readonly<Record<string, number | null>>;
    readonly gzipBytes: Readonly<Record<string, number | null>>;
  };
  readonly targets: { readonly frameP95: Target; readonly eventToPixelP95: Target };
  readonly versions: { readonly node: string };
}

const r3 = (v: number | null): number | null => (v === null ? null : round(v, 3));

/** Puts the measured parts together with their ratios and target verdicts. */
export function graphResult(
  o: Pick<GraphBenchOptions, 'services' | 'eventsPerSecond' | 'seconds' | 'batchIntervalMs' | 'markerIntervalMs' | 'settleMs'> & { readonly markerSeconds: number; readonly browser: string },
  pages: { readonly idle: PageResult; readonly loaded: PageResult },
  activation: ActivationResult,
  bundles: { readonly reference: BundleSize; readonly files: readonly BundleSize[] },
): GraphResult {
  const { idle, loaded } = pages;
  const bytes: Record<string, number | null> = {};
  const gzipBytes: Record<string, number | null> = {};
  for (const f of bundles.files) {
    bytes[f.file] = r3(ratio(f.bytes, bundles.reference.bytes));
    gzipBytes[f.file] = r3(ratio(f.gzipBytes, bundles.reference.gzipBytes));
  }
  return {
    services: o.services,
    eventsPerSecond: o.eventsPerSecond,
    seconds: o.seconds,
    markerSeconds: o.markerSeconds,
    batchIntervalMs: o.batchIntervalMs,
    markerIntervalMs: o.markerIntervalMs,
    settleMs: o.settleMs,
    browser: o.browser,
    pages,
    activation,
    bundles,
    ratios: {
      frameP50: r3(ratio(loaded.frames.p50Ms, idle.frames.p50Ms)),
      frameP95: r3(ratio(loaded.frames.p95Ms, idle.frames.p95Ms)),
      frameP99: r3(ratio(loaded.frames.p99Ms, idle.frames.p99Ms)),
      frameMax: r3(ratio(loaded.frames.maxMs, idle.frames.maxMs)),
      fps: r3(ratio(loaded.frames.fps, idle.frames.fps)),
      eventToPixelP50: r3(ratio(loaded.eventToPixel.p50Ms, idle.eventToPixel.p50Ms)),
      eventToPixelP95: r3(ratio(loaded.eventToPixel.p95Ms, idle.eventToPixel.p95Ms)),
      eventToPixelMax: r3(ratio(loaded.eventToPixel.maxMs, idle.eventToPixel.maxMs)),
      activationMedian: r3(ratio(activation.extension.totalMs.p50Ms, activation.reference.totalMs.p50Ms)),
      activationP95: r3(ratio(activation.extension.totalMs.p95Ms, activation.reference.totalMs.p95Ms)),
      bytes,
      gzipBytes,
    },
    targets: {
      frameP95: upperTarget(`frame p95 ≤ ${GRAPH_GOALS.frameP95Ms} ms`, loaded.frames.p95Ms, GRAPH_GOALS.frameP95Ms, true),
      eventToPixelP95: upperTarget(`event-to-pixel p95 < ${GRAPH_GOALS.eventToPixelP95Ms} ms`, loaded.eventToPixel.p95Ms, GRAPH_GOALS.eventToPixelP95Ms, false),
    },
    versions: { node: process.version },
  };
}

const ms = (v: number | null): string => formatFixed(v, 1);

function verdict(t: Target, under: string): string {
  if (t.met === null) return `${t.goal}: n/a (nothing measured)`;
  return `${t.goal}: ${t.met ? 'PASS' : 'BELOW'} (${ms(t.valueMs)} ms ${under})`;
}

/** The section as four tables (page frames, event-to-pixel, activation, bundles), a legend and the target lines. */
export function renderGraph(r: GraphResult): string {
  const { idle, loaded } = r.pages;
  const rate = `${formatCount(r.eventsPerSecond)} events/s`;

  const frameColumns: Column[] = [{ header: 'page' }, { header: 'frames' }, { header: 'p50 ms' }, { header: 'p95 ms' }, { header: 'p99 ms' }, { header: 'max ms' }, { header: 'fps' }, { header: '> 50 ms' }, { header: 'first render ms' }];
  const frameRow = (label: string, p: PageResult): string[] => [
    label,
    formatCount(p.frames.frames),
    ms(p.frames.p50Ms),
    ms(p.frames.p95Ms),
    ms(p.frames.p99Ms),
    ms(p.frames.maxMs),
    formatFixed(p.frames.fps, 1),
    formatCount(p.frames.longFrames),
    formatCount(p.firstRenderMs),
  ];
  const frames = renderTable(frameColumns, [
    frameRow('idle, 0 events/s (reference)', idle),
    frameRow(rate, loaded),
    [
      'loaded ÷ idle',
      '',
      formatRatio(loaded.frames.p50Ms, idle.frames.p50Ms),
      formatRatio(loaded.frames.p95Ms, idle.frames.p95Ms),
      formatRatio(loaded.frames.p99Ms, idle.frames.p99Ms),
      formatRatio(loaded.frames.maxMs, idle.frames.maxMs),
      formatRatio(loaded.frames.fps, idle.frames.fps),
    ],
  ]);

  const e2pColumns: Column[] = [{ header: 'page' }, { header: 'markers' }, { header: 'painted' }, { header: 'p50 ms' }, { header: 'p95 ms' }, { header: 'max ms' }, { header: 'events sent' }, { header: 'events seen' }];
  const e2pRow = (label: string, p: PageResult): string[] => [
    label,
    formatCount(p.eventToPixel.markers),
    formatCount(p.eventToPixel.count),
    ms(p.eventToPixel.p50Ms),
    ms(p.eventToPixel.p95Ms),
    ms(p.eventToPixel.maxMs),
    formatCount(p.eventsSent),
    formatCount(p.eventsSeen),
  ];
  const eventToPixel = renderTable(e2pColumns, [
    e2pRow('idle, markers only (reference)', idle),
    e2pRow(rate, loaded),
    ['loaded ÷ idle', '', '', formatRatio(loaded.eventToPixel.p50Ms, idle.eventToPixel.p50Ms), formatRatio(loaded.eventToPixel.p95Ms, idle.eventToPixel.p95Ms), formatRatio(loaded.eventToPixel.maxMs, idle.eventToPixel.maxMs)],
  ]);

  const a = r.activation;
  const actColumns: Column[] = [{ header: 'module (stub vscode)' }, { header: 'loads' }, { header: 'first ms' }, { header: 'median ms' }, { header: 'p95 ms' }, { header: 'require median' }, { header: 'activate() median' }, { header: '× reference median' }, { header: '× reference p95' }];
  const actRow = (label: string, s: ActivationStats): string[] => [
    label,
    formatCount(s.loads),
    formatFixed(s.firstMs, 2),
    formatFixed(s.totalMs.p50Ms, 2),
    formatFixed(s.totalMs.p95Ms, 2),
    formatFixed(s.requireMs.p50Ms, 2),
    formatFixed(s.activateMs.p50Ms, 2),
    formatRatio(s.totalMs.p50Ms, a.reference.totalMs.p50Ms),
    formatRatio(s.totalMs.p95Ms, a.reference.totalMs.p95Ms),
  ];
  const activation = renderTable(actColumns, [actRow('do-nothing extension (reference)', a.reference), actRow(a.extension.module, a.extension)]);

  const bundleColumns: Column[] = [{ header: 'file' }, { header: 'bytes' }, { header: 'gzip -9 bytes' }, { header: '× cytoscape bytes' }, { header: '× cytoscape gzip' }];
  const ref = r.bundles.reference;
  const bundleRow = (f: BundleSize, label: string = f.file): string[] => [label, f.bytes === null ? 'missing' : formatCount(f.bytes), formatCount(f.gzipBytes), formatRatio(f.bytes, ref.bytes), formatRatio(f.gzipBytes, ref.gzipBytes)];
  const bundles = renderTable(bundleColumns, [bundleRow(ref, `${ref.file} (reference)`), ...r.bundles.files.map((f) => bundleRow(f))]);

  const seconds = (s: number): string => `${formatFixed(s, 1)} s`;
  const unmodelled = a.unmodelled.length === 0 ? 'none' : a.unmodelled.join(', ');
  return [
    `Graph page: ${formatCount(r.services)} services, ${formatCount(loaded.edges)} calls, in ${r.browser} (headless, --disable-gpu, 1280×900), served from 127.0.0.1`,
    `  each page fresh (its own fake mesh and server); events in one WebSocket message per ${r.batchIntervalMs} ms as the daemon batches;`,
    `  ${seconds(r.seconds)} of frames, then ${seconds(r.markerSeconds)} of markers every ${r.markerIntervalMs} ms, after ${formatCount(r.settleMs)} ms of settling under the same load`,
    '',
    'Frames (requestAnimationFrame deltas)',
    frames,
    '',
    'Event-to-pixel (Date.now() at send in Node → marker row in #event-log, one more frame for its paint)',
    eventToPixel,
    '',
    'Extension activation: a stub replaces VS Code (require("vscode") answered in this Node process; the real host is proved by test/extension/)',
    activation,
    '',
    'Bundle sizes (as built by npm run build; gzip at level 9)',
    bundles,
    '',
    '  frames: the page\'s own probe, one delta per requestAnimationFrame; headless Chromium paces frames at 60 Hz, so ~16.7 ms',
    '  is the floor. fps = frames ÷ window. > 50 ms: frames a person notices. The log repaints at most every 50 ms.',
    `  event-to-pixel: a rejection with a unique detail string sent alone between batches, watched for from before it is sent;`,
    '  markers not painted within 5 s count as missing (markers − painted).',
    `  activation: require(dist/extension.js) + activate(context), a fresh module each load (require cache cleared), next to a`,
    `  module whose activate() does nothing, loads taken in turns; vscode members the stub does not model: ${unmodelled}.`,
    '  bundles: × cytoscape is the file over cytoscape.min.js, the graph library the page carries inside main.js.',
    '',
    verdict(r.targets.frameP95, `under ${rate}`),
    verdict(r.targets.eventToPixelP95, `under ${rate}`),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The page

interface PageRunOptions {
  readonly browser: BrowserHandle;
  readonly assetsDir: string;
  readonly services: number;
  readonly eventsPerSecond: number;
  readonly frameMs: number;
  readonly markers: number;
  readonly markerIntervalMs: number;
  readonly batchIntervalMs: number;
  readonly settleMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, Math.max(0, ms)));

/** Sends traffic in daemon-sized batches on a fixed schedule until stopped; counts what it sent. */
function startTraffic(server: PageServer, snapshot: MeshSnapshot, factory: EventFactory, eventsPerSecond: number, intervalMs: number): { readonly sent: () => number; stop(): Promise<void> } {
  let sent = 0;
  let stopped = false;
  const random = seededRandom(42);
  const generations = new Map<string, number>();
  const perBatch = Math.round((eventsPerSecond * intervalMs) / 1000);
  const loop = async (): Promise<void> => {
    if (perBatch <= 0) return;
    const t0 = Date.now();
    for (let i = 0; !stopped; i++) {
      const events = trafficEvents(snapshot, factory, perBatch, Date.now(), random, generations);
      server.sendEvents(events);
      sent += events.length;
      await sleep(t0 + (i + 1) * intervalMs - Date.now());
    }
  };
  const running = loop();
  return {
    sent: () => sent,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

interface MarkerWindow {
  __benchMarkers?: Map<string, Promise<number>>;
}

/** Starts watching, in the page, for a row holding `id` in the text view; settles to Date.now() one frame after it shows, or -1 after 5 s. */
function watchForMarker(page: Page, id: string): Promise<void> {
  return page.evaluate((marker) => {
    const w = window as unknown as MarkerWindow;
    const found = new Promise<number>((done) => {
      // Date.now(), not performance: this runs in the page, and the bundler would bind that name to Node's.
      const deadline = Date.now() + 5000;
      const tick = (): void => {
        if (document.getElementById('event-log')?.textContent?.includes(marker) === true) requestAnimationFrame(() => done(Date.now()));
        else if (Date.now() > deadline) done(-1);
        else requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    (w.__benchMarkers ??= new Map()).set(marker, found);
  }, id);
}

function markerPainted(page: Page, id: string): Promise<number> {
  return page.evaluate(async (marker) => {
    const w = window as unknown as MarkerWindow;
    const at = (await w.__benchMarkers?.get(marker)) ?? -1;
    w.__benchMarkers?.delete(marker);
    return at;
  }, id);
}

async function runPage(o: PageRunOptions): Promise<PageResult> {
  const snapshot = meshSnapshot({ services: o.services, now: Date.now(), ttlMs: 10 * 60_000 });
  const mesh = new FakeMesh(snapshot);
  const server = await startPageServer({ assetsDir: o.assetsDir, mesh });
  const page = await o.browser.context.newPage();
  let traffic: ReturnType<typeof startTraffic> | undefined;
  try {
    const loadStart = Date.now();
    await page.goto(server.url);
    await page.waitForFunction((n) => (window.__mtlsLab?.graph().nodes.length ?? 0) >= n && document.querySelectorAll('#services-table tbody tr').length >= n, o.services, { timeout: 30_000 });
    const firstRenderMs = Date.now() - loadStart;
    const edges = await hook(page, (h) => h.graph().edges.length);
    const seenAtStart = await hook(page, (h) => h.model().eventsSeen);
    const factory = new EventFactory(mesh.snapshot().recentEvents.length);
    traffic = startTraffic(server, snapshot, factory, o.eventsPerSecond, o.batchIntervalMs);
    await sleep(o.settleMs);

    const rendersBefore = await hook(page, (h) => h.renders());
    const msBefore = await hook(page, (h) => h.renderMs());
    await hook(page, (h) => h.frames.start());
    await sleep(o.frameMs);
    const frames = await hook(page, (h) => h.frames.stop());

    // Markers: each watched for before it leaves, then sent alone with the next seq. A policy denial
    // on a declared call: it lands on an edge already drawn, so no marker changes the topology.
    const samples: number[] = [];
    const pending: Promise<void>[] = [];
    let failure: unknown;
    const t0 = Date.now();
    const caller = snapshot.services[0]?.name ?? 'svc-000';
    const callee = snapshot.services[0]?.upstreams[0]?.service ?? 'svc-001';
    for (let k = 0; k < o.markers; k++) {
      await sleep(t0 + k * o.markerIntervalMs - Date.now());
      const id = `bench-marker-${process.pid}-${k}-${Math.random().toString(36).slice(2, 10)}`;
      await watchForMarker(page, id);
      const event = factory.rejection(callee, 'denied-by-policy', `${id}: no rule allows this call.`, factory.peer(caller), Date.now(), 'default-deny');
      const sentAt = Date.now();
      server.sendEvents([event]);
      pending.push(
        markerPainted(page, id).then(
          (at) => {
            if (at >= 0) samples.push(at - sentAt);
          },
          (err: unknown) => {
            failure ??= err;
          },
        ),
      );
    }
    await Promise.all(pending);
    if (failure !== undefined) throw failure;
    await traffic.stop();
    const eventsSent = traffic.sent() + o.markers;
    traffic = undefined;
    await page.waitForFunction((n) => (window.__mtlsLab?.model().eventsSeen ?? 0) >= n, seenAtStart + eventsSent, { timeout: 10_000 }).catch(() => undefined);
    const eventsSeen = (await hook(page, (h) => h.model().eventsSeen)) - seenAtStart;
    const rendersAfter = await hook(page, (h) => h.renders());
    const msAfter = await hook(page, (h) => h.renderMs());
    const renders: Record<string, number> = {};
    for (const [k, v] of Object.entries(rendersAfter)) renders[k] = v - (rendersBefore[k] ?? 0);
    const renderMs: Record<string, number> = {};
    for (const [k, v] of Object.entries(msAfter)) renderMs[k] = round(v - (msBefore[k] ?? 0), 1);
    return {
      eventsPerSecond: o.eventsPerSecond,
      edges,
      firstRenderMs,
      frames: { ...frames, fps: framesPerSecond(frames) },
      eventToPixel: { ...latencyStats(samples), markers: o.markers, samplesMs: samples.map((s) => round(s, 1)) },
      eventsSent,
      eventsSeen,
      renders,
      renderMs,
    };
  } finally {
    await traffic?.stop();
    await page.close();
    await server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Activation

interface ExtensionModule {
  activate(context: unknown): unknown;
  deactivate?(): unknown;
}

interface LoadTiming {
  readonly requireMs: number;
  readonly activateMs: number;
}

const REFERENCE_EXTENSION = `"use strict";
// A do-nothing extension: the floor of loading a module and calling its activate().
const vscode = require("vscode");
exports.activate = function activate(context) { void vscode; void context; };
exports.deactivate = function deactivate() {};
`;

/** One fresh load: require cache cleared, require + activate timed, then deactivated and disposed untimed. */
async function loadOnce(path: string, root: string, storage: string, unmodelled: Set<string>): Promise<LoadTiming> {
  const req = createRequire(__filename);
  const resolved = req.resolve(path);
  delete req.cache[resolved];
  const stub = createVscodeStub();
  const context = stubExtensionContext(stub.module, root, storage);
  const timing = await withVscodeStub(stub, async () => {
    const t0 = performance.now();
    const mod = req(resolved) as ExtensionModule;
    const t1 = performance.now();
    mod.activate(context);
    const t2 = performance.now();
    await mod.deactivate?.();
    for (const d of context.subscriptions) d.dispose();
    return { requireMs: t1 - t0, activateMs: t2 - t1 };
  });
  delete req.cache[resolved];
  for (const m of stub.missing) unmodelled.add(m);
  return timing;
}

function activationStats(module: string, timings: readonly LoadTiming[]): ActivationStats {
  const total = timings.map((t) => t.requireMs + t.activateMs);
  return {
    module,
    loads: timings.length,
    firstMs: total[0] === undefined ? null : round(total[0], 2),
    totalMs: latencyStats(total),
    requireMs: latencyStats(timings.map((t) => t.requireMs)),
    activateMs: latencyStats(timings.map((t) => t.activateMs)),
  };
}

async function measureActivation(distDir: string, loads: number): Promise<ActivationResult> {
  const extension = join(distDir, 'extension.js');
  const root = resolve(distDir, '..');
  const dir = mkdtempSync(join(tmpdir(), 'mtls-lab-bench-activation-'));
  try {
    const reference = join(dir, 'noop-extension.js');
    writeFileSync(reference, REFERENCE_EXTENSION);
    const unmodelled = new Set<string>();
    const ours: LoadTiming[] = [];
    const floor: LoadTiming[] = [];
    // In turns, so a busy moment of the machine falls on both alike.
    for (let i = 0; i < loads; i++) {
      ours.push(await loadOnce(extension, root, join(dir, 'storage'), unmodelled));
      floor.push(await loadOnce(reference, root, join(dir, 'storage'), new Set()));
    }
    return { host: 'stub', extension: activationStats(relative(root, extension), ours), reference: activationStats('do-nothing extension', floor), unmodelled: [...unmodelled] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Bundles

function bundleSize(path: string, label: string): BundleSize {
  try {
    if (!statSync(path).isFile()) return { file: label, bytes: null, gzipBytes: null };
    const data = readFileSync(path);
    return { file: label, bytes: data.length, gzipBytes: gzipSync(data, { level: 9 }).length };
  } catch {
    return { file: label, bytes: null, gzipBytes: null };
  }
}

function measureBundles(distDir: string): { reference: BundleSize; files: BundleSize[] } {
  const root = resolve(distDir, '..');
  const files = [join(distDir, 'webview', 'main.js'), join(distDir, 'webview', 'main.css'), join(distDir, 'extension.js'), join(distDir, 'cli.js')];
  const cytoscape = join(root, 'node_modules', 'cytoscape', 'dist', 'cytoscape.min.js');
  return { reference: bundleSize(cytoscape, basename(cytoscape)), files: files.map((f) => bundleSize(f, relative(root, f))) };
}

// ---------------------------------------------------------------------------------------------
// The section

/** dist/ beside this bundle (dist/bench.js), or the project's dist/ when run from source. */
function defaultDistDir(): string {
  return basename(__dirname) === 'dist' ? __dirname : resolve(__dirname, '..', 'dist');
}

/** Runs the four parts: the idle page, the loaded page, activation, bundle sizes. */
export async function runGraph(o: GraphBenchOptions): Promise<GraphResult> {
  const distDir = o.distDir ?? defaultDistDir();
  const assetsDir = join(distDir, 'webview');
  const progress = o.progress ?? ((): void => undefined);
  for (const f of ['main.js', 'main.css']) {
    try {
      statSync(join(assetsDir, f));
    } catch {
      throw new Error(`bench: ${join(assetsDir, f)} is missing; run "npm run build" first.`);
    }
  }
  const markers = Math.max(o.minMarkers, Math.floor((o.seconds * 1000) / o.markerIntervalMs));
  const browser = await launchChromium();
  let pages: { idle: PageResult; loaded: PageResult };
  let version = 'Chromium';
  try {
    const common = { browser, assetsDir, services: o.services, frameMs: o.seconds * 1000, markers, markerIntervalMs: o.markerIntervalMs, batchIntervalMs: o.batchIntervalMs, settleMs: o.settleMs };
    progress(`graph: the page with ${o.services} services, idle`);
    const idle = await runPage({ ...common, eventsPerSecond: 0 });
    progress(`graph: the page with ${o.services} services at ${o.eventsPerSecond} events/s`);
    const loaded = await runPage({ ...common, eventsPerSecond: o.eventsPerSecond });
    pages = { idle, loaded };
    const page = await browser.context.newPage();
    try {
      const ua = await page.evaluate(() => navigator.userAgent);
      const v = /Chrome\/([\d.]+)/.exec(ua)?.[1];
      if (v !== undefined) version = `Chromium ${v}`;
    } finally {
      await page.close();
    }
  } finally {
    await browser.close();
  }
  progress(`graph: activation, ${o.activationLoads} fresh loads of each module`);
  const activation = await measureActivation(distDir, o.activationLoads);
  const bundles = measureBundles(distDir);
  return graphResult({ ...o, markerSeconds: round((markers * o.markerIntervalMs) / 1000, 2), browser: version }, pages, activation, bundles);
}

export const graphSection = {
  name: 'graph',
  async run(o: { readonly quick: boolean; readonly progress: (line: string) => void }): Promise<{ json: GraphResult; text: string }> {
    const result = await runGraph({ ...graphOptions(o.quick), progress: o.progress });
    return { json: result, text: renderGraph(result) };
  },
};
