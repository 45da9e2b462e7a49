// Short, readable times for the tree and the status bar.

/** 3725000 → "1h 2m"; 125000 → "2m 5s"; 42000 → "42s"; at or below zero → "0s". Two units at most. */
export function shortDuration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  s %= 86400;
  const h = Math.floor(s / 3600);
  s %= 3600;
  const m = Math.floor(s / 60);
  s %= 60;
  const parts: string[] = [];
  if (d > 0) parts.push(`${d}d`);
  if (h > 0) parts.push(`${h}h`);
  if (m > 0) parts.push(`${m}m`);
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.slice(0, 2).join(' ');
}

/** "expired 3m ago" or "42m 10s left". */
export function timeLeft(notAfter: string, now: number): string {
  const left = Date.parse(notAfter) - now;
  if (Number.isNaN(left)) return 'unknown';
  return left <= 0 ? `expired ${shortDuration(-left)} ago` : `${shortDuration(left)} left`;
}

/** "3m ago", "just now", or "never". */
export function ago(iso: string | undefined, now: number): string {
  if (iso === undefined) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'unknown';
  const d = now - t;
  return d < 1000 ? 'just now' : `${shortDuration(d)} ago`;
}

/** When an SVID is due for renewal: at half its lifetime (SPIRE's rule, and the Rotator's). */
export function renewalDue(notBefore: string, notAfter: string): number {
  const nb = Date.parse(notBefore);
  const na = Date.parse(notAfter);
  return nb + (na - nb) / 2;
}
