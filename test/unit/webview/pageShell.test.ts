import { describe, expect, it } from 'vitest';
import { pageCsp, pageShell } from '../../../src/protocol/pageShell.js';

const NONCE = 'q1w2e3r4t5y6u7i8o9p0AA==';
const vscode = { nonce: NONCE, scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/main.js', styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview/main.css', cspSource: 'https://*.vscode-cdn.net', title: 'mTLS Lab: mesh graph' };
const daemon = { nonce: 'ab'.repeat(16), scriptUri: '/webview/main.js', styleUri: '/webview/main.css', cspSource: "'self'", title: 'mTLS Lab', connectSrc: "'self' ws://127.0.0.1:7777" };

function cspOf(html: string): string {
  const m = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  expect(m).not.toBeNull();
  return (m?.[1] ?? '').replace(/&#39;/g, "'");
}

describe('pageShell', () => {
  const rows = [
    {
      name: 'VS Code webview (no connect: the extension relays)',
      options: vscode,
      csp: `default-src 'none'; script-src 'nonce-${NONCE}'; style-src https://*.vscode-cdn.net 'nonce-${NONCE}'; img-src https://*.vscode-cdn.net data:; font-src https://*.vscode-cdn.net; connect-src 'none'; base-uri 'none'; form-action 'none'`,
    },
    {
      name: 'daemon dashboard (WebSocket back to the daemon)',
      options: daemon,
      csp: `default-src 'none'; script-src 'nonce-${'ab'.repeat(16)}'; style-src 'self' 'nonce-${'ab'.repeat(16)}'; img-src 'self' data:; font-src 'self'; connect-src 'self' ws://127.0.0.1:7777; base-uri 'none'; form-action 'none'`,
    },
  ];
  for (const row of rows) {
    it(`has exactly the strict CSP: ${row.name}`, () => {
      const html = pageShell(row.options);
      expect(cspOf(html)).toBe(row.csp);
      expect(pageCsp(row.options)).toBe(row.csp);
      expect(html).not.toMatch(/unsafe-/);
    });
  }

  it('loads the one script and every inline style by nonce, and has nothing inline without it', () => {
    const html = pageShell(vscode);
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts).toEqual([`<script nonce="${NONCE}" src="${vscode.scriptUri}">`]);
    const styles = html.match(/<style\b[^>]*>/g) ?? [];
    expect(styles.length).toBe(1);
    expect(styles.every((s) => s.includes(`nonce="${NONCE}"`))).toBe(true);
    expect(html).toContain(`<link rel="stylesheet" href="${vscode.styleUri}">`);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/style="/);
  });

  it('escapes the title and URIs', () => {
    const html = pageShell({ ...vscode, title: '<img src=x onerror=alert(1)>', scriptUri: 'https://x/"><script>' });
    expect(html).toContain('<title>&lt;img src=x onerror=alert(1)&gt;</title>');
    expect(html).not.toContain('"><script>');
  });

  const bad = [
    { name: 'short nonce', options: { ...vscode, nonce: 'abc' } },
    { name: 'nonce that ends the directive', options: { ...vscode, nonce: "abcdefghijklmnop'; script-src *" } },
    { name: 'unsafe-inline smuggled in the source', options: { ...vscode, cspSource: "'unsafe-inline'" } },
    { name: 'a second directive in connectSrc', options: { ...daemon, connectSrc: "'self'; script-src *" } },
  ];
  for (const row of bad) {
    it(`refuses a ${row.name}`, () => {
      expect(() => pageShell(row.options)).toThrow(/^pageShell: /);
    });
  }
});
