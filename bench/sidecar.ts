// Sidecar benchmark: one mTLS hop in front of a plain HTTP backend, next to the backend reached
// directly and next to nginx doing the same job (ssl_verify_client on, proxy_pass with upstream
// keepalive, one worker), all in one run against the same backend process. The backend, our
// Sidecar and the load client each run in a process of their own (bench/worker.ts), so every
// party's CPU is read apart from the others' in /proc. Load per DESIGN.md's facts: a cheap raw-socket
// client, one request in flight per connection, 32 connections; then fresh TLS connections, one
// full handshake per request, for the handshake rate.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CertificateAuthority, type IssuedSvid } from '../src/core/ca/authority.js';
import { freePort } from '../src/core/mesh/ports.js';
import type { SidecarStats } from '../src/core/mesh/sidecar.js';
import { toPem } from '../src/core/pki/pem.js';
import { SpiffeId, TrustDomain } from '../src/core/spiffe/index.js';
import { LOCALHOST, probe, type LatencySummary, type LoadMode, type LoadReport, type LoadSpec, type LoadTarget, type TlsInfo } from './loadClient.js';
import { childPids, cpuWindow, processCpuMs, round, totalCpuMs, type CpuWindow } from './measure.js';
import { formatCount, formatFixed, formatRatio, ratio, renderTable, type Column } from './table.js';
import type { ParentMessage, SidecarWorkerConfig, WorkerMessage, WorkerRole } from './worker.js';

const TRUST_DOMAIN = 'lab.local';
const SERVER_ID = `spiffe://${TRUST_DOMAIN}/ns/bench/sa/backend`;
const CLIENT_ID = `spiffe://${TRUST_DOMAIN}/ns/bench/sa/loadgen`;
const SVID_TTL_MS = 3_600_000;
export const DEFAULT_CONNECTIONS = 32;

/** The issue's goals, each a ratio against nginx measured in the same run. */
export const GOALS = { reqPerSec: 0.9, p99: 1.1, handshakes: 0.8 } as const;

export interface SidecarBenchOptions {
  /** Counted time per path, split over the rounds. */
  readonly windowMs: number;
  /** Untimed load on each path before the first round. */
  readonly warmupMs: number;
  /** The paths of one mode take turns this many times (order reversed every other round). */
  readonly rounds: number;
  /** Uncounted load on a path at the start of each turn, while the previous path's last answers drain. */
  readonly settleMs: number;
  /** Default 32. */
  readonly connections?: number;
  /** The bundled worker; default bench-worker.js beside this bundle (dist/). */
  readonly workerPath?: string;
  /** The nginx binary; default: found on the PATH or in /usr/sbin; null: leave nginx out. */
  readonly nginx?: string | null;
  readonly progress?: (line: string) => void;
}

export type ScenarioKey = 'direct' | 'ours' | 'nginx';

/** One path under load. CPU is each process's over the counted window, read from /proc (10 ms ticks). */
export interface ScenarioResult {
  readonly target: ScenarioKey;
  readonly mode: LoadMode;
  readonly requests: number;
  readonly perSec: number;
  readonly errors: number;
  readonly errorKinds: Readonly<Record<string, number>>;
  readonly latencyUs: LatencySummary;
  readonly windowMs: number;
  readonly connectionsOpened: number;
  readonly resumed: number;
  readonly reconnects: number;
  readonly cpu: {
    readonly client: CpuWindow;
    /** Our sidecar's process, or nginx's master and worker; null for the direct path. */
    readonly proxy: CpuWindow | null;
    readonly backend: CpuWindow;
  };
  /** Proxy CPU per answered request (per handshake on the new-connection paths), µs. */
  readonly proxyCpuUsPerOp: number | null;
  readonly clientCpuUsPerOp: number | null;
  readonly backendCpuUsPerOp: number | null;
  readonly tls?: TlsInfo;
}

export interface Target {
  readonly goal: string;
  readonly ratio: number | null;
  /** null when nginx did not run. */
  readonly met: boolean | null;
}

