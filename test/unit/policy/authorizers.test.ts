import { describe, expect, it } from 'vitest';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';
import { authorizeAny, authorizeId, authorizeMemberOf, authorizeOneOf } from '../../../src/core/policy/index.js';
import type { Authorizer } from '../../../src/core/policy/index.js';

const orders = SpiffeId.mustParse('spiffe://lab.local/ns/default/sa/orders');
const billing = SpiffeId.mustParse('spiffe://lab.local/ns/default/sa/billing');
const payments = SpiffeId.mustParse('spiffe://lab.local/ns/default/sa/payments');
const foreign = SpiffeId.mustParse('spiffe://other.org/ns/default/sa/orders');
const lab = TrustDomain.mustParse('lab.local');

interface Row {
  readonly name: string;
  readonly authorizer: Authorizer;
  readonly caller: SpiffeId | undefined;
  readonly allowed: boolean;
  readonly rule: string;
  readonly explanation: string;
}

const callee = billing;
const B = billing.toString();

const rows: readonly Row[] = [
  { name: 'any: an ID', authorizer: authorizeAny(), caller: orders, allowed: true, rule: 'authorize-any', explanation: `${orders.toString()} may call ${B} (authorizeAny: every SPIFFE ID may).` },
  { name: 'any: an ID from another trust domain', authorizer: authorizeAny(), caller: foreign, allowed: true, rule: 'authorize-any', explanation: `${foreign.toString()} may call ${B} (authorizeAny: every SPIFFE ID may).` },
  {
    name: 'any: plaintext has no ID',
    authorizer: authorizeAny(),
    caller: undefined,
    allowed: false,
    rule: 'authorize-any',
    explanation: `A plaintext caller (no client certificate) may not call ${B}: authorizeAny accepts any SPIFFE ID, and a plaintext caller has none; connect with an SVID.`,
  },
  { name: 'id: the same ID', authorizer: authorizeId(orders), caller: orders, allowed: true, rule: 'authorize-id', explanation: `${orders.toString()} may call ${B} (authorizeId ${orders.toString()}).` },
  {
    name: 'id: same path, other trust domain',
    authorizer: authorizeId(orders),
    caller: foreign,
    allowed: false,
    rule: 'authorize-id',
    explanation: `${foreign.toString()} may not call ${B}: only ${orders.toString()} may (authorizeId).`,
  },
  {
    name: 'id: plaintext',
    authorizer: authorizeId(orders),
    caller: undefined,
    allowed: false,
    rule: 'authorize-id',
    explanation: `A plaintext caller (no client certificate) may not call ${B}: authorizeId accepts only ${orders.toString()}, and a plaintext caller has none; connect with an SVID.`,
  },
  {
    name: 'one-of: a listed ID',
    authorizer: authorizeOneOf(orders, payments),
    caller: payments,
    allowed: true,
    rule: 'authorize-one-of',
    explanation: `${payments.toString()} may call ${B} (authorizeOneOf: it is one of the 2 allowed IDs).`,
  },
  {
    name: 'one-of: an unlisted ID',
    authorizer: authorizeOneOf(orders, payments),
    caller: billing,
    allowed: false,
    rule: 'authorize-one-of',
    explanation: `${B} may not call ${B}: it is not one of ${orders.toString()}, ${payments.toString()} (authorizeOneOf).`,
  },
  {
    name: 'one-of: no IDs allows no one',
    authorizer: authorizeOneOf(),
    caller: orders,
    allowed: false,
    rule: 'authorize-one-of',
    explanation: `${orders.toString()} may not call ${B}: it is not one of no IDs at all (authorizeOneOf).`,
  },
  {
    name: 'one-of: plaintext',
    authorizer: authorizeOneOf(orders),
    caller: undefined,
    allowed: false,
    rule: 'authorize-one-of',
    explanation: `A plaintext caller (no client certificate) may not call ${B}: authorizeOneOf accepts only ${orders.toString()}, and a plaintext caller has none; connect with an SVID.`,
  },
  { name: 'member-of: same trust domain', authorizer: authorizeMemberOf(lab), caller: orders, allowed: true, rule: 'authorize-member-of', explanation: `${orders.toString()} may call ${B} (authorizeMemberOf lab.local).` },
  {
    name: 'member-of: another trust domain',
    authorizer: authorizeMemberOf(lab),
    caller: foreign,
    allowed: false,
    rule: 'authorize-member-of',
    explanation: `${foreign.toString()} may not call ${B}: it is in trust domain other.org, not lab.local (authorizeMemberOf).`,
  },
  {
    name: 'member-of: plaintext',
    authorizer: authorizeMemberOf(lab),
    caller: undefined,
    allowed: false,
    rule: 'authorize-member-of',
    explanation: `A plaintext caller (no client certificate) may not call ${B}: authorizeMemberOf accepts IDs in trust domain lab.local, and a plaintext caller has none; connect with an SVID.`,
  },
];

describe('authorizers', () => {
  it.each(rows)('$name', ({ authorizer, caller, allowed, rule, explanation }) => {
    expect(authorizer(caller, callee)).toEqual({ allowed, rule, explanation });
  });

  it('compose as plain functions: every authorizer in a chain must allow', () => {
    const chain: readonly Authorizer[] = [authorizeMemberOf(lab), authorizeOneOf(orders, payments)];
    const all: Authorizer = (caller, target) => chain.map((a) => a(caller, target)).find((d) => !d.allowed) ?? chain[0]!(caller, target);
    expect(all(orders, callee).allowed).toBe(true);
    expect(all(foreign, callee).rule).toBe('authorize-member-of');
    expect(all(billing, callee).rule).toBe('authorize-one-of');
  });
});
