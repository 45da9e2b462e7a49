import { describe, expect, it, vi } from 'vitest';
import type { MeshEvent } from '../../../src/core/events/types.js';
import { applyEvent, MAX_EVENTS_SINCE_SNAPSHOT, MeshStore } from '../../../src/extension/meshStore.js';
import type { StreamMessage } from '../../../src/extension/meshStore.js';
import { event, issued, rejection, snapshot, T0 } from './fakeMesh.js';

describe('MeshStore', () => {
  it('a snapshot makes the mesh running; rejections in its history count', () => {
    const store = new MeshStore();
    store.reset('starting');
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot({ recentEvents: [rejection(), issued('orders', 'start')] }) });
    expect(store.state).toBe('running');
    expect(store.rejected).toBe(1);
  });

  it('applies events to the live view and keeps the sent snapshot and the events since for a late page', () => {
    const store = new MeshStore();
    const sent = snapshot();
    store.receive({ type: 'mesh/snapshot', snapshot: sent });
    const e1 = issued('orders', 'rotation', T0 + 1000);
    const e2 = rejection();
    store.receive({ type: 'mesh/events', events: [e1, e2] });
    const orders = store.snapshot?.services.find((s) => s.name === 'orders');
    expect(orders?.serial).toBe((e1 as Extract<MeshEvent, { type: 'svid/issued' }>).serial);
    expect(orders?.rotations).toBe(1);
    expect(orders?.lastRotation).toBe(e1.time);
    expect(store.rejected).toBe(1);
    expect(store.history()?.snapshot).toBe(sent);
    expect(store.history()?.events).toEqual([e1, e2]);
  });

  it('ignores events it has seen (a re-snapshot after falling behind repeats history)', () => {
    const store = new MeshStore();
    const r = rejection();
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    store.receive({ type: 'mesh/event', event: r });
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot({ recentEvents: [r] }) });
    store.receive({ type: 'mesh/event', event: r });
    expect(store.rejected).toBe(1);
  });

  it('streams snapshots as sent and only fresh events, batched', () => {
    const store = new MeshStore();
    const seen: StreamMessage[] = [];
    store.onStream((m) => seen.push(m));
    const e = issued('orders');
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    store.receive({ type: 'mesh/event', event: e });
    store.receive({ type: 'mesh/event', event: e });
    expect(seen.map((m) => m.type)).toEqual(['mesh/snapshot', 'mesh/events']);
  });

  it('follows mesh/state events', () => {
    const store = new MeshStore();
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    store.receive({ type: 'mesh/event', event: event({ type: 'mesh/state', state: 'stopping' }) });
    expect(store.state).toBe('stopping');
  });

  it('asks for a fresh snapshot when too many events piled up since the last', () => {
    const store = new MeshStore();
    store.onOverflow = vi.fn();
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    store.receive({ type: 'mesh/events', events: Array.from({ length: MAX_EVENTS_SINCE_SNAPSHOT + 1 }, () => rejection()) });
    expect(store.onOverflow).toHaveBeenCalledOnce();
  });

  it('reset forgets the run: a new daemon numbers its events from 0 again', () => {
    const store = new MeshStore();
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot({ recentEvents: [rejection()] }) });
    store.reset();
    expect(store.state).toBe('stopped');
    expect(store.snapshot).toBeUndefined();
    expect(store.rejected).toBe(0);
    expect(store.history()).toBeUndefined();
  });
});

describe('applyEvent', () => {
  it('a start issuance is not a rotation', () => {
    const s = applyEvent(snapshot(), issued('orders', 'start'));
    expect(s.services.find((x) => x.name === 'orders')?.rotations).toBe(0);
  });
  it('service/state changes the state; unknown services and other events leave the snapshot as it is', () => {
    const base = snapshot();
    expect(applyEvent(base, event({ type: 'service/state', service: 'orders', state: 'exited', exitCode: 1 })).services[1]?.state).toBe('exited');
    expect(applyEvent(base, issued('ghost'))).toBe(base);
    expect(applyEvent(base, rejection())).toBe(base);
  });
});
