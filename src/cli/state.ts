import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { CliIo } from './io.js';

/** `--state`, else $MTLS_LAB_STATE, else ${XDG_STATE_HOME:-~/.local/state}/mtls-lab: never the workspace unless asked. */
export function resolveStateDir(flagValue: string | undefined, io: CliIo): string {
  const chosen = flagValue ?? io.env['MTLS_LAB_STATE'];
  if (chosen) return isAbsolute(chosen) ? chosen : resolve(io.cwd, chosen);
  const xdg = io.env['XDG_STATE_HOME'];
  const base = xdg && isAbsolute(xdg) ? xdg : join(io.env['HOME'] ?? homedir(), '.local', 'state');
  return join(base, 'mtls-lab');
}
