// An in-memory mesh for the extension's tests: a MeshController the real control API can serve,
// snapshots and events shaped like the daemon's, and a recorder of the commands it was sent.
import type { MeshEvent, MeshEventInput } from '../../../src/core/events/types.js';
import { startControlApi } from '../../../src/daemon/controlApi.js';
import type { ControlApi, MeshController } from '../../../src/daemon/controlApi.js';
import type { MeshCommand } from '../../../src/protocol/messages.js';
import type { MeshSnapshot, ServiceSnapshot } from '../../../src/protocol/snapshot.js';

export const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
export const iso = (ms: number): string => new Date(ms).toISOString();

export function service(name: string, over: Partial<ServiceSnapshot> = {}): ServiceSnapshot {
  return {
    name,
    spiffeId: `spiffe://lab.local/ns/default/sa/${name}`,
    mode: 'sidecar',
    entry: false,
    state: 'running',
    pid: 4242,
    serial: `serial-${name}`,
    notBefore: iso(T0 - 10 * 60_000),
    notAfter: iso(T0 + 50 * 60_000),
    rotations: 0,
    meshPort: 7001,
    servicePort: 8001,
    upstreams: [],
    files: { cert: `/state/svids/${name}/svid.pem`, key: `/state/svids/${name}/svid_key.pem`, bundle: `/state/svids/${name}/svid_bundle.pem` },
    ...over,
  };
}

export function snapshot(over: Partial<MeshSnapshot> = {}): MeshSnapshot {
  return {
    trustDomain: 'lab.local',
    mode: 'strict',
    ttlMs: 3_600_000,
    startedAt: iso(T0 - 10 * 60_000),
    entryUrl: 'http://127.0.0.1:9999/',
    ca: { keyType: 'ec-p256', intermediate: false, bundleSequence: 1, authorities: [] },
    services: [service('frontend', { entry: true }), service('orders'), service('payments')],
    policy: { mode: 'strict', rules: [{ name: 'frontend-to-orders', from: ['spiffe://lab.local/ns/default/sa/frontend'], to: ['spiffe://lab.local/ns/default/sa/orders'] }] },
    recentEvents: [],
    ...over,
  };
}

let seq = 0;
/** A stamped event, numbered in order. */
export function event(input: MeshEventInput, time: number = T0): MeshEvent {
  return { ...input, seq: seq++, time: iso(time) } as MeshEvent;
}

export function rejection(over: Partial<Extract<MeshEventInput, { type: 'rejection' }>> = {}, time?: number): MeshEvent {
  return event({ type: 'rejection', side: 'server', reason: 'no-client-cert', detail: 'no client certificate', caller: { address: '127.0.0.1:50000' }, callee: { service: 'payments' }, ...over }, time);
}

export function issued(serviceName: string, cause: 'start' | 'rotation' | 'manual' = 'rotation', time: number = T0): MeshEvent {
  return event({ type: 'svid/issued', service: serviceName, spiffeId: `spiffe://lab.local/ns/default/sa/${serviceName}`, serial: `new-${serviceName}-${seq}`, notBefore: iso(time - 30_000), notAfter: iso(time + 3_600_000 - 30_000), cause }, time);
}

/** A MeshController over a snapshot; `emit` pushes events to subscribers; `commands` records what was asked. */
export class FakeController implements MeshController {
  readonly commands: MeshCommand[] = [];
  private readonly listeners = new Set<(e: MeshEvent) => void>();
  result: (command: MeshCommand) => unknown = (c) => (c.name === 'attack' ? { scenario: c.scenario, target: c.target ?? 'payments', rejected: true, reason: 'no-client-cert', detail: 'payments refused it.' } : { ok: true });

  constructor(public state: MeshSnapshot = snapshot()) {}

  snapshot(): MeshSnapshot {
    return this.state;
  }

  onEvent(listener: (event: MeshEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: MeshEvent): void {
    for (const l of this.listeners) l(e);
  }

  async execute(command: MeshCommand): Promise<unknown> {
    this.commands.push(command);
    return this.result(command);
  }
}

/** The real control API on 127.0.0.1 over a FakeController. */
export async function fakeDaemon(controller: FakeController = new FakeController()): Promise<{ api: ControlApi; controller: FakeController; endpoint: { port: number; token: string; dashboardUrl: string } }> {
  const api = await startControlApi({ controller });
  return { api, controller, endpoint: { port: api.port, token: api.token, dashboardUrl: api.dashboardUrl } };
}

/** Resolves once `check` holds, polling every few ms (for cross-process and socket round trips only). */
export async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('eventually: the condition did not hold in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
