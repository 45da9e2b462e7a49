// Bundles every entry point with esbuild. `vscode` stays external: only the extension host provides it.
import { build } from 'esbuild';

const common = { bundle: true, sourcemap: true, logLevel: 'warning', legalComments: 'none' };
const node = { ...common, platform: 'node', target: 'node20', format: 'cjs' };

await Promise.all([
  build({ ...node, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } }),
  build({ ...node, entryPoints: { bench: 'bench/main.ts' }, outdir: 'dist' }),
]);
