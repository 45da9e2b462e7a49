// One mesh session as the extension sees it: start (or find) the daemon, hold one connection to
// its event stream, feed the store, run commands, stop. vscode-free; the vscode layer wires the UI.
import { isProcessAlive, readDaemonFile } from '../daemon/daemonFile.js';
import type { MeshCommand } from '../protocol/messages.js';
import type { NodeRuntime } from './cliRunner.js';
import { connectDaemon } from './daemonClient.js';
import type { CommandOutcome, DaemonConnection } from './daemonClient.js';
import { DaemonProcess } from './daemonProcess.js';
import type { DaemonEndpoint, DaemonLaunch, ProcessExit, UpOptions } from './daemonProcess.js';
import { MeshStore } from './meshStore.js';

/** A daemon this extension started: it must stop it. */
export interface OwnedDaemon {
  readonly endpoint: DaemonEndpoint;
  onExit(listener: (exit: ProcessExit) => void): () => void;
  stop(): Promise<void>;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface LabDeps {
  readonly runtime: NodeRuntime;
  readonly cliPath: string;
  readonly log: Logger;
  readonly launch?: (launch: DaemonLaunch) => Promise<OwnedDaemon>;
  readonly connect?: (endpoint: DaemonEndpoint) => Promise<DaemonConnection>;
  /** A daemon already running for this state folder (its daemon.json), if any. */
  readonly findRunning?: (stateDir: string) => DaemonEndpoint | undefined;
  /** Sends SIGTERM to a daemon this extension did not start. */
  readonly terminate?: (pid: number) => void;
}

/** How the session got its daemon. */
export type Ownership = 'owned' | 'attached';

/** Hides the control API token in anything logged (it is the key to the daemon). */
export function redactToken(line: string): string {
  return line.replace(/([?&]token=)[^&\s]+/g, '$1…');
}

function runningFromDaemonFile(stateDir: string): DaemonEndpoint | undefined {
  const info = readDaemonFile(stateDir);
  if (info === undefined) return undefined;
  return { port: info.port, token: info.token, dashboardUrl: info.dashboardUrl, pid: info.pid, ...(info.entryUrl === undefined ? {} : { entryUrl: info.entryUrl }) };
}

export class Lab {
  readonly store = new MeshStore();
  private connection: DaemonConnection | undefined;
  private owned: OwnedDaemon | undefined;
  private endpointNow: DaemonEndpoint | undefined;
  private ownership: Ownership | undefined;
  private busy: Promise<unknown> | undefined;
  private readonly stopListeners = new Set<(reason: string) => void>();

  constructor(private readonly deps: LabDeps) {
    this.store.onOverflow = () => this.connection?.requestSnapshot();
  }

  get endpoint(): DaemonEndpoint | undefined {
    return this.endpointNow;
  }

  /** 'owned' when this extension started the daemon, 'attached' when it found one running; undefined when none. */
  get how(): Ownership | undefined {
    return this.ownership;
  }

  get running(): boolean {
    return this.connection !== undefined;
  }

