import { SpiffeError, SpiffeId, TrustDomain } from '../spiffe/index.js';
import { PolicyError } from './errors.js';
import { PLAINTEXT_CALLER, sentence } from './authorizers.js';
import type { Authorizer, Decision } from './types.js';

/**
 * `strict`: only callers with an SVID, and only as the rules allow (default deny).
 * `permissive`: like Istio's PERMISSIVE, plaintext callers get through too while services migrate
 * to mTLS; callers with an SVID are still held to the rules.
 */
export type PolicyMode = 'strict' | 'permissive';
export const POLICY_MODES: readonly PolicyMode[] = ['strict', 'permissive'];

/** The decision's `rule` when no rule allowed the call. */
export const DEFAULT_DENY = 'default-deny';
/** The decision's `rule` when permissive mode let a plaintext caller through. */
export const PERMISSIVE_PLAINTEXT = 'permissive-plaintext';

/** Rule names: a token that reads well in "(rule orders-to-billing)" and in an event log. */
export const RULE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const RULE_NAME = new RegExp(RULE_NAME_PATTERN);
const RESERVED_NAMES: ReadonlySet<string> = new Set([DEFAULT_DENY, PERMISSIVE_PLAINTEXT]);

/** Who a rule lets in: one ID, any of several IDs, or every ID in a trust domain. */
export type CallerSelector = SpiffeId | readonly SpiffeId[] | { readonly memberOf: TrustDomain };

/** One allow-list entry: callers matching `from` may call each workload in `to`. */
export interface PolicyRule {
  readonly name: string;
  readonly from: CallerSelector;
  readonly to: SpiffeId | readonly SpiffeId[];
}

/** What `addRule`, `removeRule` and `setMode` changed; `change` matches the `policy/changed` event. */
export type PolicyChange =
  | { readonly change: 'added'; readonly rule: PolicyRule }
  | { readonly change: 'removed'; readonly rule: PolicyRule }
  | { readonly change: 'mode'; readonly mode: PolicyMode; readonly previous: PolicyMode };

/** A rule in config form: SPIFFE IDs and trust domains as strings. */
export interface PolicyRuleJson {
  readonly name: string;
  readonly from: string | readonly string[] | { readonly memberOf: string };
  readonly to: string | readonly string[];
}

/** The whole policy in config form. */
export interface PolicyJson {
  readonly mode: PolicyMode;
  readonly rules: readonly PolicyRuleJson[];
}

export interface PolicyOptions {
  /** Default `strict`. */
  readonly mode?: PolicyMode;
  /** Added in order; the first rule that allows a call is the one a decision names. */
  readonly rules?: Iterable<PolicyRule>;
}

export type PolicyListener = (change: PolicyChange) => void;

interface Ranked {
  readonly rule: PolicyRule;
  /** Position in `rules()`: a lower rank wins when several rules allow the same call. */
  readonly rank: number;
}

/** The rules that name one callee, keyed for O(1) lookups by caller. */
interface CalleeIndex {
  readonly byCaller: Map<string, Ranked>;
  readonly byTrustDomain: Map<string, Ranked>;
}

function isIdList(from: CallerSelector): from is readonly SpiffeId[] {
  return Array.isArray(from);
}

/** Every callee of a rule, as a list. */
export function ruleCallees(rule: PolicyRule): readonly SpiffeId[] {
  return rule.to instanceof SpiffeId ? [rule.to] : (rule.to as readonly SpiffeId[]);
}

/** A rule's `from` in words, e.g. "spiffe://lab.local/ns/default/sa/orders" or "any ID in lab.local". */
export function describeSelector(from: CallerSelector): string {
  if (from instanceof SpiffeId) return from.toString();
  if (isIdList(from)) return `any of ${from.map((id) => id.toString()).join(', ')}`;
  return `any ID in ${from.memberOf.name}`;
}

/** Freezes a copy so later edits to the caller's arrays cannot desynchronize the index. */
function frozenRule(rule: PolicyRule): PolicyRule {
  const from: CallerSelector =
    rule.from instanceof SpiffeId ? rule.from : isIdList(rule.from) ? Object.freeze([...rule.from]) : Object.freeze({ memberOf: rule.from.memberOf });
  const to = rule.to instanceof SpiffeId ? rule.to : Object.freeze([...(rule.to as readonly SpiffeId[])]);
  return Object.freeze({ name: rule.name, from, to });
}

function checkRuleShape(rule: PolicyRule): void {
  const name = rule.name;
  if (!RULE_NAME.test(name)) {
    throw new PolicyError(
      'bad-rule',
      `policy: the rule name ${JSON.stringify(name)} is not a valid name; use 1 to 128 letters, digits, ".", "-" and "_", starting with a letter or digit, e.g. "orders-to-billing".`,
    );
  }
  if (RESERVED_NAMES.has(name)) {
    throw new PolicyError('bad-rule', `policy: the rule name "${name}" is reserved for decisions that no rule made; choose another name.`);
  }
  if (isIdList(rule.from) && rule.from.length === 0) {
    throw new PolicyError('bad-rule', `policy: rule "${name}" has an empty \`from\` list, so it would allow no one; name at least one caller.`);
  }
  if (!(rule.to instanceof SpiffeId) && (rule.to as readonly SpiffeId[]).length === 0) {
    throw new PolicyError('bad-rule', `policy: rule "${name}" has an empty \`to\` list, so it would allow nothing; name at least one callee.`);
  }
}

