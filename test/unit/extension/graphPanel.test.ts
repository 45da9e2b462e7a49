// The graph panel in the vscode double: options, the HTML's CSP from the one helper with a fresh
// crypto nonce, assets through asWebviewUri, the relay wired to the webview, and no key material
// in anything posted.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { GraphPanel } from '../../../src/extension/graphPanel.js';
import { containsKeyMaterial } from '../../../src/extension/keyMaterial.js';
import { MeshStore } from '../../../src/extension/meshStore.js';
import { GRAPH_VIEW_TYPE } from '../../../src/extension/ids.js';
import { graphHtml, makeNonce } from '../../../src/extension/webviewHtml.js';
import { issued, snapshot } from './fakeMesh.js';
import { recorder, resetDouble, Uri, ViewColumn, WebviewPanel } from './vscodeDouble.js';

// Hoisted above the imports: the extension's modules get the double.
vi.mock('vscode', () => import('./vscodeDouble.js'));

const extensionUri = Uri.file(mkdtempSync(join(tmpdir(), 'mtls-ext-panel-')));

function decode(html: string): string {
  return html.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

function csp(html: string): string {
  const m = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html);
  if (!m) throw new Error('no CSP meta');
  return decode(m[1] as string);
}

beforeEach(() => resetDouble());

function makeGraph(store = new MeshStore(), execute = vi.fn(async () => ({ ok: true }))) {
  return new GraphPanel({ extensionUri: extensionUri as never, store, execute, log: () => undefined });
}

describe('graph HTML', () => {
  it('has a strict CSP: nothing by default, the script by nonce, styles and images from the webview only, no unsafe-*', () => {
    const panel = makeGraph().show() as unknown as WebviewPanel;
    const html = panel.webview.html;
    const policy = csp(html);
    const nonce = /script-src 'nonce-([^']+)'/.exec(policy)?.[1] as string;
    expect(policy.split('; ')).toEqual(expect.arrayContaining(["default-src 'none'", `script-src 'nonce-${nonce}'`, `img-src ${panel.webview.cspSource} data:`]));
    expect(policy).not.toMatch(/unsafe-/);
    expect(policy).toContain("connect-src 'none'");
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1] as string);
    expect(scripts.length).toBe(1);
    for (const s of scripts) expect(decode(s)).toContain(`nonce="${nonce}"`);
  });

  it('loads the page bundle through asWebviewUri', () => {
    const panel = makeGraph().show() as unknown as WebviewPanel;
    expect(panel.webview.html).toContain(`src="https://webview.test${extensionUri.path}/dist/webview/main.js"`);
    expect(panel.webview.html).toContain(`href="https://webview.test${extensionUri.path}/dist/webview/main.css"`);
  });

  it('uses a fresh 128-bit nonce for every page load', () => {
    const nonces = new Set(Array.from({ length: 50 }, () => makeNonce()));
    expect(nonces.size).toBe(50);
    for (const n of nonces) expect(Buffer.from(n, 'base64')).toHaveLength(16);
    const webview = new WebviewPanel(GRAPH_VIEW_TYPE, 't', ViewColumn.One).webview;
    const a = csp(graphHtml(webview as never, extensionUri as never));
    const b = csp(graphHtml(webview as never, extensionUri as never));
    expect(a).not.toBe(b);
  });

  it('opens with scripts enabled and resources limited to the page bundle and media', () => {
    makeGraph().show();
    const panel = recorder.panels[0] as WebviewPanel;
    expect(panel.viewType).toBe(GRAPH_VIEW_TYPE);
    expect(panel.webview.options.enableScripts).toBe(true);
    expect(panel.webview.options.localResourceRoots?.map((u) => u.path)).toEqual([join(extensionUri.path, 'dist', 'webview'), join(extensionUri.path, 'media')]);
  });
});

describe('graph relay', () => {
  it('answers the page\'s ready with the snapshot and forwards its commands', async () => {
    const store = new MeshStore();
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    store.receive({ type: 'mesh/event', event: issued('orders') });
    const execute = vi.fn(async () => ({ ok: true, result: { outcomes: [] } }));
    const panel = makeGraph(store, execute).show() as unknown as WebviewPanel;
    expect(panel.webview.posted).toEqual([]);
    panel.webview.fromPage({ type: 'ready' });
    expect(panel.webview.posted.map((m) => (m as { type: string }).type)).toEqual(['mesh/snapshot', 'mesh/events']);
    panel.webview.fromPage({ type: 'command', id: 1, command: { name: 'rotate' } });
    await new Promise((r) => setTimeout(r, 0));
    expect(execute).toHaveBeenCalledWith({ name: 'rotate' });
    expect(panel.webview.posted.at(-1)).toEqual({ type: 'reply', id: 1, ok: true, result: { outcomes: [] } });
    expect(panel.webview.posted.some(containsKeyMaterial)).toBe(false);
  });

  it('stops relaying when the panel closes, and opens a new one next time', () => {
    const store = new MeshStore();
    const graph = makeGraph(store);
    const first = graph.show() as unknown as WebviewPanel;
    first.webview.fromPage({ type: 'ready' });
    first.dispose();
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    expect(first.webview.posted).toEqual([]);
    const second = graph.show() as unknown as WebviewPanel;
    expect(second).not.toBe(first);
  });

  it('restore takes over a panel VS Code brought back', async () => {
    const store = new MeshStore();
    store.receive({ type: 'mesh/snapshot', snapshot: snapshot() });
    const graph = makeGraph(store);
    const restored = new WebviewPanel(GRAPH_VIEW_TYPE, 'mTLS Lab: Mesh', ViewColumn.One);
    const onRestore = vi.fn();
    await graph.serializer(onRestore).deserializeWebviewPanel(restored as never, undefined);
    expect(onRestore).toHaveBeenCalledOnce();
    expect(graph.current).toBe(restored);
    restored.webview.fromPage({ type: 'ready' });
    expect(restored.webview.posted).toHaveLength(1);
  });
});
