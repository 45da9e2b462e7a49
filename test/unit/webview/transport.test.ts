import { describe, expect, it } from 'vitest';
import { createCommandClient } from '../../../webview/commands.js';
import { backoffDelay, bearerProtocol, chooseTransport, eventsUrl, tokenFromSearch, webSocketTransport } from '../../../webview/transport.js';
import type { SocketLike, TransportStatus, VsCodeApi } from '../../../webview/transport.js';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: string[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { readonly data: unknown }) => void) | null = null;
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: readonly string[] = [],
  ) {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(value: unknown): void {
    this.onmessage?.({ data: JSON.stringify(value) });
  }
}

function rig() {
  const sockets: FakeSocket[] = [];
  const timers: { run: () => void; ms: number }[] = [];
  const statuses: TransportStatus[] = [];
  const t = webSocketTransport('ws://127.0.0.1:9/api/events', {
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: () => 0.5,
    setTimer: (run, ms) => timers.push({ run, ms }),
    clearTimer: () => undefined,
  });
  t.onStatus((s) => statuses.push(s));
  return { t, sockets, timers, statuses };
}

describe('webSocketTransport', () => {
  it('says ready on every (re)connect and backs off exponentially, resetting once connected', () => {
    const { t, sockets, timers, statuses } = rig();
    sockets[0]!.open();
    expect(sockets[0]!.sent).toEqual(['{"type":"ready"}']);
    sockets[0]!.close(1006, 'gone');
    sockets.length = 1;
    expect(timers.map((x) => x.ms)).toEqual([500]);
    timers[0]!.run();
    sockets[1]!.close(1006, '');
    timers[1]!.run();
    sockets[2]!.close(1006, '');
    expect(timers.map((x) => x.ms)).toEqual([500, 1000, 2000]);
    timers[2]!.run();
    sockets[3]!.open();
    expect(sockets[3]!.sent).toEqual(['{"type":"ready"}']);
    sockets[3]!.close(1001, '');
    expect(timers[3]!.ms).toBe(500);
    expect(statuses.map((s) => s.state)).toContain('closed');
    expect(statuses.find((s) => s.state === 'closed')).toMatchObject({ reason: 'gone', retryInMs: 500 });
    t.dispose();
    expect(t.status.state).toBe('disposed');
  });

  it('delivers only well-formed server messages', () => {
    const { t, sockets } = rig();
    const got: string[] = [];
    t.onMessage((m) => got.push(m.type));
    sockets[0]!.open();
    sockets[0]!.onmessage?.({ data: 'not json' });
    sockets[0]!.receive({ type: 'mesh/event', event: { type: 'nonsense', seq: 1, time: 'x' } });
    sockets[0]!.receive({ type: 'mesh/events', events: [] });
    sockets[0]!.receive({ type: 'reply', id: 1, ok: true });
    expect(got).toEqual(['mesh/events', 'reply']);
    t.dispose();
  });

  it('caps the delay', () => {
    expect(backoffDelay(30, 500, 10_000, () => 1)).toBe(10_000);
    expect(backoffDelay(1, 500, 10_000, () => 0)).toBe(400);
  });
});

describe('commands over a transport', () => {
  it('settles a command with the reply of its id, and fails pending ones when the connection drops', async () => {
    const { t, sockets } = rig();
    sockets[0]!.open();
    const client = createCommandClient(t, { setTimer: () => 0, clearTimer: () => undefined });
    const rotate = client.run({ name: 'rotate', service: 'orders' });
    const sent = JSON.parse(sockets[0]!.sent[1]!) as { id: number; command: unknown };
    expect(sent.command).toEqual({ name: 'rotate', service: 'orders' });
    sockets[0]!.receive({ type: 'reply', id: sent.id, ok: false, error: 'ca: busy.', code: 'busy' });
    await expect(rotate).resolves.toEqual({ ok: false, result: undefined, error: 'ca: busy.', code: 'busy' });
    const pending = client.run({ name: 'ca/rotate' });
    sockets[0]!.close(1006, '');
    await expect(pending).resolves.toMatchObject({ ok: false, code: 'disconnected' });
    await expect(client.run({ name: 'ca/rotate' })).resolves.toMatchObject({ ok: false, code: 'disconnected' });
    client.dispose();
    t.dispose();
  });
});

