// A client of the daemon's control API for the extension host: one WebSocket on /api/events
// (Bearer token, no Origin: this is not a browser) carrying the snapshot, the event stream and
// commands with replies; and GET /api/state for a one-off read.
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { isMeshSnapshot, isServerMessage } from '../protocol/messages.js';
import type { MeshCommand, ServerMessage } from '../protocol/messages.js';
import type { MeshSnapshot } from '../protocol/snapshot.js';
import type { DaemonEndpoint } from './daemonProcess.js';

/** A command's outcome as the daemon reported it. */
export interface CommandOutcome {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
  readonly code?: string;
}

/** The narrow surface the rest of the extension needs; tests supply an in-memory one. */
export interface DaemonConnection {
  /** Every notification (snapshot, event, events) in the order the daemon sent it. Replies are not included. */
  onMessage(listener: (message: ServerMessage) => void): () => void;
  /** Once, when the connection ends for any reason. */
  onClose(listener: (reason: string) => void): () => void;
  /** Sends a command and resolves with the daemon's reply (or a failed outcome when the connection ends or the reply is late). */
  command(command: MeshCommand): Promise<CommandOutcome>;
  /** Asks the daemon for a fresh snapshot (it answers `ready` with one). */
  requestSnapshot(): void;
  close(): void;
}

export interface ConnectOptions {
  /** How long a command may wait for its reply. Default 120 s (an attack waits for the mesh to judge it). */
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

function eventsUrl(endpoint: DaemonEndpoint): string {
  return `ws://127.0.0.1:${endpoint.port}/api/events`;
}

/** Opens the event stream; resolves once the WebSocket is open (the snapshot follows as the first message). */
export function connectDaemon(endpoint: DaemonEndpoint, options: ConnectOptions = {}): Promise<DaemonConnection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(eventsUrl(endpoint), {
      headers: { Authorization: `Bearer ${endpoint.token}` },
      handshakeTimeout: options.connectTimeoutMs ?? 10_000,
      perMessageDeflate: false,
    });
    let opened = false;
    ws.once('open', () => {
      opened = true;
      resolve(new WsConnection(ws, options.commandTimeoutMs ?? 120_000));
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`mTLS Lab: the daemon on port ${endpoint.port} refused the event stream (HTTP ${res.statusCode ?? '?'}); is it the one this state folder names?`));
      ws.terminate();
    });
    ws.once('error', (err) => {
      if (!opened) reject(new Error(`mTLS Lab: cannot reach the daemon on 127.0.0.1:${endpoint.port}: ${err.message}.`));
    });
  });
}

interface Pending {
  readonly resolve: (outcome: CommandOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

class WsConnection implements DaemonConnection {
  private readonly messageListeners = new Set<(m: ServerMessage) => void>();
  private readonly closeListeners = new Set<(reason: string) => void>();
  private readonly pending = new Map<number, Pending>();
  // The snapshot can arrive in the same tick as the upgrade, before anyone could subscribe: held until the first listener.
  private early: ServerMessage[] | undefined = [];
  private nextId = 1;
  private closedReason: string | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly commandTimeoutMs: number,
  ) {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) this.receive(data.toString());
    });
    ws.on('error', () => ws.terminate());
    ws.once('close', (code: number, reason: Buffer) => this.closed(reason.toString() || `the connection closed (${code})`));
  }

  private receive(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return;
    }
    if (!isServerMessage(value)) return;
    if (value.type === 'reply') {
      const p = this.pending.get(value.id);
      if (p === undefined) return;
      this.pending.delete(value.id);
      clearTimeout(p.timer);
      p.resolve({
        ok: value.ok,
        ...(value.result === undefined ? {} : { result: value.result }),
        ...(value.error === undefined ? {} : { error: value.error }),
        ...(value.code === undefined ? {} : { code: value.code }),
      });
      return;
    }
    if (this.early !== undefined) this.early.push(value);
    else for (const l of this.messageListeners) l(value);
  }

  private closed(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({ ok: false, code: 'disconnected', error: `mTLS Lab: the daemon went away before it answered (${reason}).` });
    }
    this.pending.clear();
    for (const l of this.closeListeners) l(reason);
    this.closeListeners.clear();
  }

  onMessage(listener: (message: ServerMessage) => void): () => void {
    this.messageListeners.add(listener);
    const early = this.early;
    this.early = undefined;
    for (const m of early ?? []) listener(m);
    return () => this.messageListeners.delete(listener);
  }

  onClose(listener: (reason: string) => void): () => void {
    if (this.closedReason !== undefined) {
      listener(this.closedReason);
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  command(command: MeshCommand): Promise<CommandOutcome> {
    if (this.closedReason !== undefined || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.resolve({ ok: false, code: 'disconnected', error: 'mTLS Lab: no mesh is running; start one first.' });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ok: false, code: 'timeout', error: `mTLS Lab: the daemon did not answer ${command.name} within ${Math.round(this.commandTimeoutMs / 1000)} s.` });
      }, this.commandTimeoutMs);
      this.pending.set(id, { resolve, timer });
      this.ws.send(JSON.stringify({ type: 'command', id, command }));
    });
  }

  requestSnapshot(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'ready' }));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    this.closed('closed by the extension');
  }
}

/** GET /api/state: the mesh as it is now. */
export async function fetchState(endpoint: DaemonEndpoint, fetchImpl: typeof fetch = fetch): Promise<MeshSnapshot> {
  const res = await fetchImpl(`http://127.0.0.1:${endpoint.port}/api/state`, { headers: { Authorization: `Bearer ${endpoint.token}` } });
  if (!res.ok) throw new Error(`mTLS Lab: GET /api/state answered HTTP ${res.status}.`);
  const body: unknown = await res.json();
  if (!isMeshSnapshot(body)) throw new Error('mTLS Lab: GET /api/state answered something that is not a mesh snapshot.');
  return body;
}
