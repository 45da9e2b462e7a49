import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { EventBus } from '../events/bus.js';
import { REJECT_REASONS, type Peer, type RejectReason } from '../events/types.js';

/** The prefix of a line by which a native service reports an event (see sample-services/README.md). */
export const NATIVE_EVENT_PREFIX = 'mtls-lab:event ';

export interface NativeEventSource {
  readonly service: string;
  readonly spiffeId: string;
  readonly logFile: string;
}

const MAX_READ = 256 * 1024;

/**
 * Follows native services' log files and turns their `mtls-lab:event {...}` lines into mesh
 * events, so a service that terminates mTLS itself reports refusals like a sidecar does. Only
 * rejections are accepted, with a known reason; anything else in the log is left alone.
 */
export class NativeEventTail {
  private readonly offsets = new Map<string, number>();
  private readonly partial = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sources: readonly NativeEventSource[],
    private readonly bus: EventBus,
    private readonly names: (spiffeId: string) => string | undefined,
    private readonly intervalMs = 100,
  ) {
    // Start at the end: lines written before this daemon started are history, not news.
    for (const s of sources) this.offsets.set(s.logFile, sizeOf(s.logFile));
  }

  start(): void {
    this.timer ??= setInterval(() => this.poll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads what was appended since the last poll and emits its events. */
  poll(): void {
    for (const s of this.sources) {
      const size = sizeOf(s.logFile);
      let offset = this.offsets.get(s.logFile) ?? 0;
      if (size < offset) offset = 0; // truncated or replaced
      if (size === offset) continue;
      const length = Math.min(size - offset, MAX_READ);
      const buf = Buffer.alloc(length);
      let fd: number | undefined;
      try {
        fd = openSync(s.logFile, 'r');
        readSync(fd, buf, 0, length, offset);
      } catch {
        continue;
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      this.offsets.set(s.logFile, offset + length);
      const text = (this.partial.get(s.logFile) ?? '') + buf.toString('utf8');
      const lines = text.split('\n');
      this.partial.set(s.logFile, lines.pop() ?? '');
      for (const line of lines) this.line(s, line);
    }
  }

  private line(s: NativeEventSource, line: string): void {
    // Only a whole line of the service's own output counts: a logged request path cannot forge one.
    if (!line.startsWith(NATIVE_EVENT_PREFIX)) return;
    const at = 0;
    let e: { type?: unknown; reason?: unknown; detail?: unknown; caller?: { spiffeId?: unknown; address?: unknown } };
    try {
      e = JSON.parse(line.slice(at + NATIVE_EVENT_PREFIX.length)) as typeof e;
    } catch {
      return;
    }
    if (e.type !== 'rejection' || typeof e.reason !== 'string' || !(REJECT_REASONS as readonly string[]).includes(e.reason)) return;
    const spiffeId = typeof e.caller?.spiffeId === 'string' ? e.caller.spiffeId : undefined;
    const address = typeof e.caller?.address === 'string' ? e.caller.address : undefined;
    const service = spiffeId ? this.names(spiffeId) : undefined;
    const caller: Peer = { ...(service ? { service } : {}), ...(spiffeId ? { spiffeId } : {}), ...(address ? { address } : {}) };
    this.bus.emit({
      type: 'rejection',
      side: 'server',
      reason: e.reason as RejectReason,
      detail: typeof e.detail === 'string' ? e.detail.slice(0, 1000) : `${s.service} refused a caller: ${e.reason}`,
      caller,
      callee: { service: s.service, spiffeId: s.spiffeId },
    });
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}
