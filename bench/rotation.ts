// Rotation benchmark: one process holds the CA, a Rotator with hundreds of workloads on a short
// TTL and the real clock, and a ring of Sidecars (the Rotator's sources, as the mesh wires them)
// with in-process backends carrying steady mTLS traffic. Every SVID is issued at start, so every
// renewal falls in one wave at half the TTL (±10%); the process CPU over that wave is compared with
// an equally long window of the same traffic just before it, and the difference per rotation with a
// bare `ca.issue` loop (the issuance floor) measured in the same run. Every request must succeed.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHistogram, monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { CertificateAuthority, type IssuedSvid } from '../src/core/ca/authority.js';
import { writeSvidFiles } from '../src/core/ca/svidFiles.js';
import { EventBus } from '../src/core/events/bus.js';
import { RejectionLedger, Sidecar } from '../src/core/mesh/sidecar.js';
import { authorizeAny } from '../src/core/policy/authorizers.js';
import { Rotator } from '../src/core/rotation/rotator.js';
import { SpiffeId, TrustDomain } from '../src/core/spiffe/index.js';
import { LOCALHOST, REQUEST, ResponseParser, startFixedBackend, type FixedBackend } from './loadClient.js';
import { measureSync, round, selfCpuMs, type Measurement } from './measure.js';
import { formatCount, formatFixed, formatRatio, ratio, renderTable, type Column } from './table.js';

const TRUST_DOMAIN = 'lab.local';
const REQUEST_TIMEOUT_MS = 5_000;
/** Margin around the wave's first and last renewal, and the gap between the baseline and the wave. */
const EDGE_MS = 300;
const GAP_MS = 500;
/** Traffic runs at least this long before the baseline window opens. */
const MIN_WARMUP_MS = 1_000;
const MIN_BASELINE_MS = 1_000;
/** How long the wave's window may stay open past the last planned renewal, waiting for late ones. */
const MAX_LATE_MS = 5_000;

export interface RotationBenchOptions {
  /** Workloads rotating (500 in the full run). */
  readonly services: number;
  /** Their SVID lifetime on the real clock (60 s in the full run): the wave comes at half of it. */
  readonly ttlMs: number;
  /** Sidecars carrying traffic, each the source of one of the workloads (20). */
  readonly sidecars: number;
  /** Requests a second over one keep-alive connection per sidecar, in all. */
  readonly keepAliveRps: number;
  /** Requests a second each on a new connection (a new mTLS connection between sidecars). */
  readonly freshRps: number;
  /** Time for each floor loop. */
  readonly floorBudgetMs: number;
  /** Write each workload's SVID files, as the mesh does (default true). */
  readonly files?: boolean;
  readonly progress?: (line: string) => void;
}

export interface WindowResult {
  readonly lengthMs: number;
  /** This process, every thread. */
  readonly cpuMs: number;
  readonly cores: number;
  readonly rotations: number;
  readonly requests: number;
  readonly failed: number;
  readonly requestP50Ms: number;
  readonly requestP99Ms: number;
  /** perf_hooks.monitorEventLoopDelay over the window (10 ms sampling). */
  readonly eventLoopDelayP99Ms: number;
  readonly eventLoopDelayMaxMs: number;
  /** Share of the window the event loop was busy. */
  readonly eventLoopUtilization: number;
}