export interface SidecarResult {
  readonly connections: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly rounds: number;
  readonly keepAlive: { readonly direct: ScenarioResult; readonly ours: ScenarioResult; readonly nginx: ScenarioResult | null };
  readonly newConnection: { readonly ours: ScenarioResult; readonly nginx: ScenarioResult | null };
  /** Each is ours over the other; for latency and CPU below 1 is better, for rates above 1. */
  readonly ratios: {
    readonly reqPerSecOverNginx: number | null;
    readonly p99OverNginx: number | null;
    readonly proxyCpuPerRequestOverNginx: number | null;
    readonly reqPerSecOverDirect: number | null;
    readonly p99OverDirect: number | null;
    readonly handshakesPerSecOverNginx: number | null;
    readonly proxyCpuPerHandshakeOverNginx: number | null;
  };
  readonly targets: { readonly reqPerSec: Target; readonly p99: Target; readonly handshakes: Target };
  /** Our sidecar's own counters at the end: every connection accepted, none refused. */
  readonly sidecar: SidecarStats['inbound'] | null;
  /** Total errors over every path: 0 or the run is not a measurement. */
  readonly errors: number;
  readonly nginx: { readonly version: string | null; readonly workerProcesses: 1 } | null;
  readonly versions: { readonly node: string; readonly openssl: string };
}

// ---------------------------------------------------------------------------------------------
// Child processes

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 3_000;

type MessageOf<T extends WorkerMessage['type']> = Extract<WorkerMessage, { type: T }>;

/** A forked bench-worker: its messages, its exit, and a stop that always ends it. */
class Worker {
  private readonly messages: WorkerMessage[] = [];
  private readonly listeners = new Set<() => void>();
  private stderr = '';
  private exitCode: number | null | undefined;

  private constructor(
    readonly role: WorkerRole,
    private readonly child: ChildProcess,
  ) {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    child.on('message', (m: WorkerMessage) => {
      this.messages.push(m);
      this.notify();
    });
    child.once('exit', (code) => {
      this.exitCode = code;
      this.notify();
    });
    child.once('error', (err) => {
      this.stderr += `\n${err.message}`;
      this.exitCode ??= -1;
      this.notify();
    });
  }

  static fork(path: string, role: WorkerRole): Worker {
    // No inherited flags (a test runner's loaders): the worker is a plain bundled script.
    const child = fork(path, [role], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
    return new Worker(role, child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Called with every message as it arrives (before any `wait` sees it). */
  onMessage(listener: (m: WorkerMessage) => void): void {
    this.child.on('message', listener);
  }

  send(m: ParentMessage): void {
    this.child.send(m);
  }

  /** The first message of `type` not yet taken; rejects on a `failed` message, on exit, or after `timeoutMs`. */
  wait<T extends WorkerMessage['type']>(type: T, timeoutMs: number): Promise<MessageOf<T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`bench: the ${this.role} worker sent no "${type}" within ${timeoutMs} ms.${this.tail()}`)), timeoutMs);
      const check = (): void => {
        const i = this.messages.findIndex((m) => m.type === type || m.type === 'failed');
        if (i >= 0) {
          const [m] = this.messages.splice(i, 1) as [WorkerMessage];
          if (m.type === 'failed') done(new Error(`bench: the ${this.role} worker failed: ${m.error}`));
          else done(undefined, m as MessageOf<T>);
        } else if (this.exitCode !== undefined) {
          done(new Error(`bench: the ${this.role} worker exited (code ${String(this.exitCode)}) before "${type}".${this.tail()}`));
        }
      };
      const done = (err: Error | undefined, m?: MessageOf<T>): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err !== undefined) reject(err);
        else resolve(m as MessageOf<T>);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Asks the worker to close everything and report; kills it if it does not exit in time. */
  async stop(): Promise<MessageOf<'stopped'> | undefined> {
    if (this.exitCode !== undefined) return undefined;
    let stopped: MessageOf<'stopped'> | undefined;
    try {
      this.send({ type: 'stop' });
      stopped = await this.wait('stopped', STOP_TIMEOUT_MS);
    } catch {
      // Reported by the caller's own checks; the process is ended below either way.
    }
    await this.exited(STOP_TIMEOUT_MS);
    if (this.exitCode === undefined) {
      this.child.kill('SIGKILL');
      await this.exited(STOP_TIMEOUT_MS);
    }
    return stopped;
  }

  private exited(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      const check = (): void => {
        if (this.exitCode !== undefined) {
          this.listeners.delete(check);
          finish();
        }
      };
      this.listeners.add(check);
      check();
    });
  }

  private tail(): string {
    const t = this.stderr.trim();
    return t === '' ? '' : `\n${t}`;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

function defaultWorkerPath(): string {
  // Bundled to dist/bench.js, whose __dirname is dist/; the worker is bundled beside it.
  return join(__dirname, 'bench-worker.js');
}

async function startWorker(path: string, role: WorkerRole, config: SidecarWorkerConfig | Record<string, never>): Promise<{ worker: Worker; port: number }> {
  const worker = Worker.fork(path, role);
  try {
    worker.send({ type: 'config', config });
    const ready = await worker.wait('ready', READY_TIMEOUT_MS);
    return { worker, port: ready.port };
  } catch (err) {
    await worker.stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// nginx

function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'nginx'), constants.X_OK);
      return join(dir, 'nginx');
    } catch {
      // not here
    }
  }
  return null;
}

