// The client against the real control API (in-process, over an in-memory mesh): Bearer token,
// no Origin, snapshot first, events in order, commands with replies, GET /api/state.
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../../src/protocol/messages.js';
import { connectDaemon, fetchState } from '../../../src/extension/daemonClient.js';
import type { DaemonConnection } from '../../../src/extension/daemonClient.js';
import { eventually, fakeDaemon, issued, rejection, snapshot } from './fakeMesh.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function connected(): Promise<{ connection: DaemonConnection; messages: ServerMessage[]; daemon: Awaited<ReturnType<typeof fakeDaemon>> }> {
  const daemon = await fakeDaemon();
  cleanups.push(() => daemon.api.close());
  const connection = await connectDaemon(daemon.endpoint);
  cleanups.push(() => connection.close());
  const messages: ServerMessage[] = [];
  connection.onMessage((m) => messages.push(m));
  return { connection, messages, daemon };
}

describe('connectDaemon', () => {
  it('gets the snapshot first, then every event in order', async () => {
    const { messages, daemon } = await connected();
    await eventually(() => messages.length === 1);
    expect(messages[0]).toEqual({ type: 'mesh/snapshot', snapshot: snapshot() });
    const events = [issued('orders'), rejection(), issued('billing')];
    for (const e of events) daemon.controller.emit(e);
    await eventually(() => messages.slice(1).flatMap((m) => (m.type === 'mesh/events' ? m.events : m.type === 'mesh/event' ? [m.event] : [])).length === 3);
    const got = messages.slice(1).flatMap((m) => (m.type === 'mesh/events' ? m.events : m.type === 'mesh/event' ? [m.event] : []));
    expect(got).toEqual(events);
  });

  it('runs commands and resolves with the daemon\'s reply', async () => {
    const { connection, daemon } = await connected();
    const outcome = await connection.command({ name: 'attack', scenario: 'impostor-no-cert' });
    expect(outcome).toEqual({ ok: true, result: { scenario: 'impostor-no-cert', target: 'payments', rejected: true, reason: 'no-client-cert', detail: 'payments refused it.' } });
    daemon.controller.result = () => {
      throw Object.assign(new Error('mesh: there is no service "ghost".'), { code: 'unknown-service' });
    };
    const failed = await connection.command({ name: 'rotate', service: 'ghost' });
    expect(failed).toMatchObject({ ok: false, code: 'unknown-service' });
    expect(daemon.controller.commands).toEqual([{ name: 'attack', scenario: 'impostor-no-cert' }, { name: 'rotate', service: 'ghost' }]);
  });

  it('asks for a fresh snapshot with ready', async () => {
    const { connection, messages } = await connected();
    await eventually(() => messages.length === 1);
    connection.requestSnapshot();
    await eventually(() => messages.length === 2);
    expect(messages[1]?.type).toBe('mesh/snapshot');
  });

  it('is refused with a wrong token', async () => {
    const daemon = await fakeDaemon();
    cleanups.push(() => daemon.api.close());
    await expect(connectDaemon({ ...daemon.endpoint, token: 'x'.repeat(64) })).rejects.toThrow(/refused the event stream \(HTTP 401\)/);
  });

  it('reports the end of the connection, and fails commands in flight instead of hanging', async () => {
    const { connection, daemon } = await connected();
    let closed = '';
    connection.onClose((r) => (closed = r));
    daemon.controller.result = () => new Promise(() => undefined);
    const pending = connection.command({ name: 'ca/rotate' });
    await eventually(() => daemon.controller.commands.length === 1);
    await daemon.api.close();
    expect(await pending).toMatchObject({ ok: false, code: 'disconnected' });
    await eventually(() => closed !== '');
    expect(await connection.command({ name: 'rotate' })).toMatchObject({ ok: false });
  });
});

describe('fetchState', () => {
  it('reads GET /api/state with the Bearer token', async () => {
    const daemon = await fakeDaemon();
    cleanups.push(() => daemon.api.close());
    expect(await fetchState(daemon.endpoint)).toEqual(snapshot());
    await expect(fetchState({ ...daemon.endpoint, token: 'y'.repeat(64) })).rejects.toThrow(/HTTP 401/);
  });
});
