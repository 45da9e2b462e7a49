/**
 * What went wrong with a SPIFFE ID or trust domain. UIs switch on this; nobody parses messages.
 * Each code names one rule of the SPIFFE ID standard (SPIFFE-ID.md §2), plus `root-path` for an
 * SVID whose ID names no workload and `not-absolute-path` for a path handed in on its own.
 */
export type SpiffeErrorCode =
  | 'empty'
  | 'wrong-scheme'
  | 'missing-trust-domain'
  | 'bad-trust-domain-char'
  | 'trust-domain-too-long'
  | 'port-or-userinfo'
  | 'bad-path-char'
  | 'empty-segment'
  | 'dot-segment'
  | 'trailing-slash'
  | 'percent-encoded'
  | 'query-or-fragment'
  | 'id-too-long'
  | 'root-path'
  | 'not-absolute-path';

/** Thrown by every parser and constructor in `spiffe/`. The message is a full sentence that names the fix. */
export class SpiffeError extends Error {
  readonly code: SpiffeErrorCode;

  constructor(code: SpiffeErrorCode, message: string) {
    super(message);
    this.name = 'SpiffeError';
    this.code = code;
  }
}

/** Where an input broke a rule: the half-open span [at, end) of the offending text. Internal to `spiffe/`. */
export interface Fault {
  readonly code: SpiffeErrorCode;
  readonly at: number;
  readonly end: number;
}

// Long inputs are quoted by their head and tail so one bad header cannot flood a log line.
const QUOTE_LIMIT = 120;
const QUOTE_HEAD = 80;
const QUOTE_TAIL = 30;

/** Quotes `text` for a message: JSON-escaped (control characters stay visible) and shortened if long. */
export function quote(text: string): string {
  const shown = text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_HEAD)}…${text.slice(-QUOTE_TAIL)}` : text;
  return JSON.stringify(shown);
}

/** Quotes the character at `i`, adding its code point when it is not printable ASCII (think U+200B). */
export function quoteCharAt(text: string, i: number): string {
  const cp = text.codePointAt(i) ?? 0;
  const ch = String.fromCodePoint(cp);
  const shown = JSON.stringify(ch);
  if (cp >= 0x20 && cp < 0x7f) return shown;
  return `${shown} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

/** Length in UTF-16 units of the character starting at `i` (2 for a surrogate pair). */
export function charWidthAt(text: string, i: number): number {
  const cp = text.codePointAt(i) ?? 0;
  return cp > 0xffff ? 2 : 1;
}

/** Appends the "(try …)" hint to a sentence when a repaired input is known to be valid. */
export function withTry(sentence: string, suggestion: string | undefined): string {
  return suggestion === undefined ? `${sentence}.` : `${sentence} (try ${quote(suggestion)}).`;
}

// Only letters, digits, ".", "-" and "_" are decoded when repairing, so a decoded "/" or "?"
// can never change the shape of the suggestion.
const PERCENT_TRIPLET = /%([0-9A-Fa-f]{2})/g;

/** Decodes percent-escapes of letters, digits, ".", "-" and "_"; leaves every other escape as it is. */
export function decodeSafeEscapes(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(PERCENT_TRIPLET, (triplet: string, hex: string) => {
    const c = Number.parseInt(hex, 16);
    const isSafe =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f;
    return isSafe ? String.fromCharCode(c) : triplet;
  });
}