describe('chooseTransport', () => {
  it('uses postMessage in VS Code and says ready', async () => {
    const posted: unknown[] = [];
    const listeners: ((e: { data: unknown }) => void)[] = [];
    const api: VsCodeApi = { postMessage: (m) => posted.push(m), getState: () => undefined, setState: () => undefined };
    const t = chooseTransport({
      acquireVsCodeApi: () => api,
      location: { protocol: 'vscode-webview:', host: 'x', search: '?token=0123456789abcdef' },
      host: { addEventListener: (_t, l) => listeners.push(l), removeEventListener: () => undefined },
    });
    const got: string[] = [];
    t.onMessage((m) => got.push(m.type));
    await Promise.resolve();
    expect(posted).toEqual([{ type: 'ready' }]);
    listeners[0]!({ data: { type: 'reply', id: 3, ok: true } });
    listeners[0]!({ data: { type: 'evil' } });
    expect(got).toEqual(['reply']);
    expect(t.send({ type: 'command', id: 1, command: { name: 'ca/rotate' } })).toBe(true);
    t.dispose();
  });

  interface BrowserRow {
    readonly name: string;
    readonly search: string;
    readonly protocols: readonly string[];
  }
  const browserRows: readonly BrowserRow[] = [
    { name: 'the token of the address, as the bearer subprotocol', search: '?token=0123456789abcdef-._~', protocols: ['mtls-lab.bearer.0123456789abcdef-._~'] },
    { name: 'the token among other parameters', search: '?view=graph&token=abcdef0123456789', protocols: ['mtls-lab.bearer.abcdef0123456789'] },
    { name: 'no subprotocol without a token', search: '', protocols: [] },
    { name: 'no subprotocol for a token no daemon issues', search: '?token=a%2Cb%20c', protocols: [] },
  ];
  it.each(browserRows)('in a browser offers $name, on every reconnect, never in the URL', (row) => {
    const sockets: FakeSocket[] = [];
    const timers: (() => void)[] = [];
    const t = chooseTransport(
      { location: { protocol: 'http:', host: '127.0.0.1:4000', search: row.search }, host: { addEventListener: () => undefined, removeEventListener: () => undefined } },
      {
        createSocket: (url, protocols) => {
          const s = new FakeSocket(url, protocols);
          sockets.push(s);
          return s;
        },
        setTimer: (run) => timers.push(run),
        clearTimer: () => undefined,
        random: () => 0.5,
      },
    );
    sockets[0]!.close(1006, '');
    timers[0]!();
    expect(sockets.map((s) => s.url)).toEqual(['ws://127.0.0.1:4000/api/events', 'ws://127.0.0.1:4000/api/events']);
    expect(sockets.map((s) => s.protocols)).toEqual([row.protocols, row.protocols]);
    t.dispose();
  });

  it('reads the token from the address', () => {
    expect(tokenFromSearch('?token=abc')).toBe('abc');
    expect(tokenFromSearch('?token=')).toBeUndefined();
    expect(tokenFromSearch('')).toBeUndefined();
    expect(bearerProtocol('abc')).toBe('mtls-lab.bearer.abc');
  });

  it('otherwise connects to the daemon it was served from', () => {
    expect(eventsUrl({ protocol: 'http:', host: '127.0.0.1:4000' })).toBe('ws://127.0.0.1:4000/api/events');
    expect(eventsUrl({ protocol: 'https:', host: 'lab.example' })).toBe('wss://lab.example/api/events');
  });
});
