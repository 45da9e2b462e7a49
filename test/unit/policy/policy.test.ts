import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SpiffeId, TrustDomain } from '../../../src/core/spiffe/index.js';
import { DEFAULT_DENY, PERMISSIVE_PLAINTEXT, Policy, PolicyError } from '../../../src/core/policy/index.js';
import type { PolicyChange, PolicyErrorCode, PolicyMode, PolicyRule } from '../../../src/core/policy/index.js';

const id = (s: string): SpiffeId => SpiffeId.mustParse(`spiffe://lab.local/ns/default/sa/${s}`);
const frontend = id('frontend');
const orders = id('orders');
const billing = id('billing');
const payments = id('payments');
const inventory = id('inventory');
const intruder = id('intruder');
const foreignOrders = SpiffeId.mustParse('spiffe://other.org/ns/default/sa/orders');
const lab = TrustDomain.mustParse('lab.local');

const O = orders.toString();
const B = billing.toString();

const baseRules: readonly PolicyRule[] = [
  { name: 'orders-to-billing', from: orders, to: billing },
  { name: 'shop-to-payments', from: [frontend, orders], to: payments },
  { name: 'lab-to-inventory', from: { memberOf: lab }, to: inventory },
  { name: 'orders-to-many', from: orders, to: [inventory, payments] },
];

interface DecisionRow {
  readonly name: string;
  readonly mode: PolicyMode;
  readonly caller: SpiffeId | undefined;
  readonly callee: SpiffeId;
  readonly allowed: boolean;
  readonly rule: string;
  /** The exact explanation, or a fragment it must contain. */
  readonly explanation: string;
  readonly exact?: boolean;
}

const decisionRows: readonly DecisionRow[] = [
  {
    name: 'strict: exact-ID rule allows',
    mode: 'strict',
    caller: orders,
    callee: billing,
    allowed: true,
    rule: 'orders-to-billing',
    explanation: `${O} may call ${B} (rule orders-to-billing).`,
    exact: true,
  },
  {
    name: 'strict: no rule, default deny names the rule to add',
    mode: 'strict',
    caller: frontend,
    callee: billing,
    allowed: false,
    rule: DEFAULT_DENY,
    explanation: `${frontend.toString()} may not call ${B}: no rule allows it (strict mode denies by default); add a rule with \`from\` ${frontend.toString()} and \`to\` ${B}.`,
    exact: true,
  },
  { name: 'strict: rules are one-way (billing → orders denied)', mode: 'strict', caller: billing, callee: orders, allowed: false, rule: DEFAULT_DENY, explanation: 'no rule allows it' },
  { name: 'strict: one-of rule allows its first ID', mode: 'strict', caller: frontend, callee: payments, allowed: true, rule: 'shop-to-payments', explanation: '(rule shop-to-payments)' },
  { name: 'strict: one-of rule allows its second ID', mode: 'strict', caller: orders, callee: payments, allowed: true, rule: 'shop-to-payments', explanation: '(rule shop-to-payments)' },
  { name: 'strict: one-of rule denies an unlisted ID', mode: 'strict', caller: billing, callee: payments, allowed: false, rule: DEFAULT_DENY, explanation: 'no rule allows it' },
  { name: 'strict: member-of rule allows any ID in the domain', mode: 'strict', caller: intruder, callee: inventory, allowed: true, rule: 'lab-to-inventory', explanation: '(rule lab-to-inventory)' },
  { name: 'strict: member-of rule denies another domain', mode: 'strict', caller: foreignOrders, callee: inventory, allowed: false, rule: DEFAULT_DENY, explanation: 'no rule allows it' },
  { name: 'strict: an exact ID from another domain is not the same ID', mode: 'strict', caller: foreignOrders, callee: billing, allowed: false, rule: DEFAULT_DENY, explanation: 'no rule allows it' },
  { name: 'strict: the earlier rule is named when two allow (member-of before exact)', mode: 'strict', caller: orders, callee: inventory, allowed: true, rule: 'lab-to-inventory', explanation: '(rule lab-to-inventory)' },
  { name: 'strict: the earlier rule is named when two allow (one-of before exact)', mode: 'strict', caller: orders, callee: payments, allowed: true, rule: 'shop-to-payments', explanation: '(rule shop-to-payments)' },
  { name: 'strict: a callee no rule names', mode: 'strict', caller: orders, callee: frontend, allowed: false, rule: DEFAULT_DENY, explanation: 'no rule allows it' },
  {
    name: 'strict: plaintext caller is denied',
    mode: 'strict',
    caller: undefined,
    callee: billing,
    allowed: false,
    rule: DEFAULT_DENY,
    explanation: `A plaintext caller (no client certificate) may not call ${B}: strict mode requires mTLS; give the caller an SVID, or switch to permissive mode while it migrates.`,
    exact: true,
  },
  {
    name: 'permissive: plaintext caller is let through',
    mode: 'permissive',
    caller: undefined,
    callee: billing,
    allowed: true,
    rule: PERMISSIVE_PLAINTEXT,
    explanation: `A plaintext caller (no client certificate) may call ${B} (permissive mode accepts plaintext while services migrate to mTLS; switch to strict mode to require it).`,
    exact: true,
  },
  { name: 'permissive: plaintext reaches even a callee no rule names', mode: 'permissive', caller: undefined, callee: frontend, allowed: true, rule: PERMISSIVE_PLAINTEXT, explanation: 'permissive mode' },
  { name: 'permissive: an allowed ID is allowed by its rule', mode: 'permissive', caller: orders, callee: billing, allowed: true, rule: 'orders-to-billing', explanation: `${O} may call ${B} (rule orders-to-billing).`, exact: true },
  {
    name: 'permissive: an ID no rule allows is still denied',
    mode: 'permissive',
    caller: intruder,
    callee: billing,
    allowed: false,
    rule: DEFAULT_DENY,
    explanation: `${intruder.toString()} may not call ${B}: no rule allows it (permissive mode lets plaintext through but holds callers with an SVID to the rules); add a rule with \`from\` ${intruder.toString()} and \`to\` ${B}.`,
    exact: true,
  },
];

