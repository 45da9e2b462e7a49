// daemon.json in the state folder: how the CLI and the extension find a running daemon (its port
// and token). Private (0600) because the token is the key to the control API.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir, PRIVATE_FILE, writeFileAtomic } from '../core/fs/atomic.js';
import { DaemonError } from './errors.js';

export const DAEMON_FILE_NAME = 'daemon.json';

export interface DaemonInfo {
  readonly pid: number;
  readonly port: number;
  readonly token: string;
  readonly dashboardUrl: string;
  /** The sample app's front door, once the mesh has one. */
  readonly entryUrl?: string;
  /** ISO 8601. */
  readonly startedAt: string;
  readonly stateDir: string;
}

export function daemonFilePath(stateDir: string): string {
  return join(stateDir, DAEMON_FILE_NAME);
}

/** True when a process with this pid exists (also when it belongs to another user). */
export function isProcessAlive(pid: number): boolean {
  // kill(0) or a negative pid would address a process group, never "is this one alive".
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes `daemon.json` into `info.stateDir` atomically with mode 0600, creating the folder (0700) if needed. */
export function writeDaemonFile(info: DaemonInfo): void {
  ensureDir(info.stateDir);
  const ordered: DaemonInfo = {
    pid: info.pid,
    port: info.port,
    token: info.token,
    dashboardUrl: info.dashboardUrl,
    ...(info.entryUrl === undefined ? {} : { entryUrl: info.entryUrl }),
    startedAt: info.startedAt,
    stateDir: info.stateDir,
  };
  writeFileAtomic(daemonFilePath(info.stateDir), `${JSON.stringify(ordered, null, 2)}\n`, PRIVATE_FILE);
}

function readRaw(stateDir: string): string | undefined {
  try {
    return readFileSync(daemonFilePath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parse(text: string, path: string): DaemonInfo {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DaemonError('bad-daemon-file', `daemon: ${path} is not valid JSON; delete it if no mtls-lab daemon is running.`);
  }
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const ok =
    typeof v['pid'] === 'number' &&
    Number.isSafeInteger(v['pid']) &&
    typeof v['port'] === 'number' &&
    Number.isSafeInteger(v['port']) &&
    typeof v['token'] === 'string' &&
    typeof v['dashboardUrl'] === 'string' &&
    typeof v['startedAt'] === 'string' &&
    typeof v['stateDir'] === 'string' &&
    (v['entryUrl'] === undefined || typeof v['entryUrl'] === 'string');
  if (!ok) {
    throw new DaemonError(
      'bad-daemon-file',
      `daemon: ${path} lacks pid, port, token, dashboardUrl, startedAt or stateDir; delete it if no mtls-lab daemon is running.`,
    );
  }
  return v as unknown as DaemonInfo;
}

/**
 * The running daemon's info, or undefined when there is no `daemon.json` or when the process it
 * names is gone (a stale file left by a crash; it is left in place for the next writer).
 * Throws DaemonError `bad-daemon-file` when the file exists but cannot be read as daemon info.
 */
export function readDaemonFile(stateDir: string, isAlive: (pid: number) => boolean = isProcessAlive): DaemonInfo | undefined {
  const text = readRaw(stateDir);
  if (text === undefined) return undefined;
  const info = parse(text, daemonFilePath(stateDir));
  return isAlive(info.pid) ? info : undefined;
}

/**
 * Removes `daemon.json` on a clean stop, only if it still names `pid` (this process by default):
 * a daemon started meanwhile keeps its file. Returns whether it removed the file.
 */
export function removeDaemonFile(stateDir: string, pid: number = process.pid): boolean {
  let text: string | undefined;
  try {
    text = readRaw(stateDir);
  } catch {
    return false;
  }
  if (text === undefined) return false;
  let owner: unknown;
  try {
    owner = (JSON.parse(text) as { pid?: unknown }).pid;
  } catch {
    return false;
  }
  if (owner !== pid) return false;
  rmSync(daemonFilePath(stateDir), { force: true });
  return true;
}