function nginxVersion(bin: string): string | null {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5_000 });
  return /nginx\/(\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? null;
}

interface SvidFiles {
  readonly cert: string;
  readonly key: string;
  readonly bundle: string;
}

/**
 * nginx as an mTLS reverse proxy in front of the same backend: the same server SVID and bundle
 * as our sidecar, TLS 1.3 with P-256, client certificates required, HTTP/1.1 keep-alive to the
 * backend, one worker process, no access log (our sidecar writes none per request either).
 */
function nginxConf(prefix: string, port: number, backendPort: number, files: SvidFiles): string {
  const p = (name: string): string => join(prefix, name);
  return `# mTLS Lab sidecar benchmark: everything under ${prefix}.
worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${p('tmp/body')};
  proxy_temp_path ${p('tmp/proxy')};
  fastcgi_temp_path ${p('tmp/fastcgi')};
  uwsgi_temp_path ${p('tmp/uwsgi')};
  scgi_temp_path ${p('tmp/scgi')};
  # nginx closes a client connection after 1000 requests by default; the load's connections are long-lived.
  keepalive_requests 1000000;
  upstream backend {
    server ${LOCALHOST}:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen ${LOCALHOST}:${port} ssl;
    ssl_certificate ${files.cert};
    ssl_certificate_key ${files.key};
    ssl_client_certificate ${files.bundle};
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_protocols TLSv1.3;
    ssl_ecdh_curve prime256v1;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

interface Nginx {
  readonly port: number;
  /** Master and worker. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // nginx runs in a process group of its own (detached), so this reaches its worker too.
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: LOCALHOST, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function startNginx(bin: string, dir: string, backendPort: number, files: SvidFiles): Promise<Nginx> {
  let last = '';
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort();
    const prefix = join(dir, `nginx-${port}`);
    mkdirSync(join(prefix, 'tmp'), { recursive: true });
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(conf, nginxConf(prefix, port, backendPort, files));
    const child = spawn(bin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log'), '-g', 'daemon off;'], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.once('error', (err) => {
      stderr += err.message;
    });
    const stop = async (): Promise<void> => {
      killGroup(child, 'SIGTERM');
      if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
        killGroup(child, 'SIGKILL');
        await waitForExit(child, STOP_TIMEOUT_MS);
      }
    };
    const deadline = performance.now() + READY_TIMEOUT_MS;
    let up = false;
    while (!up && performance.now() < deadline && child.exitCode === null) {
      up = await canConnect(port);
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    const pid = child.pid ?? -1;
    let workers = childPids(pid);
    while (up && workers.length === 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      workers = childPids(pid);
    }
    if (up && workers.length > 0) return { port, pids: [pid, ...workers], stop };
    await stop();
    const log = existsSync(join(prefix, 'error.log')) ? readFileSync(join(prefix, 'error.log'), 'utf8') : '';
    last = `${stderr}\n${log}`.trim();
    if (!/address already in use/i.test(last)) break;
  }
  throw new Error(`bench: nginx did not start as an mTLS proxy (${last || 'no output'}); check "nginx -t" with the configuration above.`);
}

// ---------------------------------------------------------------------------------------------
// Paths

interface Parties {
  readonly workerPath: string;
  readonly backendPid: number;
  readonly connections: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly rounds: number;
  readonly settleMs: number;
}

/** CPU ms of each party at one instant (undefined: the process could not be read). */
interface Sample {
  readonly at: number;
  readonly client: number | undefined;
  readonly proxy: number | undefined;
  readonly backend: number | undefined;
}

/** CPU added up over one target's windows. */
class CpuTotals {
  wallMs = 0;
  client: number | undefined = 0;
  proxy: number | undefined = 0;
  backend: number | undefined = 0;

  add(start: Sample, end: Sample): void {
    const diff = (a: number | undefined, b: number | undefined, sum: number | undefined): number | undefined =>
      a === undefined || b === undefined || sum === undefined ? undefined : sum + (b - a);
    this.wallMs += end.at - start.at;
    this.client = diff(start.client, end.client, this.client);
    this.proxy = diff(start.proxy, end.proxy, this.proxy);
    this.backend = diff(start.backend, end.backend, this.backend);
  }
}

function perOpUs(cpuMs: number | undefined, ops: number): number | null {
  return cpuMs === undefined || ops <= 0 ? null : round((cpuMs * 1000) / ops, 1);
}

interface PathSpec {
  readonly key: ScenarioKey;
  readonly target: LoadTarget;
  /** The proxy's processes; null for the direct path. */
  readonly proxyPids: readonly number[] | null;
}

/**
 * One load worker drives every path of one mode in turns (see LoadSpec.rounds), and this process
 * reads the CPU of the client, that path's proxy and the backend at each window's edges.
 */
async function runPaths(p: Parties, mode: LoadMode, paths: readonly PathSpec[]): Promise<ScenarioResult[]> {
  const spec: LoadSpec = {
    targets: paths.map((x) => x.target),
    mode,
    connections: p.connections,
    warmupMs: p.warmupMs,
    rounds: p.rounds,
    windowMs: Math.round(p.windowMs / p.rounds),
    settleMs: p.settleMs,
  };
  const load = Worker.fork(p.workerPath, 'load');
  const totals = paths.map(() => new CpuTotals());
  const open = new Map<number, Sample>();
  load.onMessage((m) => {
    if (m.type !== 'window') return;
    const path = paths[m.target];
    if (path === undefined) return;
    const sample: Sample = {
      at: performance.now(),
      client: processCpuMs(load.pid),
      proxy: path.proxyPids === null ? undefined : totalCpuMs(path.proxyPids),
      backend: processCpuMs(p.backendPid),
    };
    if (m.phase === 'start') open.set(m.target, sample);
    else {
      const start = open.get(m.target);
      if (start !== undefined) totals[m.target]?.add(start, sample);
      open.delete(m.target);
    }
  });
  let report: LoadReport;
  try {
    load.send({ type: 'config', config: spec });
    const expected = paths.length * (p.warmupMs + p.rounds * (spec.windowMs + spec.settleMs));
    report = (await load.wait('report', expected + 20_000)).report;
  } finally {
    await load.stop();
  }
  return paths.map((path, i) => {
    const r = report.targets[i];
    const cpu = totals[i];
    if (r === undefined || cpu === undefined || cpu.wallMs === 0) throw new Error(`bench: the load worker reported no window for ${path.key} (${mode}).`);
    const ops = r.requests;
    const result: ScenarioResult = {
      target: path.key,
      mode,
      requests: r.requests,
      perSec: r.perSec,
      errors: r.errors,
      errorKinds: r.errorKinds,
      latencyUs: r.latencyUs,
      windowMs: r.windowMs,
      connectionsOpened: r.connectionsOpened,
      resumed: r.resumed,
      reconnects: r.reconnects,
      cpu: {
        client: cpuWindow(cpu.client ?? r.cpuMs, cpu.wallMs),
        proxy: path.proxyPids === null || cpu.proxy === undefined ? null : cpuWindow(cpu.proxy, cpu.wallMs),
        backend: cpuWindow(cpu.backend ?? 0, cpu.wallMs),
      },
      proxyCpuUsPerOp: path.proxyPids === null ? null : perOpUs(cpu.proxy, ops),
      clientCpuUsPerOp: perOpUs(cpu.client, ops),
      backendCpuUsPerOp: perOpUs(cpu.backend, ops),
    };
    return r.tls === undefined ? result : { ...result, tls: r.tls };
  });
}

function r3(value: number | null): number | null {
  return value === null ? null : Number(value.toPrecision(3));
}

function writeSvid(dir: string, svid: IssuedSvid, bundlePem: string): SvidFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { cert: join(dir, 'svid.pem'), key: join(dir, 'svid_key.pem'), bundle: join(dir, 'svid_bundle.pem') };
  writeFileSync(files.key, toPem('PRIVATE KEY', svid.key?.pkcs8 ?? Buffer.alloc(0)), { mode: 0o600 });
  writeFileSync(files.cert, svid.chain.map((d) => toPem('CERTIFICATE', d)).join(''));
  writeFileSync(files.bundle, bundlePem);
  return files;
}

/**
 * Runs the keep-alive paths (direct, nginx, ours) in turns, then the new-connection paths (nginx,
 * ours) in turns, and stops every process it started before it resolves or rejects.
 */
export async function runSidecar(o: SidecarBenchOptions): Promise<SidecarResult> {
  const say = o.progress ?? ((): void => undefined);
  const connections = o.connections ?? DEFAULT_CONNECTIONS;
  const workerPath = o.workerPath ?? defaultWorkerPath();
  if (!existsSync(workerPath)) throw new Error(`bench: the worker ${workerPath} is missing; run "npm run build" first.`);
  const nginxBin = o.nginx === undefined ? findNginx() : o.nginx;
  if (nginxBin === null) say('sidecar: no nginx found; its rows are skipped');

  const dir = mkdtempSync(join(tmpdir(), 'mtls-lab-bench-sidecar-'));
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const ca = CertificateAuthority.create({ trustDomain: TrustDomain.parse(TRUST_DOMAIN) });
    const bundlePem = ca.bundlePem();
    // DNS:localhost as the mesh issues it; the clients check the SPIFFE ID, not the name.
    const server = ca.issue({ id: SpiffeId.parse(SERVER_ID), ttlMs: SVID_TTL_MS, dnsNames: ['localhost'] });
    const client = ca.issue({ id: SpiffeId.parse(CLIENT_ID), ttlMs: SVID_TTL_MS });
    const pem = (svid: IssuedSvid): { chainPem: string; keyPem: string } => ({
      chainPem: svid.chain.map((d) => toPem('CERTIFICATE', d)).join(''),
      keyPem: toPem('PRIVATE KEY', svid.key?.pkcs8 ?? Buffer.alloc(0)),
    });
    const clientPem = pem(client);
    const tls = { certPem: clientPem.chainPem, keyPem: clientPem.keyPem, caPem: bundlePem, serverId: SERVER_ID };

    say('sidecar: starting the backend, our sidecar and nginx');
    const backend = await startWorker(workerPath, 'backend', {});
    stops.push(() => backend.worker.stop());
    const serverPem = pem(server);
    const sidecar = await startWorker(workerPath, 'sidecar', {
      service: 'backend',
      spiffeId: SERVER_ID,
      trustDomain: TRUST_DOMAIN,
      chainPem: serverPem.chainPem,
      keyPem: serverPem.keyPem,
      bundlePem,
      serial: server.serial,
      notBefore: server.notBefore.getTime(),
      notAfter: server.notAfter.getTime(),
      servicePort: backend.port,
    });
    let sidecarStats: SidecarStats | undefined;
    let sidecarStopped = false;
    const stopSidecar = async (): Promise<void> => {
      if (sidecarStopped) return;
      sidecarStopped = true;
      sidecarStats = (await sidecar.worker.stop())?.stats;
    };
    stops.push(stopSidecar);
    let nginx: Nginx | null = null;
    if (nginxBin !== null) {
      nginx = await startNginx(nginxBin, dir, backend.port, writeSvid(join(dir, 'server'), server, bundlePem));
      stops.push(nginx.stop);
    }

    const targets: Record<ScenarioKey, LoadTarget | null> = {
      direct: { port: backend.port },
      ours: { port: sidecar.port, tls },
      nginx: nginx === null ? null : { port: nginx.port, tls },
    };
    // Each path answers before it is timed, so a broken one cannot look fast.
    for (const [key, target] of Object.entries(targets)) {
      if (target === null) continue;
      const answer = await probe(target);
      if (answer.status !== 200) throw new Error(`bench: the ${key} path answered ${answer.status}, not 200; fix it before timing it.`);
    }

    const parties: Parties = { workerPath, backendPid: backend.worker.pid, connections, warmupMs: o.warmupMs, windowMs: o.windowMs, rounds: o.rounds, settleMs: o.settleMs };
    const path = (key: ScenarioKey, proxy: readonly number[] | null): PathSpec[] => {
      const target = targets[key];
      return target === null ? [] : [{ key, target, proxyPids: proxy }];
    };
    say('sidecar: keep-alive, direct / nginx / ours in turns');
    const ka = await runPaths(parties, 'keep-alive', [...path('direct', null), ...path('nginx', nginx?.pids ?? null), ...path('ours', [sidecar.worker.pid])]);
    say('sidecar: new connection per request, nginx / ours in turns');
    const nc = await runPaths(parties, 'new-connection', [...path('nginx', nginx?.pids ?? null), ...path('ours', [sidecar.worker.pid])]);
    const find = (list: readonly ScenarioResult[], key: ScenarioKey): ScenarioResult | null => list.find((x) => x.target === key) ?? null;
    const kaDirect = find(ka, 'direct') as ScenarioResult;
    const kaOurs = find(ka, 'ours') as ScenarioResult;
    const kaNginx = find(ka, 'nginx');
    const ncOurs = find(nc, 'ours') as ScenarioResult;
    const ncNginx = find(nc, 'nginx');
    await stopSidecar();

    const reqRatio = r3(ratio(kaOurs.perSec, kaNginx?.perSec));
    const p99Ratio = r3(ratio(kaOurs.latencyUs.p99, kaNginx?.latencyUs.p99));
    const hsRatio = r3(ratio(ncOurs.perSec, ncNginx?.perSec));
    const all = [kaDirect, kaOurs, kaNginx, ncOurs, ncNginx].filter((s): s is ScenarioResult => s !== null);
    const target = (goal: string, value: number | null, met: (v: number) => boolean): Target => ({ goal, ratio: value, met: value === null ? null : met(value) });
    return {
      connections,
      warmupMs: o.warmupMs,
      windowMs: o.windowMs,
      rounds: o.rounds,
      keepAlive: { direct: kaDirect, ours: kaOurs, nginx: kaNginx },
      newConnection: { ours: ncOurs, nginx: ncNginx },
      ratios: {
        reqPerSecOverNginx: reqRatio,
        p99OverNginx: p99Ratio,
        proxyCpuPerRequestOverNginx: r3(ratio(kaOurs.proxyCpuUsPerOp, kaNginx?.proxyCpuUsPerOp)),
        reqPerSecOverDirect: r3(ratio(kaOurs.perSec, kaDirect.perSec)),
        p99OverDirect: r3(ratio(kaOurs.latencyUs.p99, kaDirect.latencyUs.p99)),
        handshakesPerSecOverNginx: hsRatio,
        proxyCpuPerHandshakeOverNginx: r3(ratio(ncOurs.proxyCpuUsPerOp, ncNginx?.proxyCpuUsPerOp)),
      },
      targets: {
        reqPerSec: target(`≥ ${GOALS.reqPerSec}× nginx`, reqRatio, (v) => v >= GOALS.reqPerSec),
        p99: target(`≤ ${GOALS.p99}× nginx`, p99Ratio, (v) => v <= GOALS.p99),
        handshakes: target(`≥ ${GOALS.handshakes}× nginx`, hsRatio, (v) => v >= GOALS.handshakes),
      },
      sidecar: sidecarStats?.inbound ?? null,
      errors: all.reduce((n, s) => n + s.errors, 0),
      nginx: nginxBin === null ? null : { version: nginxVersion(nginxBin), workerProcesses: 1 },
      versions: { node: process.version, openssl: process.versions.openssl },
    };
  } finally {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch {
        // Keep stopping the others.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The report

const LABELS: Readonly<Record<LoadMode, Readonly<Record<ScenarioKey, string>>>> = {
  'keep-alive': { direct: 'keep-alive: direct to the backend', ours: 'keep-alive: ours (Sidecar)', nginx: 'keep-alive: nginx mTLS proxy' },
  'new-connection': { direct: 'new TLS conn/request: direct', ours: 'new TLS conn/request: ours', nginx: 'new TLS conn/request: nginx' },
};

function verdict(t: Target, what: string, ratioText: string): string {
  if (t.met === null) return `${what}: n/a (nginx did not run)`;
  return `${what}: ${ratioText} (goal ${t.goal}): ${t.met ? 'PASS' : 'BELOW'}`;
}

function tlsText(s: ScenarioResult | null): string {
  return s?.tls === undefined ? 'n/a' : `${s.tls.protocol} ${s.tls.cipher} ${s.tls.group}`;
}

/** The section as a table, a legend and the goal lines. */
export function renderSidecar(r: SidecarResult): string {
  const columns: Column[] = [
    { header: 'path' },
    { header: 'requests' },
    { header: 'per second' },
    { header: 'p50 ms' },
    { header: 'p99 ms' },
    { header: 'errors' },
    { header: 'proxy CPU µs/req' },
    { header: 'proxy cores' },
    { header: 'client cores' },
    { header: 'backend cores' },
    { header: '× nginx' },
    { header: 'CPU × nginx' },
    { header: '× direct' },
  ];
  const ms = (us: number): string => formatFixed(us / 1000, 2);
  const row = (s: ScenarioResult | null, mode: LoadMode, key: ScenarioKey, nginx: ScenarioResult | null, direct: ScenarioResult | null): string[] => {
    if (s === null) return [LABELS[mode][key], 'not run (no nginx)'];
    return [
      LABELS[mode][key],
      formatCount(s.requests),
      formatCount(s.perSec),
      ms(s.latencyUs.p50),
      ms(s.latencyUs.p99),
      formatCount(s.errors),
      s.proxyCpuUsPerOp === null ? '—' : formatFixed(s.proxyCpuUsPerOp, 1),
      s.cpu.proxy === null ? '—' : formatFixed(s.cpu.proxy.cores, 2),
      formatFixed(s.cpu.client.cores, 2),
      formatFixed(s.cpu.backend.cores, 2),
      formatRatio(s.perSec, nginx?.perSec),
      formatRatio(s.proxyCpuUsPerOp, nginx?.proxyCpuUsPerOp),
      direct === null ? '' : formatRatio(s.perSec, direct.perSec),
    ];
  };
  const ka = r.keepAlive;
  const nc = r.newConnection;
  const rows = [
    row(ka.direct, 'keep-alive', 'direct', ka.nginx, ka.direct),
    row(ka.nginx, 'keep-alive', 'nginx', ka.nginx, ka.direct),
    row(ka.ours, 'keep-alive', 'ours', ka.nginx, ka.direct),
    row(nc.nginx, 'new-connection', 'nginx', nc.nginx, null),
    row(nc.ours, 'new-connection', 'ours', nc.nginx, null),
  ];
  const seconds = (v: number): string => `${formatFixed(v / 1000, v < 1000 ? 2 : 1)} s`;
  const sc = r.sidecar;
  const kinds = [ka.direct, ka.nginx, ka.ours, nc.nginx, nc.ours]
    .filter((s): s is ScenarioResult => s !== null && s.errors > 0)
    .map((s) => `${LABELS[s.mode][s.target]}: ${Object.entries(s.errorKinds).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const ratioText = (v: number | null): string => (v === null ? 'n/a' : `${v}×`);
  return [
    `Sidecar: one mTLS hop in front of a plain HTTP backend, ${r.connections} concurrent clients, ${seconds(r.windowMs)} counted per path`,
    `  in ${r.rounds} turns: the paths of one mode take turns (order reversed each round) after a ${seconds(r.warmupMs)} warm-up each`,
    `  backend, proxy and load client: one process each; nginx ${r.nginx?.version ?? 'not found'} with worker_processes 1, upstream keepalive`,
    `  TLS as settled: ours ${tlsText(ka.ours)}; nginx ${tlsText(ka.nginx)}`,
    '',
    renderTable(columns, rows),
    '',
    '  keep-alive: one request in flight per connection, connections kept; new TLS conn/request: each request',
    '  on a fresh connection with a full handshake (no session resumption), latency from connect.',
    '  proxy CPU µs/req: the proxy process(es) CPU over the window per answer (per handshake on new-connection rows);',
    '  cores: CPU over wall for each process. × nginx: per second over the nginx row of the same mode;',
    '  CPU × nginx: proxy CPU per request over nginx\'s (below 1: ours spends less); × direct: per second over direct.',
    '  Two cores are shared by the client, the proxy and the backend (and anyone else on the machine): compare ratios.',
    sc === null
      ? '  our sidecar reported no counters.'
      : `  our sidecar: ${formatCount(sc.handshakes)} handshakes (${formatCount(sc.resumed)} resumed), ${formatCount(sc.refused)} refused, ${formatCount(sc.handshakeErrors)} TLS errors, ${formatCount(sc.requests)} requests counted.`,
    ...(kinds.length > 0 ? ['  errors by kind:', ...kinds.map((k) => `    ${k}`)] : []),
    '',
    verdict(r.targets.reqPerSec, 'sidecar vs nginx, keep-alive requests/s', ratioText(r.ratios.reqPerSecOverNginx)),
    verdict(r.targets.p99, 'sidecar vs nginx, keep-alive p99 latency', ratioText(r.ratios.p99OverNginx)),
    verdict(r.targets.handshakes, 'sidecar vs nginx, new handshakes/s', ratioText(r.ratios.handshakesPerSecOverNginx)),
    `errors over every path: ${formatCount(r.errors)}${r.errors === 0 ? '' : ' — NOT A MEASUREMENT'}`,
  ].join('\n');
}

/** Per-path time from the bench's per-path budget: 1.25× it (at least 0.7 s), in 4 turns (2 under 1.5 s). */
export function sidecarTimings(budgetMs: number): { windowMs: number; warmupMs: number; rounds: number; settleMs: number } {
  const windowMs = Math.max(700, Math.round(budgetMs * 1.25));
  const short = windowMs < 1500;
  return { windowMs, warmupMs: short ? 150 : 300, rounds: short ? 2 : 4, settleMs: short ? 75 : 100 };
}

/** The sidecar section for bench/main.ts's registry. */
export const sidecarSection = {
  name: 'sidecar',
  async run(o: { readonly budgetMs: number; readonly progress: (line: string) => void }): Promise<{ json: SidecarResult; text: string }> {
    const result = await runSidecar({ ...sidecarTimings(o.budgetMs), progress: o.progress });
    return { json: result, text: renderSidecar(result) };
  },
};
