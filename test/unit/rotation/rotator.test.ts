import { spawnSync } from 'node:child_process';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IssuedSvid } from '../../../src/core/ca/authority.js';
import { writeSvidFiles } from '../../../src/core/ca/svidFiles.js';
import type { Clock, TimerHandle } from '../../../src/core/rotation/clock.js';
import { RotationError } from '../../../src/core/rotation/errors.js';
import { rotationDeadline } from '../../../src/core/rotation/policy.js';
import { Rotator, type RotationNotice } from '../../../src/core/rotation/rotator.js';
import { failingIssuer, idOf, keyMatchesLeaf, makeRig, readFiles, serialOfPem, T0, type Rig } from './rig.js';

let rig: Rig | undefined;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await rig?.dispose();
  rig = undefined;
});
const use = (r: Rig): Rig => (rig = r);
const fixed = (v: number) => (): number => v;

describe('Rotator: first issuance and files', () => {
  it('start issues every workload its SVID, writes the files key first 0600, and serves the same SVID from memory', () => {
    const r = use(makeRig());
    for (const s of ['orders', 'billing']) r.rotator.add({ service: s, spiffeId: idOf(s), dir: r.dirOf(s) });
    r.rotator.add({ service: 'sidecar-only', spiffeId: idOf('sidecar-only') });
    expect(() => r.rotator.source('orders').current()).toThrow(/has not been started/);
    r.rotator.start();
    expect(r.of('svid/issued').map((e) => [e.service, e.cause, e.previousSerial])).toEqual([
      ['orders', 'start', undefined],
      ['billing', 'start', undefined],
      ['sidecar-only', 'start', undefined],
    ]);
    for (const s of ['orders', 'billing']) {
      const files = readFiles(r.dirOf(s));
      const mem = r.rotator.source(s).current();
      expect(statSync(join(r.dirOf(s), 'svid_key.pem')).mode & 0o777).toBe(0o600);
      expect(files.cert).toBe(mem.certChainPem);
      expect(files.key).toBe(mem.keyPem);
      expect(files.bundle).toBe(r.ca.bundlePem());
      expect(keyMatchesLeaf(files)).toBe(true);
      expect(mem.spiffeId).toBe(idOf(s).toString());
    }
    expect(r.rotator.bundleSource().bundlePemFor('lab.local')).toBe(r.ca.bundlePem());
    expect(r.rotator.bundleSource().bundlePemFor('other.local')).toBeUndefined();
    const status = r.rotator.status();
    expect(status.map((s) => [s.service, s.failures, s.files !== undefined])).toEqual([
      ['orders', 0, true],
      ['billing', 0, true],
      ['sidecar-only', 0, false],
    ]);
  });

  it('refuses an unknown or duplicate service with a typed error', () => {
    const r = use(makeRig());
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders') });
    const cases = [
      { name: 'source of an unknown service', run: (): unknown => r.rotator.source('nope'), code: 'unknown-service' },
      { name: 'rotateNow of an unknown service', run: (): unknown => r.rotator.rotateNow('nope'), code: 'unknown-service' },
      { name: 'a second "orders"', run: (): unknown => r.rotator.add({ service: 'orders', spiffeId: idOf('orders') }), code: 'duplicate-service' },
    ];
    for (const c of cases) {
      let caught: unknown;
      try {
        c.run();
      } catch (err) {
        caught = err;
      }
      expect(caught, c.name).toBeInstanceOf(RotationError);
      expect((caught as RotationError).code, c.name).toBe(c.code);
      expect((caught as RotationError).message, c.name).toMatch(/^rotation: .+; .+\.$/);
    }
  });
});

