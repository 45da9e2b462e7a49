// The mesh daemon as a child process of the extension host (never inside it): `mtls-lab up`, read
// until it prints its Dashboard line, stopped with SIGTERM (then SIGKILL of its process group if it
// lingers). vscode-free so a test can run it against a real child.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { NodeRuntime } from './cliRunner.js';

/** Where a running daemon listens and the token its control API wants. */
export interface DaemonEndpoint {
  readonly port: number;
  readonly token: string;
  readonly dashboardUrl: string;
  readonly entryUrl?: string;
  readonly pid?: number;
}

export interface UpOptions {
  readonly stateDir: string;
  /** An mtls-lab.json; none: the daemon's own default. */
  readonly config?: string;
  /** Overrides the config's SVID lifetime, e.g. "2m". */
  readonly ttl?: string;
  readonly cwd?: string;
}

/** The argument list of `mtls-lab up` for these options: always its own port, never a browser. */
export function upArgs(o: UpOptions): string[] {
  return [
    'up',
    ...(o.config === undefined ? [] : ['--config', o.config]),
    '--state',
    o.stateDir,
    '--port',
    '0',
    '--no-open',
    ...(o.ttl === undefined ? [] : ['--ttl', o.ttl]),
  ];
}

export type ReadyLine =
  | { readonly kind: 'dashboard'; readonly dashboardUrl: string; readonly port: number; readonly token: string }
  | { readonly kind: 'entry'; readonly entryUrl: string };

/** Reads one line of `up`'s output: `Dashboard: http://127.0.0.1:PORT/?token=TOKEN` or `Entry: http://127.0.0.1:PORT/`. */
export function parseReadyLine(line: string): ReadyLine | undefined {
  const m = /^\s*(Dashboard|Entry):\s*(\S+)\s*$/.exec(line);
  if (!m) return undefined;
  let url: URL;
  try {
    url = new URL(m[2] as string);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' || (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost')) return undefined;
  if (m[1] === 'Entry') return { kind: 'entry', entryUrl: url.toString() };
  const token = url.searchParams.get('token');
  const port = Number(url.port);
  if (!token || !Number.isInteger(port) || port <= 0) return undefined;
  return { kind: 'dashboard', dashboardUrl: url.toString(), port, token };
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: string | null;
}

export interface DaemonLaunch {
  readonly runtime: NodeRuntime;
  readonly cliPath: string;
  readonly options: UpOptions;
  /** Each line the daemon prints, as it prints it. */
  readonly log: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How long `up` may take to print its Dashboard line. Default 60 s (first run makes a CA and starts services). */
  readonly readyTimeoutMs?: number;
}

const STDERR_TAIL_LINES = 20;

/** A daemon this extension host started and so must stop. */
export class DaemonProcess {
  private exit: ProcessExit | undefined;
  private readonly exitListeners = new Set<(exit: ProcessExit) => void>();
  private entry: string | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dashboard: Extract<ReadyLine, { kind: 'dashboard' }>,
    entryUrl: string | undefined,
    readonly exited: Promise<ProcessExit>,
  ) {
    this.entry = entryUrl;
    void exited.then((e) => {
      this.exit = e;
      for (const l of this.exitListeners) l(e);
    });
  }

  get endpoint(): DaemonEndpoint {
    return {
      port: this.dashboard.port,
      token: this.dashboard.token,
      dashboardUrl: this.dashboard.dashboardUrl,
      ...(this.entry === undefined ? {} : { entryUrl: this.entry }),
      ...(this.child.pid === undefined ? {} : { pid: this.child.pid }),
    };
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Called once when the process ends, however it ends. */
  onExit(listener: (exit: ProcessExit) => void): () => void {
    if (this.exit !== undefined) {
      listener(this.exit);
      return () => undefined;
    }
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /**
   * Starts `mtls-lab up` and resolves once it printed its Dashboard line. Rejects with the daemon's
   * own last words when it exits first or does not get ready in time (and then stops it).
   */
  static start(launch: DaemonLaunch): Promise<DaemonProcess> {
    const child = spawn(launch.runtime.command, [launch.cliPath, ...upArgs(launch.options)], {
      env: launch.runtime.env,
      cwd: launch.options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a daemon that ignores SIGTERM is killed with every service it spawned.
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    const exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    return new Promise((resolve, reject) => {
      let dashboard: Extract<ReadyLine, { kind: 'dashboard' }> | undefined;
      let entryUrl: string | undefined;
      let daemon: DaemonProcess | undefined;
      const tail: string[] = [];
      let spawnError: Error | undefined;
      let timedOut = false;
      const onLine = (line: string, stream: 'stdout' | 'stderr'): void => {
        launch.log(line, stream);
        if (stream === 'stderr') {
          tail.push(line);
          if (tail.length > STDERR_TAIL_LINES) tail.shift();
        }
        const ready = stream === 'stdout' ? parseReadyLine(line) : undefined;
        if (ready?.kind === 'entry') {
          entryUrl = ready.entryUrl;
          if (daemon) daemon.entry = entryUrl;
        } else if (ready?.kind === 'dashboard' && dashboard === undefined) {
          dashboard = ready;
          clearTimeout(timer);
          daemon = new DaemonProcess(child, ready, entryUrl, exited);
          resolve(daemon);
        }
      };
      readLines(child.stdout, (l) => onLine(l, 'stdout'));
      readLines(child.stderr, (l) => onLine(l, 'stderr'));
      child.once('error', (err) => {
        spawnError = err;
      });
      const timeoutMs = launch.readyTimeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        if (dashboard !== undefined) return;
        timedOut = true;
        const within = timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`;
        terminate(child, exited, 2000).finally(() => reject(new Error(`mTLS Lab: the mesh did not get ready within ${within}; it was stopped. ${lastWords(tail)}`.trim())));
      }, timeoutMs);
      void exited.then((e) => {
        clearTimeout(timer);
        if (dashboard !== undefined || timedOut) return;
        const how = spawnError ? `could not be started (${spawnError.message})` : `exited (${e.signal ?? `code ${String(e.code)}`}) before it was ready`;
        reject(new Error(`mTLS Lab: the mesh ${how}. ${lastWords(tail)}`.trim()));
      });
    });
  }

  /** Stops the daemon: SIGTERM (it stops its services and removes daemon.json), SIGKILL to its group after `graceMs`. */
  stop(graceMs = 5000): Promise<void> {
    this.stopping ??= terminate(this.child, this.exited, graceMs);
    return this.stopping;
  }
}

function lastWords(tail: readonly string[]): string {
  return tail.length === 0 ? '' : `It said: ${tail.join(' ').trim()}`;
}

async function terminate(child: ChildProcess, exited: Promise<ProcessExit>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome !== 'late') return;
  killGroup(child);
  await exited;
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function readLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (stream === null) return;
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      onLine(buffer.slice(0, nl).replace(/\r$/, ''));
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (buffer.length > 0) onLine(buffer);
    buffer = '';
  });
}
