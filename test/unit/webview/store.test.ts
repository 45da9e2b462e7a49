import { describe, expect, it } from 'vitest';
import type { MeshEvent } from '../../../src/core/events/types.js';
import type { MeshSnapshot } from '../../../src/protocol/snapshot.js';
import { edgeLabel, nodeLabel } from '../../../webview/labels.js';
import {
  allowableCall,
  applyEvents,
  certificateChain,
  DEFAULT_LIMITS,
  edgeId,
  edgeRate,
  filterLog,
  initialModel,
  INTRUDER_ID,
  reduce,
  rulesForEdge,
  rulesForNode,
} from '../../../webview/store.js';
import type { ViewModel } from '../../../webview/store.js';
import { timelineLayout } from '../../../webview/timeline.js';
import { EventFactory, meshSnapshot, ROOT_SERIAL, seededRandom, serialOf, spiffeIdOf, trafficEvents } from '../../e2e/meshFixture.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const TTL = 5 * 60_000;

function loaded(snapshot: MeshSnapshot = meshSnapshot({ services: 6, now: NOW, ttlMs: TTL })): ViewModel {
  return reduce(initialModel(), { type: 'mesh/snapshot', snapshot });
}

describe('store: snapshot', () => {
  it('makes one node per service with identity, mode and current certificate, and one idle edge per declared upstream', () => {
    const snap = meshSnapshot({ services: 6, now: NOW, ttlMs: TTL });
    const m = loaded(snap);
    expect([...m.nodes.keys()]).toEqual(['frontend', 'orders', 'billing', 'payments', 'inventory', 'shipping']);
    const orders = m.nodes.get('orders');
    expect(orders).toMatchObject({ kind: 'service', spiffeId: spiffeIdOf('orders'), mode: 'sidecar', state: 'running', rotations: 0 });
    expect(orders?.cert?.serial).toBe(serialOf('orders', 1));
    expect(m.nodes.get('inventory')?.mode).toBe('native');
    expect([...m.edges.keys()].sort()).toEqual(['billing->payments', 'frontend->orders', 'orders->billing', 'orders->inventory', 'orders->shipping']);
    expect([...m.edges.values()].every((e) => e.state === 'idle' && e.declared)).toBe(true);
    expect(m.topology).toBe(1);
    expect(m.ca.bundle).toEqual([ROOT_SERIAL]);
  });

  it('never holds key material: only the paths the snapshot names', () => {
    const m = loaded();
    expect(JSON.stringify([...m.nodes.values()])).not.toMatch(/PRIVATE KEY/);
    expect(m.nodes.get('orders')?.files?.key).toBe('/state/svids/orders/svid_key.pem');
  });

  it("replays the snapshot's recent events, skips them when they come again, and lets the snapshot have the last word on each certificate", () => {
    const f = new EventFactory();
    const history = [f.call('frontend', 'orders', 3, NOW - 2000), f.rotation('orders', 2, TTL, NOW - 1000)];
    const snap = meshSnapshot({ services: 6, now: NOW, ttlMs: TTL, recentEvents: history });
    const m = loaded({ ...snap, services: snap.services.map((s) => (s.name === 'orders' ? { ...s, serial: serialOf('orders', 2), rotations: 1 } : s)) });
    expect(m.edges.get('frontend->orders')).toMatchObject({ state: 'locked', requests: 3 });
    expect(m.nodes.get('orders')).toMatchObject({ rotations: 1, pulses: 0 });
    expect(m.nodes.get('orders')?.cert?.serial).toBe(serialOf('orders', 2));
    const again = applyEvents(m, history);
    expect(again).toBe(m);
  });

  it('keeps what it learnt across a reconnect to the same daemon run, and starts afresh for a new run', () => {
    const f = new EventFactory();
    const snap = meshSnapshot({ services: 6, now: NOW, ttlMs: TTL });
    let m = loaded(snap);
    m = applyEvents(m, [f.call('frontend', 'orders', 5, NOW), f.rotation('billing', 2, TTL, NOW)]);
    const billingNow = { ...snap, services: snap.services.map((s) => (s.name === 'billing' ? { ...s, serial: serialOf('billing', 2), rotations: 1 } : s)) };
    const same = reduce(m, { type: 'mesh/snapshot', snapshot: billingNow });
    expect(same.edges.get('frontend->orders')?.requests).toBe(5);
    expect(same.nodes.get('billing')?.bars.map((b) => b.serial)).toEqual([serialOf('billing', 1), serialOf('billing', 2)]);
    expect(same.lastSeq).toBe(2);
    // A relay may answer a later `ready` with the first snapshot and the events after it: nothing goes back.
    const relayed = reduce(reduce(same, { type: 'mesh/snapshot', snapshot: snap }), { type: 'mesh/events', events: [] });
    expect(relayed.nodes.get('billing')?.cert?.serial).toBe(serialOf('billing', 2));
    expect(relayed.nodes.get('billing')?.rotations).toBe(1);
    const fresh = reduce(m, { type: 'mesh/snapshot', snapshot: { ...billingNow, startedAt: new Date(NOW).toISOString() } });
    expect(fresh.edges.get('frontend->orders')?.requests).toBe(0);
    expect(fresh.lastSeq).toBe(0);
  });
});

