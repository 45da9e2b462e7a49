import { dirname, join } from 'node:path';
import { runAttack, type AttackReport } from '../attacks/attacks.js';
import { CertificateAuthority } from '../ca/authority.js';
import { svidPaths } from '../ca/svidFiles.js';
import { AuditLog } from '../events/auditLog.js';
import { EventBus } from '../events/bus.js';
import type { MeshEvent } from '../events/types.js';
import { ensureDir, PRIVATE_DIR, PUBLIC_FILE, writeFileAtomic } from '../fs/atomic.js';
import { Policy, describeSelector, ruleCallees, type PolicyRule } from '../policy/policy.js';
import { Rotator } from '../rotation/rotator.js';
import { SpiffeId } from '../spiffe/index.js';
import type { MeshCommand } from '../../protocol/messages.js';
import type { MeshSnapshot, ServiceSnapshot } from '../../protocol/snapshot.js';
import type { MeshConfig, ServiceConfig } from './config.js';
import { NativeEventTail } from './nativeEvents.js';
import { freePort } from './ports.js';
import { ServiceRunner } from './serviceRunner.js';
import { RejectionLedger, Sidecar } from './sidecar.js';

/** A command the mesh refused; `code` maps to an HTTP status in the control API. */
export class MeshError extends Error {
  override readonly name = 'MeshError';
  constructor(
    readonly code: 'unknown-service' | 'wrong-trust-domain' | 'bad-request' | 'not-ready',
    message: string,
  ) {
    super(message);
  }
}

export interface MeshOptions {
  readonly config: MeshConfig;
  readonly stateDir: string;
  /** The intruder the attack runner spawns (sample-services/intruder/intruder.js). */
  readonly intruderScript: string;
  /** When set and the mesh has an entry, a steady traffic generator runs against it. */
  readonly trafficScript?: string;
  readonly trafficRps?: number;
  /** Lines for a person: progress while starting. */
  readonly log?: (line: string) => void;
}

interface Running {
  readonly config: ServiceConfig;
  readonly port: number;
  /** Where callers reach it with mTLS: its sidecar, or the service itself in native mode. */
  readonly meshPort?: number;
  upstreamPorts: Record<string, number>;
  rotations: number;
  lastRotation?: string;
}

const RECENT_EVENTS = 300;
const TRAFFIC = 'traffic';

const envName = (service: string): string => service.toUpperCase().replace(/[^A-Z0-9]/g, '_');

function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * One running mesh: the CA, the Rotator, a Sidecar per sidecar-mode service, the services as
 * child processes, the policy, and every event on one bus (appended to audit.jsonl). It is the
 * controller behind the daemon's control API.
 */
export class Mesh {
  readonly bus = new EventBus();
  private readonly recent: MeshEvent[] = [];
  private readonly services = new Map<string, Running>();
  private readonly sidecars: Sidecar[] = [];
  private readonly startedAt = new Date();
  private audit: AuditLog | undefined;
  private runner: ServiceRunner | undefined;
  private rotator: Rotator | undefined;
  private stopping: Promise<void> | undefined;
  private nativeTail: NativeEventTail | undefined;
  private entryPort: number | undefined;

  private constructor(
    private readonly o: MeshOptions,
    readonly ca: CertificateAuthority,
    readonly policy: Policy,
  ) {}

