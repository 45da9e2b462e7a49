// Keeps a person's own service supplied with SVID files, as spiffe-helper does: svid.pem,
// svid_key.pem and svid_bundle.pem in a folder, renewed at half their lifetime, with an optional
// reload command run after each renewal. The daemon's control API has no command for this yet,
// so the extension runs `mtls-lab issue --out DIR` on a timer; the CLI writes the files
// atomically (key first, 0600), so a reader never sees half a pair.
import type { Clock, TimerHandle } from '../core/rotation/clock.js';
import type { IssuedSvid } from './cliRunner.js';
import type { InjectionView } from './treeModel.js';

export interface InjectionSpec {
  readonly folder: string;
  readonly service: string;
  readonly spiffeId: string;
  readonly ttl: string;
  /** Run in `folder` through the shell after each renewal, e.g. `systemctl --user reload my-api`. */
  readonly reloadCommand?: string;
}

export interface InjectorDeps {
  readonly issue: (spec: InjectionSpec) => Promise<IssuedSvid>;
  readonly reload: (command: string, folder: string) => Promise<{ readonly code: number; readonly output: string }>;
  readonly clock: Clock;
  readonly log: (message: string) => void;
  /** After every attempt, good or bad: the tree refreshes. */
  readonly changed: () => void;
}

const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 5 * 60_000;

/** Renew at half the lifetime, as SPIRE and the mesh's Rotator do. */
export function renewalDelay(svid: Pick<IssuedSvid, 'notBefore' | 'notAfter'>, now: number): number {
  const nb = Date.parse(svid.notBefore);
  const na = Date.parse(svid.notAfter);
  return Math.max(0, nb + (na - nb) / 2 - now);
}

export class Injector {
  private timer: TimerHandle | undefined;
  private current: IssuedSvid | undefined;
  private error: string | undefined;
  private dueAt: number | undefined;
  private failures = 0;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    readonly spec: InjectionSpec,
    private readonly deps: InjectorDeps,
  ) {}

  view(): InjectionView {
    return {
      folder: this.spec.folder,
      service: this.spec.service,
      spiffeId: this.spec.spiffeId,
      ...(this.current === undefined ? {} : { notAfter: this.current.notAfter }),
      ...(this.dueAt === undefined ? {} : { nextRenewal: this.dueAt }),
      ...(this.error === undefined ? {} : { lastError: this.error }),
      ...(this.spec.reloadCommand === undefined ? {} : { reloadCommand: this.spec.reloadCommand }),
    };
  }

  /** Issues now and keeps renewing until stop(). Resolves after the first attempt; rejects if it failed (renewal is still retried). */
  async start(): Promise<IssuedSvid> {
    await this.renewNow();
    if (this.current === undefined) throw new Error(this.error ?? 'mTLS Lab: the first SVID could not be issued.');
    return this.current;
  }

  /** Renews now (e.g. after the CA rotated, so the bundle file names the new root), then reschedules. */
  renewNow(): Promise<void> {
    // The next timer is set only after this attempt is over, so it can never find one in flight.
    this.running ??= this.renew().then((nextInMs) => {
      this.running = undefined;
      if (nextInMs !== undefined) this.schedule(nextInMs);
      this.deps.changed();
    });
    return this.running;
  }

  /** One attempt; resolves with when to try next, or undefined once stopped. Never rejects. */
  private async renew(): Promise<number | undefined> {
    if (this.stopped) return undefined;
    this.clearTimer();
    try {
      const svid = await this.deps.issue(this.spec);
      if (this.stopped) return undefined;
      this.current = svid;
      this.error = undefined;
      this.failures = 0;
      this.deps.log(`Wrote a fresh SVID for ${this.spec.spiffeId} into ${this.spec.folder} (serial ${svid.serial}, valid until ${svid.notAfter}).`);
      if (this.spec.reloadCommand !== undefined && this.spec.reloadCommand.trim() !== '') {
        const r = await this.deps.reload(this.spec.reloadCommand, this.spec.folder);
        const said = r.output.trim() === '' ? '' : `: ${r.output.trim().slice(0, 500)}`;
        if (r.code === 0) this.deps.log(`Reload command for ${this.spec.service} ran${said}`);
        else this.deps.log(`Reload command for ${this.spec.service} exited with code ${r.code}${said}`);
      }
      return renewalDelay(svid, this.deps.clock.now());
    } catch (err) {
      if (this.stopped) return undefined;
      this.error = err instanceof Error ? err.message : String(err);
      const wait = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 1.5 ** this.failures);
      this.failures++;
      this.deps.log(`Could not renew the SVID in ${this.spec.folder}: ${this.error} Trying again in ${Math.round(wait / 1000)} s.`);
      return wait;
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.dueAt = this.deps.clock.now() + ms;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      void this.renewNow();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = undefined;
  }

  /** Stops renewing. The files stay where they are. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }
}

/** The injections of a workspace, persisted so they resume after a reload. */
export interface SpecStore {
  get(): readonly InjectionSpec[];
  set(specs: readonly InjectionSpec[]): PromiseLike<void> | void;
}

export function isInjectionSpec(value: unknown): value is InjectionSpec {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['folder'] === 'string' &&
    typeof v['service'] === 'string' &&
    typeof v['spiffeId'] === 'string' &&
    typeof v['ttl'] === 'string' &&
    (v['reloadCommand'] === undefined || typeof v['reloadCommand'] === 'string')
  );
}

/** Every folder being kept fresh, keyed by folder. */
export class Injections {
  private readonly injectors = new Map<string, Injector>();

  constructor(
    private readonly deps: InjectorDeps,
    private readonly store: SpecStore,
  ) {}

  get size(): number {
    return this.injectors.size;
  }

  views(): InjectionView[] {
    return [...this.injectors.values()].map((i) => i.view());
  }

  /** Starts the injections saved for this workspace. */
  resume(): void {
    for (const spec of this.store.get().filter(isInjectionSpec)) {
      if (this.injectors.has(spec.folder)) continue;
      const injector = new Injector(spec, this.deps);
      this.injectors.set(spec.folder, injector);
      void injector.renewNow();
    }
  }

  /** Starts (or replaces) the injection into `spec.folder` and saves it. Resolves with the first SVID. */
  async add(spec: InjectionSpec): Promise<IssuedSvid> {
    this.injectors.get(spec.folder)?.stop();
    const injector = new Injector(spec, this.deps);
    this.injectors.set(spec.folder, injector);
    await this.save();
    return injector.start();
  }

  async remove(folder: string): Promise<boolean> {
    const injector = this.injectors.get(folder);
    if (injector === undefined) return false;
    injector.stop();
    this.injectors.delete(folder);
    await this.save();
    this.deps.changed();
    return true;
  }

  /** Renews every folder now: after a CA rotation the bundle must name the new root. */
  renewAll(): Promise<void[]> {
    return Promise.all([...this.injectors.values()].map((i) => i.renewNow()));
  }

  private async save(): Promise<void> {
    await this.store.set([...this.injectors.values()].map((i) => i.spec));
  }

  /** Stops every timer (deactivation). The saved list stays for the next session. */
  dispose(): void {
    for (const i of this.injectors.values()) i.stop();
    this.injectors.clear();
  }
}
