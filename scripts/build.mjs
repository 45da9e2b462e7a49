// Bundles every entry point with esbuild. `vscode` stays external: only the extension host provides it.
import { build } from 'esbuild';
import { buildExtension } from './build-extension.mjs';
import { buildWebview } from './build-webview.mjs';

const common = { bundle: true, sourcemap: true, logLevel: 'warning', legalComments: 'none' };
const node = { ...common, platform: 'node', target: 'node20', format: 'cjs' };

await Promise.all([
  build({ ...node, entryPoints: { cli: 'src/cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } }),
  // playwright-core (the graph section's browser driver) reads its own package files at run time:
  // it stays in node_modules, resolved from dist/bench.js.
  build({ ...node, entryPoints: { bench: 'bench/main.ts' }, outdir: 'dist', external: ['playwright-core'] }),
  // The benchmark's child processes (backend, sidecar, load client), forked by dist/bench.js.
  build({ ...node, entryPoints: { 'bench-worker': 'bench/worker.ts' }, outdir: 'dist' }),
  buildExtension(),
  buildWebview(),
]);
