export type CaErrorCode = 'no-ca' | 'ca-exists' | 'bad-state' | 'bad-ttl' | 'ca-expired';

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
