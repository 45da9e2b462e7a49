import { SpiffeError, charWidthAt, decodeSafeEscapes, quote, quoteCharAt, withTry } from './errors.js';
import type { Fault } from './errors.js';
import {
  MAX_TRUST_DOMAIN_BYTES,
  SPIFFE_SCHEME,
  TrustDomain,
  authorityEnd,
  isTrustDomainChar,
  nameError,
  nameFault,
  repairName,
  stripScheme,
} from './trustDomain.js';

/** SPIFFE-ID.md §2.3: a whole SPIFFE ID, scheme included, is at most 2048 bytes. */
export const MAX_SPIFFE_ID_BYTES = 2048;

const SCHEME_LENGTH = SPIFFE_SCHEME.length;
const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const HASH = 0x23;

const PATH_CHARS = new Uint8Array(128);
for (const ch of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_') PATH_CHARS[ch.charCodeAt(0)] = 1;

function isPathChar(c: number): boolean {
  return c < 128 && PATH_CHARS[c] === 1;
}

/** The fault for a character that no path segment may hold. */
function pathCharFault(text: string, i: number): Fault {
  const c = text.charCodeAt(i);
  if (c === PERCENT) return { code: 'percent-encoded', at: i, end: Math.min(i + 3, text.length) };
  if (c === QUESTION || c === HASH) return { code: 'query-or-fragment', at: i, end: text.length };
  return { code: 'bad-path-char', at: i, end: i + charWidthAt(text, i) };
}

/** A dot-segment fault if `text(slash, end)` is "." or "..". */
function dotFault(text: string, slash: number, end: number): Fault | undefined {
  const length = end - slash - 1;
  if (length !== 1 && length !== 2) return undefined;
  if (text.charCodeAt(slash + 1) !== DOT) return undefined;
  if (length === 2 && text.charCodeAt(slash + 2) !== DOT) return undefined;
  return { code: 'dot-segment', at: slash + 1, end };
}

/** Checks the path running from `start` (which holds a "/") to the end of `text`. */
function pathFault(text: string, start: number): Fault | undefined {
  const n = text.length;
  let slash = start;
  for (let i = start + 1; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === SLASH) {
      if (i === slash + 1) return { code: 'empty-segment', at: slash, end: i + 1 };
      const dot = dotFault(text, slash, i);
      if (dot !== undefined) return dot;
      slash = i;
    } else if (!isPathChar(c)) {
      return pathCharFault(text, i);
    }
  }
  if (slash === n - 1) return { code: 'trailing-slash', at: slash, end: n };
  return dotFault(text, slash, n);
}

/** Checks one path segment handed in on its own (so "/" is just another bad character). */
function segmentFault(segment: string): Fault | undefined {
  if (segment.length === 0) return { code: 'empty-segment', at: 0, end: 0 };
  if (segment === '.' || segment === '..') return { code: 'dot-segment', at: 0, end: segment.length };
  for (let i = 0; i < segment.length; i++) {
    if (!isPathChar(segment.charCodeAt(i))) return pathCharFault(segment, i);
  }
  return undefined;
}

/**
 * Scans a SPIFFE ID in one pass and returns where its path starts, or the first broken rule.
 * Valid IDs never leave the two tight loops; everything else is diagnosed after the fact.
 */
function scanId(s: string): number | Fault {
  const n = s.length;
  if (n === 0) return { code: 'empty', at: 0, end: 0 };
  if (!s.startsWith(SPIFFE_SCHEME)) return { code: 'wrong-scheme', at: 0, end: n };
  // UTF-8 never takes fewer bytes than UTF-16 units, so this bounds the byte length too.
  if (n > MAX_SPIFFE_ID_BYTES) return { code: 'id-too-long', at: 0, end: n };
  let i = SCHEME_LENGTH;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === SLASH || !isTrustDomainChar(c)) break;
    i++;
  }
  if (i < n && s.charCodeAt(i) !== SLASH) {
    // The authority holds something odd: find where it really ends, then judge it whole.
    const end = authorityEnd(s, SCHEME_LENGTH);
    return nameFault(s, SCHEME_LENGTH, end) ?? { code: 'query-or-fragment', at: end, end: n };
  }
  if (i === SCHEME_LENGTH) return { code: 'missing-trust-domain', at: i, end: i };
  if (i - SCHEME_LENGTH > MAX_TRUST_DOMAIN_BYTES) return { code: 'trust-domain-too-long', at: SCHEME_LENGTH, end: i };
  if (i === n) return i;
  return pathFault(s, i) ?? i;
}

/** Bytes `text` takes in UTF-8 (a lone surrogate counts as the 3-byte replacement character). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Best-effort repair of a path: leading "/", no empty segments, safe escapes decoded. Dot segments stay. */
function repairPath(path: string): string {
  let repaired = '';
  for (const segment of decodeSafeEscapes(path).split('/')) {
    if (segment !== '') repaired += `/${segment}`;
  }
  return repaired;
}

