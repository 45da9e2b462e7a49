import { DEFAULT_SVID_TTL_MS, LEAF_EXPIRY_GRACE_MS, type CaChange, type CertificateAuthority, type IssuedSvid } from '../ca/authority.js';
import { CaError } from '../ca/errors.js';
import { svidPaths, writeSvidFiles, type SvidPaths } from '../ca/svidFiles.js';
import type { EventBus } from '../events/bus.js';
import type { SvidIssuedEvent } from '../events/types.js';
import { toPem } from '../pki/pem.js';
import type { SvidMaterial, X509BundleSource, X509SvidSource } from '../pki/source.js';
import type { SpiffeId } from '../spiffe/index.js';
import { delay, systemClock, type Clock, type TimerHandle } from './clock.js';
import { RotationError } from './errors.js';
import { Backoff, rotationDeadline, type BackoffOptions } from './policy.js';
import { ReloadRunner, type ReloadResult, type ReloadSpec } from './reload.js';

export type { ReloadResult, ReloadSpec } from './reload.js';

/** Why an SVID was issued, as 'svid/issued' reports it. */
export type RotationCause = SvidIssuedEvent['cause'];

/** Issues an SVID for `id`; the CA in a mesh, anything that can fail on cue in a test. */
export type IssueFn = (id: SpiffeId, ttlMs: number) => IssuedSvid;

/** Replaces a workload's files; `writeSvidFiles` unless a test injects a failing one. Must leave the previous files whole when it throws. */
export type WriteFilesFn = (dir: string, svid: IssuedSvid, bundlePem: string) => void;

/** What the Rotator needs of a CA: the bundle, issuance, and the three rotation steps. */
export type RotatingAuthority = Pick<CertificateAuthority, 'trustDomain' | 'issue' | 'bundleDers' | 'authorities' | 'prepare' | 'activate' | 'retire' | 'retireAt'>;

export interface WorkloadSpec {
  /** Unique name; the key of `source`, `remove` and `rotateNow`. */
  readonly service: string;
  readonly spiffeId: SpiffeId;
  /** When set, svid.pem, svid_key.pem and svid_bundle.pem are kept here, as spiffe-helper names them. */
  readonly dir?: string;
  /** Default: the Rotator's `ttlMs`. */
  readonly ttlMs?: number;
  /** After the files change (not on the first write: a service reads them when it starts). */
  readonly reload?: ReloadSpec;
}

export interface RotatorOptions {
  readonly ca: RotatingAuthority;
  /** Default: `ca.issue` at the clock's time. */
  readonly issue?: IssueFn;
  readonly clock?: Clock;
  /** In [0, 1); the rotation jitter and the backoff jitter come from it. Default Math.random. */
  readonly random?: () => number;
  readonly events?: EventBus;
  /** SVID lifetime. Default 1 h (SPIFFE's recommendation). */
  readonly ttlMs?: number;
  /** How often the loop looks even when nothing is due, and how long a CA rotation waits after the bundle went out. Default 5 s. */
  readonly checkIntervalMs?: number;
  /** Retry delays after a failed issuance or write. Default 1 s ×1.5 up to 30 s, ±20%. */
  readonly backoff?: BackoffOptions;
  /** At most this many workloads are renewed per turn of the event loop, so sockets keep being served. Default 64. */
  readonly maxPerTick?: number;
  readonly writeFiles?: WriteFilesFn;
  /** A reload command is killed after this long (real time: it is a real process). Default 10 s. */
  readonly reloadTimeoutMs?: number;
}

/** Told after every SVID a workload starts using. */
export interface RotationNotice {
  readonly service: string;
  readonly spiffeId: string;
  readonly serial: string;
  readonly previousSerial?: string;
  readonly cause: RotationCause;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** When it will be replaced (half its lifetime ±10%, drawn once). */
  readonly rotateAt: Date;
}

export type RotationOutcome =
  | { readonly service: string; readonly ok: true; readonly serial: string }
  | { readonly service: string; readonly ok: false; readonly error: string; readonly retryInMs: number };

export interface WorkloadStatus {
  readonly service: string;
  readonly spiffeId: string;
  readonly serial?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly rotateAt?: Date;
  /** Failed attempts since the last success. */
  readonly failures: number;
  /** When the loop acts on it next (renewal or retry). */
  readonly nextAttemptAt?: Date;
  readonly files?: SvidPaths;
}

