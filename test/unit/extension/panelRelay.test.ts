// The relay between the daemon's stream and one page: nothing before `ready`, then the latest
// snapshot and the events since; commands forwarded under the page's ids; never key material.
import { describe, expect, it, vi } from 'vitest';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import type { CommandOutcome } from '../../../src/extension/daemonClient.js';
import { containsKeyMaterial } from '../../../src/extension/keyMaterial.js';
import { MeshStore } from '../../../src/extension/meshStore.js';
import { PanelRelay } from '../../../src/extension/panelRelay.js';
import { issued, rejection, service, snapshot } from './fakeMesh.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';

function setup(execute: (c: unknown) => Promise<CommandOutcome> = async () => ({ ok: true, result: { done: 1 } })) {
  const store = new MeshStore();
  const posted: ServerMessage[] = [];
  const log = vi.fn();
  const exec = vi.fn(execute);
  const relay = new PanelRelay({ store, execute: exec, post: (m) => posted.push(m), log });
  return { store, posted, relay, exec, log };
}

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('PanelRelay', () => {
  it('posts nothing before the page is ready, then the latest snapshot and the queued events, in order', () => {
    const { store, posted, relay } = setup();
    const snap = snapshot();
    store.receive({ type: 'mesh/snapshot', snapshot: snap });
    const e1 = issued('orders');
    const e2 = rejection();
    store.receive({ type: 'mesh/event', event: e1 });
    store.receive({ type: 'mesh/events', events: [e2] });
    expect(posted).toEqual([]);
    relay.receiveFromPage({ type: 'ready' });
    expect(posted).toEqual([
      { type: 'mesh/snapshot', snapshot: snap },
      { type: 'mesh/events', events: [e1, e2] },
    ]);
  });

  it('after ready, forwards the live stream; a second ready (page reloaded) catches up again', () => {
    const { store, posted, relay } = setup();
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    relay.receiveFromPage({ type: 'ready' });
    const e = rejection();
    store.receive({ type: 'mesh/event', event: e });
    expect(posted.map((m) => m.type)).toEqual(['mesh/snapshot', 'mesh/events']);
    relay.receiveFromPage({ type: 'ready' });
    expect(posted.map((m) => m.type)).toEqual(['mesh/snapshot', 'mesh/events', 'mesh/snapshot', 'mesh/events']);
  });

  it('ready with no mesh posts nothing; the first snapshot then goes straight through', () => {
    const { store, posted, relay } = setup();
    relay.receiveFromPage({ type: 'ready' });
    expect(posted).toEqual([]);
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    expect(posted.map((m) => m.type)).toEqual(['mesh/snapshot']);
  });

  it('forwards page commands to the daemon and answers under the page\'s id', async () => {
    const { posted, relay, exec } = setup();
    relay.receiveFromPage({ type: 'command', id: 7, command: { name: 'attack', scenario: 'rogue-ca', target: 'payments' } });
    await flush();
    expect(exec).toHaveBeenCalledWith({ name: 'attack', scenario: 'rogue-ca', target: 'payments' });
    expect(posted).toEqual([{ type: 'reply', id: 7, ok: true, result: { done: 1 } }]);
  });

  it('passes a failure back with its code', async () => {
    const { posted, relay } = setup(async () => ({ ok: false, code: 'unknown-service', error: 'mesh: there is no service "x".' }));
    relay.receiveFromPage({ type: 'command', id: 1, command: { name: 'rotate', service: 'x' } });
    await flush();
    expect(posted).toEqual([{ type: 'reply', id: 1, ok: false, code: 'unknown-service', error: 'mesh: there is no service "x".' }]);
  });

  it('refuses a malformed command with a reply naming the problem, without bothering the daemon', () => {
    const { posted, relay, exec } = setup();
    relay.receiveFromPage({ type: 'command', id: 3, command: { name: 'attack', scenario: 'drop-tables' } });
    expect(exec).not.toHaveBeenCalled();
    expect(posted[0]).toMatchObject({ type: 'reply', id: 3, ok: false, code: 'bad-request' });
    expect((posted[0] as { error: string }).error).toContain('scenario');
  });

  it('ignores messages it does not know', () => {
    const { posted, relay, exec, log } = setup();
    relay.receiveFromPage({ type: 'eval', code: 'alert(1)' });
    relay.receiveFromPage('ready');
    expect(posted).toEqual([]);
    expect(exec).not.toHaveBeenCalled();
    expect(log).toHaveBeenCalledTimes(2);
  });

  it('never posts key material: a snapshot holding a key is dropped, a reply holding one becomes an error', async () => {
    const { store, posted, relay, log } = setup(async () => ({ ok: true, result: { key: KEY } }));
    relay.receiveFromPage({ type: 'ready' });
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot({ services: [service('leaky', { serial: KEY })] }) });
    expect(posted).toEqual([]);
    relay.receiveFromPage({ type: 'command', id: 9, command: { name: 'ca/rotate' } });
    await flush();
    expect(posted).toEqual([{ type: 'reply', id: 9, ok: false, code: 'key-material', error: 'mTLS Lab: the answer held key material and was not shown.' }]);
    expect(log).toHaveBeenCalled();
    expect(posted.some(containsKeyMaterial)).toBe(false);
  });

  it('stops posting once disposed', () => {
    const { store, posted, relay } = setup();
    relay.receiveFromPage({ type: 'ready' });
    relay.dispose();
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    expect(posted).toEqual([]);
  });
});

describe('containsKeyMaterial', () => {
  const rows = [
    { name: 'a snapshot (key paths only)', value: snapshot(), found: false },
    { name: 'a PKCS#8 PEM key', value: { x: KEY }, found: true },
    { name: 'an EC PEM key', value: '-----BEGIN EC PRIVATE KEY-----', found: true },
    { name: 'an RSA PEM key', value: ['-----BEGIN RSA PRIVATE KEY-----'], found: true },
    { name: 'a private JWK', value: { kty: 'EC', crv: 'P-256', d: 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6' }, found: true },
    { name: 'a certificate', value: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', found: false },
  ];
  for (const r of rows) it(r.name, () => expect(containsKeyMaterial(r.value)).toBe(r.found));
});
