// The walkthrough as VS Code read it from the manifest: its steps link to real commands, their
// images ship with the extension, and it opens on the Welcome page.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { TestGroup } from './index.js';
import { check, checkpoint, EXTENSION_ID, extension, manifest } from './index.js';

const WALKTHROUGH = 'mtlsLab.gettingStarted';

export const walkthroughTests: TestGroup = {
  name: 'walkthrough',
  tests: [
    {
      name: 'the walkthrough is contributed: every step links a contributed command and ships its image with alt text',
      smoke: true,
      run: async () => {
        const m = manifest();
        const w = m.contributes.walkthroughs?.find((x) => x.id === WALKTHROUGH);
        check(w !== undefined, `no walkthrough ${WALKTHROUGH} in the manifest`);
        check(w.steps.length >= 3, `the walkthrough has ${w.steps.length} steps`);
        const commands = new Set(m.contributes.commands.map((c) => c.command));
        const registered = new Set(await vscode.commands.getCommands(true));
        const root = extension().extensionUri.fsPath;
        for (const step of w.steps) {
          const links = [...step.description.matchAll(/\(command:([A-Za-z0-9_.]+)/g)].map((x) => x[1] as string);
          check(links.length > 0, `step ${step.id} has no command link`);
          for (const id of links) check(commands.has(id) || (!id.startsWith('mtlsLab.') && registered.has(id)), `step ${step.id} links ${id}, which is not a command`);
          for (const e of step.completionEvents ?? []) {
            if (e.startsWith('onCommand:')) check(commands.has(e.slice('onCommand:'.length)), `step ${step.id} completes on ${e}, not a contributed command`);
          }
          const image = step.media?.image;
          check(image !== undefined, `step ${step.id} has no image`);
          for (const file of typeof image === 'string' ? [image] : [image.light, image.dark]) check(existsSync(join(root, file)), `step ${step.id}: ${file} is not in the extension`);
          check((step.media?.altText ?? '').length > 10, `step ${step.id} has no altText`);
        }
      },
    },
    {
      name: 'the walkthrough opens on the Welcome page',
      run: async () => {
        const w = manifest().contributes.walkthroughs?.find((x) => x.id === WALKTHROUGH);
        check(w !== undefined, `no walkthrough ${WALKTHROUGH}`);
        await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${EXTENSION_ID}#${WALKTHROUGH}`, false);
        const first = w.steps[0];
        await checkpoint({ name: 'walkthrough', page: { texts: [w.title, ...(first === undefined ? [] : [first.title])] } });
        await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      },
    },
  ],
};
