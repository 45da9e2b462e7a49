export type { Authorizer, Decision } from './types.js';
export type { PolicyErrorCode } from './errors.js';
export { PolicyError } from './errors.js';
export { PLAINTEXT_CALLER, authorizeAny, authorizeId, authorizeMemberOf, authorizeOneOf, describeCaller } from './authorizers.js';
export type { CallerSelector, PolicyChange, PolicyJson, PolicyListener, PolicyMode, PolicyOptions, PolicyRule, PolicyRuleJson } from './policy.js';
export { DEFAULT_DENY, PERMISSIVE_PLAINTEXT, POLICY_MODES, Policy, RULE_NAME_PATTERN, describeSelector, ruleCallees } from './policy.js';