export interface CaRotationResult {
  readonly prepared?: CaChange;
  readonly activated: CaChange;
  /** One per workload re-issued by the new CA. */
  readonly reissued: readonly RotationOutcome[];
  /** When the old CA leaves the bundle (the last SVID it signed expires); undefined when nothing old is left. */
  readonly retireAt?: Date;
}

interface Installed {
  readonly svid: IssuedSvid;
  readonly material: SvidMaterial;
  readonly rotateAt: number;
}

interface Workload {
  readonly spec: WorkloadSpec;
  readonly ttlMs: number;
  readonly backoff: Backoff;
  readonly listeners: Set<() => void>;
  current: Installed | undefined;
  /** Clock time of the next attempt: `rotateAt` while healthy, the retry time after a failure. */
  dueAt: number;
  /** The cause the next attempt reports (a retry keeps the cause of the attempt that failed). */
  cause: RotationCause;
  lastError: string | undefined;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function notifyAll(listeners: Iterable<() => void>): void {
  for (const l of listeners) {
    try {
      l();
    } catch {
      // A broken subscriber must not stop the others or the rotation.
    }
  }
}

/**
 * Keeps every workload's X.509-SVID fresh: renews at half the lifetime (±10%, drawn once per
 * SVID), retries failures with backoff, replaces files atomically (key first, 0600) and never
 * swaps in an SVID whose files could not be written. One timer serves every workload. It also
 * rotates the CA the way SPIRE does, so no handshake fails across it.
 */
export class Rotator {
  private readonly ca: RotatingAuthority;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly issueFn: IssueFn;
  private readonly writeFiles: WriteFilesFn;
  private readonly ttlMs: number;
  private readonly checkIntervalMs: number;
  private readonly maxPerTick: number;
  private readonly reloads: ReloadRunner;
  private readonly workloads = new Map<string, Workload>();
  private readonly rotateListeners = new Set<(n: RotationNotice) => void>();
  private readonly reloadListeners = new Set<(r: ReloadResult) => void>();
  private readonly bundleListeners = new Set<() => void>();
  private running = false;
  private timer: TimerHandle | undefined;
  private retireTimer: TimerHandle | undefined;
  private caRotating = false;
  private bundleCache: { ders: readonly Buffer[]; pem: string } | undefined;

  constructor(private readonly o: RotatorOptions) {
    this.ca = o.ca;
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? Math.random;
    this.issueFn = o.issue ?? ((id, ttlMs): IssuedSvid => this.ca.issue({ id, ttlMs, now: new Date(this.clock.now()) }));
    this.writeFiles = o.writeFiles ?? ((dir, svid, bundlePem): void => void writeSvidFiles(dir, svid, bundlePem));
    this.ttlMs = o.ttlMs ?? DEFAULT_SVID_TTL_MS;
    this.checkIntervalMs = o.checkIntervalMs ?? 5_000;
    this.maxPerTick = Math.max(1, o.maxPerTick ?? 64);
    this.reloads = new ReloadRunner(o.reloadTimeoutMs ?? 10_000);
    new Backoff(o.backoff); // validates the options now rather than on the first add
  }

  /** Adds a workload; once started, its first SVID is issued (and written) before this returns. */
  add(spec: WorkloadSpec): void {
    if (this.workloads.has(spec.service)) {
      throw new RotationError('duplicate-service', `rotation: a workload named "${spec.service}" is already rotating; remove it first or pick another name.`);
    }
    const w: Workload = {
      spec,
      ttlMs: spec.ttlMs ?? this.ttlMs,
      backoff: new Backoff(this.o.backoff, this.random),
      listeners: new Set(),
      current: undefined,
      dueAt: Infinity,
      cause: 'start',
      lastError: undefined,
    };
    this.workloads.set(spec.service, w);
    if (this.running) {
      this.attempt(w, 'start');
      this.arm();
    }
  }

  /** Stops rotating `service`; its files stay where they are. */
  remove(service: string): void {
    this.workload(service);
    this.workloads.delete(service);
  }

  /** Issues every workload's first SVID (synchronously, so sources are ready when this returns) and starts the loop. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const w of this.workloads.values()) if (!w.current && w.dueAt === Infinity) this.attempt(w, 'start');
    this.arm();
    this.scheduleRetire();
  }

  /** Stops the loop and kills reload commands still running. SVIDs and files stay as they are. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    if (this.retireTimer) this.clock.clearTimeout(this.retireTimer);
    this.timer = undefined;
    this.retireTimer = undefined;
    await this.reloads.stop();
  }

  /** Renews `service` (every workload when omitted) now, cause 'manual'. A failure is retried with backoff. */
  rotateNow(service?: string): RotationOutcome[] {
    const targets = service === undefined ? [...this.workloads.values()] : [this.workload(service)];
    const outcomes = targets.map((w) => this.attempt(w, 'manual'));
    this.arm();
    return outcomes;
  }

