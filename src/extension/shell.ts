// Runs a person's reload command after their SVID files were renewed, as spiffe-helper's `cmd` does.
import { exec } from 'node:child_process';
import { join } from 'node:path';

/** Runs `command` through the shell in `folder`, with the three SVID file paths in its environment. Never rejects. */
export function runReloadCommand(command: string, folder: string, timeoutMs = 30_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    exec(
      command,
      {
        cwd: folder,
        timeout: timeoutMs,
        windowsHide: true,
        env: {
          ...process.env,
          SVID_CERT_FILE: join(folder, 'svid.pem'),
          SVID_KEY_FILE: join(folder, 'svid_key.pem'),
          SVID_BUNDLE_FILE: join(folder, 'svid_bundle.pem'),
        },
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, output: `${stdout}${stderr}${err !== null && typeof err.code !== 'number' ? err.message : ''}` });
      },
    );
  });
}
