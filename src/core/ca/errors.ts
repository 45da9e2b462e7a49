export type CaErrorCode =
  | 'no-ca'
  | 'ca-exists'
  | 'bad-state'
  | 'bad-ttl'
  | 'ca-expired'
  /** A rotation is under way: a prepared CA waits to be activated. */
  | 'already-prepared'
  /** `activate` with no prepared CA. */
  | 'not-prepared'
  /** An old CA still has valid SVIDs out there. */
  | 'retire-too-early'
  | 'nothing-to-retire';

/** A CA operation that cannot proceed; the message names the problem and the command that fixes it. */
export class CaError extends Error {
  override readonly name = 'CaError';
  constructor(
    readonly code: CaErrorCode,
    message: string,
  ) {
    super(message);
  }
}
