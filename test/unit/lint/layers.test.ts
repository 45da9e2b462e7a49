import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The layer rules live in eslint.config.mjs; these rows prove they bite where DESIGN.md says.
const rows = [
  { name: 'vscode in the core', file: 'src/core/mesh/x.ts', code: "import * as vscode from 'vscode';\nexport const v = vscode;\n", blocked: true },
  { name: 'vscode in the CLI', file: 'src/cli/x.ts', code: "import * as vscode from 'vscode';\nexport const v = vscode;\n", blocked: true },
  { name: 'vscode in the extension', file: 'src/extension/x.ts', code: "import * as vscode from 'vscode';\nexport const v = vscode;\n", blocked: false },
  { name: 'node:fs in the protocol', file: 'src/protocol/x.ts', code: "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", blocked: true },
  { name: 'node:crypto in the page', file: 'webview/x.ts', code: "import { randomBytes } from 'node:crypto';\nexport const r = randomBytes;\n", blocked: true },
  { name: 'node:fs in the core', file: 'src/core/x.ts', code: "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", blocked: false },
];

describe('layer rules (eslint no-restricted-imports)', () => {
  const eslint = new ESLint({ cwd: process.cwd() });
  for (const r of rows) {
    it(`${r.blocked ? 'blocks' : 'allows'} ${r.name}`, async () => {
      const [result] = await eslint.lintText(r.code, { filePath: r.file });
      const restricted = (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports');
      expect(restricted.length > 0).toBe(r.blocked);
    });
  }
});
