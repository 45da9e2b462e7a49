import type { MeshEvent, MeshEventInput } from './types.js';

export type Listener = (event: MeshEvent) => void;

/** Stamps events with a sequence number and time, and hands them to listeners synchronously. */
export class EventBus {
  private seq = 0;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  emit(input: MeshEventInput): MeshEvent {
    const event = { ...input, seq: ++this.seq, time: this.now().toISOString() } as MeshEvent;
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A broken listener must not stop the others or the emitter.
      }
    }
    return event;
  }

  /** Returns a function that unsubscribes. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