  /** The in-memory SVID of `service` for its sidecar; tells subscribers after every change. */
  source(service: string): X509SvidSource {
    const w = this.workload(service);
    return {
      current: (): SvidMaterial => {
        if (!w.current) {
          const why = w.lastError ? ` (the last attempt failed: ${w.lastError})` : this.running ? '' : ' (the Rotator has not been started)';
          throw new RotationError('no-svid', `rotation: ${service} has no SVID yet${why}; wait for onDidChange before serving.`);
        }
        return w.current.material;
      },
      onDidChange: (listener: () => void): (() => void) => {
        w.listeners.add(listener);
        return () => w.listeners.delete(listener);
      },
    };
  }

  /** The trust bundle every workload uses; tells subscribers when a CA rotation adds or retires a root. */
  bundleSource(): X509BundleSource {
    return {
      bundlePemFor: (trustDomain: string): string | undefined => (trustDomain === this.ca.trustDomain.name ? this.bundlePem() : undefined),
      allBundlesPem: (): string => this.bundlePem(),
      onDidChange: (listener: () => void): (() => void) => {
        this.bundleListeners.add(listener);
        return () => this.bundleListeners.delete(listener);
      },
    };
  }

  /** Called after every SVID a workload starts using; returns an unsubscribe function. */
  onDidRotate(listener: (notice: RotationNotice) => void): () => void {
    this.rotateListeners.add(listener);
    return () => this.rotateListeners.delete(listener);
  }

  /** Called after every reload signal or command; returns an unsubscribe function. */
  onDidReload(listener: (result: ReloadResult) => void): () => void {
    this.reloadListeners.add(listener);
    return () => this.reloadListeners.delete(listener);
  }

  status(): WorkloadStatus[] {
    return [...this.workloads.values()].map((w) => {
      const c = w.current;
      return {
        service: w.spec.service,
        spiffeId: w.spec.spiffeId.toString(),
        failures: w.backoff.failures,
        ...(c ? { serial: c.svid.serial, notBefore: c.svid.notBefore, notAfter: c.svid.notAfter, rotateAt: new Date(c.rotateAt) } : {}),
        ...(Number.isFinite(w.dueAt) ? { nextAttemptAt: new Date(w.dueAt) } : {}),
        ...(w.spec.dir !== undefined ? { files: svidPaths(w.spec.dir) } : {}),
      };
    });
  }

  /**
   * Rotates the CA as SPIRE does: prepare a new root and put it in every bundle (sources notify,
   * files are rewritten and reloaded); wait one check interval; activate it; re-issue every
   * workload from it (cause 'ca-rotation'); and retire the old root once the last SVID it signed
   * has expired. Resolves after the re-issue; the retirement happens later on the clock. Resumes
   * a rotation whose prepared CA was never activated.
   */
  async rotateCa(): Promise<CaRotationResult> {
    if (this.caRotating) {
      throw new RotationError('ca-rotation-in-progress', 'rotation: a CA rotation is already under way; wait for it to finish before starting another.');
    }
    this.caRotating = true;
    try {
      let prepared: CaChange | undefined;
      try {
        prepared = this.ca.prepare({ now: new Date(this.clock.now()) });
        this.emitCa(prepared);
      } catch (err) {
        // A prepared CA left by an interrupted rotation is already in the bundle: carry on from there.
        if (!(err instanceof CaError && err.code === 'already-prepared')) throw err;
      }
      await this.bundleChanged();
      await delay(this.clock, this.checkIntervalMs);
      const activated = this.ca.activate();
      this.emitCa(activated);
      const reissued: RotationOutcome[] = [];
      const all = [...this.workloads.values()];
      for (let i = 0; i < all.length; i += this.maxPerTick) {
        // Between batches the event loop serves sockets; the old root is still trusted meanwhile.
        if (i > 0) await delay(this.clock, 0);
        for (const w of all.slice(i, i + this.maxPerTick)) if (this.workloads.get(w.spec.service) === w) reissued.push(this.attempt(w, 'ca-rotation'));
      }
      this.arm();
      this.scheduleRetire();
      const retireAt = this.ca.retireAt();
      return { ...(prepared ? { prepared } : {}), activated, reissued, ...(retireAt ? { retireAt } : {}) };
    } finally {
      this.caRotating = false;
    }
  }