/** A valid ID close to `s` (lowercase scheme and trust domain, no port, query, empty segments…), if one exists. */
function repairId(s: string): string | undefined {
  let rest = stripScheme(s);
  const query = rest.search(/[?#]/);
  if (query >= 0) rest = rest.slice(0, query);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const candidate = SPIFFE_SCHEME + repairName(authority) + repairPath(path);
  return candidate !== s && typeof scanId(candidate) === 'number' ? candidate : undefined;
}

const EXAMPLE_ID = 'spiffe://example.org/ns/default/sa/web';

/**
 * The error for a path fault. `subject` names what was handed in (`ID "…"`, `path "…"`);
 * `text` is the string the fault's offsets point into.
 */
function pathError(text: string, fault: Fault, subject: string, suggestion: string | undefined): SpiffeError {
  const part = text.slice(fault.at, fault.end);
  let message: string;
  switch (fault.code) {
    case 'empty-segment':
      message = withTry(`spiffe: ${subject} has an empty path segment ("//"): path segments may not be empty, so remove the extra "/"`, suggestion);
      break;
    case 'dot-segment':
      message = `spiffe: ${subject} has the dot segment ${quote(part)}: SPIFFE paths are never resolved, so "." and ".." may not be segments; write the path out without them.`;
      break;
    case 'trailing-slash':
      message = withTry(`spiffe: ${subject} ends with "/": a SPIFFE ID path may not end with a slash, so remove it`, suggestion);
      break;
    case 'percent-encoded':
      message = withTry(
        `spiffe: ${subject} contains the percent-encoding ${quote(part)}: a SPIFFE ID is never percent-encoded, so write the plain character if it is a letter, digit, ".", "-" or "_", or choose a name without it`,
        suggestion,
      );
      break;
    case 'query-or-fragment':
      message = withTry(
        `spiffe: ${subject} has the ${part.startsWith('?') ? 'query' : 'fragment'} ${quote(part)}: a SPIFFE ID has no query or fragment, so drop everything from ${quote(part.charAt(0))} on`,
        suggestion,
      );
      break;
    default: {
      const rule = `spiffe: ${subject} contains ${quoteCharAt(text, fault.at)}: a path segment may hold only letters, digits, ".", "-" and "_"`;
      message = suggestion === undefined ? `${rule}, so remove or replace it.` : withTry(rule, suggestion);
      break;
    }
  }
  return new SpiffeError(fault.code, message);
}

function idError(s: string, fault: Fault): SpiffeError {
  const subject = `ID ${quote(s)}`;
  switch (fault.code) {
    case 'empty':
      return new SpiffeError('empty', `spiffe: SPIFFE ID is empty: give an ID such as "${EXAMPLE_ID}".`);
    case 'wrong-scheme':
      return new SpiffeError(
        'wrong-scheme',
        withTry(`spiffe: ${subject} does not start with "spiffe://": a SPIFFE ID is a URI whose scheme is "spiffe", in lowercase, followed by "://"`, repairId(s)),
      );
    case 'id-too-long':
      return new SpiffeError(
        'id-too-long',
        `spiffe: ${subject} is ${utf8Length(s)} bytes long: a SPIFFE ID may be at most ${MAX_SPIFFE_ID_BYTES} bytes, so shorten its path.`,
      );
    case 'missing-trust-domain':
    case 'bad-trust-domain-char':
    case 'trust-domain-too-long':
    case 'port-or-userinfo':
      return nameError(s, SCHEME_LENGTH, authorityEnd(s, SCHEME_LENGTH), fault, ` in ${subject}`, repairId(s));
    case 'percent-encoded':
    case 'query-or-fragment':
      if (fault.at < authorityEnd(s, SCHEME_LENGTH)) {
        return nameError(s, SCHEME_LENGTH, authorityEnd(s, SCHEME_LENGTH), fault, ` in ${subject}`, repairId(s));
      }
      return pathError(s, fault, subject, repairId(s));
    default:
      return pathError(s, fault, subject, repairId(s));
  }
}

function tooLongError(td: TrustDomain, path: string, bytes: number): SpiffeError {
  return new SpiffeError(
    'id-too-long',
    `spiffe: the ID for path ${quote(path)} in trust domain ${quote(td.name)} would be ${bytes} bytes long: a SPIFFE ID may be at most ${MAX_SPIFFE_ID_BYTES} bytes, so shorten the path.`,
  );
}

function segmentError(segment: string, label: string, fault: Fault): SpiffeError {
  const subject = `${label} ${quote(segment)}`;
  switch (fault.code) {
    case 'empty-segment':
      return new SpiffeError('empty-segment', `spiffe: ${label} is empty: every path segment needs at least one letter, digit, ".", "-" or "_".`);
    case 'dot-segment':
      return new SpiffeError(
        'dot-segment',
        `spiffe: ${subject} is a dot segment: SPIFFE paths are never resolved, so "." and ".." may not be segments; choose another name.`,
      );
    default:
      if (segment.charCodeAt(fault.at) === SLASH) {
        const parts = segment.split('/').filter((p) => p !== '');
        return new SpiffeError(
          'bad-path-char',
          `spiffe: ${subject} contains "/": a segment is one name between slashes, so pass each part as its own segment, as in fromSegments(td, ${parts.map((p) => quote(p)).join(', ')}).`,
        );
      }
      return pathError(segment, fault, subject, undefined);
  }
}

/**
 * A SPIFFE ID: `spiffe://<trust domain><path>`, always valid and canonical, so two IDs are the same
 * exactly when their strings are. Compare with `equals`, key maps by `toString()`.
 */
export class SpiffeId {
  private readonly td: TrustDomain;
  private readonly id: string;

  private constructor(td: TrustDomain, id: string) {
    this.td = td;
    this.id = id;
  }

  /**
   * Parses a SPIFFE ID exactly as the standard writes it; nothing is normalized, so a valid input
   * comes back unchanged from `toString()`. The root ID `spiffe://td` is valid. Throws SpiffeError.
   */
  static parse(s: string): SpiffeId {
    const scanned = scanId(s);
    if (typeof scanned !== 'number') throw idError(s, scanned);
    return new SpiffeId(TrustDomain.parse(s.slice(SCHEME_LENGTH, scanned)), s);
  }

  /** Like `parse`, for literals in tests and fixtures, where a bad input is a programming error. */
  static mustParse(s: string): SpiffeId {
    return SpiffeId.parse(s);
  }

  /** The ID with `path` (`''` for the root ID, else starting with "/") in `td`. Throws SpiffeError. */
  static fromPath(td: TrustDomain, path: string): SpiffeId {
    if (path !== '') {
      if (path.charCodeAt(0) !== SLASH) {
        const repaired = repairPath(path);
        const suggestion = repaired !== '' && pathFault(repaired, 0) === undefined ? repaired : undefined;
        throw new SpiffeError(
          'not-absolute-path',
          withTry(`spiffe: path ${quote(path)} does not start with "/": a SPIFFE ID path is either empty or starts with "/"`, suggestion),
        );
      }
      const fault = pathFault(path, 0);
      if (fault !== undefined) {
        const repaired = repairPath(path);
        const suggestion = repaired !== path && pathFault(repaired, 0) === undefined ? repaired : undefined;
        throw pathError(path, fault, `path ${quote(path)}`, suggestion);
      }
    }
    const id = td.idString() + path;
    if (id.length > MAX_SPIFFE_ID_BYTES) throw tooLongError(td, path, id.length);
    return new SpiffeId(td, id);
  }

  /** The ID in `td` whose path is `segments` joined by "/"; no segments gives the root ID. Throws SpiffeError. */
  static fromSegments(td: TrustDomain, ...segments: string[]): SpiffeId {
    return fromCheckedSegments(td, segments, segments.map((_, i) => `path segment ${i + 1}`));
  }

  /** The trust domain the ID lives in. */
  get trustDomain(): TrustDomain {
    return this.td;
  }

  /** The path: `''` for the root ID, else `/a/b`. */
  get path(): string {
    return this.id.slice(SCHEME_LENGTH + this.td.name.length);
  }

  /** The canonical form, e.g. `spiffe://lab.local/ns/default/sa/web`. */
  toString(): string {
    return this.id;
  }

  /** Serializes as the canonical string. */
  toJSON(): string {
    return this.id;
  }

  /** True if both are the same ID. */
  equals(other: SpiffeId): boolean {
    return this.id === other.id;
  }

  /** True if the ID lives in `td` (the root ID of `td` included). */
  memberOf(td: TrustDomain): boolean {
    return this.td.equals(td);
  }

  /** True for the ID of the trust domain itself (`spiffe://td`, no path). */
  isRoot(): boolean {
    return this.id.length === SCHEME_LENGTH + this.td.name.length;
  }
}

function fromCheckedSegments(td: TrustDomain, segments: readonly string[], labels: readonly string[]): SpiffeId {
  let path = '';
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    const fault = segmentFault(segment);
    if (fault !== undefined) throw segmentError(segment, labels[i] ?? 'path segment', fault);
    path += `/${segment}`;
  }
  return SpiffeId.fromPath(td, path);
}

/**
 * Parses the ID an SVID names: a valid SPIFFE ID with a non-empty path, since the root ID
 * `spiffe://td` stands for the trust domain itself, never a workload. Throws SpiffeError
 * (`root-path` for a root ID).
 */
export function parseWorkloadId(s: string): SpiffeId {
  const id = SpiffeId.parse(s);
  if (id.isRoot()) {
    throw new SpiffeError(
      'root-path',
      `spiffe: ID ${quote(s)} is the root ID of trust domain ${quote(id.trustDomain.name)} and names no workload: a workload's ID needs a path, as in ${quote(`${s}/ns/default/sa/web`)}.`,
    );
  }
  return id;
}

/**
 * The Istio-shaped workload ID `spiffe://<td>/ns/<namespace>/sa/<service>`. Both names must be
 * valid path segments (letters, digits, ".", "-", "_"; not empty, not "." or ".."). Throws SpiffeError.
 */
export function workloadId(td: TrustDomain, namespace: string, service: string): SpiffeId {
  return fromCheckedSegments(td, ['ns', namespace, 'sa', service], ['segment', 'namespace', 'segment', 'service']);
}