export interface RotationResult {
  readonly services: number;
  readonly ttlMs: number;
  readonly sidecars: number;
  readonly files: boolean;
  readonly load: { readonly keepAliveRps: number; readonly freshRps: number };
  /** Issuing (and writing) every workload's first SVID at start. */
  readonly startMs: number;
  readonly baseline: WindowResult;
  readonly wave: WindowResult;
  readonly rotations: {
    /** Renewals (cause "rotation") during the run. */
    readonly done: number;
    readonly inWave: number;
    /** 'svid/failed' events. */
    readonly failed: number;
  };
  readonly requests: { readonly total: number; readonly failed: number; readonly failedKinds: Readonly<Record<string, number>> };
  /** What the wave cost beyond the baseline's traffic, CPU. */
  readonly cost: {
    readonly cpuMs: number;
    /** How the baseline's CPU was brought to the wave's: by requests served (the traffic's cost), or by length when a window served none. */
    readonly baselineScaledBy: 'requests' | 'length';
    readonly msPerRotation: number | null;
    /** Of one core, over the wave. */
    readonly percentOfCore: number;
    /**
     * Measured inside the Rotator's own calls during the wave (CPU around each call), per renewal:
     * issuance, and the SVID files; what `msPerRotation` holds beyond them is installing the
     * SVID, events, the sidecars' hot reloads and the handshakes they cause, and the machine's noise.
     */
    readonly inside: { readonly renewals: number; readonly issueUs: number | null; readonly filesUs: number | null; readonly filesWallUs: number | null };
  };
  readonly floor: { readonly issue: Measurement; readonly issueAndFiles: Measurement | null };
  readonly ratios: {
    /** CPU per rotation over the bare ca.issue floor's CPU per certificate. */
    readonly perRotationOverIssue: number | null;
    readonly perRotationOverIssueAndFiles: number | null;
  };
  readonly sidecarReloads: { readonly reloads: number; readonly reloadErrors: number; readonly refused: number; readonly outboundFailed: number };
  readonly zeroFailedRequests: boolean;
}

// ---------------------------------------------------------------------------------------------
// Traffic

interface Tally {
  requests: number;
  failed: number;
  readonly latency: RecordableHistogram;
}

function newTally(): Tally {
  return { requests: 0, failed: 0, latency: createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 }) };
}

/**
 * Paced HTTP traffic into the sidecars' upstream ports: one keep-alive connection per port, and
 * new connections round-robin, each carrying one request. Every answer that is not a 200, every
 * connection lost mid-request and every answer later than 5 s is a failure.
 */
class Traffic {
  readonly total = newTally();
  readonly failedKinds: Record<string, number> = {};
  /** Where answers are also counted now (a measured window), if anywhere. */
  window: Tally | undefined;
  private readonly keepAlive: KeepAliveLoop[];
  private readonly fresh = new Set<FreshRequest>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private freshSent = 0;
  private nextPort = 0;
  private readonly startedAt = performance.now();

  constructor(
    private readonly ports: readonly number[],
    keepAliveRps: number,
    private readonly freshRps: number,
  ) {
    const period = (1000 * ports.length) / Math.max(1, keepAliveRps);
    this.keepAlive = ports.map((port, i) => new KeepAliveLoop(this, port, period, this.startedAt + (period * i) / ports.length));
  }

  start(): void {
    for (const k of this.keepAlive) k.connect();
    this.timer = setInterval(() => this.tick(), 5);
  }

  answered(sentAt: number): void {
    const us = Math.max(1, Math.round((performance.now() - sentAt) * 1000));
    for (const t of this.tallies()) {
      t.requests++;
      t.latency.record(us);
    }
  }

  failed(kind: string): void {
    this.failedKinds[kind] = (this.failedKinds[kind] ?? 0) + 1;
    for (const t of this.tallies()) t.failed++;
  }

  get inFlight(): number {
    return this.fresh.size + this.keepAlive.filter((k) => k.busy).length;
  }

