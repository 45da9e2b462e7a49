/** What a command may touch, so tests can run commands in-process. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly now: () => Date;
}

/** Bad usage or input: exit 2, one line on stderr naming the problem and the fix. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

/** A check or operation that failed: exit 1. */
export class FailedError extends Error {
  override readonly name = 'FailedError';
  readonly code = 'failed';
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
