// What the canvas writes on nodes and edges. DOM-free, so tests read the same words.
import { formatDuration, formatDurationCoarse, formatRate } from './format.js';
import { edgeRate } from './store.js';
import type { EdgeView, NodeView } from './store.js';

/**
 * The label lines of a node: name, identity, and mode with the certificate's time left. `coarse`
 * (for big graphs) counts whole minutes, so 200 labels do not all change every second.
 */
export function nodeLabel(n: NodeView, now: number, coarse = false): string {
  if (n.kind === 'intruder') {
    const last = n.presented[n.presented.length - 1];
    return `${n.name}\n${last === undefined ? 'no identity' : `presents ${splitId(last)}`}\n${n.attacks} attack${n.attacks === 1 ? '' : 's'}${n.breaches > 0 ? `, ${n.breaches} got through` : ''}`;
  }
  if (n.kind === 'outside') return `${n.name}\n${n.presented[n.presented.length - 1] ?? 'no identity'}`;
  const left = n.cert === undefined ? 'no SVID' : (coarse ? formatDurationCoarse : formatDuration)(n.cert.notAfter - now);
  const state = n.state === 'running' ? '' : ` · ${n.state}`;
  return `${n.name}\n${splitId(n.spiffeId ?? '')}\n${n.mode ?? ''} · ${left}${state}`;
}

/** A SPIFFE ID on two lines, trust domain then path, so neighbouring labels do not collide. */
function splitId(id: string): string {
  const m = /^(spiffe:\/\/[^/]+)(\/.*)$/.exec(id);
  return m === null ? id : `${m[1]}\n${m[2]}`;
}

/**
 * The label of an edge: a lock and the rate when mutual TLS was verified, the reason when
 * rejected. `coarse` (for big graphs) leaves the rate to the text view, so the label changes only
 * with the edge's state.
 */
export function edgeLabel(e: EdgeView, now: number, coarse = false): string {
  switch (e.state) {
    case 'idle':
      return '';
    case 'rejected': {
      const last = e.recentRejections[e.recentRejections.length - 1];
      return `✕ ${last?.reason ?? 'rejected'}`;
    }
    case 'breached':
      return '⚠ attack got through';
    case 'locked':
      // The lock itself is drawn beside the label by the graph's overlay.
      return coarse ? 'mTLS' : `mTLS ${formatRate(edgeRate(e, now))}/s`;
    case 'ok':
      return coarse ? 'plaintext' : `plaintext ${formatRate(edgeRate(e, now))}/s`;
  }
}

/** The current certificate's life left, 0..100, in steps of `step`. */
export function lifePercent(n: NodeView, now: number, step = 1): number {
  const c = n.cert;
  if (c === undefined || c.notAfter <= c.notBefore) return 0;
  const pct = Math.max(0, Math.min(100, ((c.notAfter - now) / (c.notAfter - c.notBefore)) * 100));
  return Math.round(pct / step) * step;
}

