// Reloads run real processes: a node child that traps SIGHUP, and /bin/sh commands. Every child is
// killed in afterEach; every wait is bounded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReloadResult, Rotator } from '../../../src/core/rotation/rotator.js';
import { idOf, makeRig, readFiles, type Rig } from './rig.js';

let rig: Rig | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rig?.dispose();
  rig = undefined;
});

function nextReload(rotator: Rotator, timeoutMs = 5_000): Promise<ReloadResult> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`no reload result within ${timeoutMs} ms`)), timeoutMs);
    const off = rotator.onDidReload((r) => {
      clearTimeout(guard);
      off();
      resolve(r);
    });
  });
}

/** A long-running service that says "reloaded" on SIGHUP. Resolves once its handler is installed. */
function hupListener(): Promise<{ child: ChildProcess; lines: string[]; nextLine: () => Promise<string> }> {
  const child = spawn(process.execPath, ['-e', "process.on('SIGHUP', () => console.log('reloaded')); console.log('ready'); setTimeout(() => {}, 60000);"], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    for (const l of chunk.split('\n').filter(Boolean)) {
      lines.push(l);
      waiters.shift()?.(l);
    }
  });
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error('the child printed nothing within 5 s')), 5_000);
      waiters.push((l) => {
        clearTimeout(guard);
        resolve(l);
      });
    });
  return nextLine().then((first) => {
    expect(first).toBe('ready');
    return { child, lines, nextLine };
  });
}

describe('Rotator reload (as spiffe-helper does it)', () => {
  it('sends the signal to the service after the files are replaced, not on the first write', async () => {
    const svc = await hupListener();
    const r = (rig = makeRig());
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders'), dir: r.dirOf('orders'), reload: { signal: 'SIGHUP', pid: () => svc.child.pid } });
    r.rotator.start();
    const heard = svc.nextLine();
    const result = nextReload(r.rotator);
    r.rotator.rotateNow('orders');
    await expect(result).resolves.toEqual({ service: 'orders', how: 'signal', ok: true, detail: `sent SIGHUP to process ${svc.child.pid}.` });
    await expect(heard).resolves.toBe('reloaded');
    expect(svc.lines).toEqual(['ready', 'reloaded']);
  });

  const signals = [
    { name: 'a service that is not running gets nothing, and that is fine', pid: (): number | undefined => undefined, ok: true, detail: /orders is not running; no SIGHUP sent\./ },
    { name: 'a process that is gone: svid/failed says so', pid: (): number | undefined => spawnSync('true').pid, ok: false, detail: /^rotation: SIGHUP could not be sent to process \d+ of orders \(.*ESRCH.*\); the new SVID files are in place/ },
  ];
  for (const s of signals) {
    it(s.name, async () => {
      const r = (rig = makeRig());
      r.rotator.add({ service: 'orders', spiffeId: idOf('orders'), dir: r.dirOf('orders'), reload: { signal: 'SIGHUP', pid: s.pid } });
      r.rotator.start();
      const result = nextReload(r.rotator);
      r.rotator.rotateNow('orders');
      const got = await result;
      expect(got.ok).toBe(s.ok);
      expect(got.detail).toMatch(s.detail);
      expect(r.of('svid/failed').map((e) => e.error)).toEqual(s.ok ? [] : [got.detail]);
    });
  }

  it('runs the command after the files are replaced, with the folder in its environment', async () => {
    const r = (rig = makeRig());
    const seen = join(r.root, 'seen.pem');
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders'), dir: r.dirOf('orders'), reload: { command: `cp "$MTLS_LAB_SVID_DIR/svid.pem" "${seen}" && echo copied for "$MTLS_LAB_SERVICE"` } });
    r.rotator.start();
    expect(existsSync(seen)).toBe(false);
    const result = nextReload(r.rotator);
    r.rotator.rotateNow('orders');
    const got = await result;
    expect(got).toMatchObject({ service: 'orders', how: 'command', ok: true });
    expect(got.detail).toMatch(/Output: copied for orders$/);
    expect(readFileSync(seen, 'utf8')).toBe(readFiles(r.dirOf('orders')).cert);
    expect(r.of('svid/failed')).toEqual([]);
  });

  const failures = [
    { name: 'a command that exits non-zero', command: 'echo boom >&2; exit 3', timeoutMs: 5_000, leavesSleeper: false, detail: /\(".+"\) exited with code 3; the new SVID files are in place, but the service may still use the old ones\. Output: boom$/ },
    { name: 'a command that hangs is killed with whatever it started', command: 'sleep 30 & echo $! > "$MTLS_LAB_SVID_DIR/../sleeper.pid"; wait', timeoutMs: 300, leavesSleeper: true, detail: /did not finish within 300 ms and was killed.* It printed nothing\.$/ },
  ];
  for (const f of failures) {
    it(`${f.name}: svid/failed carries its output, retry at the next renewal`, async () => {
      const r = (rig = makeRig({ reloadTimeoutMs: f.timeoutMs }));
      r.rotator.add({ service: 'orders', spiffeId: idOf('orders'), dir: r.dirOf('orders'), reload: { command: f.command } });
      r.rotator.start();
      const result = nextReload(r.rotator);
      r.rotator.rotateNow('orders');
      const got = await result;
      expect(got.ok).toBe(false);
      expect(got.detail).toMatch(f.detail);
      const failed = r.of('svid/failed');
      expect(failed.map((e) => e.error)).toEqual([got.detail]);
      expect(failed[0]?.retryInMs).toBe((r.rotator.status()[0]?.rotateAt?.getTime() as number) - r.clock.now());
      const pidFile = join(r.root, 'sleeper.pid');
      expect(existsSync(pidFile)).toBe(f.leavesSleeper);
      if (f.leavesSleeper) {
        // Gone, or a zombie waiting for an init that may not reap in a container: either way not running.
        const stat = join('/proc', readFileSync(pidFile, 'utf8').trim(), 'stat');
        const state = existsSync(stat) ? readFileSync(stat, 'utf8').replace(/^.*\) /s, '')[0] : 'gone';
        expect(['gone', 'Z', 'X']).toContain(state);
      }
    });
  }

  it('stop kills a command still running and waits for it', async () => {
    const r = (rig = makeRig({ reloadTimeoutMs: 60_000 }));
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders'), dir: r.dirOf('orders'), reload: { command: 'sleep 30' } });
    r.rotator.start();
    const result = nextReload(r.rotator);
    r.rotator.rotateNow('orders');
    const started = Date.now();
    await r.rotator.stop();
    const got = await result;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(got.detail).toMatch(/was killed by SIGKILL/);
  });
});
