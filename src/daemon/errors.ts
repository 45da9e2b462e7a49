export type DaemonErrorCode = 'bad-option' | 'bad-token' | 'port-in-use' | 'listen-failed' | 'bad-daemon-file';

/** The control API or the daemon file cannot do what was asked; the message names the problem and the fix. */
export class DaemonError extends Error {
  override readonly name = 'DaemonError';
  constructor(
    readonly code: DaemonErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What a MeshController may throw from `execute` when it wants a particular HTTP status; any
 * error with a string `code` works too (see `describeCommandError` for how codes map to statuses).
 */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly code: string,
    message: string,
    /** An HTTP status (400–599) that overrides the mapping by code. */
    readonly status?: number,
  ) {
    super(message);
  }
}
