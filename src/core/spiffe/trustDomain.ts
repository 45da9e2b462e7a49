import { SpiffeError, charWidthAt, decodeSafeEscapes, quote, quoteCharAt, withTry } from './errors.js';
import type { Fault } from './errors.js';

/** The only scheme a SPIFFE ID may have, exactly as written (lowercase). */
export const SPIFFE_SCHEME = 'spiffe://';

/** SPIFFE-ID.md §2.3: a trust domain name (the URI host) is at most 255 bytes. */
export const MAX_TRUST_DOMAIN_BYTES = 255;

const SLASH = 0x2f;
const COLON = 0x3a;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const HASH = 0x23;

// A lookup table rather than a regex: parse runs once per TLS handshake and must stay a flat scan.
const TRUST_DOMAIN_CHARS = new Uint8Array(128);
for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789.-_') TRUST_DOMAIN_CHARS[ch.charCodeAt(0)] = 1;

/** True if the UTF-16 unit `c` may appear in a trust domain name: a-z, 0-9, ".", "-", "_". */
export function isTrustDomainChar(c: number): boolean {
  return c < 128 && TRUST_DOMAIN_CHARS[c] === 1;
}

/** Index of the first "/", "?" or "#" at or after `from` (or the length): where a URI authority ends. */
export function authorityEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === SLASH || c === QUESTION || c === HASH) return i;
  }
  return text.length;
}

/**
 * Checks `text[start, end)` as a trust domain name and returns the first broken rule, if any.
 * User info is reported before anything else because "user@host" is one mistake whatever the
 * user part holds; otherwise the leftmost offending character decides.
 */
export function nameFault(text: string, start: number, end: number): Fault | undefined {
  if (start === end) return { code: 'missing-trust-domain', at: start, end };
  const at = text.lastIndexOf('@', end - 1);
  if (at >= start) return { code: 'port-or-userinfo', at: start, end: at + 1 };
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (isTrustDomainChar(c)) continue;
    switch (c) {
      case COLON:
        return { code: 'port-or-userinfo', at: i, end };
      case PERCENT:
        return { code: 'percent-encoded', at: i, end: Math.min(i + 3, end) };
      case QUESTION:
      case HASH:
        return { code: 'query-or-fragment', at: i, end };
      default:
        return { code: 'bad-trust-domain-char', at: i, end: i + charWidthAt(text, i) };
    }
  }
  if (end - start > MAX_TRUST_DOMAIN_BYTES) return { code: 'trust-domain-too-long', at: start, end };
  return undefined;
}

/**
 * The error for a fault `nameFault` found in `text[start, end)`. `where` follows the quoted name
 * (e.g. ` in ID "spiffe://…"`, or '' for a bare name); `suggestion` is a repaired, valid input.
 */
export function nameError(
  text: string,
  start: number,
  end: number,
  fault: Fault,
  where: string,
  suggestion: string | undefined,
): SpiffeError {
  const subject = `spiffe: trust domain ${quote(text.slice(start, end))}${where}`;
  const part = text.slice(fault.at, fault.end);
  const bareHost = 'a trust domain is a bare host name with no user info and no port';
  let message: string;
  switch (fault.code) {
    case 'missing-trust-domain':
      message =
        where === ''
          ? 'spiffe: trust domain is empty: give a name such as "example.org".'
          : `spiffe: trust domain is empty${where}: put a name right after "spiffe://", as in "spiffe://example.org".`;
      break;
    case 'port-or-userinfo':
      if (part.endsWith('@')) {
        message = withTry(`${subject} has user info ${quote(part)}: ${bareHost}, so drop ${quote(part)}`, suggestion);
      } else if (part === ':') {
        message = withTry(`${subject} ends with ":": ${bareHost}, so drop the ":"`, suggestion);
      } else {
        message = withTry(`${subject} has the port ${quote(part)}: ${bareHost}, so drop ${quote(part)}`, suggestion);
      }
      break;
    case 'percent-encoded':
      message = withTry(
        `${subject} contains the percent-encoding ${quote(part)}: a trust domain is never percent-encoded, so write the plain characters instead`,
        suggestion,
      );
      break;
    case 'query-or-fragment':
      message = withTry(
        `${subject} has the ${part.startsWith('?') ? 'query' : 'fragment'} ${quote(part)}: a trust domain has no query or fragment, so drop everything from ${quote(part.charAt(0))} on`,
        suggestion,
      );
      break;
    case 'trust-domain-too-long':
      message = `${subject} is ${end - start} bytes long: a trust domain may be at most ${MAX_TRUST_DOMAIN_BYTES} bytes, so choose a shorter name.`;
      break;
    default: {
      const rule = `${subject} contains ${quoteCharAt(text, fault.at)}: a trust domain may hold only lowercase letters, digits, ".", "-" and "_"`;
      message = suggestion === undefined ? `${rule}, so remove or replace it.` : withTry(rule, suggestion);
      break;
    }
  }
  return new SpiffeError(fault.code, message);
}

/** Everything after a URI scheme ("spiffe:", "SPIFFE://", "https://", …), or `text` itself if it has none. */
export function stripScheme(text: string): string {
  const sep = text.indexOf('://');
  if (sep > 0 && isSchemeName(text, sep)) return text.slice(sep + 3);
  if (text.slice(0, 7).toLowerCase() === 'spiffe:') {
    let i = 7;
    while (text.charCodeAt(i) === SLASH) i++;
    return text.slice(i);
  }
  return text;
}