  private workload(service: string): Workload {
    const w = this.workloads.get(service);
    if (!w) {
      const known = [...this.workloads.keys()].slice(0, 10).join(', ') || 'none';
      throw new RotationError('unknown-service', `rotation: there is no workload named "${service}"; known: ${known}.`);
    }
    return w;
  }

  private bundlePem(): string {
    const ders = this.ca.bundleDers();
    const cached = this.bundleCache;
    if (cached && cached.ders.length === ders.length && cached.ders.every((d, i) => d === ders[i])) return cached.pem;
    const pem = ders.map((d) => toPem('CERTIFICATE', d)).join('');
    this.bundleCache = { ders, pem };
    return pem;
  }

  /** One timer for all workloads: at the earliest due time, and at least once per check interval. */
  private arm(): void {
    if (!this.running) return;
    const now = this.clock.now();
    let next = now + this.checkIntervalMs;
    for (const w of this.workloads.values()) if (w.dueAt < next) next = w.dueAt;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => this.tick(), next - now);
  }

  private tick(): void {
    this.timer = undefined;
    if (!this.running) return;
    const now = this.clock.now();
    const due: Workload[] = [];
    for (const w of this.workloads.values()) if (w.dueAt <= now) due.push(w);
    due.sort((a, b) => a.dueAt - b.dueAt);
    for (const w of due.slice(0, this.maxPerTick)) this.attempt(w, w.cause);
    if (due.length > this.maxPerTick) {
      // More are due: yield to the event loop, then carry on.
      this.timer = this.clock.setTimeout(() => this.tick(), 0);
    } else {
      this.arm();
    }
  }

  /** Issue, write, install, reload. On failure the previous SVID and files stay, and a retry is scheduled. */
  private attempt(w: Workload, cause: RotationCause): RotationOutcome {
    const service = w.spec.service;
    let svid: IssuedSvid;
    try {
      svid = this.issueFn(w.spec.spiffeId, w.ttlMs);
      if (!svid.key) throw new Error('the CA returned an SVID without its private key');
    } catch (err) {
      return this.fail(w, cause, `rotation: the CA could not issue an SVID for ${service} (${message(err)}).`);
    }
    if (w.spec.dir !== undefined) {
      try {
        this.writeFiles(w.spec.dir, svid, this.bundlePem());
      } catch (err) {
        return this.fail(
          w,
          cause,
          `rotation: the SVID files of ${service} could not be replaced in ${w.spec.dir} (${message(err)}); the previous files stay whole and its current SVID keeps serving.`,
        );
      }
    }
    this.install(w, svid, cause);
    if (w.spec.dir !== undefined && cause !== 'start') void this.reload(w);
    return { service, ok: true, serial: svid.serial };
  }

  private fail(w: Workload, cause: RotationCause, error: string): RotationOutcome {
    const retryInMs = w.backoff.next();
    w.dueAt = this.clock.now() + retryInMs;
    w.cause = cause;
    w.lastError = error;
    this.o.events?.emit({ type: 'svid/failed', service: w.spec.service, spiffeId: w.spec.spiffeId.toString(), error, retryInMs });
    return { service: w.spec.service, ok: false, error, retryInMs };
  }

