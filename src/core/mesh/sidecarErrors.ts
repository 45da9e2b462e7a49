/** Codes a caller can switch on; nobody parses message strings. */
export type SidecarErrorCode = 'bad-option' | 'bad-svid' | 'listen-failed' | 'already-started';

/** A sidecar that cannot be set up or started, with a message that names the problem and the fix. */
export class SidecarError extends Error {
  override readonly name = 'SidecarError';
  constructor(
    readonly code: SidecarErrorCode,
    message: string,
  ) {
    super(message);
  }
}