  /** Starts everything; on any failure stops what it started and rethrows. */
  static async start(o: MeshOptions): Promise<Mesh> {
    const { config, stateDir } = o;
    ensureDir(stateDir, PRIVATE_DIR);
    let ca: CertificateAuthority;
    if (CertificateAuthority.exists(stateDir)) {
      ca = CertificateAuthority.load(stateDir);
      if (ca.trustDomain.name !== config.trustDomain.name) {
        throw new MeshError(
          'wrong-trust-domain',
          `mesh: the CA in ${join(stateDir, 'ca')} is for trust domain "${ca.trustDomain.name}" but ${config.source} asks for "${config.trustDomain.name}"; use another --state, or replace the CA with "mtls-lab ca init --force --trust-domain ${config.trustDomain.name} --state ${stateDir}".`,
        );
      }
    } else {
      ca = CertificateAuthority.create({ trustDomain: config.trustDomain, keyType: config.keyType, intermediate: config.intermediate });
      ca.save(stateDir);
    }
    const mesh = new Mesh(o, ca, new Policy({ mode: config.mode, rules: config.policy.rules }));
    try {
      await mesh.boot();
      return mesh;
    } catch (err) {
      await mesh.stop();
      throw err;
    }
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  private auditWarned = false;

  /** The audit log could not be written (disk full?): say so once, keep the mesh running. */
  private auditFailed(err: unknown): void {
    if (this.auditWarned) return;
    this.auditWarned = true;
    const why = err instanceof Error ? err.message : String(err);
    this.log(`warning: cannot append to ${join(this.o.stateDir, 'audit.jsonl')} (${why}); events still reach the dashboard, free some space to resume the log.`);
  }

  private async boot(): Promise<void> {
    const { config, stateDir } = this.o;
    this.audit = new AuditLog(join(stateDir, 'audit.jsonl'));
    this.bus.on((e) => {
      try {
        this.audit?.append(e);
      } catch (err) {
        this.auditFailed(err);
      }
    });
    this.bus.on((e) => {
      this.recent.push(e);
      if (this.recent.length > RECENT_EVENTS * 2) this.recent.splice(0, this.recent.length - RECENT_EVENTS);
      if (e.type === 'svid/issued') {
        const s = this.services.get(e.service);
        if (s && e.previousSerial) {
          s.rotations++;
          s.lastRotation = e.time;
        }
      }
    });
    this.bus.on((e) => {
      if (e.type === 'ca/changed') this.ca.persist(stateDir);
    });
    this.bus.emit({ type: 'mesh/state', state: 'starting', detail: `${config.services.length} services from ${config.source}` });
    this.policy.onDidChange((change) => {
      if (change.change !== 'mode') this.bus.emit({ type: 'policy/changed', rule: change.rule.name, change: change.change });
      // A decision holds for the connection it opened only while the policy still says so.
      for (const sidecar of this.sidecars) sidecar.revalidate();
      this.writeAllowLists();
    });

    // Ports first: every sidecar and service needs its peers' ports before it starts.
    for (const s of config.services) {
      const port = s.port || (await freePort());
      const meshPort = s.mode === 'native' ? port : s.entry ? undefined : s.meshPort || (await freePort());
      this.services.set(s.name, { config: s, port, meshPort, upstreamPorts: {}, rotations: 0 });
      if (s.entry && this.entryPort === undefined) this.entryPort = port;
    }

    this.runner = new ServiceRunner({ bus: this.bus, logDir: join(stateDir, 'logs') });
    const runner = this.runner;
    this.rotator = new Rotator({
      ca: this.ca,
      events: this.bus,
      ttlMs: config.ttlMs,
      checkIntervalMs: Math.min(5_000, Math.max(250, config.ttlMs / 20)),
      // DNS:localhost beside the SPIFFE ID lets curl and browsers check a mesh port as they do any host.
      issue: (id, ttlMs) => this.ca.issue({ id, ttlMs, dnsNames: ['localhost'] }),
      // Each renewal fsyncs three files (~2 ms); small batches keep the event loop, and so every
      // sidecar's traffic, responsive when many SVIDs come due together.
      maxPerTick: 8,
    });
    for (const s of config.services) {
      this.rotator.add({
        service: s.name,
        spiffeId: s.spiffeId,
        dir: join(stateDir, 'svids', s.name),
        reload: s.reload
          ? 'signal' in s.reload
            ? { signal: s.reload.signal, pid: () => runner.pid(s.name) }
            : { command: shellQuote(s.reload.command) }
          : undefined,
      });
    }
    this.rotator.start();
    this.writeAllowLists();
    this.log(`Issued ${config.services.length} SVIDs (TTL ${Math.round(config.ttlMs / 1000)}s) for trust domain ${config.trustDomain.name}`);

    const ledger = new RejectionLedger();
    const names = new Map(config.services.map((s) => [s.spiffeId.toString(), s.name]));
    for (const s of config.services) {
      if (s.mode !== 'sidecar') continue;
      const r = this.services.get(s.name) as Running;
      const sidecar = new Sidecar({
        service: s.name,
        spiffeId: s.spiffeId.toString(),
        trustDomain: config.trustDomain.name,
        svid: this.rotator.source(s.name),
        bundles: this.rotator.bundleSource(),
        servicePort: s.entry ? undefined : r.port,
        meshPort: r.meshPort,
        upstreams: s.upstreams.map((u) => ({
          name: u.service,
          spiffeId: u.spiffeId.toString(),
          port: this.services.get(u.service)?.meshPort ?? 0,
          localPort: u.localPort,
          reportCalls: this.services.get(u.service)?.config.mode === 'native',
        })),
        authorize: this.policy.authorizer(),
        mode: config.mode,
        bus: this.bus,
        ledger,
        names: (id) => names.get(id),
      });
      this.sidecars.push(sidecar);
      const ports = await sidecar.start();
      r.upstreamPorts = ports.upstreamPorts;
    }

    await Promise.all(config.services.map((s) => runner.start({ name: s.name, command: s.command, cwd: s.cwd, env: this.envFor(s), readyPort: this.services.get(s.name)?.port })));
    const natives = config.services.filter((s) => s.mode === 'native');
    if (natives.length > 0) {
      this.nativeTail = new NativeEventTail(
        natives.map((s) => ({ service: s.name, spiffeId: s.spiffeId.toString(), logFile: runner.logFile(s.name) })),
        this.bus,
        (id) => names.get(id),
      );
      this.nativeTail.start();
    }
    if (this.o.trafficScript && this.entryPort !== undefined) {
      await runner.start({
        name: TRAFFIC,
        command: [process.execPath, this.o.trafficScript],
        cwd: config.configDir,
        env: { ENTRY_URL: `http://127.0.0.1:${this.entryPort}`, TRAFFIC_RPS: String(this.o.trafficRps ?? 5) },
      });
    }
    this.bus.emit({ type: 'mesh/state', state: 'ready', detail: this.entryUrl ? `entry ${this.entryUrl}` : undefined });
  }

  /** The environment contract of sample-services/README.md. */
  private envFor(s: ServiceConfig): Record<string, string> {
    const r = this.services.get(s.name) as Running;
    const env: Record<string, string> = { ...s.env, PORT: String(r.port), MTLS_LAB_SERVICE: s.name, SPIFFE_ID: s.spiffeId.toString() };
    for (const u of s.upstreams) {
      const target = this.services.get(u.service);
      if (s.mode === 'sidecar') env[`UPSTREAM_${envName(u.service)}_URL`] = `http://127.0.0.1:${r.upstreamPorts[u.service]}`;
      else {
        env[`UPSTREAM_${envName(u.service)}_URL`] = `https://127.0.0.1:${target?.meshPort}`;
        env[`UPSTREAM_${envName(u.service)}_SPIFFE_ID`] = u.spiffeId.toString();
      }
    }
    if (s.mode === 'native') {
      const files = svidPaths(join(this.o.stateDir, 'svids', s.name));
      env['SVID_CERT_FILE'] = files.cert;
      env['SVID_KEY_FILE'] = files.key;
      env['SVID_BUNDLE_FILE'] = files.bundle;
      env['ALLOWED_SPIFFE_IDS'] = this.allowedCallers(s.spiffeId).join(',');
      env['ALLOWED_SPIFFE_IDS_FILE'] = this.allowListPath(s.name);
    }
    return env;
  }

  private allowListPath(service: string): string {
    return join(this.o.stateDir, 'svids', service, 'allowed_spiffe_ids');
  }

  /** Native services enforce policy themselves: give each its current allow-list, one ID a line. */
  private writeAllowLists(): void {
    for (const r of this.services.values()) {
      if (r.config.mode !== 'native') continue;
      const path = this.allowListPath(r.config.name);
      ensureDir(dirname(path), PRIVATE_DIR);
      writeFileAtomic(path, this.allowedCallers(r.config.spiffeId).map((id) => `${id}\n`).join(''), PUBLIC_FILE);
    }
  }

  /** Exact caller IDs the policy lets call `callee` (a native service enforces the list itself). */
  private allowedCallers(callee: SpiffeId): string[] {
    const ids = new Set<string>();
    for (const rule of this.policy.rules()) {
      if (!ruleCallees(rule).some((c) => c.equals(callee))) continue;
      const from = rule.from;
      if (from instanceof SpiffeId) ids.add(from.toString());
      else if (Array.isArray(from)) for (const f of from as readonly SpiffeId[]) ids.add(f.toString());
    }
    return [...ids];
  }

  get entryUrl(): string | undefined {
    return this.entryPort === undefined ? undefined : `http://127.0.0.1:${this.entryPort}/`;
  }

  onEvent(listener: (e: MeshEvent) => void): () => void {
    return this.bus.on(listener);
  }

  snapshot(): MeshSnapshot {
    const status = new Map((this.rotator?.status() ?? []).map((w) => [w.service, w]));
    const services: ServiceSnapshot[] = [...this.services.values()].map((r): ServiceSnapshot => {
      const s = r.config;
      const w = status.get(s.name);
      const run = this.runner?.status(s.name);
      const files = svidPaths(join(this.o.stateDir, 'svids', s.name));
      return {
        name: s.name,
        spiffeId: s.spiffeId.toString(),
        mode: s.mode,
        entry: s.entry,
        state: run?.state ?? 'starting',
        ...(run?.pid ? { pid: run.pid } : {}),
        serial: w?.serial ?? '',
        notBefore: w?.notBefore?.toISOString() ?? '',
        notAfter: w?.notAfter?.toISOString() ?? '',
        rotations: r.rotations,
        ...(r.lastRotation ? { lastRotation: r.lastRotation } : {}),
        ...(r.meshPort ? { meshPort: r.meshPort } : {}),
        ...(s.mode === 'sidecar' ? { servicePort: r.port } : {}),
        upstreams: s.upstreams.map((u) => ({ service: u.service, spiffeId: u.spiffeId.toString(), ...(r.upstreamPorts[u.service] ? { localPort: r.upstreamPorts[u.service] } : {}) })),
        files: { cert: files.cert, key: files.key, bundle: files.bundle },
      };
    });
    return {
      trustDomain: this.ca.trustDomain.name,
      mode: this.policy.mode,
      ttlMs: this.o.config.ttlMs,
      startedAt: this.startedAt.toISOString(),
      ...(this.entryUrl ? { entryUrl: this.entryUrl } : {}),
      ca: {
        keyType: this.ca.keyType,
        intermediate: this.ca.hasIntermediate,
        bundleSequence: this.ca.sequence,
        authorities: this.ca.authorities().map((a) => ({
          serial: a.rootSerial,
          status: a.state,
          notBefore: a.notBefore.toISOString(),
          notAfter: a.notAfter.toISOString(),
          keyType: this.ca.keyType,
          subject: `generation ${a.generation}${a.hasIntermediate ? ' (root + intermediate)' : ''}`,
        })),
      },
      services,
      policy: {
        mode: this.policy.mode,
        rules: this.policy.rules().map((r: PolicyRule) => ({
          name: r.name,
          from: r.from instanceof SpiffeId ? [r.from.toString()] : Array.isArray(r.from) ? (r.from as readonly SpiffeId[]).map(String) : { memberOf: describeSelector(r.from) },
          to: ruleCallees(r).map(String),
        })),
      },
      recentEvents: this.recent.slice(-RECENT_EVENTS),
    };
  }

  private resolve(nameOrId: string): SpiffeId {
    const byName = this.services.get(nameOrId);
    if (byName) return byName.config.spiffeId;
    if (nameOrId.startsWith('spiffe://')) return SpiffeId.parse(nameOrId);
    throw new MeshError('unknown-service', `mesh: "${nameOrId}" is neither a service of this mesh nor a SPIFFE ID; use one of: ${[...this.services.keys()].join(', ')}.`);
  }

  private service(name: string): Running {
    const r = this.services.get(name);
    if (!r) throw new MeshError('unknown-service', `mesh: there is no service "${name}"; use one of: ${[...this.services.keys()].join(', ')}.`);
    return r;
  }

  async execute(command: MeshCommand): Promise<unknown> {
    const rotator = this.rotator;
    if (!rotator) throw new MeshError('not-ready', 'mesh: the mesh is not running yet; wait for "ready".');
    switch (command.name) {
      case 'rotate':
        if (command.service !== undefined) this.service(command.service);
        return { outcomes: rotator.rotateNow(command.service) };
      case 'ca/rotate':
        return rotator.rotateCa();
      case 'attack':
        return this.attack(command.scenario, command.target);
      case 'policy/allow': {
        const from = this.resolve(command.from);
        const to = this.resolve(command.to);
        const short = (id: SpiffeId): string => id.path.split('/').pop() || id.trustDomain.name;
        return this.policy.addRule({ name: `${short(from)}-to-${short(to)}`, from, to });
      }
      case 'policy/remove':
        return this.policy.removeRule(command.rule);
    }
  }

  /** Runs one attack; the default target is the most sensitive service (payments) or the first one behind a sidecar. */
  async attack(scenario: Parameters<typeof runAttack>[0], targetName?: string): Promise<AttackReport> {
    const candidates = [...this.services.values()].filter((r) => r.meshPort !== undefined);
    const r = targetName ? this.service(targetName) : (candidates.find((c) => c.config.name === 'payments') ?? candidates.find((c) => c.config.mode === 'sidecar') ?? candidates[0]);
    if (!r || r.meshPort === undefined) {
      throw new MeshError('bad-request', `mesh: "${targetName ?? '(none)'}" has no mTLS port to attack (an entry service is plain HTTP); pick a service behind a sidecar or in native mode.`);
    }
    const allowedCaller = this.allowedCallers(r.config.spiffeId)[0];
    return runAttack(scenario, { service: r.config.name, spiffeId: r.config.spiffeId.toString(), meshPort: r.meshPort, native: r.config.mode === 'native', ...(allowedCaller ? { allowedCaller } : {}) }, { ca: this.ca, bus: this.bus, intruderScript: this.o.intruderScript });
  }

  /** Stops services, sidecars and rotation; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.bus.emit({ type: 'mesh/state', state: 'stopping' });
      this.nativeTail?.stop();
      await this.runner?.stopAll();
      await Promise.all(this.sidecars.map((s) => s.stop()));
      await this.rotator?.stop();
      this.bus.emit({ type: 'mesh/state', state: 'stopped' });
      this.audit?.close();
    })();
    return this.stopping;
  }
}
