// Runs the mesh's services as child processes. Each one gets its own process group (so a stop
// reaches whatever it forks) and writes straight into logDir/<name>.log: no pipe ties a service to
// the daemon, so a daemon killed with SIGKILL leaves its services running with the certificates
// they hold, while a daemon that exits normally takes its services with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, appendFileSync, closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { EventBus } from '../events/bus.js';
import type { ServiceEvent } from '../events/types.js';
import { systemClock, type Clock, type TimerHandle } from '../rotation/clock.js';

export type ServiceErrorCode =
  | 'bad-spec'
  | 'bad-cwd'
  | 'command-not-found'
  | 'not-executable'
  | 'spawn-failed'
  | 'port-in-use'
  | 'exited-before-ready'
  | 'not-ready'
  | 'stopped-before-ready'
  | 'already-running'
  | 'unknown-service';

/** A service that cannot be started or found; the message names the command and the fix. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly code: ServiceErrorCode,
    readonly service: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ServiceSpec {
  readonly name: string;
  /** argv; run without a shell. A bare name is looked up on the PATH of the service's environment. */
  readonly command: readonly string[];
  readonly cwd: string;
  /** Added to the daemon's own environment (these win). */
  readonly env: Readonly<Record<string, string>>;
  /** When set, start() resolves once 127.0.0.1:readyPort accepts a connection. */
  readonly readyPort?: number;
  /** How long start() waits for readyPort; default 10 s. */
  readonly readyTimeoutMs?: number;
}

export type ServiceState = ServiceEvent['state'];

export interface ServiceStatus {
  readonly name: string;
  readonly state: ServiceState;
  readonly pid?: number;
  /** Restarts after crashes since start(). */
  readonly restarts: number;
}

export interface ServiceRunnerOptions {
  readonly bus: EventBus;
  /** Where <name>.log files go; created if missing. */
  readonly logDir: string;
  /** Governs the restart policy (backoff delays, uptime). Process waits (readiness, stop grace) use real time. */
  readonly clock?: Clock;
  /** SIGTERM → SIGKILL grace; default 3 s. */
  readonly stopGraceMs?: number;
  /** Lines kept per service for logs(); default 1000. */
  readonly logLines?: number;
}

/** Restart backoff: 1 s, doubled per crash, at most 30 s; back to 1 s after a run of 30 s or more. */
export const RESTART_BASE_MS = 1_000;
export const RESTART_MAX_MS = 30_000;
export const RESTART_RESET_AFTER_MS = 30_000;
export const DEFAULT_STOP_GRACE_MS = 3_000;
export const DEFAULT_READY_TIMEOUT_MS = 10_000;

const READY_POLL_MS = 50;
const TAIL_LINES_IN_ERRORS = 10;
const MAX_LINE_CHARS = 8_192;
/** A log that grew by more than this since the last look is read from its last part only. */
const MAX_CATCH_UP_BYTES = 1 << 20;
const KILL_WAIT_MS = 2_000;

/** The restart delay after `crashes` crashes in a row (1-based). */
export function restartDelayMs(crashes: number): number {
  return Math.min(RESTART_BASE_MS * 2 ** Math.max(0, crashes - 1), RESTART_MAX_MS);
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One spawned process. */
interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly startedAt: number;
  readonly exited: Promise<Exit>;
  exit?: Exit;
}

interface Entry {
  spec: ServiceSpec;
  state: ServiceState;
  proc?: Proc;
  /** Crashes in a row, for the backoff. */
  crashes: number;
  restarts: number;
  restartTimer?: TimerHandle;
  /** The launch in progress, so stop() can wait for it to notice and clean up. */
  launching?: Promise<void>;
  stopping: boolean;
  readonly tail: LogTail;
}

/** Lines of a log file, read on demand from where it was when the service first started. */
class LogTail {
  private offset: number;
  private partial = '';
  private readonly ring: string[] = [];

