import { spawn } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { parseDuration } from '../../core/duration.js';
import { loadMeshConfig, type MeshConfig } from '../../core/mesh/config.js';
import { Mesh } from '../../core/mesh/mesh.js';
import { assertPortFree } from '../../core/mesh/ports.js';
import { startControlApi, type ControlApi } from '../../daemon/controlApi.js';
import { readDaemonFile, removeDaemonFile, writeDaemonFile } from '../../daemon/daemonFile.js';
import { flag, parse, str } from '../args.js';
import { FailedError, UsageError, type CliIo } from '../io.js';
import { intruderScriptPath, sampleConfigPath, trafficScriptPath } from '../paths.js';
import { resolveStateDir } from '../state.js';
import { dashboard } from '../dashboard.js';

const USAGE = 'mtls-lab up [--config FILE] [--state DIR] [--port N] [--ttl DURATION] [--no-open]';

function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // No opener on this machine: the URL is printed anyway.
  }
}

/** Waits for SIGINT/SIGTERM; in tests the signal is the `stop` promise. */
export type StopSignal = Promise<void>;

/**
 * The first Ctrl-C (or SIGTERM/SIGHUP) asks for a clean stop; a second one exits at once, and the
 * exit hook of the ServiceRunner kills every service group on the way out, so nothing is orphaned.
 */
function signals(): StopSignal {
  return new Promise((resolveStop) => {
    let asked = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (asked) {
        process.stderr.write(`mtls-lab: ${signal} again: stopping now, killing every service.\n`);
        process.exit(130);
      }
      asked = true;
      resolveStop();
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  });
}

/**
 * Runs the mesh daemon in the foreground: CA, rotator, sidecars, services and the control API,
 * until Ctrl-C. Prints `Dashboard:` and `Entry:` once the mesh is ready.
 */
export async function up(argv: readonly string[], io: CliIo, stopSignal: StopSignal = signals()): Promise<number> {
  const p = parse(argv, { config: { type: 'string' }, state: { type: 'string' }, port: { type: 'string' }, ttl: { type: 'string' }, 'no-open': { type: 'boolean' } }, USAGE, { min: 0, max: 0 });
  const configPath = str(p, 'config') ?? sampleConfigPath();
  const portText = str(p, 'port');
  const port = portText === undefined ? 0 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port "${portText}" is not a port; give a number from 1 to 65535, or 0 to let the system pick.`);
  const ttlMs = str(p, 'ttl') === undefined ? undefined : parseDuration(str(p, 'ttl') as string);
  const stateDir = resolveStateDir(str(p, 'state'), io);
  const running = readDaemonFile(stateDir);
  if (running) {
    throw new FailedError(`a mesh is already running for ${stateDir} (pid ${running.pid}, ${running.dashboardUrl.replace(/\?token=.*/, '')}); stop it with Ctrl-C in its terminal, or use another --state.`);
  }
  if (port) {
    try {
      await assertPortFree(port);
    } catch {
      throw new FailedError(`port ${port} on 127.0.0.1 is in use; choose another with --port, or --port 0 to let the system pick.`);
    }
  }
  let config: MeshConfig = await loadMeshConfig(isAbsolute(configPath) ? configPath : resolve(io.cwd, configPath));
  if (ttlMs !== undefined) config = { ...config, ttlMs };
  const sample = str(p, 'config') === undefined;
  io.out(`Starting the ${sample ? 'sample ' : ''}mesh from ${config.source} (state ${stateDir})\n`);
  let stopRequested = false;
  void stopSignal.then(() => {
    stopRequested = true;
  });
  const mesh = await Mesh.start({
    config,
    stateDir,
    intruderScript: intruderScriptPath(),
    ...(sample ? { trafficScript: trafficScriptPath() } : {}),
    log: (line) => io.out(`  ${line}\n`),
  });
  let api: ControlApi | undefined;
  try {
    const face = dashboard();
    api = await startControlApi({ controller: mesh, port, page: face.page, assets: face.assets });
    writeDaemonFile({ pid: process.pid, port: api.port, token: api.token, dashboardUrl: api.dashboardUrl, ...(mesh.entryUrl ? { entryUrl: mesh.entryUrl } : {}), startedAt: new Date().toISOString(), stateDir });
  } catch (err) {
    await mesh.stop();
    throw err;
  }
  if (stopRequested) {
    // Stopped while starting: never announce a mesh that is going away.
    await api.close();
    await mesh.stop();
    removeDaemonFile(stateDir);
    io.out('Stopped before the mesh was ready.\n');
    return 0;
  }
  for (const s of mesh.snapshot().services) {
    io.out(`  ${s.name.padEnd(12)} ${s.spiffeId}  ${s.mode}${s.meshPort ? ` mTLS :${s.meshPort}` : ''}${s.entry ? ' (entry)' : ''}\n`);
  }
  io.out(`Dashboard: ${api.dashboardUrl}\n`);
  if (mesh.entryUrl) io.out(`Entry: ${mesh.entryUrl}\n`);
  io.out('Press Ctrl-C to stop.\n');
  if (!flag(p, 'no-open')) openBrowser(api.dashboardUrl);
  await stopSignal;
  io.out('Stopping the mesh…\n');
  await api.close();
  await mesh.stop();
  removeDaemonFile(stateDir);
  io.out('Stopped.\n');
  return 0;
}
