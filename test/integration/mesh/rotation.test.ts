import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MeshEvent } from '../../../src/core/events/types.js';
import { orderLoad, startSampleMesh, type StartedMesh } from './support.js';

// Real processes, real TLS: the sample mesh with short-lived SVIDs under steady load.
describe('the sample mesh under load (real processes)', () => {
  let started: StartedMesh | undefined;
  afterEach(async () => {
    await started?.stop();
    started = undefined;
  });

  it('rotates every SVID at least 6 times with no failed request, files and sidecars alike', async () => {
    started = await startSampleMesh(6_000);
    const { mesh, stateDir } = started;
    const events: MeshEvent[] = [];
    mesh.onEvent((e) => events.push(e));
    const entry = mesh.entryUrl as string;
    const load = await orderLoad(entry, 60, 22_000);
    expect(load.failures).toEqual([]);
    expect(load.failed).toBe(0);
    expect(load.perSecond).toBeGreaterThanOrEqual(50);
    const rotations = new Map<string, number>();
    for (const e of events) if (e.type === 'svid/issued' && e.cause === 'rotation') rotations.set(e.service, (rotations.get(e.service) ?? 0) + 1);
    for (const s of mesh.snapshot().services) expect(rotations.get(s.name) ?? 0, s.name).toBeGreaterThanOrEqual(6);
    expect(events.filter((e) => e.type === 'svid/failed')).toEqual([]);
    expect(events.filter((e) => e.type === 'rejection')).toEqual([]);
    // Every real call path carried traffic, the one into the native service included (its caller's sidecar reports it).
    const paths = new Set(events.flatMap((e) => (e.type === 'call' && e.requests > 0 ? [`${e.caller.service}->${e.callee.service}`] : [])));
    expect([...paths].sort()).toEqual(['billing->payments', 'frontend->orders', 'orders->billing', 'orders->inventory']);
    // The native service reloaded its own files: its logs name the serials it loaded.
    const inventoryLog = readFileSync(join(stateDir, 'logs', 'inventory.log'), 'utf8');
    const lastSerial = mesh.snapshot().services.find((s) => s.name === 'inventory')?.serial as string;
    expect(inventoryLog.toLowerCase()).toContain(lastSerial.slice(0, 8));
  }, 60_000);

  it('rotates the CA under load: prepared, activated, every SVID re-issued, zero failed requests', async () => {
    started = await startSampleMesh(60_000);
    const { mesh } = started;
    const events: MeshEvent[] = [];
    mesh.onEvent((e) => events.push(e));
    let rotation: Promise<unknown> | undefined;
    const load = await orderLoad(mesh.entryUrl as string, 50, 12_000, (elapsed) => {
      if (elapsed > 2_000 && !rotation) rotation = mesh.execute({ name: 'ca/rotate' });
    });
    await rotation;
    expect(load.failures).toEqual([]);
    expect(load.failed).toBe(0);
    const phases = events.filter((e) => e.type === 'ca/changed').map((e) => (e.type === 'ca/changed' ? e.phase : ''));
    expect(phases).toEqual(['prepared', 'activated']);
    const reissued = events.filter((e) => e.type === 'svid/issued' && e.cause === 'ca-rotation').length;
    expect(reissued).toBe(mesh.snapshot().services.length);
    const snapshot = mesh.snapshot();
    expect(snapshot.ca.authorities.map((a) => a.status).sort()).toEqual(['active', 'old']);
    expect(events.filter((e) => e.type === 'rejection')).toEqual([]);
  }, 60_000);
});
