// Activation: the extension is there, activates without a mesh, hands back its test API, and
// shows its status bar item.
import { resolve, sep } from 'node:path';
import * as vscode from 'vscode';
import type { TestGroup } from './index.js';
import { api, check, checkEqual, checkpoint, extension, STATUSBAR } from './index.js';

export const activationTests: TestGroup = {
  name: 'activation',
  tests: [
    {
      // A literal: index.ts's constants are not yet defined while this module loads (it imports us).
      name: 'mtls-lab.mtls-lab activates and returns its API, with no mesh running',
      smoke: true,
      critical: true,
      run: async () => {
        const ext = extension();
        const lab = await api();
        check(ext.isActive, 'the extension is not active after activate()');
        for (const f of ['state', 'snapshot', 'injectedFolders'] as const) check(typeof lab[f] === 'function', `the API has no ${f}()`);
        checkEqual(lab.state(), 'stopped', 'state() before any mesh');
        checkEqual(lab.snapshot(), undefined, 'snapshot() before any mesh');
      },
    },
    {
      name: 'the extension under test is the one installed from the .vsix',
      only: 'vsix',
      run: async () => {
        const dir = process.env['MTLS_LAB_E2E_EXTENSIONS_DIR'];
        check(dir !== undefined && dir !== '', 'MTLS_LAB_E2E_EXTENSIONS_DIR is not set');
        const path = extension().extensionUri.fsPath;
        check(path.startsWith(resolve(dir) + sep), `the extension runs from ${path}, not from the extensions folder ${dir}`);
        const files = await vscode.workspace.fs.readDirectory(vscode.Uri.joinPath(extension().extensionUri, 'dist'));
        const names = files.map(([n]) => n);
        for (const f of ['extension.js', 'cli.js', 'webview']) check(names.includes(f), `the .vsix has no dist/${f} (it has ${names.join(', ')})`);
      },
    },
    {
      name: 'the status bar says the mesh is stopped',
      smoke: true,
      run: async () => {
        await checkpoint({ name: 'status-bar-stopped', page: { selector: STATUSBAR, texts: ['mTLS: stopped'] } });
      },
    },
  ],
};
