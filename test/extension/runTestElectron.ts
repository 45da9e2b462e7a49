// The same extension-host suite (test/extension/suite) in desktop VS Code through
// @vscode/test-electron, for machines that can download VS Code (or have one: set
// VSCODE_EXECUTABLE to its binary). Not run in CI on this project's machines: they cannot reach
// VS Code's download servers and no desktop VS Code or Electron build is packaged for npm or
// Debian, so `runTests` fails there at the download. On those machines the suite runs in
// code-server instead: `node scripts/vscode-e2e.mjs` (see test/extension/README.md).
//
// Run (Linux needs a display, e.g. `xvfb-run -a`):
//   npx esbuild test/extension/runTestElectron.ts --bundle --platform=node --format=cjs --packages=external \
//     --outfile=out/vscode-e2e/runTestElectron.js && node out/vscode-e2e/runTestElectron.js
// Env: VSCODE_VERSION (default 'stable'), VSCODE_EXECUTABLE (skip the download).
//
// Without the code-server harness the suite's workbench checkpoints (text in the tree, the status
// bar, the graph's webview DOM, screenshots) are skipped; every extension-host check still runs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { runTests } from '@vscode/test-electron';

/** The project root: the nearest folder above this file whose package.json is mtls-lab's. */
function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mtls-lab') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('runTestElectron: cannot find the mtls-lab project folder above this script.');
    dir = up;
  }
}

async function main(): Promise<number> {
  const root = projectRoot();
  for (const script of ['scripts/build.mjs', 'scripts/build-extension.mjs', 'scripts/build-webview.mjs']) {
    if (existsSync(join(root, script))) execFileSync(process.execPath, [script], { cwd: root, stdio: 'inherit' });
  }
  const suite = join(root, 'out', 'vscode-e2e', 'suite.js');
  await build({
    absWorkingDir: root,
    entryPoints: ['test/extension/suite/index.ts'],
    outfile: suite,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    external: ['vscode'],
    logLevel: 'warning',
  });

  const work = mkdtempSync(join(tmpdir(), 'mtls-lab-vscode-electron-'));
  const dirs = { ud: join(work, 'ud'), ext: join(work, 'ext'), ws: join(work, 'ws'), state: join(work, 'state') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  // VS Code's own file dialogs (quick inputs), so the suite can answer Issue and Export as it does in code-server.
  mkdirSync(join(dirs.ud, 'User'), { recursive: true });
  writeFileSync(
    join(dirs.ud, 'User', 'settings.json'),
    `${JSON.stringify({ 'files.simpleDialog.enable': true, 'window.dialogStyle': 'custom', 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false, 'telemetry.telemetryLevel': 'off', 'update.mode': 'none' }, null, 2)}\n`,
  );
  try {
    const executable = process.env['VSCODE_EXECUTABLE'];
    const code = await runTests({
      ...(executable ? { vscodeExecutablePath: executable } : { version: process.env['VSCODE_VERSION'] ?? 'stable' }),
      extensionDevelopmentPath: root,
      extensionTestsPath: suite,
      launchArgs: [dirs.ws, '--user-data-dir', dirs.ud, '--extensions-dir', dirs.ext, '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
      // The extension, its CLI and its daemon get a state folder of their own, never the person's.
      extensionTestsEnv: { MTLS_LAB_STATE: dirs.state, MTLS_LAB_E2E_MODE: 'dev', MTLS_LAB_E2E_WORKSPACE: dirs.ws },
    });
    return code;
  } finally {
    // A daemon left by a failed run (it runs in its own process group).
    try {
      const info = JSON.parse(readFileSync(join(dirs.state, 'daemon.json'), 'utf8')) as { pid?: number };
      if (typeof info.pid === 'number') process.kill(-info.pid, 'SIGTERM');
    } catch {
      // none left
    }
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`runTestElectron: ${err instanceof Error ? err.message : String(err)}`);
    console.error('runTestElectron: where VS Code cannot be downloaded, run the same suite in code-server: node scripts/vscode-e2e.mjs');
    process.exit(1);
  },
);
