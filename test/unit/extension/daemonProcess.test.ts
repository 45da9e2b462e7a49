// `mtls-lab up` as a real child process (a stand-in script that keeps the contract): ready on
// the Dashboard line, the daemon's own words when it fails, SIGTERM to stop, SIGKILL of its
// process group when it will not.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../../src/daemon/daemonFile.js';
import { DaemonProcess, parseReadyLine, upArgs } from '../../../src/extension/daemonProcess.js';
import { eventually } from './fakeMesh.js';

const fakeCli = join(__dirname, 'fixtures', 'fake-cli.mjs');
let dir: string;
const started: DaemonProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mtls-ext-daemon-'));
});
afterEach(async () => {
  for (const d of started.splice(0)) await d.stop(200);
  rmSync(dir, { recursive: true, force: true });
});

function launch(mode: string, extra: Record<string, string> = {}, readyTimeoutMs?: number) {
  const lines: string[] = [];
  const promise = DaemonProcess.start({
    runtime: { command: process.execPath, env: { ...process.env, FAKE_MODE: mode, FAKE_ARGS_FILE: join(dir, 'args'), ...extra } },
    cliPath: fakeCli,
    options: { stateDir: join(dir, 'state'), config: '/w/mtls-lab.json', ttl: '2m' },
    log: (line, stream) => lines.push(`${stream}: ${line}`),
    ...(readyTimeoutMs === undefined ? {} : { readyTimeoutMs }),
  }).then((d) => (started.push(d), d));
  return { promise, lines };
}

/** Dead or a zombie waiting for its new parent (init) to reap it. */
function gone(pid: number): boolean {
  if (!isProcessAlive(pid)) return true;
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

describe('DaemonProcess', () => {
  it('runs up with the state folder, its own port and no browser, and is ready at the Dashboard line', async () => {
    const { promise, lines } = launch('ready');
    const daemon = await promise;
    expect(daemon.endpoint).toMatchObject({ port: 47001, token: '0123456789abcdef0123', dashboardUrl: 'http://127.0.0.1:47001/?token=0123456789abcdef0123' });
    expect(daemon.endpoint.pid).toBeGreaterThan(0);
    const args = JSON.parse(readFileSync(join(dir, 'args'), 'utf8').trim()) as string[];
    expect(args).toEqual(['up', '--config', '/w/mtls-lab.json', '--state', join(dir, 'state'), '--port', '0', '--no-open', '--ttl', '2m']);
    await eventually(() => daemon.endpoint.entryUrl !== undefined);
    expect(daemon.endpoint.entryUrl).toBe('http://127.0.0.1:47002/');
    expect(lines).toContain('stderr: a warning on stderr');
  });

  it('stops with SIGTERM and reports the clean exit', async () => {
    const daemon = await launch('ready').promise;
    let exit: unknown;
    daemon.onExit((e) => (exit = e));
    await daemon.stop();
    expect(daemon.running).toBe(false);
    expect(exit).toEqual({ code: 0, signal: null });
  });

  it('rejects with the daemon\'s own words when it exits before it is ready', async () => {
    await expect(launch('fail').promise).rejects.toThrow(/exited \(code 1\) before it was ready\. It said: mtls-lab: a mesh is already running/);
  });

  it('gives up on a daemon that never gets ready, and stops it', async () => {
    await expect(launch('slow', {}, 300).promise).rejects.toThrow(/did not get ready within 300 ms; it was stopped/);
  });

  it.skipIf(process.platform === 'win32')('kills the whole process group of a daemon that ignores SIGTERM', async () => {
    const pidFile = join(dir, 'child.pid');
    const daemon = await launch('stubborn', { FAKE_CHILD_PID_FILE: pidFile }).promise;
    await eventually(() => {
      try {
        return readFileSync(pidFile, 'utf8').length > 0;
      } catch {
        return false;
      }
    });
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    expect(isProcessAlive(grandchild)).toBe(true);
    await daemon.stop(300);
    expect(daemon.running).toBe(false);
    await eventually(() => gone(grandchild));
  });
});

describe('parseReadyLine', () => {
  const rows = [
    { name: 'dashboard', line: 'Dashboard: http://127.0.0.1:4000/?token=abc', want: { kind: 'dashboard', port: 4000, token: 'abc', dashboardUrl: 'http://127.0.0.1:4000/?token=abc' } },
    { name: 'entry', line: 'Entry: http://127.0.0.1:4001/', want: { kind: 'entry', entryUrl: 'http://127.0.0.1:4001/' } },
    { name: 'dashboard without a token', line: 'Dashboard: http://127.0.0.1:4000/', want: undefined },
    { name: 'a host other than loopback', line: 'Dashboard: http://evil.example:4000/?token=abc', want: undefined },
    { name: 'an ordinary line', line: '  orders  spiffe://lab.local/ns/default/sa/orders', want: undefined },
  ];
  for (const r of rows) it(r.name, () => expect(parseReadyLine(r.line)).toEqual(r.want));
});

describe('upArgs', () => {
  it('leaves --config out for the sample mesh (up then adds its traffic generator)', () => {
    expect(upArgs({ stateDir: '/s' })).toEqual(['up', '--state', '/s', '--port', '0', '--no-open']);
  });
});
