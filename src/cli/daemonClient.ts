import { readDaemonFile, type DaemonInfo } from '../daemon/daemonFile.js';
import { FailedError, UsageError } from './io.js';

/** The running daemon for `stateDir`, or a FailedError (exit 1) that says how to start one. */
export function requireDaemon(stateDir: string): DaemonInfo {
  const info = readDaemonFile(stateDir);
  if (!info) throw new FailedError(`no mesh is running for ${stateDir}; start one with "mtls-lab up${stateDir === '' ? '' : ` --state ${stateDir}`}" in another terminal.`);
  return info;
}

/** POSTs a command to the daemon's control API with its token; returns the JSON reply or throws FailedError with the daemon's sentence. */
export async function postCommand(info: DaemonInfo, path: string, body: unknown, timeoutMs = 60_000): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${info.port}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new FailedError(`cannot reach the mesh daemon on 127.0.0.1:${info.port} (${err instanceof Error ? err.message : String(err)}); is "mtls-lab up" still running?`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FailedError(`the daemon answered ${res.status} with a body that is not JSON; restart "mtls-lab up".`);
  }
  if (!res.ok) {
    const message = (json as { message?: unknown }).message;
    const e = new FailedError(typeof message === 'string' ? message : `the daemon refused the command (HTTP ${res.status}).`);
    if (res.status === 400 || res.status === 404) throw new UsageError(e.message);
    throw e;
  }
  return json;
}