describe('Policy.evaluate', () => {
  it.each(decisionRows)('$name', ({ mode, caller, callee, allowed, rule, explanation, exact }) => {
    const policy = new Policy({ mode, rules: baseRules });
    const decision = policy.evaluate(caller, callee);
    expect(decision.allowed).toBe(allowed);
    expect(decision.rule).toBe(rule);
    if (exact === true) expect(decision.explanation).toBe(explanation);
    else expect(decision.explanation).toContain(explanation);
  });

  it('defaults to strict mode with no rules: everything is denied', () => {
    const policy = new Policy();
    expect(policy.mode).toBe('strict');
    expect(policy.evaluate(orders, billing).rule).toBe(DEFAULT_DENY);
    expect(policy.evaluate(undefined, billing).allowed).toBe(false);
  });

  it('authorizer() sees later changes', () => {
    const policy = new Policy();
    const authorize = policy.authorizer();
    expect(authorize(orders, billing).allowed).toBe(false);
    policy.addRule({ name: 'orders-to-billing', from: orders, to: billing });
    expect(authorize(orders, billing).allowed).toBe(true);
    policy.removeRule('orders-to-billing');
    expect(authorize(orders, billing).allowed).toBe(false);
  });
});

describe('Policy changes', () => {
  it('addRule returns the change, tells listeners, and allows the call', () => {
    const policy = new Policy();
    const seen: PolicyChange[] = [];
    policy.onDidChange((c) => seen.push(c));
    const change = policy.addRule({ name: 'orders-to-billing', from: orders, to: billing });
    expect(change.change).toBe('added');
    expect(change).toEqual(seen[0]);
    expect(seen).toHaveLength(1);
    expect(policy.evaluate(orders, billing).rule).toBe('orders-to-billing');
  });

  it('removeRule returns the removed rule and the next rule in line takes over', () => {
    const policy = new Policy({ rules: baseRules });
    const seen: PolicyChange[] = [];
    policy.onDidChange((c) => seen.push(c));
    const change = policy.removeRule('lab-to-inventory');
    expect(change).toMatchObject({ change: 'removed', rule: { name: 'lab-to-inventory' } });
    expect(seen).toEqual([change]);
    expect(policy.evaluate(orders, inventory).rule).toBe('orders-to-many');
    expect(policy.evaluate(intruder, inventory).rule).toBe(DEFAULT_DENY);
    expect(policy.rules().map((r) => r.name)).toEqual(['orders-to-billing', 'shop-to-payments', 'orders-to-many']);
  });

  it('allow a denied call: suggestRule + addRule turns the denial into an allow', () => {
    const policy = new Policy({ rules: baseRules });
    expect(policy.evaluate(frontend, billing).allowed).toBe(false);
    const rule = policy.suggestRule(frontend, billing);
    expect(rule).toEqual({ name: 'frontend-to-billing', from: frontend, to: billing });
    policy.addRule(rule);
    expect(policy.evaluate(frontend, billing)).toEqual({
      allowed: true,
      rule: 'frontend-to-billing',
      explanation: `${frontend.toString()} may call ${B} (rule frontend-to-billing).`,
    });
    expect(policy.suggestRule(frontend, billing).name).toBe('frontend-to-billing-2');
  });

  it.each([
    { name: 'Istio-shaped IDs use the service account', caller: orders, callee: billing, want: 'orders-to-billing' },
    { name: 'other paths use the last segment', caller: SpiffeId.mustParse('spiffe://lab.local/cli/alice'), callee: billing, want: 'alice-to-billing' },
    { name: 'a root-like path falls back to the trust domain', caller: SpiffeId.mustParse('spiffe://lab.local'), callee: billing, want: 'lab.local-to-billing' },
    { name: 'a segment starting with "." is trimmed to stay a valid name', caller: SpiffeId.mustParse('spiffe://lab.local/.hidden'), callee: billing, want: 'hidden-to-billing' },
  ])('suggestRule names: $name', ({ caller, callee, want }) => {
    const rule = new Policy().suggestRule(caller, callee);
    expect(rule.name).toBe(want);
    expect(() => new Policy().addRule(rule)).not.toThrow();
  });

  it('setMode returns the change once and nothing when unchanged', () => {
    const policy = new Policy({ mode: 'permissive' });
    const seen: PolicyChange[] = [];
    policy.onDidChange((c) => seen.push(c));
    expect(policy.setMode('strict')).toEqual({ change: 'mode', mode: 'strict', previous: 'permissive' });
    expect(policy.setMode('strict')).toBeUndefined();
    expect(seen).toHaveLength(1);
    expect(policy.evaluate(undefined, billing).allowed).toBe(false);
  });

  it('onDidChange returns an unsubscribe function, and a throwing listener stops no one', () => {
    const policy = new Policy();
    const seen: string[] = [];
    policy.onDidChange(() => {
      throw new Error('listener broke');
    });
    const stop = policy.onDidChange((c) => seen.push(c.change));
    policy.addRule({ name: 'a', from: orders, to: billing });
    stop();
    policy.removeRule('a');
    expect(seen).toEqual(['added']);
  });

  it('rules() is a copy and a rule cannot be changed through the arrays it was built from', () => {
    const from = [orders];
    const to = [billing];
    const policy = new Policy({ rules: [{ name: 'r', from, to }] });
    from.push(intruder);
    to.push(payments);
    (policy.rules() as PolicyRule[]).length = 0;
    expect(policy.rules()).toHaveLength(1);
    expect(policy.evaluate(intruder, billing).allowed).toBe(false);
    expect(policy.evaluate(orders, payments).allowed).toBe(false);
    expect(Object.isFrozen(policy.rule('r'))).toBe(true);
  });
});

