import { describe, expect, it } from 'vitest';
import { TREE_CONTEXT } from '../../../src/extension/ids.js';
import type { StoreView } from '../../../src/extension/meshStore.js';
import { identityTree, serviceNode } from '../../../src/extension/treeModel.js';
import { iso, service, snapshot, T0 } from './fakeMesh.js';

const running = (over: Partial<StoreView> = {}): StoreView => ({ state: 'running', snapshot: snapshot(), rejected: 0, ...over });

describe('identityTree', () => {
  it('has one node per service, in the snapshot\'s order, with time left and state in the description', () => {
    const roots = identityTree(running(), [], T0);
    expect(roots.map((n) => n.label)).toEqual(['frontend', 'orders', 'payments']);
    expect(roots[1]?.description).toBe('50m left · running');
    expect(roots[1]?.contextValue).toBe(TREE_CONTEXT.service);
    expect(roots[1]?.service).toBe('orders');
    expect(roots[1]?.spiffeId).toBe('spiffe://lab.local/ns/default/sa/orders');
  });

  it('is empty when no mesh runs (the welcome view shows), and a placeholder while one starts', () => {
    expect(identityTree({ state: 'stopped', snapshot: undefined, rejected: 0 }, [], T0)).toEqual([]);
    expect(identityTree({ state: 'starting', snapshot: undefined, rejected: 0 }, [], T0).map((n) => n.label)).toEqual(['Starting the mesh…']);
  });

  it('adds the injected folders as a group', () => {
    const roots = identityTree({ state: 'stopped', snapshot: undefined, rejected: 0 }, [{ folder: '/w/api', service: 'api', spiffeId: 'spiffe://lab.local/ns/default/sa/api', notAfter: iso(T0 + 90_000), nextRenewal: T0 + 30_000 }], T0);
    expect(roots.map((n) => n.contextValue)).toEqual([TREE_CONTEXT.injectionGroup]);
    const [node] = roots[0]?.children ?? [];
    expect(node?.contextValue).toBe(TREE_CONTEXT.injection);
    expect(node?.description).toBe('/w/api · 1m 30s left');
    expect(node?.tooltip).toContain('Next renewal: in 30s');
    expect(node?.certFile).toBe('/w/api/svid.pem');
  });
});

describe('serviceNode', () => {
  const rows = [
    { name: 'fresh, never rotated', s: service('a'), timeLeft: '50m left (next rotation in 20m)', last: 'never · 0 rotations', icon: 'pass' },
    { name: 'rotated twice, 3 minutes ago', s: service('a', { rotations: 2, lastRotation: iso(T0 - 180_000) }), timeLeft: '50m left (next rotation in 20m)', last: '3m ago · 2 rotations', icon: 'pass' },
    { name: 'past half-life: due now', s: service('a', { notBefore: iso(T0 - 40 * 60_000), notAfter: iso(T0 + 20 * 60_000) }), timeLeft: '20m left (next rotation due now)', last: 'never · 0 rotations', icon: 'pass' },
    { name: 'expired', s: service('a', { notBefore: iso(T0 - 2 * 3_600_000), notAfter: iso(T0 - 60_000) }), timeLeft: 'expired 1m ago (next rotation due now)', last: 'never · 0 rotations', icon: 'warning' },
    { name: 'failed service', s: service('a', { state: 'failed' }), timeLeft: '50m left (next rotation in 20m)', last: 'never · 0 rotations', icon: 'error' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const node = serviceNode(r.s, T0);
      const detail = (key: string): string | undefined => node.children?.find((c) => c.id === `service/a/${key}`)?.description;
      expect(detail('timeLeft')).toBe(r.timeLeft);
      expect(detail('lastRotation')).toBe(r.last);
      expect(detail('spiffeId')).toBe('spiffe://lab.local/ns/default/sa/a');
      expect(node.icon?.id).toBe(r.icon);
    });
  }

  it('points at the certificate, never at the key', () => {
    const node = serviceNode(service('a'), T0);
    const all = [node, ...(node.children ?? [])];
    expect(all.map((n) => n.certFile).filter(Boolean)).toEqual(['/state/svids/a/svid.pem', '/state/svids/a/svid.pem']);
    expect(JSON.stringify(all)).not.toContain('svid_key.pem');
  });
});
