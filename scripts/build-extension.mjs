// Bundles the VS Code extension: src/extension/extension.ts → dist/extension.js (CommonJS, Node).
// `vscode` is provided by the extension host; ws's optional native helpers are left out (ws falls
// back to JavaScript without them). Run alone (`node scripts/build-extension.mjs`) or import
// `buildExtension` from scripts/build.mjs.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

/** Builds dist/extension.js. `options` are passed through to esbuild (e.g. `{ minify: true }`). */
export function buildExtension(options = {}) {
  return build({
    entryPoints: { extension: 'src/extension/extension.ts' },
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    external: ['vscode', 'bufferutil', 'utf-8-validate'],
    ...options,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildExtension();