  /** When the mesh stops without being asked to (the daemon exited or went away). */
  onDidStopUnexpectedly(listener: (reason: string) => void): () => void {
    this.stopListeners.add(listener);
    return () => this.stopListeners.delete(listener);
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = (this.busy ?? Promise.resolve()).then(work, work);
    this.busy = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts the mesh with `mtls-lab up`, or attaches to the daemon already running for this state
   * folder. Resolves with how it got one; rejects with the daemon's own words when it fails.
   */
  start(options: UpOptions): Promise<Ownership> {
    return this.serialize(async () => {
      if (this.connection !== undefined && this.ownership !== undefined) return this.ownership;
      const found = (this.deps.findRunning ?? runningFromDaemonFile)(options.stateDir);
      if (found !== undefined) {
        this.deps.log.info(`A mesh daemon is already running for ${options.stateDir} (pid ${found.pid ?? '?'}); connecting to it.`);
        await this.open(found, 'attached');
        return 'attached';
      }
      this.store.reset('starting');
      const launch = this.deps.launch ?? ((l: DaemonLaunch) => DaemonProcess.start(l));
      let daemon: OwnedDaemon;
      try {
        daemon = await launch({
          runtime: this.deps.runtime,
          cliPath: this.deps.cliPath,
          options,
          log: (line, stream) => (stream === 'stderr' ? this.deps.log.warn(`daemon: ${redactToken(line)}`) : this.deps.log.info(`daemon: ${redactToken(line)}`)),
        });
      } catch (err) {
        this.store.reset('stopped');
        throw err;
      }
      this.owned = daemon;
      daemon.onExit((exit) => {
        if (this.owned !== daemon) return;
        this.owned = undefined;
        this.dropConnection();
        this.lost(`the mesh daemon exited (${exit.signal ?? `code ${String(exit.code)}`})`);
      });
      try {
        await this.open(daemon.endpoint, 'owned');
      } catch (err) {
        this.owned = undefined;
        await daemon.stop();
        this.store.reset('stopped');
        throw err;
      }
      return 'owned';
    });
  }

  /** Connects to a daemon already running for this state folder, if there is one. Returns whether it did. */
  attachIfRunning(stateDir: string): Promise<boolean> {
    return this.serialize(async () => {
      if (this.connection !== undefined) return true;
      const found = (this.deps.findRunning ?? runningFromDaemonFile)(stateDir);
      if (found === undefined) return false;
      try {
        await this.open(found, 'attached');
        return true;
      } catch (err) {
        this.deps.log.warn(err instanceof Error ? err.message : String(err));
        return false;
      }
    });
  }

  private async open(endpoint: DaemonEndpoint, how: Ownership): Promise<void> {
    const connection = await (this.deps.connect ?? connectDaemon)(endpoint);
    this.store.reset('starting');
    this.connection = connection;
    this.endpointNow = endpoint;
    this.ownership = how;
    connection.onMessage((m) => this.store.receive(m));
    connection.onClose((reason) => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      if (this.owned !== undefined) {
        // Our daemon is still alive but the stream broke (e.g. it dropped a stalled client): reconnect once.
        const daemon = this.owned;
        void (this.deps.connect ?? connectDaemon)(daemon.endpoint).then(
          (again) => {
            if (this.owned !== daemon) return again.close();
            this.connection = again;
            again.onMessage((m) => this.store.receive(m));
            again.onClose(() => {
              if (this.connection === again) {
                this.connection = undefined;
                this.lost(`the event stream closed (${reason})`);
              }
            });
          },
          () => this.lost(`the event stream closed (${reason})`),
        );
        return;
      }
      this.lost(`the daemon closed the event stream (${reason})`);
    });
    this.deps.log.info(`Connected to the mesh daemon on 127.0.0.1:${endpoint.port} (${how === 'owned' ? 'started by VS Code' : 'started elsewhere'}).`);
  }

  private lost(reason: string): void {
    this.endpointNow = undefined;
    this.ownership = undefined;
    this.store.reset('stopped');
    this.deps.log.warn(`mTLS Lab: ${reason}.`);
    for (const l of this.stopListeners) l(reason);
  }

  private dropConnection(): void {
    const c = this.connection;
    this.connection = undefined;
    c?.close();
  }

  /**
   * Stops the mesh this extension started. For a daemon started elsewhere it only disconnects,
   * unless `alsoForeign` is true: then it sends that daemon SIGTERM.
   */
  stop(alsoForeign = false): Promise<void> {
    return this.serialize(async () => {
      const owned = this.owned;
      const endpoint = this.endpointNow;
      const how = this.ownership;
      if (how === undefined && owned === undefined) return;
      this.store.setState('stopping');
      this.owned = undefined;
      this.dropConnection();
      if (owned !== undefined) {
        await owned.stop();
        this.deps.log.info('The mesh daemon stopped.');
      } else if (alsoForeign && endpoint?.pid !== undefined) {
        (this.deps.terminate ?? ((pid: number) => isProcessAlive(pid) && process.kill(pid, 'SIGTERM')))(endpoint.pid);
        this.deps.log.info(`Sent SIGTERM to the mesh daemon (pid ${endpoint.pid}).`);
      } else {
        this.deps.log.info('Disconnected from the mesh daemon; it keeps running.');
      }
      this.endpointNow = undefined;
      this.ownership = undefined;
      this.store.reset('stopped');
    });
  }

  /** Runs a mesh command on the daemon. Never rejects: a failure is an outcome with `ok: false`. */
  async command(command: MeshCommand): Promise<CommandOutcome> {
    const c = this.connection;
    if (c === undefined) return { ok: false, code: 'not-running', error: 'mTLS Lab: no mesh is running; start the sample mesh or your mtls-lab.json first.' };
    try {
      return await c.command(command);
    } catch (err) {
      return { ok: false, code: 'failed', error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** For deactivation: stops an owned daemon, closes the connection. */
  async dispose(): Promise<void> {
    await this.stop(false);
    this.stopListeners.clear();
  }
}
