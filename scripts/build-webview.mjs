// Bundles the graph page: one browser script (IIFE, minified) and one stylesheet, the same files
// for the VS Code webview and for the daemon's dashboard. Call `buildWebview()` from build.mjs, or
// run this file alone: `node scripts/build-webview.mjs [--outdir DIR] [--no-minify]` (readable
// stacks for profiling).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Writes `<outdir>/main.js` and `<outdir>/main.css` (default `dist/webview`). Resolves with the
 * output paths and their sizes in bytes.
 * @param {{ outdir?: string, sourcemap?: boolean, minify?: boolean }} [options]
 * @returns {Promise<{ js: string, css: string, jsBytes: number, cssBytes: number }>}
 */
export async function buildWebview(options = {}) {
  const outdir = resolve(root, options.outdir ?? 'dist/webview');
  const common = { bundle: true, minify: options.minify ?? true, logLevel: 'warning', legalComments: 'none', absWorkingDir: root, metafile: true };
  const [js, css] = await Promise.all([
    build({
      ...common,
      entryPoints: { main: 'webview/main.ts' },
      outdir,
      platform: 'browser',
      format: 'iife',
      target: ['chrome114', 'firefox115', 'safari16'],
      sourcemap: options.sourcemap ?? false,
    }),
    build({ ...common, entryPoints: { main: 'webview/style.css' }, outdir, target: ['chrome114', 'firefox115', 'safari16'] }),
  ]);
  const size = (meta) => Object.values(meta.outputs).reduce((n, o) => n + o.bytes, 0);
  return { js: join(outdir, 'main.js'), css: join(outdir, 'main.css'), jsBytes: size(js.metafile), cssBytes: size(css.metafile) };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--outdir');
  const out = await buildWebview({ ...(i > 0 ? { outdir: process.argv[i + 1] } : {}), minify: !process.argv.includes('--no-minify') });
  console.log(`webview: ${out.js} ${(out.jsBytes / 1024).toFixed(1)} KiB, ${out.css} ${(out.cssBytes / 1024).toFixed(1)} KiB`);
}
