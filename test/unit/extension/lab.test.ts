// The Lab session: an owned daemon is started and stopped, one found running is attached to and
// left running, an unexpected exit is reported, and commands never throw.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DaemonLaunch, ProcessExit } from '../../../src/extension/daemonProcess.js';
import { Lab, redactToken } from '../../../src/extension/lab.js';
import type { OwnedDaemon } from '../../../src/extension/lab.js';
import { PanelRelay } from '../../../src/extension/panelRelay.js';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { eventually, fakeDaemon, rejection } from './fakeMesh.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function log() {
  return { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}

/** An "owned daemon" that is really the in-process control API; stop() closes it. */
async function ownedFake() {
  const daemon = await fakeDaemon();
  const exitListeners = new Set<(e: ProcessExit) => void>();
  const stop = vi.fn(async () => {
    await daemon.api.close();
    for (const l of exitListeners) l({ code: 0, signal: null });
  });
  const owned: OwnedDaemon = {
    endpoint: daemon.endpoint,
    onExit: (l) => {
      exitListeners.add(l);
      return () => exitListeners.delete(l);
    },
    stop,
  };
  cleanups.push(() => daemon.api.close());
  return { daemon, owned, stop, crash: () => exitListeners.forEach((l) => l({ code: 1, signal: null })) };
}

const runtime = { command: process.execPath, env: {} };

describe('Lab', () => {
  it('starts a daemon with up for the state folder, streams into the store, and stops it', async () => {
    const { owned, stop } = await ownedFake();
    const launches: DaemonLaunch[] = [];
    const lab = new Lab({ runtime, cliPath: '/ext/dist/cli.js', log: log(), findRunning: () => undefined, launch: async (l) => (launches.push(l), owned) });
    expect(await lab.start({ stateDir: '/state', ttl: '2m' })).toBe('owned');
    expect(launches[0]?.options).toEqual({ stateDir: '/state', ttl: '2m' });
    await eventually(() => lab.store.state === 'running');
    expect(lab.store.snapshot?.services).toHaveLength(3);
    await lab.stop();
    expect(stop).toHaveBeenCalledOnce();
    expect(lab.store.state).toBe('stopped');
    expect(lab.running).toBe(false);
  });

  it('attaches to a daemon already running for the state folder instead of starting another, and leaves it running', async () => {
    const { daemon } = await ownedFake();
    const launch = vi.fn();
    const terminate = vi.fn();
    const lab = new Lab({ runtime, cliPath: 'x', log: log(), findRunning: () => ({ ...daemon.endpoint, pid: 999999 }), launch, terminate });
    expect(await lab.start({ stateDir: '/state' })).toBe('attached');
    expect(launch).not.toHaveBeenCalled();
    await eventually(() => lab.store.state === 'running');
    await lab.dispose();
    expect(terminate).not.toHaveBeenCalled();
    expect(lab.store.state).toBe('stopped');
  });

  it('stops an attached daemon only when asked to, by SIGTERM to its pid', async () => {
    const { daemon } = await ownedFake();
    const terminate = vi.fn();
    const lab = new Lab({ runtime, cliPath: 'x', log: log(), findRunning: () => ({ ...daemon.endpoint, pid: 4321 }), terminate });
    await lab.start({ stateDir: '/state' });
    await lab.stop(true);
    expect(terminate).toHaveBeenCalledWith(4321);
  });

  it('reports a daemon that exits on its own and returns to stopped', async () => {
    const { owned, crash } = await ownedFake();
    const lab = new Lab({ runtime, cliPath: 'x', log: log(), findRunning: () => undefined, launch: async () => owned });
    const lost = vi.fn();
    lab.onDidStopUnexpectedly(lost);
    await lab.start({ stateDir: '/state' });
    crash();
    expect(lost).toHaveBeenCalledWith(expect.stringContaining('exited (code 1)'));
    expect(lab.store.state).toBe('stopped');
  });

  it('a failed start leaves the store stopped and rejects with the daemon\'s words', async () => {
    const lab = new Lab({ runtime, cliPath: 'x', log: log(), findRunning: () => undefined, launch: async () => Promise.reject(new Error('mTLS Lab: the mesh exited (code 1) before it was ready. It said: port in use')) });
    await expect(lab.start({ stateDir: '/s' })).rejects.toThrow(/port in use/);
    expect(lab.store.state).toBe('stopped');
  });

  it('commands never throw: with no mesh they fail with a sentence', async () => {
    const lab = new Lab({ runtime, cliPath: 'x', log: log(), findRunning: () => undefined });
    expect(await lab.command({ name: 'rotate' })).toMatchObject({ ok: false, code: 'not-running' });
  });

  it('carries a page\'s command end to end: page → relay → daemon → reply → page', async () => {
    const { owned, daemon } = await ownedFake();
    const lab = new Lab({ runtime, cliPath: 'x', log: log(), findRunning: () => undefined, launch: async () => owned });
    await lab.start({ stateDir: '/s' });
    const posted: ServerMessage[] = [];
    const relay = new PanelRelay({ store: lab.store, execute: (c) => lab.command(c), post: (m) => posted.push(m) });
    await eventually(() => lab.store.state === 'running');
    relay.receiveFromPage({ type: 'ready' });
    daemon.controller.emit(rejection());
    relay.receiveFromPage({ type: 'command', id: 41, command: { name: 'policy/allow', from: 'orders', to: 'payments' } });
    await eventually(() => posted.some((m) => m.type === 'reply') && posted.some((m) => m.type === 'mesh/events'));
    expect(posted[0]?.type).toBe('mesh/snapshot');
    expect(posted.find((m) => m.type === 'reply')).toEqual({ type: 'reply', id: 41, ok: true, result: { ok: true } });
    expect(daemon.controller.commands).toEqual([{ name: 'policy/allow', from: 'orders', to: 'payments' }]);
    expect(lab.store.rejected).toBe(1);
    await lab.dispose();
  });
});

describe('redactToken', () => {
  it('hides the control API token in logged lines', () => {
    expect(redactToken('Dashboard: http://127.0.0.1:4000/?token=abcdef0123456789')).toBe('Dashboard: http://127.0.0.1:4000/?token=…');
    expect(redactToken('Entry: http://127.0.0.1:4001/')).toBe('Entry: http://127.0.0.1:4001/');
  });
});