interface BadRuleRow {
  readonly name: string;
  readonly act: (policy: Policy) => unknown;
  readonly code: PolicyErrorCode;
  readonly message: string;
}

const badRuleRows: readonly BadRuleRow[] = [
  {
    name: 'duplicate name',
    act: (p) => p.addRule({ name: 'orders-to-billing', from: frontend, to: billing }),
    code: 'duplicate-rule',
    message: 'policy: a rule named "orders-to-billing" already exists; choose another name, or remove the old rule first.',
  },
  { name: 'empty name', act: (p) => p.addRule({ name: '', from: orders, to: billing }), code: 'bad-rule', message: 'policy: the rule name "" is not a valid name; use 1 to 128 letters' },
  { name: 'name with a space', act: (p) => p.addRule({ name: 'orders to billing', from: orders, to: billing }), code: 'bad-rule', message: 'e.g. "orders-to-billing"' },
  { name: 'reserved name default-deny', act: (p) => p.addRule({ name: DEFAULT_DENY, from: orders, to: billing }), code: 'bad-rule', message: 'policy: the rule name "default-deny" is reserved' },
  { name: 'reserved name permissive-plaintext', act: (p) => p.addRule({ name: PERMISSIVE_PLAINTEXT, from: orders, to: billing }), code: 'bad-rule', message: 'is reserved for decisions that no rule made' },
  { name: 'empty from list', act: (p) => p.addRule({ name: 'x', from: [], to: billing }), code: 'bad-rule', message: 'policy: rule "x" has an empty `from` list, so it would allow no one; name at least one caller.' },
  { name: 'empty to list', act: (p) => p.addRule({ name: 'x', from: orders, to: [] }), code: 'bad-rule', message: 'policy: rule "x" has an empty `to` list, so it would allow nothing; name at least one callee.' },
  { name: 'remove an unknown rule', act: (p) => p.removeRule('nope'), code: 'unknown-rule', message: 'policy: there is no rule named "nope"; its rules are: orders-to-billing, shop-to-payments, lab-to-inventory, orders-to-many.' },
  { name: 'remove from an empty policy', act: () => new Policy().removeRule('nope'), code: 'unknown-rule', message: 'policy: there is no rule named "nope"; the policy has no rules.' },
  {
    name: 'fromJSON with a malformed ID surfaces the spiffe message',
    act: () => Policy.fromJSON({ rules: [{ name: 'x', from: 'spiffe://lab.local/ns//orders', to: B }] }),
    code: 'bad-rule',
    message: 'policy: rules[0].from: ID "spiffe://lab.local/ns//orders" has an empty path segment',
  },
  {
    name: 'fromJSON with a bad trust domain',
    act: () => Policy.fromJSON({ rules: [{ name: 'x', from: { memberOf: 'Lab.Local' }, to: B }] }),
    code: 'bad-rule',
    message: 'policy: rules[0].from.memberOf: ',
  },
];