describe('store: events', () => {
  it('turns calls into a locked edge with a traffic rate, and a rotation into a new serial, a pulse and a timeline tick', () => {
    const f = new EventFactory();
    let m = loaded();
    const before = m;
    m = applyEvents(m, [f.handshake('frontend', 'orders', NOW), f.call('frontend', 'orders', 20, NOW), f.call('frontend', 'orders', 10, NOW + 1000)]);
    const e = m.edges.get('frontend->orders');
    expect(e).toMatchObject({ state: 'locked', mtls: true, requests: 30, handshakes: 1 });
    expect(edgeRate(e!, NOW + 1500)).toBeCloseTo(3, 5);
    expect(edgeRate(e!, NOW + 60_000)).toBe(0);
    expect(edgeLabel(e!, NOW + 1500)).toBe('mTLS 3/s');
    expect(edgeLabel(e!, NOW + 1500, true)).toBe('mTLS');
    // Untouched nodes and edges keep their identity: the renderer skips them.
    expect(m.nodes.get('payments')).toBe(before.nodes.get('payments'));
    expect(m.edges.get('billing->payments')).toBe(before.edges.get('billing->payments'));

    m = applyEvents(m, [f.rotation('orders', 2, TTL, NOW + 2000)]);
    const orders = m.nodes.get('orders')!;
    expect(orders.cert?.serial).toBe(serialOf('orders', 2));
    expect(orders).toMatchObject({ rotations: 1, pulses: 1, lastRotationAt: NOW + 2000 });
    expect(orders.bars.map((b) => [b.serial, b.replacedAt])).toEqual([[serialOf('orders', 1), NOW + 2000], [serialOf('orders', 2), undefined]]);
    expect(nodeLabel(orders, NOW + 2000)).toBe('orders\nspiffe://lab.local\n/ns/default/sa/orders\nsidecar · 5m 00s');
    expect(nodeLabel(orders, NOW + 2000 + 61_500, true)).toBe('orders\nspiffe://lab.local\n/ns/default/sa/orders\nsidecar · 3m');
    const lane = timelineLayout(m, { now: NOW + 2000 }).lanes.find((l) => l.id === 'orders');
    expect(lane?.ticks).toHaveLength(1);
    expect(m.log.map((l) => l.type)).toEqual(['handshake', 'svid/issued']);
  });

  it("draws an unverified caller as the intruder, never as the service it claimed, with the reason on a red edge", () => {
    const f = new EventFactory();
    let m = loaded();
    const claimed = { spiffeId: spiffeIdOf('frontend'), address: '127.0.0.1:61000' };
    m = applyEvents(m, [f.rejection('orders', 'unknown-ca', 'the certificate chains to no root in the bundle', claimed, NOW), f.attack('rogue-ca', 'orders', 'unknown-ca', NOW + 50)]);
    const edge = m.edges.get(edgeId(INTRUDER_ID, 'orders'))!;
    expect(edge).toMatchObject({ state: 'rejected', rejections: 1 });
    expect(edge.recentRejections[0]).toMatchObject({ reason: 'unknown-ca', side: 'server', scenario: 'rogue-ca', callerId: spiffeIdOf('frontend') });
    expect(edgeLabel(edge, NOW)).toBe('✕ unknown-ca');
    expect(m.edges.get('frontend->orders')?.state).toBe('idle');
    expect(m.nodes.get(INTRUDER_ID)).toMatchObject({ kind: 'intruder', attacks: 1, presented: [spiffeIdOf('frontend')] });
    expect(m.topology).toBe(2);
    expect(filterLog(m.log, { text: 'unknown-ca' }).map((l) => l.type)).toEqual(['attack', 'rejection']);
    expect(allowableCall(m, edge)).toBeUndefined();
    // The claimed identity earns the intruder no rule.
    expect(rulesForEdge(m, edge)).toEqual([]);
    expect(rulesForNode(m, INTRUDER_ID).outbound).toEqual([]);
    expect(nodeLabel(m.nodes.get(INTRUDER_ID)!, NOW)).toBe('intruder\npresents spiffe://lab.local\n/ns/default/sa/frontend\n1 attack');
  });

  it('records the attack of a native target (no sidecar event) as a rejection from the intruder', () => {
    const f = new EventFactory();
    const m = applyEvents(loaded(), [f.attack('impostor-no-cert', 'inventory', 'no-client-cert', NOW)]);
    expect(m.edges.get(edgeId(INTRUDER_ID, 'inventory'))?.recentRejections.map((r) => r.reason)).toEqual(['no-client-cert']);
  });

  it('offers to allow a call the policy denied for a verified caller, and knows the rules that apply', () => {
    const f = new EventFactory();
    let m = loaded();
    m = applyEvents(m, [f.rejection('payments', 'denied-by-policy', 'orders may not call payments', f.peer('orders'), NOW, 'default-deny')]);
    const edge = m.edges.get('orders->payments')!;
    expect(edge).toMatchObject({ state: 'rejected', declared: false });
    expect(allowableCall(m, edge)).toEqual({ from: spiffeIdOf('orders'), to: spiffeIdOf('payments') });
    expect(rulesForEdge(m, edge)).toEqual([]);
    expect(rulesForEdge(m, m.edges.get('orders->billing')!).map((r) => r.name)).toEqual(['orders-to-billing']);
    const rules = rulesForNode(m, 'orders');
    expect(rules.inbound.map((r) => r.name)).toEqual(['frontend-to-orders']);
    expect(rules.outbound.map((r) => r.name)).toEqual(['orders-to-billing', 'orders-to-inventory', 'orders-to-shipping']);
    // Traffic that gets through later turns the edge back.
    m = applyEvents(m, [f.call('orders', 'payments', 1, NOW + 1000)]);
    expect(m.edges.get('orders->payments')?.state).toBe('locked');
  });

  it('follows a CA rotation: prepared, activated (the old root keeps being trusted), retired, with the overlap', () => {
    const f = new EventFactory();
    const next = 'b0b0b0b000000002';
    let m = loaded();
    m = applyEvents(m, [f.stamp({ type: 'ca/changed', phase: 'prepared', serial: next, notAfter: new Date(NOW + 1e10).toISOString(), bundle: [ROOT_SERIAL, next] }, NOW)]);
    expect(m.ca.authorities.map((a) => [a.serial, a.status])).toEqual([[ROOT_SERIAL, 'active'], [next, 'prepared']]);
    expect(m.ca.overlaps).toEqual([{ from: NOW, serials: [ROOT_SERIAL, next] }]);
    m = applyEvents(m, [f.stamp({ type: 'ca/changed', phase: 'activated', serial: next, notAfter: new Date(NOW + 1e10).toISOString(), bundle: [ROOT_SERIAL, next] }, NOW + 10_000)]);
    expect(m.ca.authorities.map((a) => [a.serial, a.status])).toEqual([[ROOT_SERIAL, 'old'], [next, 'active']]);
    m = applyEvents(m, [f.rotation('orders', 2, TTL, NOW + 11_000)]);
    expect(certificateChain(m, 'orders').map((c) => [c.role, c.serial])).toEqual([['leaf', serialOf('orders', 2)], ['root', next]]);
    m = applyEvents(m, [f.stamp({ type: 'ca/changed', phase: 'retired', serial: ROOT_SERIAL, notAfter: new Date(NOW + 1e10).toISOString(), bundle: [next] }, NOW + 60_000)]);
    expect(m.ca.authorities.map((a) => [a.serial, a.status])).toEqual([[ROOT_SERIAL, 'retired'], [next, 'active']]);
    expect(m.ca.overlaps).toEqual([{ from: NOW, to: NOW + 60_000, serials: [ROOT_SERIAL, next] }]);
    const layout = timelineLayout(m, { now: NOW + 60_000 });
    const caLanes = layout.lanes.filter((l) => l.kind === 'ca');
    expect(caLanes.map((l) => l.segments.map((s) => s.kind))).toEqual([['active', 'old'], ['prepared', 'active']]);
    expect(layout.overlaps).toHaveLength(1);
  });

  it('follows service state and renewal failures', () => {
    const f = new EventFactory();
    const m = applyEvents(loaded(), [
      f.stamp({ type: 'service/state', service: 'billing', state: 'exited', exitCode: 1, signal: null }, NOW),
      f.stamp({ type: 'svid/failed', service: 'orders', spiffeId: spiffeIdOf('orders'), error: 'the CA is busy', retryInMs: 2000 }, NOW),
    ]);
    expect(m.nodes.get('billing')?.state).toBe('exited');
    expect(m.nodes.get('orders')?.lastFailure).toMatchObject({ error: 'the CA is busy' });
    expect(filterLog(m.log, { category: 'problems' })).toHaveLength(2);
  });
});

