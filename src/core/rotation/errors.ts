export type RotationErrorCode = 'unknown-service' | 'duplicate-service' | 'no-svid' | 'ca-rotation-in-progress';

/** A Rotator call that cannot proceed; the message names the problem and what to do instead. */
export class RotationError extends Error {
  override readonly name = 'RotationError';
  constructor(
    readonly code: RotationErrorCode,
    message: string,
  ) {
    super(message);
  }
}