describe('Rotator: when it renews', () => {
  const draws = [
    { name: 'early draw (random 0.999)', random: 0.999 },
    { name: 'middle draw (random 0.5)', random: 0.5 },
    { name: 'late draw (random 0)', random: 0 },
  ];
  for (const d of draws) {
    it(`${d.name}: renews exactly at the deadline drawn for the SVID, not a millisecond before`, () => {
      let calls = 0;
      const random = (): number => {
        calls++;
        return d.random;
      };
      const r = use(makeRig({ random }));
      r.rotator.add({ service: 'orders', spiffeId: idOf('orders'), dir: r.dirOf('orders') });
      r.rotator.start();
      const first = r.rotator.source('orders').current();
      // Half of the lifetime from issuance (T0), not from the backdated notBefore.
      const deadline = rotationDeadline(T0, first.notAfter.getTime(), fixed(d.random));
      expect(r.rotator.status()[0]?.rotateAt?.getTime()).toBe(deadline);
      const drawsAfterStart = calls;
      r.clock.advanceTo(deadline - 1);
      // Every interval check ran, none drew again or renewed.
      expect(calls).toBe(drawsAfterStart);
      expect(r.of('svid/issued')).toHaveLength(1);
      r.clock.advanceTo(deadline);
      const issued = r.of('svid/issued');
      expect(issued.map((e) => [e.cause, e.previousSerial])).toEqual([
        ['start', undefined],
        ['rotation', first.serial],
      ]);
      expect(serialOfPem(readFiles(r.dirOf('orders')).cert)).toBe(issued[1]?.serial);
      expect(r.rotator.source('orders').current().serial).toBe(issued[1]?.serial);
    });
  }

  it('keeps renewing at about half of each lifetime over an hour', () => {
    const r = use(makeRig({ random: fixed(0.5) }));
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders') });
    r.rotator.start();
    r.clock.advance(3_600_000);
    const times = r.of('svid/issued').map((e) => Date.parse(e.time) - T0);
    // TTL 60 s, renewed at half of it: every 30 s (the 30 s backdate of notBefore does not count).
    expect(times.slice(0, 4)).toEqual([0, 30_000, 60_000, 90_000]);
    expect(times).toHaveLength(1 + 3_600_000 / 30_000);
  });

  it('rotateNow renews at once with cause manual and tells the source subscribers, even past a throwing one', () => {
    const r = use(makeRig());
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders') });
    r.rotator.add({ service: 'billing', spiffeId: idOf('billing') });
    r.rotator.start();
    const seen: string[] = [];
    const notices: RotationNotice[] = [];
    r.rotator.source('orders').onDidChange(() => {
      throw new Error('a broken subscriber');
    });
    const off = r.rotator.source('orders').onDidChange(() => seen.push(r.rotator.source('orders').current().serial));
    r.rotator.onDidRotate((n) => notices.push(n));
    const before = r.rotator.source('orders').current().serial;
    const outcomes = r.rotator.rotateNow('orders');
    expect(outcomes).toEqual([{ service: 'orders', ok: true, serial: seen[0] }]);
    expect(notices.map((n) => [n.service, n.cause, n.previousSerial])).toEqual([['orders', 'manual', before]]);
    off();
    expect(r.rotator.rotateNow().map((o) => o.ok)).toEqual([true, true]);
    expect(seen).toHaveLength(1);
  });

  it('add after start issues at once; remove stops renewals but leaves the files', () => {
    const r = use(makeRig());
    r.rotator.start();
    r.rotator.add({ service: 'late', spiffeId: idOf('late'), dir: r.dirOf('late') });
    expect(r.rotator.source('late').current().spiffeId).toBe(idOf('late').toString());
    r.rotator.remove('late');
    r.clock.advance(600_000);
    expect(r.of('svid/issued')).toHaveLength(1);
    expect(keyMatchesLeaf(readFiles(r.dirOf('late')))).toBe(true);
  });
});

/** Counts what the Rotator asks of the clock. */
function countingClock(inner: Clock): Clock & { sets: number[] } {
  const sets: number[] = [];
  return {
    sets,
    now: () => inner.now(),
    setTimeout: (fn: () => void, ms: number): TimerHandle => {
      sets.push(ms);
      return inner.setTimeout(fn, ms);
    },
    clearTimeout: (h: TimerHandle) => inner.clearTimeout(h),
  };
}

