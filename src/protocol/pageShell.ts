// The HTML shell of the graph page, shared by both hosts: the VS Code extension (assets through
// asWebviewUri, cspSource of the webview) and the daemon (assets from itself, 'self'). One CSP
// helper: nothing by default, scripts only by nonce, styles/images/fonts only from the host, no
// unsafe-*. The page's own script builds the rest; the shell holds no data.

export interface PageShellOptions {
  /** A fresh random value per page load (base64 or hex). */
  readonly nonce: string;
  readonly scriptUri: string;
  readonly styleUri: string;
  /** Where styles, images and fonts may come from: `webview.cspSource` in VS Code, `'self'` from the daemon. */
  readonly cspSource: string;
  readonly title: string;
  /** Where the page may connect (the daemon's WebSocket). Default `'none'`: in VS Code the extension relays. */
  readonly connectSrc?: string;
}

// Base64 and hex, the alphabets nonces come in; anything else could break out of the policy.
const NONCE = /^[A-Za-z0-9+/_-]{16,}={0,2}$/;
// A CSP source list: scheme/host sources and quoted keywords, nothing that ends a directive.
const SOURCE_LIST = /^[^;,\r\n"<>]+$/;

function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;');
}

/** The Content-Security-Policy of the page, exactly. Throws on a nonce or source list that could widen it. */
export function pageCsp(options: Pick<PageShellOptions, 'nonce' | 'cspSource' | 'connectSrc'>): string {
  const { nonce, cspSource } = options;
  const connectSrc = options.connectSrc ?? "'none'";
  if (!NONCE.test(nonce)) throw new Error('pageShell: the nonce must be at least 16 base64 or hex characters; make one with crypto random bytes per page load.');
  for (const [name, value] of [['cspSource', cspSource], ['connectSrc', connectSrc]] as const) {
    if (!SOURCE_LIST.test(value) || /unsafe-/i.test(value)) {
      throw new Error(`pageShell: ${name} "${value}" is not a plain CSP source list; pass hosts, schemes or 'self', never 'unsafe-*'.`);
    }
  }
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
    `connect-src ${connectSrc}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** The page's HTML: CSP meta, the stylesheet, an empty app root, and the one script by nonce. */
export function pageShell(options: PageShellOptions): string {
  const csp = pageCsp(options);
  const nonce = escapeHtml(options.nonce);
  // Cytoscape inserts a one-rule <style> unless one with this id exists; a CSP without
  // 'unsafe-inline' would refuse its element, so the shell supplies the rule by nonce.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(options.title)}</title>
<link rel="stylesheet" href="${escapeHtml(options.styleUri)}">
<style nonce="${nonce}" id="__________cytoscape_stylesheet">.__________cytoscape_container{position:relative}</style>
</head>
<body>
<div id="app" aria-busy="true"><p class="loading">Connecting to the mesh…</p></div>
<script nonce="${nonce}" src="${escapeHtml(options.scriptUri)}"></script>
</body>
</html>
`;
}
