// Injected folders renew at half the SVID's lifetime on an injected clock, run the reload
// command after each renewal, back off on failure, and persist across reloads.
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../../src/core/rotation/fakeClock.js';
import type { IssuedSvid } from '../../../src/extension/cliRunner.js';
import { Injections, Injector, renewalDelay } from '../../../src/extension/injector.js';
import type { InjectionSpec, InjectorDeps } from '../../../src/extension/injector.js';

const spec: InjectionSpec = { folder: '/w/api', service: 'api', spiffeId: 'spiffe://lab.local/ns/default/sa/api', ttl: '2m', reloadCommand: 'kill -HUP 1' };

function svidAt(now: number, serial: string, ttlMs = 120_000): IssuedSvid {
  return {
    spiffeId: spec.spiffeId,
    serial,
    notBefore: new Date(now).toISOString(),
    notAfter: new Date(now + ttlMs).toISOString(),
    files: { cert: '/w/api/svid.pem', key: '/w/api/svid_key.pem', bundle: '/w/api/svid_bundle.pem' },
  };
}

function deps(clock: FakeClock, over: Partial<InjectorDeps> = {}) {
  let n = 0;
  const issue = vi.fn(async () => svidAt(clock.now(), `s${n++}`));
  const reload = vi.fn(async () => ({ code: 0, output: 'reloaded' }));
  const log = vi.fn();
  const changed = vi.fn();
  return { issue, reload, log, changed, clock, ...over };
}

describe('renewalDelay', () => {
  it('is half the lifetime from notBefore, never negative', () => {
    expect(renewalDelay(svidAt(0, 'a'), 0)).toBe(60_000);
    expect(renewalDelay(svidAt(0, 'a'), 50_000)).toBe(10_000);
    expect(renewalDelay(svidAt(0, 'a'), 90_000)).toBe(0);
  });
});

describe('Injector', () => {
  it('issues at once, runs the reload command, and renews at half the lifetime', async () => {
    const clock = new FakeClock();
    const d = deps(clock);
    const injector = new Injector(spec, d);
    const first = await injector.start();
    expect(first.serial).toBe('s0');
    expect(d.issue).toHaveBeenCalledWith(spec);
    expect(d.reload).toHaveBeenCalledWith('kill -HUP 1', '/w/api');
    expect(injector.view()).toMatchObject({ folder: '/w/api', notAfter: first.notAfter, nextRenewal: clock.now() + 60_000 });

    const t = await clock.waitForTimer();
    expect(t.delayMs).toBe(60_000);
    clock.advance(60_000);
    await vi.waitFor(() => expect(d.issue).toHaveBeenCalledTimes(2));
    await clock.waitForTimer((p) => p.dueAt > t.dueAt);
    expect(d.reload).toHaveBeenCalledTimes(2);
    expect(injector.view().notAfter).toBe(new Date(clock.now() + 120_000).toISOString());
    injector.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('without a reload command, only writes the files', async () => {
    const clock = new FakeClock();
    const d = deps(clock);
    await new Injector({ ...spec, reloadCommand: undefined }, d).start();
    expect(d.reload).not.toHaveBeenCalled();
  });

  it('retries a failed issue with backoff and shows the error meanwhile', async () => {
    const clock = new FakeClock();
    let fail = 2;
    const d = deps(clock, {
      issue: async () => {
        if (fail-- > 0) throw new Error('ca: there is no CA in /state/ca.');
        return svidAt(clock.now(), 'ok');
      },
    });
    const injector = new Injector(spec, d);
    await expect(injector.start()).rejects.toThrow(/no CA/);
    expect(injector.view().lastError).toMatch(/no CA/);
    expect((await clock.waitForTimer()).delayMs).toBe(5_000);
    clock.advance(5_000);
    expect((await clock.waitForTimer((p) => p.delayMs === 7_500)).delayMs).toBe(7_500);
    clock.advance(7_500);
    await vi.waitFor(() => expect(injector.view().lastError).toBeUndefined());
    expect(injector.view().notAfter).toBeDefined();
    injector.stop();
  });

  it('a reload command that fails is logged and does not stop renewal', async () => {
    const clock = new FakeClock();
    const d = deps(clock, { reload: vi.fn(async () => ({ code: 3, output: 'no such process' })) });
    const injector = new Injector(spec, d);
    await injector.start();
    expect(d.log).toHaveBeenCalledWith(expect.stringContaining('exited with code 3: no such process'));
    expect((await clock.waitForTimer()).delayMs).toBe(60_000);
    injector.stop();
  });
});

describe('Injections', () => {
  it('saves what it keeps fresh, resumes it after a reload, and forgets a removed folder', async () => {
    const clock = new FakeClock();
    let saved: readonly InjectionSpec[] = [];
    const store = { get: () => saved, set: (s: readonly InjectionSpec[]) => void (saved = s) };
    const a = new Injections(deps(clock), store);
    await a.add(spec);
    expect(saved).toEqual([spec]);
    a.dispose();
    expect(clock.pendingTimers()).toBe(0);

    const d = deps(clock);
    const b = new Injections(d, store);
    b.resume();
    await vi.waitFor(() => expect(d.issue).toHaveBeenCalledOnce());
    expect(b.views().map((v) => v.folder)).toEqual(['/w/api']);
    expect(await b.remove('/w/api')).toBe(true);
    expect(saved).toEqual([]);
    expect(b.size).toBe(0);
  });

  it('renews every folder at once after a CA rotation', async () => {
    const clock = new FakeClock();
    const d = deps(clock);
    const inj = new Injections(d, { get: () => [], set: () => undefined });
    await inj.add(spec);
    await inj.add({ ...spec, folder: '/w/web', service: 'web' });
    await inj.renewAll();
    expect(d.issue).toHaveBeenCalledTimes(4);
    inj.dispose();
  });

  it('ignores malformed saved entries', () => {
    const clock = new FakeClock();
    const inj = new Injections(deps(clock), { get: () => [{ folder: 1 } as unknown as InjectionSpec], set: () => undefined });
    inj.resume();
    expect(inj.size).toBe(0);
  });
});