  private install(w: Workload, svid: IssuedSvid, cause: RotationCause): void {
    const previousSerial = w.current?.svid.serial;
    const key = svid.key as NonNullable<IssuedSvid['key']>;
    const material: SvidMaterial = {
      spiffeId: svid.spiffeId,
      certChainPem: svid.chain.map((d) => toPem('CERTIFICATE', d)).join(''),
      keyPem: toPem('PRIVATE KEY', key.pkcs8),
      serial: svid.serial,
      notBefore: svid.notBefore,
      notAfter: svid.notAfter,
    };
    // The lifetime counts from issuance, not from the backdated notBefore: with the 30 s backdate
    // a 60 s SVID would otherwise be renewed after 15 s instead of 30 s.
    const issuedAt = Math.min(svid.notAfter.getTime(), Math.max(svid.notBefore.getTime(), this.clock.now()));
    const rotateAt = rotationDeadline(issuedAt, svid.notAfter.getTime(), this.random);
    w.current = { svid, material, rotateAt };
    w.dueAt = rotateAt;
    w.cause = 'rotation';
    w.lastError = undefined;
    w.backoff.reset();
    this.o.events?.emit({
      type: 'svid/issued',
      service: w.spec.service,
      spiffeId: svid.spiffeId,
      serial: svid.serial,
      notBefore: svid.notBefore.toISOString(),
      notAfter: svid.notAfter.toISOString(),
      ...(previousSerial === undefined ? {} : { previousSerial }),
      cause,
    });
    notifyAll(w.listeners);
    const notice: RotationNotice = {
      service: w.spec.service,
      spiffeId: svid.spiffeId,
      serial: svid.serial,
      ...(previousSerial === undefined ? {} : { previousSerial }),
      cause,
      notBefore: svid.notBefore,
      notAfter: svid.notAfter,
      rotateAt: new Date(rotateAt),
    };
    for (const l of this.rotateListeners) {
      try {
        l(notice);
      } catch {
        // As above: one bad listener must not stop a rotation.
      }
    }
  }

  private async reload(w: Workload): Promise<void> {
    const spec = w.spec.reload;
    if (!spec || (!spec.signal && !spec.command)) return;
    const results = await this.reloads.run(w.spec.service, spec, { MTLS_LAB_SERVICE: w.spec.service, MTLS_LAB_SVID_DIR: w.spec.dir ?? '' });
    for (const r of results) {
      if (!r.ok) {
        // The files are new but the service was not told; the next renewal writes and reloads again.
        const retryInMs = Number.isFinite(w.dueAt) ? Math.max(0, w.dueAt - this.clock.now()) : 0;
        this.o.events?.emit({ type: 'svid/failed', service: w.spec.service, spiffeId: w.spec.spiffeId.toString(), error: r.detail, retryInMs });
      }
      for (const l of this.reloadListeners) {
        try {
          l(r);
        } catch {
          // As above.
        }
      }
    }
  }

  private emitCa(c: CaChange): void {
    this.o.events?.emit({ type: 'ca/changed', phase: c.phase, serial: c.serial, notAfter: c.notAfter, bundle: c.bundle });
  }

  /**
   * Hands a changed bundle to every consumer: in-memory subscribers first, then each workload's
   * files (its current SVID with the new bundle) and reload. Resolves when the reloads are done.
   */
  private async bundleChanged(): Promise<void> {
    notifyAll(this.bundleListeners);
    const pem = this.bundlePem();
    const reloads: Promise<void>[] = [];
    for (const w of this.workloads.values()) {
      if (w.spec.dir === undefined || !w.current) continue;
      try {
        this.writeFiles(w.spec.dir, w.current.svid, pem);
      } catch (err) {
        // A renewal writes the bundle too: retry that with backoff.
        this.fail(w, w.cause, `rotation: the new trust bundle could not be written for ${w.spec.service} in ${w.spec.dir} (${message(err)}); the previous files stay whole.`);
        continue;
      }
      reloads.push(this.reload(w));
    }
    this.arm();
    await Promise.all(reloads);
  }

  /** Retirement waits on the clock for the last SVID of an old CA to expire; the soonest old CA first. */
  private scheduleRetire(): void {
    if (this.retireTimer) this.clock.clearTimeout(this.retireTimer);
    this.retireTimer = undefined;
    const old = this.ca.authorities().filter((a) => a.state === 'old');
    if (old.length === 0 || !this.running) return;
    const at = Math.min(...old.map((a) => (a.lastLeafNotAfter ? a.lastLeafNotAfter.getTime() + LEAF_EXPIRY_GRACE_MS : 0)));
    this.retireTimer = this.clock.setTimeout(() => void this.retireDue(), at - this.clock.now());
  }

  private async retireDue(): Promise<void> {
    this.retireTimer = undefined;
    let changes: CaChange[];
    try {
      changes = this.ca.retire({ now: new Date(this.clock.now()) });
    } catch (err) {
      // Another rotation moved the date, or someone retired it already: look again.
      if (err instanceof CaError && (err.code === 'retire-too-early' || err.code === 'nothing-to-retire')) this.scheduleRetire();
      // Anything else is not retried from a timer: the old root simply stays trusted, which breaks nothing.
      return;
    }
    for (const c of changes) this.emitCa(c);
    this.scheduleRetire();
    await this.bundleChanged();
  }
}
