// Relays the daemon's stream to one webview page and the page's commands back to the daemon. The
// page says `ready` when it listens; until then nothing is posted (the store keeps the snapshot and
// the events since, which is the queue), and on every `ready` the page gets the latest snapshot
// and the events after it. Commands from the page go to the daemon under the host's own ids and
// their replies come back under the page's. vscode-free: the page is a `post` function.
import { checkMeshCommand, isClientMessage } from '../protocol/messages.js';
import type { CommandReply, MeshCommand, ServerMessage } from '../protocol/messages.js';
import type { CommandOutcome } from './daemonClient.js';
import { containsKeyMaterial } from './keyMaterial.js';
import type { MeshStore } from './meshStore.js';

export interface RelayDeps {
  readonly store: Pick<MeshStore, 'history' | 'onStream'>;
  readonly execute: (command: MeshCommand) => Promise<CommandOutcome>;
  /** Posts to the page (webview.postMessage). */
  readonly post: (message: ServerMessage) => unknown;
  readonly log?: (message: string) => void;
}

export class PanelRelay {
  private ready = false;
  private disposed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: RelayDeps) {
    this.unsubscribe = deps.store.onStream((m) => {
      if (this.ready) this.send(m);
    });
  }

  /** Whether the page has said `ready` (and so gets the live stream). */
  get isReady(): boolean {
    return this.ready;
  }

  /** A message from the page, untrusted. */
  receiveFromPage(message: unknown): void {
    if (this.disposed) return;
    if (!isClientMessage(message)) {
      const v = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
      const id = v['id'];
      if (v['type'] === 'command' && typeof id === 'number' && Number.isSafeInteger(id)) {
        const check = checkMeshCommand(v['command']);
        this.send({ type: 'reply', id, ok: false, code: 'bad-request', error: `mTLS Lab: ${check.ok ? 'the message is malformed' : check.problem}.` });
      } else {
        this.deps.log?.(`The graph page sent a message mTLS Lab does not know; it was ignored.`);
      }
      return;
    }
    if (message.type === 'ready') {
      this.ready = true;
      this.catchUp();
      return;
    }
    const { id, command } = message;
    this.deps
      .execute(command)
      .catch((err: unknown): CommandOutcome => ({ ok: false, code: 'failed', error: err instanceof Error ? err.message : String(err) }))
      .then((outcome) => {
        const reply: CommandReply = {
          type: 'reply',
          id,
          ok: outcome.ok,
          ...(outcome.result === undefined ? {} : { result: outcome.result }),
          ...(outcome.error === undefined ? {} : { error: outcome.error }),
          ...(outcome.code === undefined ? {} : { code: outcome.code }),
        };
        this.send(reply);
      });
  }

  /** Sends the latest snapshot and the events after it. */
  private catchUp(): void {
    const h = this.deps.store.history();
    if (h === undefined) return;
    this.send({ type: 'mesh/snapshot', snapshot: h.snapshot });
    if (h.events.length > 0) this.send({ type: 'mesh/events', events: h.events });
  }

  private send(message: ServerMessage): void {
    if (this.disposed) return;
    if (containsKeyMaterial(message)) {
      this.deps.log?.(`mTLS Lab refused to post a ${message.type} message to the graph page: it held key material.`);
      if (message.type === 'reply') {
        this.deps.post({ type: 'reply', id: message.id, ok: false, code: 'key-material', error: 'mTLS Lab: the answer held key material and was not shown.' });
      }
      return;
    }
    this.deps.post(message);
  }

  dispose(): void {
    this.disposed = true;
    this.unsubscribe();
  }
}