describe('Rotator: scale', () => {
  it('serves 500 workloads (TTL 60 s) with one timer, each renewed once by its deadline', () => {
    const r = use(makeRig());
    const clock = countingClock(r.clock);
    const rotator = new Rotator({ ca: r.ca, clock, ttlMs: 60_000, checkIntervalMs: 5_000 });
    cleanups.push(() => void rotator.stop());
    let renewed = 0;
    rotator.onDidRotate((n) => {
      if (n.cause === 'rotation') renewed++;
    });
    for (let i = 0; i < 500; i++) rotator.add({ service: `svc-${i}`, spiffeId: idOf(`svc-${i}`) });
    const started = performance.now();
    rotator.start();
    expect(r.clock.pendingTimers()).toBe(1);
    // Every deadline falls at half of 60 s ±10%: 27–33 s from now.
    r.clock.advance(26_999);
    expect(renewed).toBe(0);
    r.clock.advance(6_001);
    const elapsed = performance.now() - started;
    expect(renewed).toBe(500);
    expect(r.clock.pendingTimers()).toBe(1);
    // One timer set per tick, not per workload per check.
    expect(clock.sets.length).toBeLessThanOrEqual(500 + 33_000 / 5_000 + 2);
    console.info(`rotation: 1000 issuances for 500 workloads took ${elapsed.toFixed(0)} ms, ${clock.sets.length} timers set`);
  });

  it('renews many due at once in batches of maxPerTick, yielding between them, all at the same clock time', () => {
    const r = use(makeRig({ random: fixed(0.5), maxPerTick: 3 }));
    const clock = countingClock(r.clock);
    const rotator = new Rotator({ ca: r.ca, clock, random: fixed(0.5), maxPerTick: 3, ttlMs: 60_000 });
    cleanups.push(() => void rotator.stop());
    const at: number[] = [];
    rotator.onDidRotate((n) => {
      if (n.cause === 'rotation') at.push(r.clock.now());
    });
    for (let i = 0; i < 10; i++) rotator.add({ service: `svc-${i}`, spiffeId: idOf(`svc-${i}`) });
    rotator.start();
    clock.sets.length = 0;
    r.clock.advance(30_000);
    expect(at).toEqual(Array(10).fill(T0 + 30_000));
    // 10 due at once, 3 per turn: three extra zero-delay turns.
    expect(clock.sets.filter((ms) => ms === 0)).toHaveLength(3);
  });
});

