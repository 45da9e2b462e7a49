import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../../src/core/ca/authority.js';
import { writeSvidFiles } from '../../../src/core/ca/svidFiles.js';
import type { MeshEvent, RejectionEvent } from '../../../src/core/events/types.js';
import { SpiffeId } from '../../../src/core/spiffe/index.js';
import { ATTACK_SCENARIOS, EXPECTED_REASON } from '../../../src/core/attacks/attacks.js';
import { orderLoad, startSampleMesh, type StartedMesh } from './support.js';

const exec = promisify(execFile);

describe('attacks and rejections on the sample mesh (real processes)', () => {
  let started: StartedMesh;
  const events: MeshEvent[] = [];
  beforeAll(async () => {
    started = await startSampleMesh();
    started.mesh.onEvent((e) => events.push(e));
  }, 30_000);
  afterAll(async () => started?.stop());

  for (const scenario of ATTACK_SCENARIOS) {
    for (const target of ['payments', 'inventory']) {
      it(`rejects ${scenario} against ${target} with ${EXPECTED_REASON[scenario]}, in the report and the audit log`, async () => {
        const report = await started.mesh.attack(scenario, target);
        expect(report, JSON.stringify(report.intruder)).toMatchObject({ scenario, target, rejected: true, reason: EXPECTED_REASON[scenario] });
        expect(report.intruder.status === null || report.intruder.status >= 400).toBe(true);
        const audit = readFileSync(join(started.stateDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MeshEvent);
        expect(audit.some((e) => e.type === 'attack' && e.scenario === scenario && e.target === target && e.rejected)).toBe(true);
        // The callee's own verdict: payments' sidecar, or inventory itself (native, through its log).
        expect(audit.some((e) => e.type === 'rejection' && e.side === 'server' && e.callee.service === target && e.reason === EXPECTED_REASON[scenario])).toBe(true);
      }, 20_000);
    }
  }

  it('reports a denied call between services on both sides, and the caller gets a 403 naming rule and reason', async () => {
    const { mesh } = started;
    await mesh.execute({ name: 'policy/remove', rule: 'billing-to-payments' });
    try {
      const load = await orderLoad(mesh.entryUrl as string, 5, 1_000);
      expect(load.ok).toBe(0);
      expect(load.failures.join('\n')).toContain('denied-by-policy');
      const denied = events.filter((e): e is RejectionEvent => e.type === 'rejection' && e.reason === 'denied-by-policy' && e.callee.service === 'payments' && e.caller.service === 'billing');
      expect(denied.map((e) => e.side)).toContain('server');
      expect(denied.map((e) => e.side)).toContain('client');
      expect(denied.find((e) => e.side === 'server')?.caller.spiffeId).toBe('spiffe://lab.local/ns/default/sa/billing');
    } finally {
      await mesh.execute({ name: 'policy/allow', from: 'billing', to: 'payments' });
    }
    const after = await orderLoad(mesh.entryUrl as string, 5, 1_000);
    expect(after.failed).toBe(0);
  }, 20_000);

  it('lets curl with a current SVID through a sidecar, and refuses the same certificate after it expires', async () => {
    const { mesh, stateDir } = started;
    const orders = mesh.snapshot().services.find((s) => s.name === 'orders');
    const ca = CertificateAuthority.load(stateDir);
    const dir = join(stateDir, 'curl-client');
    // frontend's identity (allowed to call orders), living 3 seconds.
    writeSvidFiles(dir, ca.issue({ id: SpiffeId.parse('spiffe://lab.local/ns/default/sa/frontend'), ttlMs: 3_000 }), ca.bundlePem());
    const curl = (): Promise<{ code: number; out: string }> =>
      exec('curl', ['-sS', '--max-time', '5', '--cacert', join(dir, 'svid_bundle.pem'), '--cert', join(dir, 'svid.pem'), '--key', join(dir, 'svid_key.pem'), '-H', 'content-type: application/json', '-d', '{"customerId":"c1","items":[{"sku":"sku-mug","qty":1}]}', `https://localhost:${orders?.meshPort}/api/orders`]).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
      );
    const fresh = await curl();
    expect(fresh.code, fresh.out).toBe(0);
    expect(JSON.parse(fresh.out)).toMatchObject({ servedBy: 'orders', status: 'confirmed' });
    await new Promise((r) => setTimeout(r, 3_500));
    const stale = await curl();
    expect(stale.code).not.toBe(0);
    expect(events.some((e) => e.type === 'rejection' && e.side === 'server' && e.callee.service === 'orders' && e.reason === 'expired')).toBe(true);
  }, 20_000);
});

describe('policy changes reach open connections (real processes)', () => {
  let started: StartedMesh;
  beforeAll(async () => {
    started = await startSampleMesh();
  }, 30_000);
  afterAll(async () => started?.stop());

  it('closes a keep-alive connection whose rule was removed, naming the deciding rule', async () => {
    const { mesh } = started;
    const events: MeshEvent[] = [];
    mesh.onEvent((e) => events.push(e));
    // Warm keep-alive connections along the whole chain, then remove a rule under them.
    expect((await orderLoad(mesh.entryUrl as string, 20, 1_000)).failed).toBe(0);
    await mesh.execute({ name: 'policy/remove', rule: 'billing-to-payments' });
    try {
      const cut = events.filter((e): e is RejectionEvent => e.type === 'rejection' && e.side === 'server' && e.callee.service === 'payments' && /may no longer call/.test(e.detail));
      expect(cut.length).toBeGreaterThan(0);
      expect(cut[0]).toMatchObject({ reason: 'denied-by-policy', rule: 'default-deny', caller: { service: 'billing' } });
      // Nothing gets through on the old connections or on new ones.
      const after = await orderLoad(mesh.entryUrl as string, 5, 1_000);
      expect(after.ok).toBe(0);
    } finally {
      await mesh.execute({ name: 'policy/allow', from: 'billing', to: 'payments' });
    }
  }, 20_000);
});

describe('policy changes reach a native service (real processes)', () => {
  let started: StartedMesh;
  beforeAll(async () => {
    started = await startSampleMesh();
  }, 30_000);
  afterAll(async () => started?.stop());

  it('denies and then allows orders → inventory without a restart, on the open connections too', async () => {
    const { mesh } = started;
    const pid = mesh.snapshot().services.find((s) => s.name === 'inventory')?.pid;
    expect((await orderLoad(mesh.entryUrl as string, 10, 1_000)).failed).toBe(0);
    await mesh.execute({ name: 'policy/remove', rule: 'orders-to-inventory' });
    await expect.poll(async () => (await orderLoad(mesh.entryUrl as string, 5, 400)).failures.join('\n'), { timeout: 5_000, interval: 200 }).toContain('denied-by-policy');
    await mesh.execute({ name: 'policy/allow', from: 'orders', to: 'inventory' });
    await expect.poll(async () => (await orderLoad(mesh.entryUrl as string, 5, 400)).failed, { timeout: 5_000, interval: 200 }).toBe(0);
    expect(mesh.snapshot().services.find((s) => s.name === 'inventory')?.pid).toBe(pid);
  }, 30_000);
});