describe('Policy errors', () => {
  it.each(badRuleRows)('$name', ({ act, code, message }) => {
    const policy = new Policy({ rules: baseRules });
    const before = policy.rules();
    let caught: unknown;
    try {
      act(policy);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PolicyError);
    const err = caught as PolicyError;
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
    expect(err.message).toMatch(/^policy: .+\.$/);
    expect(policy.rules()).toEqual(before);
  });
});

describe('Policy JSON', () => {
  it('toJSON writes config form and fromJSON reads it back to the same decisions', () => {
    const policy = new Policy({ mode: 'permissive', rules: baseRules });
    const json = policy.toJSON();
    expect(json).toEqual({
      mode: 'permissive',
      rules: [
        { name: 'orders-to-billing', from: O, to: B },
        { name: 'shop-to-payments', from: [frontend.toString(), O], to: payments.toString() },
        { name: 'lab-to-inventory', from: { memberOf: 'lab.local' }, to: inventory.toString() },
        { name: 'orders-to-many', from: O, to: [inventory.toString(), payments.toString()] },
      ],
    });
    const back = Policy.fromJSON(JSON.parse(JSON.stringify(json)) as typeof json);
    expect(back.toJSON()).toEqual(json);
    for (const row of decisionRows.filter((r) => r.mode === 'permissive')) {
      expect(back.evaluate(row.caller, row.callee)).toEqual(policy.evaluate(row.caller, row.callee));
    }
  });
});

// The index must agree with the obvious definition: the first rule, in order, that matches.
describe('Policy index agrees with a linear scan', () => {
  const tds = ['lab.local', 'other.org'].map((t) => TrustDomain.mustParse(t));
  const ids = tds.flatMap((td) => ['a', 'b', 'c', 'd'].map((s) => SpiffeId.mustParse(`spiffe://${td.name}/ns/default/sa/${s}`)));
  const arbId = fc.constantFrom(...ids);
  const arbFrom = fc.oneof(
    arbId,
    fc.array(arbId, { minLength: 1, maxLength: 3 }),
    fc.constantFrom(...tds).map((td) => ({ memberOf: td })),
  );
  const arbTo = fc.oneof(arbId, fc.array(arbId, { minLength: 1, maxLength: 3 }));
  const arbRules = fc.array(fc.record({ from: arbFrom, to: arbTo }), { maxLength: 12 });
  const arbRemovals = fc.array(fc.nat(11), { maxLength: 4 });

  function matches(rule: PolicyRule, caller: SpiffeId, callee: SpiffeId): boolean {
    const callees = rule.to instanceof SpiffeId ? [rule.to] : (rule.to as readonly SpiffeId[]);
    if (!callees.some((c) => c.equals(callee))) return false;
    const from = rule.from;
    if (from instanceof SpiffeId) return from.equals(caller);
    if (Array.isArray(from)) return (from as readonly SpiffeId[]).some((f) => f.equals(caller));
    return caller.memberOf((from as { readonly memberOf: TrustDomain }).memberOf);
  }

  it('for random rules, removals and calls', () => {
    fc.assert(
      fc.property(arbRules, arbRemovals, (specs, removals) => {
        const rules: PolicyRule[] = specs.map((s, i) => ({ name: `r${i}`, from: s.from, to: s.to }));
        const policy = new Policy({ rules });
        let model = [...rules];
        for (const r of removals) {
          const victim = model[r % Math.max(model.length, 1)];
          if (victim === undefined) continue;
          policy.removeRule(victim.name);
          model = model.filter((m) => m !== victim);
        }
        for (const caller of ids) {
          for (const callee of ids) {
            const first = model.find((r) => matches(r, caller, callee));
            const decision = policy.evaluate(caller, callee);
            expect(decision.allowed).toBe(first !== undefined);
            expect(decision.rule).toBe(first?.name ?? DEFAULT_DENY);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
