import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StaticAsset } from '../daemon/controlApi.js';
import { defaultPage } from '../daemon/defaultPage.js';
import { pageShell } from '../protocol/pageShell.js';
import { packageRoot } from './paths.js';

export interface Dashboard {
  readonly page: (nonce: string) => string;
  readonly assets: Readonly<Record<string, StaticAsset>>;
}

/**
 * The page at the dashboard URL: the same graph bundle the VS Code webview shows (dist/webview),
 * talking WebSocket to this daemon. Without a built bundle, the minimal built-in page.
 */
export function dashboard(): Dashboard {
  const dir = join(packageRoot(), 'dist', 'webview');
  const js = join(dir, 'main.js');
  const css = join(dir, 'main.css');
  if (!existsSync(js) || !existsSync(css)) return { page: defaultPage, assets: {} };
  return {
    page: (nonce) => pageShell({ nonce, scriptUri: '/webview/main.js', styleUri: '/webview/main.css', cspSource: "'self'", title: 'mTLS Lab', connectSrc: "'self'" }),
    assets: {
      '/webview/main.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(js) },
      '/webview/main.css': { type: 'text/css; charset=utf-8', body: readFileSync(css) },
    },
  };
}