describe('Rotator: failures', () => {
  it('a failed issuance keeps the current SVID, raises svid/failed, backs off ×1.5 up to the cap, and resets after a success', () => {
    const f = failingIssuer();
    const r = f.bind(use(makeRig({ issue: f.issue, random: fixed(0.5), backoff: { initialMs: 1000, maxMs: 4000, jitter: 0 } })));
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders'), dir: r.dirOf('orders') });
    r.rotator.start();
    const first = r.rotator.source('orders').current();
    const filesBefore = readFiles(r.dirOf('orders'));
    f.failAll.on = true;
    r.clock.advanceTo(T0 + 30_000);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const failed = r.of('svid/failed');
      const last = failed[failed.length - 1];
      expect(last?.error).toMatch(/^rotation: the CA could not issue an SVID for orders \(the CA is unreachable \(test\)\)\.$/);
      delays.push(last?.retryInMs as number);
      expect(r.rotator.source('orders').current().serial).toBe(first.serial);
      expect(readFiles(r.dirOf('orders'))).toEqual(filesBefore);
      r.clock.advance(last?.retryInMs as number);
    }
    expect(delays).toEqual([1000, 1500, 2250, 3375, 4000, 4000]);
    expect(r.rotator.status()[0]?.failures).toBe(7);
    f.failAll.on = false;
    r.clock.advance(4000);
    const issued = r.of('svid/issued');
    expect(issued[issued.length - 1]).toMatchObject({ cause: 'rotation', previousSerial: first.serial });
    expect(r.rotator.status()[0]?.failures).toBe(0);
    // The next failure starts over from the initial delay.
    f.failAll.on = true;
    r.rotator.rotateNow('orders');
    expect(r.of('svid/failed').at(-1)?.retryInMs).toBe(1000);
  });

  it('a failed first issuance leaves no SVID (the source says why) and retries with cause start', () => {
    const f = failingIssuer();
    const r = f.bind(use(makeRig({ issue: f.issue, backoff: { initialMs: 2000, jitter: 0 } })));
    f.failFor.add(idOf('orders').toString());
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders') });
    r.rotator.start();
    expect(() => r.rotator.source('orders').current()).toThrow(/orders has no SVID yet \(the last attempt failed: rotation: the CA could not issue/);
    f.failFor.clear();
    r.clock.advance(2000);
    expect(r.of('svid/issued').map((e) => e.cause)).toEqual(['start']);
    expect(r.rotator.source('orders').current().serial).toBe(r.of('svid/issued')[0]?.serial);
  });

  it('an injected writer that throws: previous files whole, old SVID serving, svid/failed, then a retry writes a matching pair', () => {
    let broken = false;
    const r = use(
      makeRig({
        random: fixed(0.5),
        backoff: { initialMs: 1000, jitter: 0 },
        writeFiles: (dir: string, svid: IssuedSvid, bundlePem: string) => {
          if (broken) throw new Error('EIO: i/o error, write (test)');
          writeSvidFiles(dir, svid, bundlePem);
        },
      }),
    );
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders'), dir: r.dirOf('orders') });
    r.rotator.start();
    const before = readFiles(r.dirOf('orders'));
    const serial = r.rotator.source('orders').current().serial;
    broken = true;
    r.clock.advanceTo(T0 + 30_000);
    expect(r.of('svid/failed')).toHaveLength(1);
    expect(r.of('svid/failed')[0]).toMatchObject({ service: 'orders', retryInMs: 1000 });
    expect(r.of('svid/failed')[0]?.error).toMatch(/could not be replaced in .+ \(EIO: i\/o error, write \(test\)\); the previous files stay whole/);
    expect(readFiles(r.dirOf('orders'))).toEqual(before);
    expect(r.rotator.source('orders').current().serial).toBe(serial);
    broken = false;
    r.clock.advance(1000);
    const after = readFiles(r.dirOf('orders'));
    expect(serialOfPem(after.cert)).not.toBe(serialOfPem(before.cert));
    expect(keyMatchesLeaf(after)).toBe(true);
    expect(r.rotator.source('orders').current().certChainPem).toBe(after.cert);
  });

  it('a folder made read-only: the real writer fails before replacing anything, and the old pair stays whole', () => {
    const r = use(makeRig({ random: fixed(0.5), backoff: { initialMs: 1000, jitter: 0 } }));
    const dir = r.dirOf('orders');
    r.rotator.add({ service: 'orders', spiffeId: idOf('orders'), dir });
    r.rotator.start();
    const before = readFiles(dir);
    makeReadOnly(dir);
    r.clock.advanceTo(T0 + 30_000);
    expect(r.of('svid/failed')).toHaveLength(1);
    expect(r.of('svid/failed')[0]?.error).toMatch(/EACCES|EPERM/);
    expect(readFiles(dir)).toEqual(before);
    expect(keyMatchesLeaf(readFiles(dir))).toBe(true);
    undoReadOnly(dir);
    r.clock.advance(1000);
    expect(serialOfPem(readFiles(dir).cert)).toBe(r.of('svid/issued').at(-1)?.serial);
    expect(keyMatchesLeaf(readFiles(dir))).toBe(true);
  });
});

/**
 * chmod 0500 binds everyone but root; as root (CI containers) the folder is made immutable instead,
 * which needs CAP_LINUX_IMMUTABLE. Either way the write really fails: never a skip.
 */
function makeReadOnly(dir: string): void {
  chmodSync(dir, 0o500);
  cleanups.push(() => undoReadOnly(dir));
  if (process.getuid?.() !== 0) return;
  const r = spawnSync('chattr', ['+i', dir], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) {
    throw new Error(`rotation test: running as root, the folder can be made read-only only with "chattr +i", which failed (${(r.stderr || r.error?.message || '').trim()}); run the tests as a normal user or grant CAP_LINUX_IMMUTABLE.`);
  }
  try {
    writeFileSync(join(dir, '.probe'), 'x');
  } catch {
    return;
  }
  throw new Error('rotation test: the folder is still writable after chattr +i; this file system ignores the immutable flag, so run the tests as a normal user.');
}

function undoReadOnly(dir: string): void {
  if (process.getuid?.() === 0) spawnSync('chattr', ['-i', dir], { timeout: 5000 });
  chmodSync(dir, 0o700);
}
