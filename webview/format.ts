// Words and numbers for people: durations, rates, and one sentence per event. Pure functions, so
// the canvas, the text view and the tests all say the same thing.
import type { MeshEvent, Peer } from '../src/core/events/types.js';

/** "1h 02m", "12m 03s", "45s", or "expired" when `ms` is not positive. */
export function formatDuration(ms: number): string {
  if (!(ms > 0)) return 'expired';
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Whole minutes above a minute ("1h 02m", "12m"), seconds below: a label that changes rarely. */
export function formatDurationCoarse(ms: number): string {
  if (!(ms > 0)) return 'expired';
  if (ms < 60_000) return formatDuration(ms);
  const total = Math.floor(ms / 60_000);
  const h = Math.floor(total / 60);
  const m = total % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m`;
}

/** Requests per second with a precision that does not flicker: "0", "0.4", "12", "1.2k". */
export function formatRate(perSecond: number): string {
  if (!(perSecond > 0)) return '0';
  if (perSecond < 10) return (Math.round(perSecond * 10) / 10).toString();
  if (perSecond < 1000) return Math.round(perSecond).toString();
  return `${(Math.round(perSecond / 100) / 10).toString()}k`;
}

/** HH:MM:SS in the viewer's time zone. */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** A peer the way a person names it: its service, else its SPIFFE ID, else where it came from. */
export function peerName(peer: Peer): string {
  return peer.service ?? peer.spiffeId ?? peer.address ?? 'an unknown peer';
}

/** One sentence per event, with the reason for every failure. */
export function describeEvent(e: MeshEvent): string {
  switch (e.type) {
    case 'svid/issued':
      return e.previousSerial === undefined
        ? `${e.service} got SVID ${e.serial} (${e.cause})`
        : `${e.service} rotated SVID ${e.previousSerial} → ${e.serial} (${e.cause})`;
    case 'svid/failed':
      return `${e.service}: SVID renewal failed: ${e.error}; retrying in ${formatDuration(e.retryInMs)}`;
    case 'ca/changed':
      return `CA root ${e.serial} ${e.phase}; bundle now holds ${e.bundle.length} root${e.bundle.length === 1 ? '' : 's'}`;
    case 'handshake':
      return `${peerName(e.caller)} → ${peerName(e.callee)}: mutual TLS verified (${e.protocol}${e.resumed ? ', resumed' : ''})`;
    case 'call':
      return `${peerName(e.caller)} → ${peerName(e.callee)}: ${e.requests} request${e.requests === 1 ? '' : 's'}${e.plaintext ? ' in plaintext' : ''}`;
    case 'rejection':
      return `${peerName(e.caller)} → ${peerName(e.callee)} rejected by the ${e.side === 'server' ? 'callee' : 'caller'}: ${e.reason}${e.rule ? ` (rule ${e.rule})` : ''} — ${e.detail}`;
    case 'policy/decision':
      return `${peerName(e.caller)} → ${peerName(e.callee)}: ${e.allowed ? 'allowed' : 'denied'} by ${e.rule} — ${e.explanation}`;
    case 'policy/changed':
      return `policy rule ${e.rule} ${e.change}`;
    case 'service/state':
      return `${e.service} ${e.state}${e.detail ? ` — ${e.detail}` : ''}`;
    case 'attack':
      return `attack ${e.scenario} on ${e.target}: ${e.rejected ? `rejected (${e.reason ?? 'no reason'})` : 'GOT THROUGH'} — ${e.detail}`;
    case 'mesh/state':
      return `mesh ${e.state}${e.detail ? ` — ${e.detail}` : ''}`;
  }
}
