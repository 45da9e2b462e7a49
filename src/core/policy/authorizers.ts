import type { SpiffeId, TrustDomain } from '../spiffe/index.js';
import type { Authorizer, Decision } from './types.js';

/** How a caller with no SPIFFE ID (a plaintext connection) is named in explanations. */
export const PLAINTEXT_CALLER = 'a plaintext caller (no client certificate)';

/** The caller as a sentence fragment: its ID, or the plaintext phrase. */
export function describeCaller(caller: SpiffeId | undefined): string {
  return caller === undefined ? PLAINTEXT_CALLER : caller.toString();
}

/** Starts a sentence with `text`, capitalizing it when it begins with a lowercase letter. */
export function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function allow(rule: string, explanation: string): Decision {
  return { allowed: true, rule, explanation };
}

function deny(rule: string, explanation: string): Decision {
  return { allowed: false, rule, explanation };
}

// go-spiffe's authorizers see only verified peers; here a plaintext caller can reach them too
// (permissive mode), and none of them lets it through: each one is a statement about an ID.
function plaintextDenied(rule: string, callee: SpiffeId, what: string): Decision {
  return deny(rule, `${sentence(PLAINTEXT_CALLER)} may not call ${callee.toString()}: ${what}, and a plaintext caller has none; connect with an SVID.`);
}

/** Allows every caller that has a SPIFFE ID, whatever it is; denies plaintext callers. */
export function authorizeAny(): Authorizer {
  const rule = 'authorize-any';
  return (caller, callee) => {
    if (caller === undefined) return plaintextDenied(rule, callee, 'authorizeAny accepts any SPIFFE ID');
    return allow(rule, `${caller.toString()} may call ${callee.toString()} (authorizeAny: every SPIFFE ID may).`);
  };
}

/** Allows exactly the caller `id`. */
export function authorizeId(id: SpiffeId): Authorizer {
  const rule = 'authorize-id';
  const wanted = id.toString();
  return (caller, callee) => {
    if (caller === undefined) return plaintextDenied(rule, callee, `authorizeId accepts only ${wanted}`);
    if (caller.toString() === wanted) return allow(rule, `${wanted} may call ${callee.toString()} (authorizeId ${wanted}).`);
    return deny(rule, `${caller.toString()} may not call ${callee.toString()}: only ${wanted} may (authorizeId).`);
  };
}

/** Allows any caller in `ids`; with no IDs it allows no one. Lookup is by canonical string, so O(1). */
export function authorizeOneOf(...ids: readonly SpiffeId[]): Authorizer {
  const rule = 'authorize-one-of';
  const wanted = new Set(ids.map((id) => id.toString()));
  const list = wanted.size === 0 ? 'no IDs at all' : [...wanted].join(', ');
  return (caller, callee) => {
    if (caller === undefined) return plaintextDenied(rule, callee, `authorizeOneOf accepts only ${list}`);
    if (wanted.has(caller.toString())) {
      return allow(rule, `${caller.toString()} may call ${callee.toString()} (authorizeOneOf: it is one of the ${wanted.size} allowed IDs).`);
    }
    return deny(rule, `${caller.toString()} may not call ${callee.toString()}: it is not one of ${list} (authorizeOneOf).`);
  };
}

/** Allows any caller whose ID lives in the trust domain `td`. */
export function authorizeMemberOf(td: TrustDomain): Authorizer {
  const rule = 'authorize-member-of';
  return (caller, callee) => {
    if (caller === undefined) return plaintextDenied(rule, callee, `authorizeMemberOf accepts IDs in trust domain ${td.name}`);
    if (caller.memberOf(td)) return allow(rule, `${caller.toString()} may call ${callee.toString()} (authorizeMemberOf ${td.name}).`);
    return deny(
      rule,
      `${caller.toString()} may not call ${callee.toString()}: it is in trust domain ${caller.trustDomain.name}, not ${td.name} (authorizeMemberOf).`,
    );
  };
}