function isSchemeName(text: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const isLetter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    const isOther = (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e;
    if (!isLetter && !(i > 0 && isOther)) return false;
  }
  return true;
}

/** Best-effort repair of a URI authority into a trust domain name: no user info, no port, no escapes, lowercase. */
export function repairName(authority: string): string {
  let name = authority.slice(authority.lastIndexOf('@') + 1);
  const colon = name.indexOf(':');
  if (colon >= 0) name = name.slice(0, colon);
  return decodeSafeEscapes(name).toLowerCase();
}

/** True if `name` is a valid trust domain name. */
export function isValidName(name: string): boolean {
  return nameFault(name, 0, name.length) === undefined;
}

// Accepting "spiffe://td" as well as "td" lets config files hold either; anything that looks like
// it tried to be a URI is judged as one, so "SPIFFE://td" gets a scheme error, not a character error.
function looksLikeId(text: string): boolean {
  return text.includes('://') || text.slice(0, 7).toLowerCase() === 'spiffe:';
}

function repairTrustDomain(input: string): string | undefined {
  const rest = stripScheme(input);
  const name = repairName(rest.slice(0, authorityEnd(rest, 0)));
  if (!isValidName(name)) return undefined;
  const candidate = rest === input ? name : SPIFFE_SCHEME + name;
  return candidate === input ? undefined : candidate;
}

function nameOfTrustDomainId(id: string): string {
  const suggestion = (): string | undefined => repairTrustDomain(id);
  if (!id.startsWith(SPIFFE_SCHEME)) {
    throw new SpiffeError(
      'wrong-scheme',
      withTry(
        `spiffe: trust domain ${quote(id)} does not start with "spiffe://": give a bare name such as "example.org" or an ID such as "spiffe://example.org", with the scheme in lowercase`,
        suggestion(),
      ),
    );
  }
  const start = SPIFFE_SCHEME.length;
  const end = authorityEnd(id, start);
  const fault = nameFault(id, start, end);
  if (fault !== undefined) throw nameError(id, start, end, fault, ` in ${quote(id)}`, suggestion());
  if (end === id.length) return id.slice(start);
  const rest = id.slice(end);
  if (rest === '/') {
    throw new SpiffeError(
      'trailing-slash',
      withTry(`spiffe: trust domain ${quote(id)} ends with "/": the ID of a trust domain has no path, so remove the slash`, suggestion()),
    );
  }
  if (rest.startsWith('/')) {
    // '/' is not a trust domain character: the same code a bare "td/path" gets.
    throw new SpiffeError(
      'bad-trust-domain-char',
      withTry(
        `spiffe: trust domain ${quote(id)} has the path ${quote(rest)}: a trust domain is written as "example.org" or "spiffe://example.org" with no path, so drop the path, or use SpiffeId.parse(s).trustDomain to get the trust domain of a workload ID`,
        suggestion(),
      ),
    );
  }
  throw new SpiffeError(
    'query-or-fragment',
    withTry(
      `spiffe: trust domain ${quote(id)} has the ${rest.startsWith('?') ? 'query' : 'fragment'} ${quote(rest)}: a SPIFFE ID has no query or fragment, so drop everything from ${quote(rest.charAt(0))} on`,
      suggestion(),
    ),
  );
}

/** The name of a SPIFFE trust domain, such as `lab.local`. Always valid; compare with `equals` or by `name`. */
export class TrustDomain {
  private readonly value: string;

  private constructor(name: string) {
    this.value = name;
  }

  /**
   * Parses a bare trust domain name (`lab.local`) or the ID of a trust domain (`spiffe://lab.local`,
   * with no path). Throws SpiffeError naming the broken rule and, where one is known, a valid input to try.
   */
  static parse(nameOrId: string): TrustDomain {
    const n = nameOrId.length;
    let i = 0;
    while (i < n && isTrustDomainChar(nameOrId.charCodeAt(i))) i++;
    if (i === n && n > 0 && n <= MAX_TRUST_DOMAIN_BYTES) return new TrustDomain(nameOrId);
    if (looksLikeId(nameOrId)) return new TrustDomain(nameOfTrustDomainId(nameOrId));
    const fault = nameFault(nameOrId, 0, n);
    if (fault === undefined) return new TrustDomain(nameOrId);
    throw nameError(nameOrId, 0, n, fault, '', repairTrustDomain(nameOrId));
  }

  /** Like `parse`, for literals in tests and fixtures, where a bad input is a programming error. */
  static mustParse(nameOrId: string): TrustDomain {
    return TrustDomain.parse(nameOrId);
  }

  /** The bare name, e.g. `lab.local`. */
  get name(): string {
    return this.value;
  }

  /** The ID of the trust domain itself, e.g. `spiffe://lab.local`. */
  idString(): string {
    return SPIFFE_SCHEME + this.value;
  }

  /** The bare name, e.g. `lab.local`. */
  toString(): string {
    return this.value;
  }

  /** Serializes as the bare name. */
  toJSON(): string {
    return this.value;
  }

  /** True if both name the same trust domain. */
  equals(other: TrustDomain): boolean {
    return this.value === other.value;
  }
}
