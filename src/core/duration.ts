/** A duration could not be read; the message names the accepted forms. */
export class DurationError extends Error {
  override readonly name = 'DurationError';
  readonly code = 'bad-duration';
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `5m`, `1h`, `1h30m`, `500ms` into milliseconds (> 0). */
export function parseDuration(text: string): number {
  const s = text.trim();
  const re = /(\d+)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    matched = re.lastIndex;
  }
  if (s.length === 0 || matched !== s.length) {
    throw new DurationError(`duration: "${text}" is not a duration; write a number and a unit, e.g. 90s, 5m, 1h or 1h30m.`);
  }
  if (total <= 0) throw new DurationError(`duration: "${text}" is zero; give a positive duration such as 30s or 1h.`);
  return total;
}

/** 3725000 → "1h2m5s"; sub-second values as "250ms". */
export function formatDuration(ms: number): string {
  const neg = ms < 0;
  let rest = Math.round(Math.abs(ms) / 1000);
  if (rest === 0) return `${Math.round(Math.abs(ms))}ms`;
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return (neg ? '-' : '') + parts.join('');
}
