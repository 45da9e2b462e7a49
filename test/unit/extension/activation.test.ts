// Activation through the vscode double: every contributed command registered, the native UI
// created, nothing started that a command can start later, a running daemon found only when the
// tree first shows, the graph restored by the serializer, and everything stopped on deactivate.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeDaemonFile } from '../../../src/daemon/daemonFile.js';
import { activate as activateExtension, deactivate } from '../../../src/extension/extension.js';
import { GRAPH_VIEW_TYPE, IDENTITIES_VIEW, COMMANDS, CONTEXT } from '../../../src/extension/ids.js';
import { eventually, fakeDaemon, issued } from './fakeMesh.js';
import { makeContext, recorder, resetDouble, WebviewPanel, ViewColumn } from './vscodeDouble.js';
import type { TreeItem } from './vscodeDouble.js';

// Hoisted above the imports: the extension's modules get the double.
vi.mock('vscode', () => import('./vscodeDouble.js'));

const root = join(__dirname, '..', '..', '..');
const contributed = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { contributes: { commands: { command: string }[] } }).contributes.commands.map((c) => c.command);

let dir: string;
let context: ReturnType<typeof makeContext>;

beforeEach(() => {
  resetDouble();
  dir = mkdtempSync(join(tmpdir(), 'mtls-ext-'));
  recorder.settings.set('mtlsLab.stateFolder', join(dir, 'state'));
  context = makeContext(root, join(dir, 'storage'));
});

afterEach(async () => {
  await deactivate();
  for (const d of context.subscriptions) d.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function activate(): ReturnType<typeof activateExtension> {
  return activateExtension(context as unknown as Parameters<typeof activateExtension>[0]);
}

describe('activate', () => {
  it('registers every command package.json contributes', () => {
    activate();
    for (const id of contributed) expect(recorder.commands.has(id), id).toBe(true);
  });

  it('creates the native UI: identities tree, status bar item that opens the graph, a log channel', () => {
    activate();
    expect(recorder.treeViews.map((v) => v.id)).toEqual([IDENTITIES_VIEW]);
    const [item] = recorder.statusBarItems;
    expect(item?.visible).toBe(true);
    expect(item?.command).toBe(COMMANDS.openGraph);
    expect(item?.text).toContain('stopped');
    const [log] = recorder.outputChannels;
    expect(log?.name).toBe('mTLS Lab');
    expect(log?.options).toEqual({ log: true });
  });

  it('registers the graph serializer and the inspection documents', () => {
    activate();
    expect(recorder.serializers.has(GRAPH_VIEW_TYPE)).toBe(true);
    expect(recorder.contentProviders.has('mtls-lab-inspect')).toBe(true);
  });

  it('starts nothing: no daemon, no panel, mesh stopped', () => {
    const api = activate();
    expect(api.state()).toBe('stopped');
    expect(recorder.panels).toHaveLength(0);
    expect(recorder.context.get(CONTEXT.meshRunning)).toBe(false);
  });

  it('collects every disposable in context.subscriptions', () => {
    activate();
    const before = recorder.commands.size;
    expect(before).toBeGreaterThan(0);
    for (const d of context.subscriptions) d.dispose();
    expect(recorder.commands.size).toBe(0);
    expect(recorder.serializers.size).toBe(0);
    expect(recorder.statusBarItems[0]?.disposed).toBe(true);
    context.subscriptions.length = 0;
  });

  it('finds a daemon already running for the state folder when the tree first shows, and fills the tree and status bar', async () => {
    const { api, controller, endpoint } = await fakeDaemon();
    try {
      writeDaemonFile({ pid: process.pid, port: endpoint.port, token: endpoint.token, dashboardUrl: endpoint.dashboardUrl, startedAt: new Date().toISOString(), stateDir: join(dir, 'state') });
      const labApi = activate();
      expect(labApi.state()).toBe('stopped');
      const provider = recorder.treeViews[0]?.options.treeDataProvider;
      expect(await provider?.getChildren()).toEqual([]);
      await eventually(() => labApi.state() === 'running').catch((e: unknown) => {
        throw new Error(`${String(e)}: ${recorder.outputChannels[0]?.lines.join('\n')}`);
      });
      const roots = (await provider?.getChildren()) as unknown[];
      const items = roots.map((n) => provider?.getTreeItem(n) as TreeItem);
      expect(items.map((i) => i.label)).toEqual(['frontend', 'orders', 'payments']);
      expect(items[0]?.contextValue).toBe('mtlsLab.service');
      expect(recorder.statusBarItems[0]?.text).toMatch(/running/);
      expect(recorder.context.get(CONTEXT.meshRunning)).toBe(true);

      controller.emit(issued('orders', 'rotation'));
      await eventually(() => recorder.context.get(CONTEXT.sawRotation) === true);
      // A daemon started elsewhere keeps running when VS Code closes.
      await deactivate();
      expect(controller.commands).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('restores the graph after a reload through the serializer, and relays the stream into it', async () => {
    const { api, endpoint } = await fakeDaemon();
    try {
      writeDaemonFile({ pid: process.pid, port: endpoint.port, token: endpoint.token, dashboardUrl: endpoint.dashboardUrl, startedAt: new Date().toISOString(), stateDir: join(dir, 'state') });
      const labApi = activate();
      const panel = new WebviewPanel(GRAPH_VIEW_TYPE, 'mTLS Lab: Mesh', ViewColumn.One);
      await recorder.serializers.get(GRAPH_VIEW_TYPE)?.deserializeWebviewPanel(panel, undefined);
      expect(panel.webview.html).toContain('default-src &#39;none&#39;');
      expect(panel.webview.options.enableScripts).toBe(true);
      await eventually(() => labApi.state() === 'running');
      panel.webview.fromPage({ type: 'ready' });
      expect((panel.webview.posted[0] as { type: string }).type).toBe('mesh/snapshot');
    } finally {
      await api.close();
    }
  });

  it('opens the graph from its command, once', async () => {
    activate();
    await recorder.commands.get(COMMANDS.openGraph)?.();
    await recorder.commands.get(COMMANDS.openGraph)?.();
    expect(recorder.panels).toHaveLength(1);
    expect(recorder.panels[0]?.revealed).toBe(1);
    expect(recorder.panels[0]?.viewType).toBe(GRAPH_VIEW_TYPE);
  });
});
