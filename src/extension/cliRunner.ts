// Runs the bundled `mtls-lab` CLI as a child process. Everything that writes the state folder's CA
// goes through here, so one code path (the CLI's) writes it, whether a person types the command
// or clicks in VS Code.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** How to run Node: in VS Code the host's own binary with ELECTRON_RUN_AS_NODE, so no `node` on PATH is needed. */
export interface NodeRuntime {
  readonly command: string;
  readonly env: NodeJS.ProcessEnv;
}

/** The running program as Node: `process.execPath` is Node in a plain process and Electron (run as Node) in VS Code. */
export function currentRuntime(env: NodeJS.ProcessEnv = process.env): NodeRuntime {
  return { command: process.execPath, env: { ...env, ELECTRON_RUN_AS_NODE: '1' } };
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunner {
  /** Runs `mtls-lab ARGS…`; never rejects for a non-zero exit (that is in `code`). */
  run(args: readonly string[], options?: { readonly cwd?: string; readonly timeoutMs?: number }): Promise<CliResult>;
}

/** A CliRunner over `<runtime> <cliPath> ARGS…`. */
export function processCliRunner(runtime: NodeRuntime, cliPath: string): CliRunner {
  return {
    run: (args, options = {}) =>
      new Promise((resolve) => {
        execFile(
          runtime.command,
          [cliPath, ...args],
          { env: runtime.env, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024, windowsHide: true },
          (err, stdout, stderr) => {
            const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
            const code = e === null ? 0 : typeof e.code === 'number' ? e.code : 1;
            const extra = e !== null && typeof e.code !== 'number' ? `${stderr ? '\n' : ''}mtls-lab: could not run the CLI: ${e.message}` : '';
            resolve({ code, stdout: String(stdout), stderr: String(stderr) + extra });
          },
        );
      }),
  };
}

/** A failed CLI run as an Error whose message is the CLI's own sentence (its stderr, which names the problem and the fix). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly args: readonly string[],
    readonly result: CliResult,
  ) {
    super(result.stderr.trim().replace(/^mtls-lab: /, '') || `mtls-lab ${args[0] ?? ''} exited with code ${result.code}.`);
  }
}

/** Runs and throws CliError on a non-zero exit; returns stdout. */
export async function runOrThrow(cli: CliRunner, args: readonly string[], options?: { readonly cwd?: string }): Promise<string> {
  const result = await cli.run(args, options);
  if (result.code !== 0) throw new CliError(args, result);
  return result.stdout;
}

// ── the CLI operations the extension uses ─────────────────────────────────────────────────────

export interface IssuedSvid {
  readonly spiffeId: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly files: { readonly cert: string; readonly key?: string; readonly bundle: string };
}

function isIssued(value: unknown): value is IssuedSvid {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const files = v['files'] as Record<string, unknown> | undefined;
  return (
    typeof v['spiffeId'] === 'string' &&
    typeof v['serial'] === 'string' &&
    typeof v['notBefore'] === 'string' &&
    typeof v['notAfter'] === 'string' &&
    typeof files === 'object' &&
    files !== null &&
    typeof files['cert'] === 'string' &&
    typeof files['bundle'] === 'string'
  );
}

/** True when the state folder holds a CA (the CLI's own test: `ca/ca.json`). */
export function hasCa(stateDir: string): boolean {
  return existsSync(join(stateDir, 'ca', 'ca.json'));
}

/** The trust domain of the CA in the state folder, if there is one and it says. Reads the public metadata only. */
export function caTrustDomain(stateDir: string): string | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(stateDir, 'ca', 'ca.json'), 'utf8')) as { trustDomain?: unknown };
    return typeof meta.trustDomain === 'string' ? meta.trustDomain : undefined;
  } catch {
    return undefined;
  }
}

/** `ca init` unless the state folder has a CA already. Returns whether it made one. */
export async function ensureCa(cli: CliRunner, stateDir: string, trustDomain: string, keyType: string): Promise<boolean> {
  if (hasCa(stateDir)) return false;
  await runOrThrow(cli, ['ca', 'init', '--state', stateDir, '--trust-domain', trustDomain, '--key-type', keyType]);
  return true;
}

/** `issue ID --out DIR --ttl T --json`: writes svid.pem, svid_key.pem and svid_bundle.pem into `outDir`. */
export async function issueSvid(cli: CliRunner, o: { readonly stateDir: string; readonly spiffeId: string; readonly outDir: string; readonly ttl: string }): Promise<IssuedSvid> {
  const stdout = await runOrThrow(cli, ['issue', o.spiffeId, '--state', o.stateDir, '--ttl', o.ttl, '--out', o.outDir, '--json']);
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new Error(`mTLS Lab: "mtls-lab issue --json" printed something that is not JSON: ${stdout.slice(0, 200)}`);
  }
  if (!isIssued(parsed)) throw new Error('mTLS Lab: "mtls-lab issue --json" printed JSON without spiffeId, serial, notBefore, notAfter and files.');
  return parsed;
}

/** `inspect FILE`: the human description of every certificate in the file. */
export function inspectFile(cli: CliRunner, file: string): Promise<string> {
  return runOrThrow(cli, ['inspect', file]);
}

/** `ca bundle --format pem|spiffe`: the trust bundle's text. Public material only. */
export function trustBundle(cli: CliRunner, stateDir: string, format: 'pem' | 'spiffe'): Promise<string> {
  return runOrThrow(cli, ['ca', 'bundle', '--state', stateDir, '--format', format]);
}
