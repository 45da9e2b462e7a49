import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StaticAsset } from '../daemon/controlApi.js';
import { defaultPage } from '../daemon/defaultPage.js';
import { pageShell } from '../protocol/pageShell.js';
import { packageRoot } from './paths.js';

export interface Dashboard {
  /** The page for a nonce and the daemon token, which its asset URLs carry as `?token=`. */
  readonly page: (nonce: string, token: string) => string;
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
    // A browser cannot send a header with <script src> or <link href>, so the assets carry the
    // token in their URL like the page does (pageShell escapes the attributes).
    page: (nonce, token) => {
      const q = `?token=${encodeURIComponent(token)}`;
      return pageShell({ nonce, scriptUri: `/webview/main.js${q}`, styleUri: `/webview/main.css${q}`, cspSource: "'self'", title: 'mTLS Lab', connectSrc: "'self'" });
    },
    assets: {
      '/webview/main.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(js) },
      '/webview/main.css': { type: 'text/css; charset=utf-8', body: readFileSync(css) },
    },
  };
}
