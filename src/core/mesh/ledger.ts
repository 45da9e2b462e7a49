// The callee's sidecar knows why it refused a connection; the caller's sidecar only sees the
// connection close (TLS 1.3 finishes the client's side of the handshake before the server has
// judged the client certificate, and Node cannot send a certificate alert after that). All
// sidecars of one mesh run in one process, so the callee leaves the reason here, keyed by the
// caller's source port on 127.0.0.1, and the caller takes it when its connection closes.
import type { Peer, RejectReason } from '../events/types.js';

/** What the callee's sidecar recorded about a connection it refused. */
export interface LedgerEntry {
  readonly reason: RejectReason;
  readonly detail: string;
  readonly caller: Peer;
  readonly callee: Peer;
  /** The policy rule, for denied-by-policy. */
  readonly rule?: string;
  /** When it was recorded (ms since the epoch, from the ledger's clock). */
  readonly at: number;
}

export interface RejectionLedgerOptions {
  /** How long an entry waits for its caller; default 10 s. Entries for callers that are not sidecars (curl, an attacker) expire. */
  readonly ttlMs?: number;
  /** At most this many entries; the oldest go first. Default 1024. */
  readonly capacity?: number;
  readonly now?: () => number;
}

const DEFAULT_TTL_MS = 10_000;
const DEFAULT_CAPACITY = 1024;

/** Refusals recorded by callee sidecars, waiting for the caller sidecar on the same source port. Shared by all sidecars of one mesh. */
export class RejectionLedger {
  private readonly entries = new Map<number, LedgerEntry>();
  private readonly ttlMs: number;
  private readonly capacity: number;
  private readonly now: () => number;

  constructor(o: RejectionLedgerOptions = {}) {
    this.ttlMs = o.ttlMs ?? DEFAULT_TTL_MS;
    this.capacity = Math.max(1, o.capacity ?? DEFAULT_CAPACITY);
    this.now = o.now ?? Date.now;
  }

  /** Records why the connection from `sourcePort` was refused, replacing an older entry for that port. */
  record(sourcePort: number, entry: Omit<LedgerEntry, 'at'>): void {
    this.entries.delete(sourcePort);
    this.entries.set(sourcePort, { ...entry, at: this.now() });
    // Map iteration is insertion order, so the first keys are the oldest.
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  /**
   * Removes and returns the entry for `sourcePort` when it was recorded at or after `since` and has
   * not expired: a port is reused by later connections, and an old refusal must not be blamed on them.
   */
  take(sourcePort: number, since = 0): LedgerEntry | undefined {
    const entry = this.entries.get(sourcePort);
    if (entry === undefined) return undefined;
    this.entries.delete(sourcePort);
    if (entry.at < since || this.now() - entry.at > this.ttlMs) return undefined;
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }
}
