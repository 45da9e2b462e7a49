// The state folder the extension hands to the CLI and the daemon: the same rule as the CLI's own
// (`--state`, else $MTLS_LAB_STATE, else the user's state folder), so a person's terminal and VS
// Code find the same CA and the same running daemon. Never the workspace unless the setting says so.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { resolveStateDir } from '../cli/state.js';

/** The absolute state folder for the `mtlsLab.stateFolder` setting ("" for the default; "~/" expands). */
export function labStateDir(setting: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = env['HOME'] ?? homedir();
  const flag = setting === '' ? undefined : setting === '~' ? home : setting.startsWith('~/') ? join(home, setting.slice(2)) : setting;
  return resolveStateDir(flag, { env, cwd: home, out: () => undefined, err: () => undefined, now: () => new Date() });
}
