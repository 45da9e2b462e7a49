/** What went wrong with a policy change. UIs switch on this; nobody parses messages. */
export type PolicyErrorCode = 'bad-rule' | 'duplicate-rule' | 'unknown-rule';

/** Thrown by `Policy` when a rule cannot be added, removed or read; the message names the fix. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';

  constructor(
    readonly code: PolicyErrorCode,
    message: string,
  ) {
    super(message);
  }
}