// A short, readable name for one end of a suggested rule: the service account of an Istio-shaped
// ID, else its last path segment, else the trust domain.
function shortName(id: SpiffeId): string {
  const segments = id.path.split('/').filter((s) => s !== '');
  const sa = segments.lastIndexOf('sa');
  const picked = sa >= 0 && sa === segments.length - 2 ? segments[sa + 1] : segments.at(-1);
  const raw = picked ?? id.trustDomain.name;
  const cleaned = raw.replace(/^[^A-Za-z0-9]+/, '');
  return cleaned === '' ? 'workload' : cleaned.slice(0, 60);
}

/**
 * An allow-list keyed by SPIFFE ID (caller → callee). `evaluate` runs once per connection, so rules
 * are indexed by callee, then by caller ID or caller trust domain: two map lookups, whatever the
 * number of rules.
 */
export class Policy {
  private currentMode: PolicyMode;
  private readonly ordered: PolicyRule[] = [];
  private readonly byName = new Map<string, PolicyRule>();
  private index = new Map<string, CalleeIndex>();
  private readonly listeners = new Set<PolicyListener>();

  constructor(options: PolicyOptions = {}) {
    this.currentMode = options.mode ?? 'strict';
    for (const rule of options.rules ?? []) this.insert(rule);
  }

  /** Builds a policy from its config form, as `toJSON` writes it. Throws PolicyError naming the bad field. */
  static fromJSON(json: { readonly mode?: PolicyMode; readonly rules?: readonly PolicyRuleJson[] }): Policy {
    const rules = (json.rules ?? []).map((r, i) => ruleFromJson(r, i));
    return new Policy({ mode: json.mode ?? 'strict', rules });
  }

  /** The current mode. */
  get mode(): PolicyMode {
    return this.currentMode;
  }

  /** Switches mode; returns the change, or undefined (and tells no one) when already in `mode`. */
  setMode(mode: PolicyMode): PolicyChange | undefined {
    const previous = this.currentMode;
    if (previous === mode) return undefined;
    this.currentMode = mode;
    return this.fire({ change: 'mode', mode, previous });
  }

  /**
   * Whether `caller` (undefined for a plaintext connection) may call `callee`, which rule decided,
   * and a sentence saying so. When several rules allow a call, the first in `rules()` is named.
   */
  evaluate(caller: SpiffeId | undefined, callee: SpiffeId): Decision {
    const calleeId = callee.toString();
    if (caller === undefined) {
      if (this.currentMode === 'permissive') {
        return {
          allowed: true,
          rule: PERMISSIVE_PLAINTEXT,
          explanation: `${sentence(PLAINTEXT_CALLER)} may call ${calleeId} (permissive mode accepts plaintext while services migrate to mTLS; switch to strict mode to require it).`,
        };
      }
      return {
        allowed: false,
        rule: DEFAULT_DENY,
        explanation: `${sentence(PLAINTEXT_CALLER)} may not call ${calleeId}: strict mode requires mTLS; give the caller an SVID, or switch to permissive mode while it migrates.`,
      };
    }
    const callerId = caller.toString();
    const entry = this.index.get(calleeId);
    if (entry !== undefined) {
      const exact = entry.byCaller.get(callerId);
      const member = entry.byTrustDomain.get(caller.trustDomain.name);
      const winner = exact === undefined ? member : member === undefined || exact.rank < member.rank ? exact : member;
      if (winner !== undefined) {
        return { allowed: true, rule: winner.rule.name, explanation: `${callerId} may call ${calleeId} (rule ${winner.rule.name}).` };
      }
    }
    const why =
      this.currentMode === 'strict'
        ? 'strict mode denies by default'
        : 'permissive mode lets plaintext through but holds callers with an SVID to the rules';
    return {
      allowed: false,
      rule: DEFAULT_DENY,
      explanation: `${callerId} may not call ${calleeId}: no rule allows it (${why}); add a rule with \`from\` ${callerId} and \`to\` ${calleeId}.`,
    };
  }

  /** An Authorizer that consults this policy as it is at each call, so later changes apply to new connections. */
  authorizer(): Authorizer {
    return (caller, callee) => this.evaluate(caller, callee);
  }

  /** Adds `rule` after the others. Throws PolicyError for a bad or already-used name. */
  addRule(rule: PolicyRule): PolicyChange {
    const added = this.insert(rule);
    return this.fire({ change: 'added', rule: added });
  }