  /** Stops sending, waits (at most the request timeout) for the answers still due, then closes every socket. */
  async stop(): Promise<void> {
    this.stopping = true;
    const deadline = performance.now() + REQUEST_TIMEOUT_MS + 500;
    while (this.inFlight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (this.timer !== undefined) clearInterval(this.timer);
    this.sweep(Number.POSITIVE_INFINITY);
    for (const k of this.keepAlive) k.close();
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  removeFresh(r: FreshRequest): void {
    this.fresh.delete(r);
  }

  private *tallies(): Iterable<Tally> {
    yield this.total;
    if (this.window !== undefined) yield this.window;
  }

  private tick(): void {
    const now = performance.now();
    this.sweep(now);
    if (this.stopping) return;
    for (const k of this.keepAlive) k.due(now);
    const due = Math.floor(((now - this.startedAt) * this.freshRps) / 1000);
    while (this.freshSent < due) {
      this.freshSent++;
      const port = this.ports[this.nextPort++ % this.ports.length] as number;
      this.fresh.add(new FreshRequest(this, port));
    }
  }

  private sweep(now: number): void {
    for (const k of this.keepAlive) k.checkTimeout(now);
    for (const r of [...this.fresh]) r.checkTimeout(now);
  }
}

/** One request on a connection of its own. */
class FreshRequest {
  private readonly socket: Socket;
  private readonly sentAt = performance.now();
  private settled = false;

  constructor(
    private readonly traffic: Traffic,
    port: number,
  ) {
    const parser = new ResponseParser((status) => this.settle(status === 200 ? undefined : `status-${status}`));
    this.socket = netConnect({ host: LOCALHOST, port });
    this.socket.setNoDelay(true);
    this.socket.once('connect', () => this.socket.write(REQUEST));
    this.socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch {
        this.settle('bad-response');
      }
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.settle(err.code ?? 'socket-error'));
    this.socket.on('close', () => this.settle('closed-mid-request'));
  }

  checkTimeout(now: number): void {
    if (now - this.sentAt > REQUEST_TIMEOUT_MS) this.settle('timeout');
  }

  private settle(failure: string | undefined): void {
    if (this.settled) return;
    this.settled = true;
    if (failure === undefined) this.traffic.answered(this.sentAt);
    else this.traffic.failed(failure);
    this.traffic.removeFresh(this);
    this.socket.destroy();
  }
}

/** One keep-alive connection sending a request every `period` ms (the next waits for the last answer). */
class KeepAliveLoop {
  private socket: Socket | undefined;
  private connected = false;
  private sentAt = 0;
  busy = false;
  private closed = false;

  constructor(
    private readonly traffic: Traffic,
    private readonly port: number,
    private readonly period: number,
    private nextAt: number,
  ) {}

  connect(): void {
    if (this.closed) return;
    const s = netConnect({ host: LOCALHOST, port: this.port });
    this.socket = s;
    this.connected = false;
    s.setNoDelay(true);
    const parser = new ResponseParser((status) => this.settle(s, status === 200 ? undefined : `status-${status}`));
    s.once('connect', () => {
      this.connected = true;
    });
    s.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch {
        this.settle(s, 'bad-response');
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => this.settle(s, err.code ?? 'socket-error'));
    s.on('close', () => {
      if (this.socket !== s) return;
      if (this.busy) this.settle(s, 'closed-mid-request');
      this.socket = undefined;
      if (!this.closed) setTimeout(() => this.connect(), 10).unref();
    });
  }

  due(now: number): void {
    if (this.busy || !this.connected || this.socket === undefined || now < this.nextAt) return;
    this.nextAt = Math.max(this.nextAt + this.period, now - this.period);
    this.busy = true;
    this.sentAt = now;
    this.socket.write(REQUEST);
  }

  checkTimeout(now: number): void {
    if (this.busy && now - this.sentAt > REQUEST_TIMEOUT_MS && this.socket !== undefined) this.settle(this.socket, 'timeout');
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }

