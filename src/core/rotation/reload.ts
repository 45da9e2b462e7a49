import { spawn, type ChildProcess } from 'node:child_process';

/** How a service learns that its SVID files changed, as spiffe-helper offers it. */
export interface ReloadSpec {
  /** Sent to `pid()` after the files are replaced, e.g. SIGHUP. */
  readonly signal?: NodeJS.Signals;
  /** The service's process id now; undefined while it is not running (then nothing is sent). */
  readonly pid?: () => number | undefined;
  /** Run with /bin/sh after the files are replaced (and after the signal), bounded in time. */
  readonly command?: string;
}

export interface ReloadResult {
  readonly service: string;
  readonly how: 'signal' | 'command';
  readonly ok: boolean;
  /** What happened; on failure, why, with the command's output (its last 4 KiB). */
  readonly detail: string;
}

const MAX_OUTPUT = 4_096;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    // The command runs in its own process group so whatever it started goes too.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Runs reload signals and commands; tracks the commands so `stop` can end them. */
export class ReloadRunner {
  private readonly running = new Map<ChildProcess, Promise<ReloadResult>>();

  constructor(private readonly timeoutMs: number) {}

  /** Commands still running. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Sends the signal, then runs the command; one result per action taken. */
  async run(service: string, spec: ReloadSpec, env: Readonly<Record<string, string>>): Promise<ReloadResult[]> {
    const results: ReloadResult[] = [];
    if (spec.signal) results.push(this.signal(service, spec.signal, spec.pid?.()));
    if (spec.command) results.push(await this.command(service, spec.command, env));
    return results;
  }

  private signal(service: string, signal: NodeJS.Signals, pid: number | undefined): ReloadResult {
    if (pid === undefined) return { service, how: 'signal', ok: true, detail: `${service} is not running; no ${signal} sent.` };
    try {
      process.kill(pid, signal);
      return { service, how: 'signal', ok: true, detail: `sent ${signal} to process ${pid}.` };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { service, how: 'signal', ok: false, detail: `rotation: ${signal} could not be sent to process ${pid} of ${service} (${why}); the new SVID files are in place, but the service may still use the old ones until it restarts.` };
    }
  }

  private command(service: string, command: string, env: Readonly<Record<string, string>>): Promise<ReloadResult> {
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let output = '';
    const take = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    const done = new Promise<ReloadResult>((resolve) => {
      let timedOut = false;
      let spawnError: Error | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child);
      }, this.timeoutMs);
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        clearTimeout(timer);
        this.running.delete(child);
        const tail = output.trim() ? ` Output: ${output.trim()}` : ' It printed nothing.';
        const fail = (what: string): ReloadResult => ({
          service,
          how: 'command',
          ok: false,
          detail: `rotation: the reload command of ${service} (${JSON.stringify(command)}) ${what}; the new SVID files are in place, but the service may still use the old ones.${tail}`,
        });
        if (spawnError) resolve(fail(`could not start (${spawnError.message})`));
        else if (timedOut) resolve(fail(`did not finish within ${this.timeoutMs} ms and was killed`));
        else if (code !== 0) resolve(fail(code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${code}`));
        else resolve({ service, how: 'command', ok: true, detail: `ran ${JSON.stringify(command)}.${tail}` });
      };
      child.once('error', (err) => {
        spawnError = err;
        // Without a pid the process never started, and no 'close' may follow.
        if (child.pid === undefined) finish(null, null);
      });
      child.once('close', finish);
    });
    this.running.set(child, done);
    return done;
  }

  /** Kills every command still running and waits until they are gone. */
  async stop(): Promise<void> {
    const pending = [...this.running.entries()];
    for (const [child] of pending) killGroup(child);
    await Promise.all(pending.map(([, p]) => p));
  }
}