  /** Removes the rule called `name`. Throws PolicyError (`unknown-rule`) listing the names there are. */
  removeRule(name: string): PolicyChange {
    const rule = this.byName.get(name);
    if (rule === undefined) {
      const names = this.ordered.map((r) => r.name);
      const known = names.length === 0 ? 'the policy has no rules' : `its rules are: ${names.join(', ')}`;
      throw new PolicyError('unknown-rule', `policy: there is no rule named ${JSON.stringify(name)}; ${known}.`);
    }
    this.ordered.splice(this.ordered.indexOf(rule), 1);
    this.byName.delete(name);
    // Removal is rare (a person clicks), so a rebuild keeps the index simple and the ranks exact.
    this.rebuildIndex();
    return this.fire({ change: 'removed', rule });
  }

  /** The rule called `name`, if there is one. */
  rule(name: string): PolicyRule | undefined {
    return this.byName.get(name);
  }

  /** Every rule, in the order they were added. */
  rules(): readonly PolicyRule[] {
    return [...this.ordered];
  }

  /**
   * A rule that would allow `caller` to call `callee`, named `<caller>-to-<callee>` (made unique),
   * for "allow this denied call": `policy.addRule(policy.suggestRule(caller, callee))`.
   */
  suggestRule(caller: SpiffeId, callee: SpiffeId): PolicyRule {
    const base = `${shortName(caller)}-to-${shortName(callee)}`;
    let name = base;
    for (let n = 2; this.byName.has(name) || RESERVED_NAMES.has(name); n++) name = `${base}-${n}`;
    return { name, from: caller, to: callee };
  }

  /** Listens for changes; returns a function that stops listening. */
  onDidChange(listener: PolicyListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The policy in config form, the inverse of `fromJSON`. */
  toJSON(): PolicyJson {
    return { mode: this.currentMode, rules: this.ordered.map(ruleToJson) };
  }

  private insert(rule: PolicyRule): PolicyRule {
    checkRuleShape(rule);
    if (this.byName.has(rule.name)) {
      throw new PolicyError('duplicate-rule', `policy: a rule named "${rule.name}" already exists; choose another name, or remove the old rule first.`);
    }
    const frozen = frozenRule(rule);
    this.ordered.push(frozen);
    this.byName.set(frozen.name, frozen);
    // The new rule ranks last, so it only fills keys no earlier rule holds.
    this.indexRule(frozen, this.ordered.length - 1);
    return frozen;
  }

  private rebuildIndex(): void {
    this.index = new Map();
    this.ordered.forEach((rule, rank) => this.indexRule(rule, rank));
  }

  private indexRule(rule: PolicyRule, rank: number): void {
    const ranked: Ranked = { rule, rank };
    for (const callee of ruleCallees(rule)) {
      const key = callee.toString();
      let entry = this.index.get(key);
      if (entry === undefined) {
        entry = { byCaller: new Map(), byTrustDomain: new Map() };
        this.index.set(key, entry);
      }
      const from = rule.from;
      if (from instanceof SpiffeId) setIfAbsent(entry.byCaller, from.toString(), ranked);
      else if (isIdList(from)) for (const id of from) setIfAbsent(entry.byCaller, id.toString(), ranked);
      else setIfAbsent(entry.byTrustDomain, from.memberOf.name, ranked);
    }
  }

  private fire(change: PolicyChange): PolicyChange {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // A broken listener must not undo a change the caller already made, nor starve the others.
      }
    }
    return change;
  }
}

function setIfAbsent(map: Map<string, Ranked>, key: string, value: Ranked): void {
  if (!map.has(key)) map.set(key, value);
}

function ruleToJson(rule: PolicyRule): PolicyRuleJson {
  const from = rule.from;
  const fromJson = from instanceof SpiffeId ? from.toString() : isIdList(from) ? from.map((id) => id.toString()) : { memberOf: from.memberOf.name };
  const to = rule.to instanceof SpiffeId ? rule.to.toString() : (rule.to as readonly SpiffeId[]).map((id) => id.toString());
  return { name: rule.name, from: fromJson, to };
}

function parseIn<T>(parse: () => T, where: string): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof SpiffeError) throw new PolicyError('bad-rule', `policy: ${where}: ${err.message.replace(/^spiffe: /, '')}`);
    throw err;
  }
}

function ruleFromJson(json: PolicyRuleJson, i: number): PolicyRule {
  const where = `rules[${i}]`;
  const from = json.from;
  let selector: CallerSelector;
  if (typeof from === 'string') selector = parseIn(() => SpiffeId.parse(from), `${where}.from`);
  else if (Array.isArray(from)) selector = (from as readonly string[]).map((s, j) => parseIn(() => SpiffeId.parse(s), `${where}.from[${j}]`));
  else selector = { memberOf: parseIn(() => TrustDomain.parse((from as { readonly memberOf: string }).memberOf), `${where}.from.memberOf`) };
  const to = json.to;
  const callees =
    typeof to === 'string' ? parseIn(() => SpiffeId.parse(to), `${where}.to`) : to.map((s, j) => parseIn(() => SpiffeId.parse(s), `${where}.to[${j}]`));
  return { name: json.name, from: selector, to: callees };
}