  private settle(s: Socket, failure: string | undefined): void {
    if (this.socket !== s) return;
    if (!this.busy) {
      // Bytes or an error with no request out: the connection is no good; count it only if it answered unasked.
      if (failure === undefined) this.traffic.failed('unasked-response');
      s.destroy();
      return;
    }
    this.busy = false;
    if (failure === undefined) {
      this.traffic.answered(this.sentAt);
      return;
    }
    this.traffic.failed(failure);
    s.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Windows

/** CPU (and wall) spent inside the Rotator's issue and writeFiles calls while `on`. */
class Inside {
  on = false;
  readonly calls = { issue: 0, files: 0 };
  readonly cpuMs = { issue: 0, files: 0 };
  readonly wallMs = { issue: 0, files: 0 };

  time<T>(what: 'issue' | 'files', fn: () => T): T {
    if (!this.on) return fn();
    const cpu = selfCpuMs();
    const at = performance.now();
    try {
      return fn();
    } finally {
      this.calls[what]++;
      this.cpuMs[what] += selfCpuMs() - cpu;
      this.wallMs[what] += performance.now() - at;
    }
  }
}

function perCall(totalMs: number, calls: number): number | null {
  return calls === 0 ? null : round((totalMs * 1000) / calls, 1);
}

interface WindowProbe {
  readonly at: number;
  readonly cpuMs: number;
  readonly elu: EventLoopUtilization;
  readonly delay: IntervalHistogram;
  readonly tally: Tally;
}

function openWindow(traffic: Traffic): WindowProbe {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const tally = newTally();
  traffic.window = tally;
  return { at: performance.now(), cpuMs: selfCpuMs(), elu: performance.eventLoopUtilization(), delay, tally };
}

function closeWindow(traffic: Traffic, w: WindowProbe, rotationTimes: readonly number[]): WindowResult {
  const at = performance.now();
  const cpuMs = selfCpuMs() - w.cpuMs;
  const elu = performance.eventLoopUtilization(w.elu);
  w.delay.disable();
  traffic.window = undefined;
  const lengthMs = at - w.at;
  const ms = (ns: number): number => round(ns / 1e6, 2);
  const latency = w.tally.latency;
  return {
    lengthMs: round(lengthMs, 1),
    cpuMs: round(cpuMs, 1),
    cores: round(cpuMs / lengthMs, 3),
    rotations: rotationTimes.filter((t) => t >= w.at && t <= at).length,
    requests: w.tally.requests,
    failed: w.tally.failed,
    requestP50Ms: latency.count === 0 ? 0 : round(latency.percentile(50) / 1000, 2),
    requestP99Ms: latency.count === 0 ? 0 : round(latency.percentile(99) / 1000, 2),
    eventLoopDelayP99Ms: w.delay.count === 0 ? 0 : ms(w.delay.percentile(99)),
    eventLoopDelayMaxMs: w.delay.count === 0 ? 0 : ms(w.delay.max),
    eventLoopUtilization: round(elu.utilization, 3),
  };
}

/** A port on 127.0.0.1 kept busy by a placeholder until `release`, so nothing else takes it meanwhile. */
function holdPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOCALHOST, () => {
      const address = server.address();
      const release = (): Promise<void> => new Promise((done) => (server.listening ? server.close(() => done()) : done()));
      resolve({ port: typeof address === 'object' && address !== null ? address.port : 0, release });
    });
  });
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
}

// ---------------------------------------------------------------------------------------------
// The run

const idFor = (service: string): SpiffeId => SpiffeId.parse(`spiffe://${TRUST_DOMAIN}/ns/bench/sa/${service}`);
const nameFor = (i: number): string => `svc-${String(i).padStart(3, '0')}`;

/**
 * Starts the CA, the Rotator (every workload's first SVID), the sidecar ring and the traffic;
 * measures the baseline window, then the wave; stops everything; then times the floors. Nothing
 * stays running and the temp folder is removed when it resolves or rejects.
 */
