// The manifest's contributions as the running VS Code sees them: every contributed command is
// registered by activate(), and the identities view and its container exist.
import * as vscode from 'vscode';
import type { TestGroup } from './index.js';
import { check, checkpoint, manifest, SIDEBAR } from './index.js';

export const commandTests: TestGroup = {
  name: 'contributed commands and views',
  tests: [
    {
      name: 'every contributed command is registered, under the category "mTLS Lab"',
      smoke: true,
      run: async () => {
        const contributed = manifest().contributes.commands;
        check(contributed.length > 0, 'the manifest contributes no commands');
        const registered = new Set(await vscode.commands.getCommands(true));
        const missing = contributed.filter((c) => !registered.has(c.command)).map((c) => c.command);
        check(missing.length === 0, `contributed but not registered: ${missing.join(', ')}`);
        const uncategorized = contributed.filter((c) => c.category !== 'mTLS Lab').map((c) => c.command);
        check(uncategorized.length === 0, `not in the "mTLS Lab" category: ${uncategorized.join(', ')}`);
        console.log(`    ${contributed.length} commands: ${contributed.map((c) => c.command.replace(/^mtlsLab\./, '')).join(', ')}`);
      },
    },
    {
      name: 'the identities view opens in its own container and welcomes a person with no mesh',
      smoke: true,
      run: async () => {
        const m = manifest();
        const container = m.contributes.viewsContainers?.activitybar?.find((c) => c.id === 'mtlsLab');
        check(container !== undefined, 'no activity bar container "mtlsLab"');
        const view = m.contributes.views?.['mtlsLab']?.find((v) => v.id === 'mtlsLab.identities');
        check(view !== undefined, 'no view "mtlsLab.identities" in the container');
        await vscode.commands.executeCommand('workbench.view.extension.mtlsLab');
        await checkpoint({ name: 'identities-empty', page: { selector: SIDEBAR, texts: [view.name, 'No mesh is running', 'Start the Sample Mesh'] } });
      },
    },
  ],
};
