import type { CliIo } from './io.js';
import { EXIT_FAILED, EXIT_USAGE, FailedError, UsageError } from './io.js';

type Command = (argv: readonly string[], io: CliIo) => number | Promise<number>;

export interface Commands {
  readonly caInit: Command;
  readonly caBundle: Command;
  readonly issue: Command;
  readonly inspect: Command;
  readonly verify: Command;
  readonly caRotate: Command;
  readonly up: Command;
  readonly attack: Command;
}

export const USAGE = `mTLS Lab: local SPIFFE identities, short-lived X.509-SVIDs and mutual TLS.

Usage:
  mtls-lab ca init   [--state DIR] [--trust-domain TD] [--key-type ec-p256|rsa-2048] [--intermediate] [--force]
  mtls-lab ca bundle [--state DIR] [--format pem|spiffe]
  mtls-lab ca rotate [--state DIR]
  mtls-lab issue ID  [--state DIR] [--ttl DURATION] [--out DIR] [--csr FILE] [--dns NAME]...
  mtls-lab inspect FILE [--json]
  mtls-lab verify CERT --bundle FILE [--id ID | --trust-domain TD] [--json]
  mtls-lab up        [--config FILE] [--state DIR] [--port N] [--ttl DURATION] [--no-open]
  mtls-lab attack SCENARIO [--target SERVICE] [--state DIR] [--json]

"up" runs the sample mesh (or --config mtls-lab.json) until Ctrl-C; attacks: impostor-no-cert,
rogue-ca, expired-replay, unauthorized, plaintext.
State folder: --state, else $MTLS_LAB_STATE, else \${XDG_STATE_HOME:-~/.local/state}/mtls-lab.
DURATION: 90s, 5m, 1h. Exit codes: 0 ok, 1 failed check or operation, 2 bad usage or input.
`;

// Errors from the core carry a code; these mean the input was wrong (exit 2), the rest that an
// operation or check failed (exit 1).
const INPUT_CODES = new Set([
  'usage',
  'bad-duration',
  'bad-pem',
  'bad-certificate',
  'bad-key',
  'bad-csr',
  'csr-signature',
  'unsupported-key',
  'bad-ttl',
  'no-ca',
  'bad-state',
  'bad-config',
  'no-config',
]);

function isCoded(err: unknown): err is Error & { code: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

function defaultIo(): CliIo {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
  };
}

/** Runs one CLI invocation and returns its exit code; never throws, never prints a stack trace (unless MTLS_LAB_DEBUG=1). */
export async function runCli(argv: readonly string[], commands: Commands, io: CliIo = defaultIo()): Promise<number> {
  const [first, second, ...rest] = argv;
  try {
    switch (first) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        (first === undefined ? io.err : io.out)(USAGE);
        return first === undefined ? EXIT_USAGE : 0;
      case 'ca':
        if (second === 'init') return await commands.caInit(rest, io);
        if (second === 'bundle') return await commands.caBundle(rest, io);
        if (second === 'rotate') return await commands.caRotate(rest, io);
        throw new UsageError(`${second === undefined ? 'missing "ca" subcommand' : `unknown "ca" subcommand "${second}"`}; use "mtls-lab ca init", "ca bundle" or "ca rotate".`);
      case 'issue':
        return await commands.issue(argv.slice(1), io);
      case 'inspect':
        return await commands.inspect(argv.slice(1), io);
      case 'verify':
        return await commands.verify(argv.slice(1), io);
      case 'up':
        return await commands.up(argv.slice(1), io);
      case 'attack':
        return await commands.attack(argv.slice(1), io);
      default:
        throw new UsageError(`unknown command "${first}"; run "mtls-lab --help" for the list.`);
    }
  } catch (err) {
    if (io.env['MTLS_LAB_DEBUG'] === '1' && err instanceof Error) io.err(`${err.stack ?? err.message}\n`);
    if (err instanceof UsageError) {
      io.err(`mtls-lab: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof FailedError) {
      io.err(`mtls-lab: ${err.message}\n`);
      return EXIT_FAILED;
    }
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e.code === 'string' && typeof e.syscall === 'string' && e.path) {
      io.err(`mtls-lab: ${e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code} on ${e.path}; choose a folder you can write, e.g. --state or --out.\n`);
      return EXIT_FAILED;
    }
    if (isCoded(err)) {
      io.err(`mtls-lab: ${err.message}\n`);
      return INPUT_CODES.has(err.code) || err.name === 'SpiffeError' ? EXIT_USAGE : EXIT_FAILED;
    }
    io.err(`mtls-lab: unexpected error: ${err instanceof Error ? err.message : String(err)}; run again with MTLS_LAB_DEBUG=1 for details and report it.\n`);
    return EXIT_FAILED;
  }
}