describe('store: bounds and filters', () => {
  it('stays bounded through 10,000 events: log, rejections per edge, bars per service, nodes', () => {
    const snap = meshSnapshot({ services: 6, now: NOW, ttlMs: TTL });
    const f = new EventFactory();
    const random = seededRandom(7);
    const generations = new Map<string, number>();
    let m = loaded(snap);
    for (let batch = 0; batch < 200; batch++) m = applyEvents(m, trafficEvents(snap, f, 50, NOW + batch * 50, random, generations));
    expect(m.eventsSeen).toBe(10_000);
    expect(m.log.length).toBeLessThanOrEqual(DEFAULT_LIMITS.maxLogEntries);
    expect(m.log.length).toBeGreaterThan(100);
    expect(m.nodes.size).toBe(7);
    for (const e of m.edges.values()) {
      expect(e.recentRejections.length).toBeLessThanOrEqual(DEFAULT_LIMITS.maxRejectionsPerEdge);
      expect(e.buckets).toHaveLength(DEFAULT_LIMITS.rateWindowSeconds);
    }
    for (const n of m.nodes.values()) expect(n.bars.length).toBeLessThanOrEqual(DEFAULT_LIMITS.maxBarsPerService);
    const seqs = m.log.map((l) => l.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(m.log[m.log.length - 1]?.seq).toBeLessThanOrEqual(10_000);
  });

  const rows: { name: string; filter: Parameters<typeof filterLog>[1]; expected: string[] }[] = [
    { name: 'everything, newest first', filter: {}, expected: ['attack', 'rejection', 'service/state', 'svid/issued'] },
    { name: 'problems only', filter: { category: 'problems' }, expected: ['rejection', 'service/state'] },
    { name: 'one category', filter: { category: 'identity' }, expected: ['svid/issued'] },
    { name: 'by reason text', filter: { text: 'NO-CLIENT-CERT' }, expected: ['attack', 'rejection'] },
    { name: 'by service', filter: { subject: 'billing' }, expected: ['service/state'] },
    { name: 'with a limit', filter: { limit: 1 }, expected: ['attack'] },
  ];
  for (const row of rows) {
    it(`filters the log: ${row.name}`, () => {
      const f = new EventFactory();
      const m = applyEvents(loaded(), [
        f.rotation('orders', 2, TTL, NOW),
        f.stamp({ type: 'service/state', service: 'billing', state: 'failed' }, NOW),
        f.rejection('payments', 'no-client-cert', 'no certificate', { address: '127.0.0.1:5' }, NOW),
        f.attack('impostor-no-cert', 'payments', 'no-client-cert', NOW + 10),
      ]);
      expect(filterLog(m.log, row.filter).map((l) => l.type)).toEqual(row.expected);
    });
  }

  it('ignores replies and empty batches', () => {
    const m = loaded();
    expect(reduce(m, { type: 'reply', id: 1, ok: true })).toBe(m);
    expect(reduce(m, { type: 'mesh/events', events: [] as MeshEvent[] })).toBe(m);
  });
});