  constructor(
    readonly path: string,
    private readonly max: number,
  ) {
    this.offset = fileSize(path);
  }

  /** Reads what was appended since the last look into the ring. */
  catchUp(): void {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) {
        // Truncated or replaced by someone: start over from its beginning.
        this.offset = 0;
        this.partial = '';
      }
      if (size - this.offset > MAX_CATCH_UP_BYTES) {
        this.offset = size - MAX_CATCH_UP_BYTES;
        this.partial = '';
      }
      const buf = Buffer.alloc(64 * 1024);
      while (this.offset < size) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, size - this.offset), this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.push(buf.toString('utf8', 0, n));
      }
    } finally {
      closeSync(fd);
    }
  }

  /** The last `n` complete lines, plus a trailing partial line. */
  last(n: number): string[] {
    this.catchUp();
    const all = this.partial ? [...this.ring, this.partial] : this.ring;
    return n <= 0 ? [] : all.slice(-n);
  }

  private push(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = (parts.pop() ?? '').slice(0, MAX_LINE_CHARS);
    for (const p of parts) {
      this.ring.push(p.replace(/\r$/, '').slice(0, MAX_LINE_CHARS));
    }
    if (this.ring.length > this.max) this.ring.splice(0, this.ring.length - this.max);
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits for `p` at most `ms`; the timer does not outlive the wait. */
async function within<T>(p: Promise<T>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function portAccepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000);
    const finish = (ok: boolean): void => {
      socket.destroy();
      done(ok);
    };
    socket.once('connect', () => finish(true));
    socket.once('timeout', () => finish(false));
    socket.once('error', () => finish(false));
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** True while a process of group `pgid` lives. Zombies (dead, waiting for a reaper that may be slow) do not count. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return true;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

function describeExit(e: Exit): string {
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${String(e.code)}`;
}

function quoteArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/**
 * Starts, watches and stops the services of a mesh. Every state change is a 'service/state'
 * event on the bus; a crash is followed by a restart after a growing delay until stop().
 */
export class ServiceRunner {
  private readonly bus: EventBus;
  private readonly logDir: string;
  private readonly clock: Clock;
  private readonly stopGraceMs: number;
  private readonly logLines: number;
  private readonly entries = new Map<string, Entry>();
  private readonly live = new Set<Proc>();
  private exitHookInstalled = false;
  // A daemon that exits (normally or by an uncaught error) takes its services with it. SIGKILL
  // cannot be caught, so after one the services keep running, as intended.
  private readonly onParentExit = (): void => {
    for (const p of this.live) signalGroup(p.pid, 'SIGKILL');
  };

  constructor(o: ServiceRunnerOptions) {
    this.bus = o.bus;
    this.logDir = o.logDir;
    this.clock = o.clock ?? systemClock;
    this.stopGraceMs = o.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.logLines = o.logLines ?? 1_000;
  }

  /**
   * Spawns the service; resolves once it runs (and accepts connections on readyPort, when given).
   * Rejects with a ServiceError, leaving no process behind, when the command is missing or not
   * executable, the port is taken, or the service exits or stays deaf before it is ready.
   */
  async start(spec: ServiceSpec): Promise<void> {
    validateSpec(spec);
    const existing = this.entries.get(spec.name);
    if (existing && existing.state !== 'stopped' && existing.state !== 'failed') {
      throw new ServiceError('already-running', spec.name, `runner: service "${spec.name}" is already ${existing.state}; stop it before starting it again.`);
    }
    mkdirSync(this.logDir, { recursive: true });
    const entry: Entry = existing ?? {
      spec,
      state: 'stopped',
      crashes: 0,
      restarts: 0,
      stopping: false,
      tail: new LogTail(join(this.logDir, `${spec.name}.log`), this.logLines),
    };
    entry.spec = spec;
    entry.crashes = 0;
    entry.restarts = 0;
    entry.stopping = false;
    this.entries.set(spec.name, entry);
    try {
      await this.runLaunch(entry);
    } catch (err) {
      if (err instanceof LaunchError) {
        if (!entry.stopping) this.setState(entry, 'failed', { pid: err.pid, exitCode: err.exit?.code, signal: err.exit?.signal, detail: err.error.message });
        throw err.error;
      }
      throw err;
    }
  }

  /** Stops one service: SIGTERM to its process group, SIGKILL after the grace period. Cancels a pending restart. */
  async stop(name: string): Promise<void> {
    const entry = this.entry(name);
    entry.stopping = true;
    if (entry.restartTimer) {
      this.clock.clearTimeout(entry.restartTimer);
      entry.restartTimer = undefined;
    }
    if (entry.launching) await entry.launching.catch(() => undefined);
    const proc = entry.proc;
    if (proc) await this.terminate(entry, proc);
    if (entry.state !== 'stopped' && entry.state !== 'failed') {
      this.setState(entry, 'stopped', { pid: proc?.pid, exitCode: proc?.exit?.code, signal: proc?.exit?.signal });
    }
  }

  /** Stops every service at once; resolves when none of their processes is left. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((name) => this.stop(name)));
  }

  /** The running process of a service, if any. */
  pid(name: string): number | undefined {
    return this.entries.get(name)?.proc?.pid;
  }

  /** The last `lines` lines the service wrote (stdout and stderr interleaved) and the runner's notes about it. */
  logs(name: string, lines = 100): string[] {
    return this.entry(name).tail.last(lines);
  }

  /** Where the service's log file is. */
  logFile(name: string): string {
    return this.entry(name).tail.path;
  }

  status(name: string): ServiceStatus {
    const e = this.entry(name);
    return { name, state: e.state, pid: e.proc?.pid, restarts: e.restarts };
  }

  list(): ServiceStatus[] {
    return [...this.entries.keys()].map((n) => this.status(n));
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new ServiceError('unknown-service', name, `runner: there is no service "${name}"; start it first (known: ${[...this.entries.keys()].join(', ') || 'none'}).`);
    return e;
  }

  private setState(e: Entry, state: ServiceState, extra: Omit<ServiceEvent, 'type' | 'seq' | 'time' | 'service' | 'state'> = {}): void {
    e.state = state;
    const event: { -readonly [K in keyof ServiceEvent]?: ServiceEvent[K] } = { type: 'service/state', service: e.spec.name, state };
    if (extra.pid !== undefined) event.pid = extra.pid;
    if (extra.exitCode !== undefined) event.exitCode = extra.exitCode;
    if (extra.signal !== undefined) event.signal = extra.signal;
    if (extra.detail !== undefined) event.detail = extra.detail;
    this.bus.emit(event as Omit<ServiceEvent, 'seq' | 'time'>);
  }

  private note(e: Entry, text: string): void {
    try {
      appendFileSync(e.tail.path, `[mtls-lab] ${new Date().toISOString()} ${text}\n`);
    } catch {
      // A log that cannot be written must not stop the service.
    }
  }

  private runLaunch(e: Entry): Promise<void> {
    const launching = this.launch(e);
    e.launching = launching;
    const clear = (): void => {
      if (e.launching === launching) e.launching = undefined;
    };
    launching.then(clear, clear);
    return launching;
  }

  /** Spawns and waits for readiness; on failure no process of this launch is left. */
  private async launch(e: Entry): Promise<void> {
    const spec = e.spec;
    this.setState(e, 'starting', { detail: quoteArgv(spec.command) });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, spec.env);
    const executable = resolveExecutable(spec, env);
    if (spec.readyPort !== undefined && (await portAccepts(spec.readyPort))) {
      throw new LaunchError(
        new ServiceError('port-in-use', spec.name, `runner: cannot start "${spec.name}": something else already listens on 127.0.0.1:${spec.readyPort}; stop it or give the service another port.`),
      );
    }
    if (e.stopping) throw new LaunchError(stoppedBeforeReady(spec));

    const fd = openSync(e.tail.path, 'a');
    let child: ChildProcess;
    try {
      // detached: a process group of its own, so stop() reaches its children too, and no tie to our
      // terminal. stdout/stderr go to the log file, not a pipe, so our death cannot SIGPIPE it.
      child = spawn(executable, spec.command.slice(1), { cwd: spec.cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    } catch (err) {
      throw new LaunchError(new ServiceError('spawn-failed', spec.name, `runner: cannot start "${spec.name}" (${quoteArgv(spec.command)}): ${(err as Error).message}.`));
    } finally {
      closeSync(fd);
    }
    const proc = await this.spawned(spec, child);
    e.proc = proc;
    this.track(proc);
    this.note(e, `started pid ${proc.pid}: ${quoteArgv(spec.command)}`);
    void proc.exited.then((exit) => this.onExit(e, proc, exit));
    if (e.stopping) {
      await this.kill(proc);
      throw new LaunchError(stoppedBeforeReady(spec), proc.pid, proc.exit);
    }

    if (spec.readyPort !== undefined) await this.waitReady(e, proc, spec.readyPort);
    this.setState(e, 'running', { pid: proc.pid, detail: spec.readyPort !== undefined ? `ready on 127.0.0.1:${spec.readyPort}` : undefined });
  }

  /** Resolves with the process once it has spawned; rejects when the OS refused to run it. */
  private spawned(spec: ServiceSpec, child: ChildProcess): Promise<Proc> {
    return new Promise((resolveProc, reject) => {
      const exited = new Promise<Exit>((resolveExit) => {
        child.once('exit', (code, signal) => resolveExit({ code, signal }));
      });
      child.once('spawn', () => {
        child.removeAllListeners('error');
        // An error after spawn (a failed kill) changes nothing we track.
        child.on('error', () => undefined);
        const proc: Proc = { child, pid: child.pid as number, startedAt: this.clock.now(), exited };
        void exited.then((x) => {
          proc.exit = x;
        });
        resolveProc(proc);
      });
      child.once('error', (err: NodeJS.ErrnoException) => reject(new LaunchError(spawnError(spec, err))));
    });
  }

  private async waitReady(e: Entry, proc: Proc, port: number): Promise<void> {
    const spec = e.spec;
    const timeoutMs = spec.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exit) break;
      if (e.stopping) {
        await this.kill(proc);
        throw new LaunchError(stoppedBeforeReady(spec), proc.pid, proc.exit);
      }
      if (await portAccepts(port)) {
        // Accepting while the process has just died means someone else holds the port.
        if (!proc.exit) return;
        break;
      }
      if (Date.now() >= deadline) {
        await this.kill(proc);
        throw new LaunchError(
          new ServiceError(
            'not-ready',
            spec.name,
            `runner: "${spec.name}" (${quoteArgv(spec.command)}) did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms, so it was stopped; make it listen on $PORT (${port}) on 127.0.0.1.${this.tailText(e)}`,
          ),
          proc.pid,
          proc.exit,
        );
      }
      await within(proc.exited, READY_POLL_MS);
    }
    const exit = await proc.exited;
    // The group may hold children the service started.
    signalGroup(proc.pid, 'SIGKILL');
    if (e.stopping) throw new LaunchError(stoppedBeforeReady(spec), proc.pid, exit);
    throw new LaunchError(
      new ServiceError(
        'exited-before-ready',
        spec.name,
        `runner: "${spec.name}" (${quoteArgv(spec.command)}) ${describeExit(exit)} before it accepted connections on 127.0.0.1:${port}; fix the error it reports, or run the command by hand in ${spec.cwd}.${this.tailText(e)}`,
      ),
      proc.pid,
      exit,
    );
  }

  private tailText(e: Entry): string {
    const lines = e.tail.last(TAIL_LINES_IN_ERRORS + 5).filter((l) => !l.startsWith('[mtls-lab] ')).slice(-TAIL_LINES_IN_ERRORS);
    return lines.length ? `\nLast output (${e.tail.path}):\n  ${lines.join('\n  ')}` : `\nIt wrote nothing (${e.tail.path}).`;
  }

  private onExit(e: Entry, proc: Proc, exit: Exit): void {
    this.live.delete(proc);
    this.untrackIfIdle();
    if (e.proc !== proc) return;
    e.proc = undefined;
    this.note(e, `pid ${proc.pid} ${describeExit(exit)}`);
    // Stops and failed launches report for themselves.
    if (e.stopping || e.state !== 'running') return;
    // Whatever the service forked goes with it, so the restart starts clean.
    signalGroup(proc.pid, 'SIGKILL');
    this.scheduleRestart(e, { pid: proc.pid, upMs: this.clock.now() - proc.startedAt, exit });
  }

  private scheduleRestart(e: Entry, crash: { pid?: number; upMs: number; exit?: Exit; detail?: string }): void {
    if (crash.upMs >= RESTART_RESET_AFTER_MS) e.crashes = 0;
    e.crashes++;
    const delayMs = restartDelayMs(e.crashes);
    const exit = crash.exit;
    const detail = crash.detail ?? (exit ? `${describeExit(exit)} after ${(crash.upMs / 1000).toFixed(1)} s` : 'exited');
    this.setState(e, 'exited', { pid: crash.pid, exitCode: exit?.code ?? null, signal: exit?.signal ?? null, detail });
    this.note(e, `restarting in ${delayMs / 1000} s`);
    this.setState(e, 'restarting', { detail: `restarting in ${delayMs / 1000} s (crash ${e.crashes} in a row)` });
    e.restartTimer = this.clock.setTimeout(() => {
      e.restartTimer = undefined;
      if (e.stopping) return;
      e.restarts++;
      this.runLaunch(e).catch((err: unknown) => {
        if (e.stopping) return;
        if (!(err instanceof LaunchError)) {
          this.setState(e, 'failed', { detail: String(err) });
          return;
        }
        const code = err.error.code;
        if (code === 'command-not-found' || code === 'not-executable' || code === 'bad-cwd' || code === 'spawn-failed') {
          // Retrying cannot help until someone fixes the command; say so once.
          this.setState(e, 'failed', { detail: err.error.message });
          return;
        }
        // Died or stayed deaf before it was ready: a crash like any other, with a longer wait.
        this.scheduleRestart(e, { pid: err.pid, upMs: 0, exit: err.exit, detail: err.error.message });
      });
    }, delayMs);
  }

  /** SIGTERM to the group, SIGKILL after the grace period; resolves when the process and its group are gone. */
  private async terminate(e: Entry, proc: Proc): Promise<void> {
    if (!proc.exit) {
      this.note(e, `stopping pid ${proc.pid} (SIGTERM)`);
      signalGroup(proc.pid, 'SIGTERM');
    }
    const deadline = Date.now() + this.stopGraceMs;
    await within(proc.exited, this.stopGraceMs);
    // The leader may be gone while what it forked lingers: give that the rest of the grace period.
    while (groupAlive(proc.pid) && Date.now() < deadline) await sleep(25);
    if (!proc.exit || groupAlive(proc.pid)) await this.kill(proc);
  }

  private async kill(proc: Proc): Promise<void> {
    signalGroup(proc.pid, 'SIGKILL');
    await within(proc.exited, KILL_WAIT_MS);
  }

  private track(proc: Proc): void {
    this.live.add(proc);
    if (!this.exitHookInstalled) {
      process.on('exit', this.onParentExit);
      this.exitHookInstalled = true;
    }
  }

  private untrackIfIdle(): void {
    if (this.live.size === 0 && this.exitHookInstalled) {
      process.removeListener('exit', this.onParentExit);
      this.exitHookInstalled = false;
    }
  }
}

/** A failed launch: the error for the caller, and the process it made, if any (already gone). */
class LaunchError extends Error {
  constructor(
    readonly error: ServiceError,
    readonly pid?: number,
    readonly exit?: Exit,
  ) {
    super(error.message);
  }
}

function stoppedBeforeReady(spec: ServiceSpec): ServiceError {
  return new ServiceError('stopped-before-ready', spec.name, `runner: "${spec.name}" was stopped before it was ready.`);
}

function validateSpec(spec: ServiceSpec): void {
  const name = typeof spec.name === 'string' ? spec.name : '';
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/i.test(name)) {
    throw new ServiceError('bad-spec', name, `runner: "${name}" is not a usable service name; use letters, digits, ".", "_" or "-" (it names the log file).`);
  }
  if (!Array.isArray(spec.command) || spec.command.length === 0 || !spec.command.every((a) => typeof a === 'string') || spec.command[0] === '') {
    throw new ServiceError('bad-spec', name, `runner: service "${name}" has no command; give it an argv such as ["node", "server.js"].`);
  }
  const port = spec.readyPort;
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new ServiceError('bad-spec', name, `runner: service "${name}" has readyPort ${String(port)}; use a TCP port from 1 to 65535.`);
  }
}

/** The executable's absolute path, or a ServiceError saying why it cannot run and what to do. */
function resolveExecutable(spec: ServiceSpec, env: Record<string, string>): string {
  const argv0 = spec.command[0] as string;
  const shown = quoteArgv(spec.command);
  try {
    if (!statSync(spec.cwd).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new LaunchError(new ServiceError('bad-cwd', spec.name, `runner: cannot start "${spec.name}": its working folder ${spec.cwd} does not exist; fix "cwd" for this service (relative to the mesh config's folder).`));
  }
  const candidates = argv0.includes('/')
    ? [isAbsolute(argv0) ? argv0 : resolve(spec.cwd, argv0)]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => resolve(spec.cwd, d, argv0));
  let found: string | undefined;
  for (const c of candidates) {
    let isFile = false;
    try {
      isFile = statSync(c).isFile();
    } catch {
      continue;
    }
    if (!isFile) continue;
    found ??= c;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // Keep looking: a later PATH entry may hold an executable one, as the shell would find.
    }
  }
  if (found) {
    throw new LaunchError(
      new ServiceError(
        'not-executable',
        spec.name,
        `runner: cannot start "${spec.name}": ${found}${found === argv0 ? '' : ` (from "${argv0}")`} is not executable; run "chmod +x ${found}", or run it through its interpreter, e.g. ["sh", "${argv0}"] or ["node", "${argv0}"].`,
      ),
    );
  }
  const where = argv0.includes('/') ? `${candidates[0] ?? argv0} does not exist` : `"${argv0}" was not found on PATH`;
  throw new LaunchError(
    new ServiceError('command-not-found', spec.name, `runner: cannot start "${spec.name}": ${where} (command ${shown}, cwd ${spec.cwd}); install it, or fix the service's "command" in the mesh config.`),
  );
}

function spawnError(spec: ServiceSpec, err: NodeJS.ErrnoException): ServiceError {
  const shown = quoteArgv(spec.command);
  if (err.code === 'ENOENT') {
    return new ServiceError('command-not-found', spec.name, `runner: cannot start "${spec.name}": ${shown} was not found (cwd ${spec.cwd}); install it, or fix the service's "command" in the mesh config.`);
  }
  if (err.code === 'EACCES') {
    return new ServiceError('not-executable', spec.name, `runner: cannot start "${spec.name}": ${shown} is not executable; "chmod +x" it, or start it through its interpreter.`);
  }
  return new ServiceError('spawn-failed', spec.name, `runner: cannot start "${spec.name}" (${shown}): ${err.message}.`);
}
