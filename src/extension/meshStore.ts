// What the extension knows about the mesh: the daemon's last snapshot as sent, the events since
// (so a page that opens late is brought up to date), and a live view with those events applied
// (for the tree and the status bar). vscode-free.
import type { MeshEvent } from '../core/events/types.js';
import type { ServerMessage } from '../protocol/messages.js';
import type { MeshSnapshot, ServiceSnapshot } from '../protocol/snapshot.js';

/** What a page is sent from the stream (replies travel separately). */
export type StreamMessage = Extract<ServerMessage, { type: 'mesh/snapshot' | 'mesh/events' }>;

export type LabState = 'stopped' | 'starting' | 'running' | 'stopping';

/** Events kept after the last snapshot before the store asks the daemon for a fresh one. */
export const MAX_EVENTS_SINCE_SNAPSHOT = 2000;

export interface StoreView {
  readonly state: LabState;
  /** The snapshot with every later event applied. */
  readonly snapshot: MeshSnapshot | undefined;
  /** Rejections seen on this daemon (from its recent history and the live stream). */
  readonly rejected: number;
}

export class MeshStore implements StoreView {
  private labState: LabState = 'stopped';
  private sent: MeshSnapshot | undefined;
  private live: MeshSnapshot | undefined;
  private since: MeshEvent[] = [];
  private lastSeq = -1;
  private rejections = 0;
  private readonly changeListeners = new Set<() => void>();
  private readonly eventListeners = new Set<(events: readonly MeshEvent[]) => void>();
  private readonly streamListeners = new Set<(message: StreamMessage) => void>();
  /** Called when the events since the last snapshot exceed the cap; the owner asks the daemon for a fresh one. */
  onOverflow: () => void = () => undefined;

  get state(): LabState {
    return this.labState;
  }

  get snapshot(): MeshSnapshot | undefined {
    return this.live;
  }

  get rejected(): number {
    return this.rejections;
  }

  /** The daemon's last snapshot exactly as sent, and the events after it: what a page needs to catch up. */
  history(): { readonly snapshot: MeshSnapshot; readonly events: readonly MeshEvent[] } | undefined {
    return this.sent === undefined ? undefined : { snapshot: this.sent, events: this.since };
  }

  onDidChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** New events, in order, after they were applied. */
  onEvents(listener: (events: readonly MeshEvent[]) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /**
   * The stream as a page should see it: each snapshot as sent, then only events it has not seen
   * (batched as `mesh/events`). The relay forwards these to the webview.
   */
  onStream(listener: (message: StreamMessage) => void): () => void {
    this.streamListeners.add(listener);
    return () => this.streamListeners.delete(listener);
  }

  setState(state: LabState): void {
    if (state === this.labState) return;
    this.labState = state;
    this.changed();
  }

  /** Forgets everything: a new daemon run numbers its events from the start again. */
  reset(state: LabState = 'stopped'): void {
    this.labState = state;
    this.sent = undefined;
    this.live = undefined;
    this.since = [];
    this.lastSeq = -1;
    this.rejections = 0;
    this.changed();
  }

  /** Takes one message from the daemon's stream. Replies are not the store's business. */
  receive(message: ServerMessage): void {
    switch (message.type) {
      case 'mesh/snapshot':
        return this.applySnapshot(message.snapshot);
      case 'mesh/event':
        return this.applyEvents([message.event]);
      case 'mesh/events':
        return this.applyEvents(message.events);
      default:
        return;
    }
  }

  private applySnapshot(snapshot: MeshSnapshot): void {
    this.sent = snapshot;
    this.since = [];
    this.live = snapshot;
    const unseen = snapshot.recentEvents.filter((e) => e.seq > this.lastSeq);
    for (const e of unseen) if (e.type === 'rejection') this.rejections++;
    for (const e of snapshot.recentEvents) this.lastSeq = Math.max(this.lastSeq, e.seq);
    if (this.labState === 'stopped' || this.labState === 'starting') this.labState = 'running';
    this.changed();
    for (const l of this.streamListeners) l({ type: 'mesh/snapshot', snapshot });
    if (unseen.length > 0) this.emit(unseen);
  }

  private applyEvents(events: readonly MeshEvent[]): void {
    const fresh = events.filter((e) => e.seq > this.lastSeq);
    if (fresh.length === 0) return;
    this.lastSeq = fresh[fresh.length - 1]?.seq ?? this.lastSeq;
    if (this.sent !== undefined) this.since.push(...fresh);
    let live = this.live;
    for (const e of fresh) {
      if (e.type === 'rejection') this.rejections++;
      if (e.type === 'mesh/state') this.labState = e.state === 'ready' ? 'running' : e.state === 'starting' ? 'starting' : e.state === 'stopping' ? 'stopping' : 'stopped';
      if (live !== undefined) live = applyEvent(live, e);
    }
    this.live = live;
    this.changed();
    for (const l of this.streamListeners) l({ type: 'mesh/events', events: fresh });
    this.emit(fresh);
    if (this.since.length > MAX_EVENTS_SINCE_SNAPSHOT) this.onOverflow();
  }

  private changed(): void {
    for (const l of this.changeListeners) l();
  }

  private emit(events: readonly MeshEvent[]): void {
    for (const l of this.eventListeners) l(events);
  }
}

function updateService(snapshot: MeshSnapshot, name: string, update: (s: ServiceSnapshot) => ServiceSnapshot): MeshSnapshot {
  if (!snapshot.services.some((s) => s.name === name)) return snapshot;
  return { ...snapshot, services: snapshot.services.map((s) => (s.name === name ? update(s) : s)) };
}

/** The snapshot as it is after `event`: SVIDs renewed and service states changed. Other events leave it as it is. */
export function applyEvent(snapshot: MeshSnapshot, event: MeshEvent): MeshSnapshot {
  switch (event.type) {
    case 'svid/issued':
      return updateService(snapshot, event.service, (s) => ({
        ...s,
        serial: event.serial,
        notBefore: event.notBefore,
        notAfter: event.notAfter,
        ...(event.cause === 'start' ? {} : { rotations: s.rotations + 1, lastRotation: event.time }),
      }));
    case 'service/state':
      return updateService(snapshot, event.service, (s) => ({ ...s, state: event.state, pid: event.pid }));
    default:
      return snapshot;
  }
}