export async function runRotation(o: RotationBenchOptions): Promise<RotationResult> {
  const say = o.progress ?? ((): void => undefined);
  const files = o.files ?? true;
  const sidecarCount = Math.min(o.sidecars, o.services);
  if (sidecarCount < 2) throw new Error('bench: the rotation run needs at least 2 sidecars (a ring: each calls the next).');
  const dir = mkdtempSync(join(tmpdir(), 'mtls-lab-bench-rotation-'));
  const backends: FixedBackend[] = [];
  const sidecars: Sidecar[] = [];
  let rotator: Rotator | undefined;
  let traffic: Traffic | undefined;
  try {
    const td = TrustDomain.parse(TRUST_DOMAIN);
    const ca = CertificateAuthority.create({ trustDomain: td });
    const bus = new EventBus();
    const inside = new Inside();
    const rotationTimes: number[] = [];
    let failedIssuances = 0;
    bus.on((e) => {
      if (e.type === 'svid/issued' && e.cause === 'rotation') rotationTimes.push(performance.now());
      else if (e.type === 'svid/failed') failedIssuances++;
    });
    // As the mesh configures it (src/core/mesh/mesh.ts): check interval, DNS:localhost, files.
    rotator = new Rotator({
      ca,
      events: bus,
      ttlMs: o.ttlMs,
      checkIntervalMs: Math.min(5_000, Math.max(250, o.ttlMs / 20)),
      issue: (id, ttlMs) => inside.time('issue', () => ca.issue({ id, ttlMs, dnsNames: ['localhost'] })),
      writeFiles: (target, svid, bundlePem) => inside.time('files', () => void writeSvidFiles(target, svid, bundlePem)),
    });
    for (let i = 0; i < o.services; i++) {
      const service = nameFor(i);
      rotator.add(files ? { service, spiffeId: idFor(service), dir: join(dir, 'svids', service) } : { service, spiffeId: idFor(service) });
    }
    say(`rotation: issuing ${o.services} SVIDs (TTL ${o.ttlMs / 1000} s)`);
    const started = performance.now();
    rotator.start();
    const startMs = performance.now() - started;
    // Where the wave will be: every workload's renewal time, drawn once at issuance.
    const toPerf = performance.now() - Date.now();
    const due = rotator.status().map((w) => (w.rotateAt?.getTime() ?? Number.NaN) + toPerf);
    const waveStart = Math.min(...due) - EDGE_MS;
    const waveEnd = Math.max(...due) + EDGE_MS;
    const length = waveEnd - waveStart;
    // As long as the wave, unless a slow start (fsync on a busy disk) left less room: its CPU is scaled to the wave's length.
    const baselineLength = Math.min(length, waveStart - GAP_MS - (performance.now() + MIN_WARMUP_MS));
    const baselineStart = waveStart - GAP_MS - baselineLength;
    if (!Number.isFinite(length) || baselineLength < MIN_BASELINE_MS) {
      throw new Error(`bench: the TTL of ${o.ttlMs} ms leaves no room for a baseline before the rotation wave (the start took ${Math.round(startMs)} ms); use a longer TTL or fewer services.`);
    }

    // The ring: sidecar i serves backend i and calls sidecar i+1 through its upstream port. They
    // start from the last down, each on a port the OS picks, so each knows the next one's port;
    // only sidecar 0's is chosen ahead, and held by a placeholder until sidecar 0 takes it.
    const holder = await holdPort();
    const meshPorts: number[] = new Array<number>(sidecarCount).fill(0);
    meshPorts[0] = holder.port;
    const ledger = new RejectionLedger();
    const bundles = rotator.bundleSource();
    const upstreamPorts: number[] = new Array<number>(sidecarCount).fill(0);
    try {
      for (let i = sidecarCount - 1; i >= 0; i--) {
        const backend = await startFixedBackend();
        backends.push(backend);
        const service = nameFor(i);
        const next = (i + 1) % sidecarCount;
        if (i === 0) await holder.release();
        const sidecar = new Sidecar({
          service,
          spiffeId: idFor(service).toString(),
          trustDomain: TRUST_DOMAIN,
          svid: rotator.source(service),
          bundles,
          servicePort: backend.port,
          meshPort: meshPorts[i],
          upstreams: [{ name: nameFor(next), spiffeId: idFor(nameFor(next)).toString(), port: meshPorts[next] as number }],
          authorize: authorizeAny(),
          mode: 'strict',
          bus,
          ledger,
        });
        sidecars.push(sidecar);
        const ports = await sidecar.start();
        meshPorts[i] = ports.meshPort as number;
        upstreamPorts[i] = ports.upstreamPorts[nameFor(next)] as number;
      }
    } finally {
      await holder.release();
    }
    traffic = new Traffic(upstreamPorts, o.keepAliveRps, o.freshRps);
    traffic.start();

    say(`rotation: traffic on; a ${formatFixed(baselineLength / 1000, 1)} s baseline in ${formatFixed((baselineStart - performance.now()) / 1000, 1)} s, then the ${formatFixed(length / 1000, 1)} s wave`);
    await sleepUntil(baselineStart);
    let w = openWindow(traffic);
    await sleepUntil(baselineStart + baselineLength);
    const baseline = closeWindow(traffic, w, rotationTimes);
    say('rotation: the wave');
    await sleepUntil(waveStart);
    w = openWindow(traffic);
    inside.on = true;
    await sleepUntil(waveEnd);
    // A starved event loop renews late: the wave lasts until every renewal is done, within bounds
    // that keep it clear of the next wave (at 0.45 TTL after the first renewals).
    const lateLimit = waveEnd + Math.min(MAX_LATE_MS, 0.3 * o.ttlMs);
    while (rotationTimes.length < o.services && performance.now() < lateLimit) await sleepUntil(performance.now() + 20);
    const wave = closeWindow(traffic, w, rotationTimes);
    inside.on = false;

    await traffic.stop();
    await rotator.stop();
    const stats = sidecars.map((s) => s.stats);
    await Promise.all(sidecars.map((s) => s.stop()));
    await Promise.all(backends.map((b) => b.close()));
    sidecars.length = 0;
    backends.length = 0;

    say('rotation: the issuance floor');
    const floorBudget = { budgetMs: o.floorBudgetMs, warmupMs: Math.round(o.floorBudgetMs / 8), minOps: 20 };
    const floorId = idFor('floor');
    const issueOnce = (): IssuedSvid => ca.issue({ id: floorId, ttlMs: o.ttlMs, dnsNames: ['localhost'] });
    const issue = measureSync(() => issueOnce().chain.length, floorBudget);
    const floorDir = join(dir, 'floor');
    const bundlePem = ca.bundlePem();
    const issueAndWrite = (): number => {
      writeSvidFiles(floorDir, issueOnce(), bundlePem);
      return 1;
    };
    const issueAndFiles = files ? measureSync(issueAndWrite, floorBudget) : null;

    // The wave's CPU beyond what the same traffic cost in the baseline, scaled by the requests each
    // window served (a wave that blocks the event loop serves fewer of them), else by length.
    const byRequests = baseline.requests > 0 && wave.requests > 0;
    const costMs = wave.cpuMs - (byRequests ? (baseline.cpuMs * wave.requests) / baseline.requests : (baseline.cpuMs * wave.lengthMs) / baseline.lengthMs);
    const perRotationMs = wave.rotations > 0 ? costMs / wave.rotations : null;
    const r3 = (v: number | null): number | null => (v === null ? null : Number(v.toPrecision(3)));
    const total = traffic.total;
    return {
      services: o.services,
      ttlMs: o.ttlMs,
      sidecars: sidecarCount,
      files,
      load: { keepAliveRps: o.keepAliveRps, freshRps: o.freshRps },
      startMs: round(startMs, 1),
      baseline,
      wave,
      rotations: { done: rotationTimes.length, inWave: wave.rotations, failed: failedIssuances },
      requests: { total: total.requests + total.failed, failed: total.failed, failedKinds: traffic.failedKinds },
      cost: {
        cpuMs: round(costMs, 1),
        baselineScaledBy: byRequests ? 'requests' : 'length',
        msPerRotation: perRotationMs === null ? null : round(perRotationMs, 3),
        percentOfCore: round((costMs / wave.lengthMs) * 100, 1),
        inside: {
          renewals: inside.calls.issue,
          issueUs: perCall(inside.cpuMs.issue, inside.calls.issue),
          filesUs: perCall(inside.cpuMs.files, inside.calls.files),
          filesWallUs: perCall(inside.wallMs.files, inside.calls.files),
        },
      },
      floor: { issue, issueAndFiles },
      ratios: {
        perRotationOverIssue: r3(ratio(perRotationMs === null ? null : perRotationMs * 1000, issue.cpuUsPerOp)),
        perRotationOverIssueAndFiles: r3(ratio(perRotationMs === null ? null : perRotationMs * 1000, issueAndFiles?.cpuUsPerOp)),
      },
      sidecarReloads: {
        reloads: stats.reduce((n, s) => n + s.reloads, 0),
        reloadErrors: stats.reduce((n, s) => n + s.reloadErrors, 0),
        refused: stats.reduce((n, s) => n + s.inbound.refused + s.inbound.denied, 0),
        outboundFailed: stats.reduce((n, s) => n + s.outbound.failed, 0),
      },
      zeroFailedRequests: total.failed === 0,
    };
  } finally {
    await traffic?.stop();
    await rotator?.stop();
    await Promise.all(sidecars.map((s) => s.stop()));
    await Promise.all(backends.map((b) => b.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The report

/** The section as a table of the two windows and the floors, and the zero-failure line. */
export function renderRotation(r: RotationResult): string {
  const windowColumns: Column[] = [
    { header: 'window' },
    { header: 'length s' },
    { header: 'rotations' },
    { header: 'requests' },
    { header: 'failed' },
    { header: 'req p99 ms' },
    { header: 'CPU ms' },
    { header: 'cores' },
    { header: 'loop busy' },
    { header: 'loop delay p99 ms' },
    { header: 'loop delay max ms' },
  ];
  const windowRow = (name: string, w: WindowResult): string[] => [
    name,
    formatFixed(w.lengthMs / 1000, 1),
    formatCount(w.rotations),
    formatCount(w.requests),
    formatCount(w.failed),
    formatFixed(w.requestP99Ms, 2),
    formatCount(w.cpuMs),
    formatFixed(w.cores, 3),
    `${formatFixed(w.eventLoopUtilization * 100, 1)}%`,
    formatFixed(w.eventLoopDelayP99Ms, 1),
    formatFixed(w.eventLoopDelayMaxMs, 1),
  ];
  const costColumns: Column[] = [{ header: 'CPU per SVID' }, { header: 'ops' }, { header: 'CPU µs/op' }, { header: '× bare ca.issue' }];
  const perRotationUs = r.cost.msPerRotation === null ? null : r.cost.msPerRotation * 1000;
  const floorRow = (name: string, m: Measurement | null): string[] =>
    m === null ? [name, 'not run'] : [name, formatCount(m.ops), formatFixed(m.cpuUsPerOp, 1), formatRatio(m.cpuUsPerOp, r.floor.issue.cpuUsPerOp)];
  const costRows = [
    ['rotation in the wave (wave − baseline CPU)', formatCount(r.wave.rotations), perRotationUs === null ? 'n/a' : formatFixed(perRotationUs, 1), formatRatio(perRotationUs, r.floor.issue.cpuUsPerOp)],
    ['  of which inside ca.issue', formatCount(r.cost.inside.renewals), formatFixed(r.cost.inside.issueUs, 1), formatRatio(r.cost.inside.issueUs, r.floor.issue.cpuUsPerOp)],
    ['  of which writing the SVID files', formatCount(r.cost.inside.renewals), formatFixed(r.cost.inside.filesUs, 1), formatRatio(r.cost.inside.filesUs, r.floor.issue.cpuUsPerOp)],
    floorRow('floor: bare ca.issue (keygen + sign)', r.floor.issue),
    floorRow('floor: ca.issue + SVID files (fsync)', r.floor.issueAndFiles),
  ];
  const s = r.sidecarReloads;
  const kinds = Object.entries(r.requests.failedKinds).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `Rotation: ${formatCount(r.services)} workloads, TTL ${r.ttlMs / 1000} s on the real clock (renewal at half ±10%), ${r.files ? 'SVID files written as the mesh does' : 'in memory only'};`,
    `  ${r.sidecars} sidecars in a ring (each the source of one workload) carry ${r.load.keepAliveRps} req/s keep-alive + ${r.load.freshRps} req/s on new connections, mTLS between sidecars`,
    `  start: ${formatCount(r.services)} SVIDs issued${r.files ? ' and written' : ''} in ${formatCount(r.startMs)} ms`,
    '',
    renderTable(windowColumns, [windowRow('baseline (traffic, no rotation)', r.baseline), windowRow('rotation wave (traffic + renewals)', r.wave)]),
    '',
    renderTable(costColumns, costRows),
    '',
    `  rotation cost: ${formatCount(r.cost.cpuMs)} ms CPU over the wave = ${r.cost.msPerRotation === null ? 'n/a' : formatFixed(r.cost.msPerRotation, 2)} ms per rotation, ${formatFixed(r.cost.percentOfCore, 1)}% of one core while it lasts.`,
    `  inside the Rotator's calls in the wave: ca.issue ${formatFixed(r.cost.inside.issueUs, 0)} µs CPU, SVID files ${formatFixed(r.cost.inside.filesUs, 0)} µs CPU (${formatFixed(r.cost.inside.filesWallUs, 0)} µs of wall clock, the event loop blocked) per renewal.`,
    ...(r.cost.cpuMs <= 0 ? ['  (the baseline spent as much CPU as the wave: the machine\'s other load outweighed the rotations; run again when it is quieter.)'] : []),
    ...(r.wave.rotations < r.services ? [`  (only ${formatCount(r.wave.rotations)} of ${formatCount(r.services)} renewals fell inside the wave's window: the event loop was starved.)`] : []),
    `  The baseline is the same traffic just before the wave (as long, unless the start left less room); its CPU is scaled`,
    `  by the ${r.cost.baselineScaledBy === 'requests' ? 'requests each window served' : 'windows\' lengths'} before it is taken from the wave's. CPU: this process, all threads.`,
    '  req p99: request latency through two sidecars (caller\'s upstream port → mTLS → callee → backend);',
    '  loop busy: event-loop utilization; loop delay: perf_hooks.monitorEventLoopDelay (10 ms sampling).',
    `  rotations: ${formatCount(r.rotations.done)} done (${formatCount(r.rotations.inWave)} in the wave), ${formatCount(r.rotations.failed)} failed; sidecars: ${formatCount(s.reloads)} hot reloads, ${formatCount(s.reloadErrors)} reload errors, ${formatCount(s.refused)} refused, ${formatCount(s.outboundFailed)} outbound failures.`,
    '',
    `failed requests: ${formatCount(r.requests.failed)} of ${formatCount(r.requests.total)} (goal 0): ${r.zeroFailedRequests ? 'PASS' : `FAIL (${kinds})`}`,
  ].join('\n');
}

/** Full run: 500 workloads at TTL 60 s (one wave at ~30 s); quick: 100 at TTL 10 s. */
export function rotationOptions(quick: boolean): Omit<RotationBenchOptions, 'progress'> {
  return quick
    ? { services: 100, ttlMs: 10_000, sidecars: 20, keepAliveRps: 200, freshRps: 100, floorBudgetMs: 300 }
    : { services: 500, ttlMs: 60_000, sidecars: 20, keepAliveRps: 200, freshRps: 100, floorBudgetMs: 1000 };
}

/** The rotation section for bench/main.ts's registry. */
export const rotationSection = {
  name: 'rotation',
  async run(o: { readonly quick: boolean; readonly progress: (line: string) => void }): Promise<{ json: RotationResult; text: string }> {
    const result = await runRotation({ ...rotationOptions(o.quick), progress: o.progress });
    return { json: result, text: renderRotation(result) };
  },
};
