// Requests with replies over a Transport: each command gets an id, and its promise settles with
// the server's `reply` of the same id, or with a failure when the connection drops or it times out.
import type { CommandReply, MeshCommand } from '../src/protocol/messages.js';
import type { Transport } from './transport.js';

export interface CommandOutcome {
  readonly ok: boolean;
  readonly result?: unknown;
  /** A sentence for people when `ok` is false. */
  readonly error?: string;
  readonly code?: string;
}

export interface CommandClient {
  run(command: MeshCommand): Promise<CommandOutcome>;
  dispose(): void;
}

export interface CommandClientOptions {
  readonly timeoutMs?: number;
  readonly setTimer?: (run: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
}

export function createCommandClient(transport: Transport, options: CommandClientOptions = {}): CommandClient {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const setTimer = options.setTimer ?? ((run: () => void, ms: number): unknown => setTimeout(run, ms));
  const clearTimer = options.clearTimer ?? ((h: unknown): void => clearTimeout(h as ReturnType<typeof setTimeout>));
  const pending = new Map<number, { resolve: (o: CommandOutcome) => void; timer: unknown }>();
  let nextId = 1;

  const settle = (id: number, outcome: CommandOutcome): void => {
    const p = pending.get(id);
    if (p === undefined) return;
    pending.delete(id);
    clearTimer(p.timer);
    p.resolve(outcome);
  };
  const failAll = (error: string, code: string): void => {
    for (const id of [...pending.keys()]) settle(id, { ok: false, error, code });
  };

  const offMessage = transport.onMessage((m) => {
    if (m.type !== 'reply') return;
    const r: CommandReply = m;
    settle(r.id, { ok: r.ok, result: r.result, error: r.error, code: r.code });
  });
  const offStatus = transport.onStatus((s) => {
    if (s.state === 'closed' || s.state === 'disposed') failAll('The connection to the mesh closed before it answered; try again once it reconnects.', 'disconnected');
  });

  return {
    run(command) {
      const id = nextId++;
      return new Promise<CommandOutcome>((resolve) => {
        const timer = setTimer(() => settle(id, { ok: false, error: `The mesh did not answer within ${Math.round(timeoutMs / 1000)} s.`, code: 'timeout' }), timeoutMs);
        pending.set(id, { resolve, timer });
        if (!transport.send({ type: 'command', id, command })) {
          settle(id, { ok: false, error: 'Not connected to the mesh; the command was not sent.', code: 'disconnected' });
        }
      });
    },
    dispose() {
      offMessage();
      offStatus();
      failAll('The page closed.', 'disposed');
    },
  };
}
