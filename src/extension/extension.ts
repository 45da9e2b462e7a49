// The extension's entry point: wires the vscode-free Lab, store, relay and injections to VS
// Code's commands, tree view, status bar, output channel and webview. Activation is lazy (the
// manifest lists no `*`) and does no work a command can do later: the daemon starts only when a
// person asks, and a running one is looked for only when the tree or the graph first shows.
import * as vscode from 'vscode';
import { systemClock } from '../core/rotation/clock.js';
import type { MeshEvent } from '../core/events/types.js';
import type { MeshSnapshot } from '../protocol/snapshot.js';
import { currentRuntime, issueSvid, processCliRunner } from './cliRunner.js';
import { INSPECT_SCHEME, inspectionProvider, registerCommands } from './commands.js';
import type { LabHost } from './commands.js';
import { GraphPanel } from './graphPanel.js';
import { CONFIG_SECTION, CONTEXT, GRAPH_VIEW_TYPE, IDENTITIES_VIEW, OUTPUT_CHANNEL } from './ids.js';
import { IdentityTreeProvider } from './identityTree.js';
import { Injections, isInjectionSpec } from './injector.js';
import type { InjectionSpec } from './injector.js';
import { Lab } from './lab.js';
import type { LabState } from './meshStore.js';
import { readSettings } from './settings.js';
import type { LabSettings } from './settings.js';
import { runReloadCommand } from './shell.js';
import { labStateDir } from './stateFolder.js';
import { LabStatusBar } from './statusBar.js';
import { identityTree } from './treeModel.js';

const INJECTIONS_KEY = 'mtlsLab.injections';
const TICK_MS = 1000;

/** What activate returns: a read-only look for extension-host tests. */
export interface LabApi {
  state(): LabState;
  snapshot(): MeshSnapshot | undefined;
  injectedFolders(): string[];
}

let active: { dispose(): Promise<void> } | undefined;

export function activate(context: vscode.ExtensionContext): LabApi {
  const log = vscode.window.createOutputChannel(OUTPUT_CHANNEL, { log: true });
  context.subscriptions.push(log);
  const settings = (): LabSettings => readSettings((key) => vscode.workspace.getConfiguration(CONFIG_SECTION).get(key));
  const stateDir = (): string => labStateDir(settings().stateFolder);
  const setContext = (key: string, value: unknown): void => void vscode.commands.executeCommand('setContext', key, value);

  const runtime = currentRuntime();
  const cliPath = vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath;
  const cli = processCliRunner(runtime, cliPath);
  const lab = new Lab({ runtime, cliPath, log });
  const store = lab.store;

  let refreshViews = (): void => undefined;
  const injections = new Injections(
    {
      issue: (spec: InjectionSpec) => issueSvid(cli, { stateDir: stateDir(), spiffeId: spec.spiffeId, outDir: spec.folder, ttl: spec.ttl }),
      reload: runReloadCommand,
      clock: systemClock,
      log: (m) => log.info(m),
      changed: () => refreshViews(),
    },
    {
      get: () => (context.workspaceState.get<unknown[]>(INJECTIONS_KEY) ?? []).filter(isInjectionSpec),
      set: (specs) => context.workspaceState.update(INJECTIONS_KEY, specs),
    },
  );

  const graph = new GraphPanel({ extensionUri: context.extensionUri, store, execute: (c) => lab.command(c), log: (m) => log.warn(m) });
  const lookForRunningDaemon = (): void => {
    void lab.attachIfRunning(stateDir());
  };

  const tree = new IdentityTreeProvider(() => identityTree(store, injections.views(), Date.now()), lookForRunningDaemon);
  const treeView = vscode.window.createTreeView(IDENTITIES_VIEW, { treeDataProvider: tree, showCollapseAll: true });
  const statusBar = new LabStatusBar(store);
  refreshViews = () => {
    tree.refresh();
    statusBar.update();
    treeView.badge = store.rejected > 0 && store.state === 'running' ? { value: store.rejected, tooltip: `${store.rejected} rejected calls` } : undefined;
  };

  const host: LabHost = { lab, cli, injections, graph, log, extensionUri: context.extensionUri, storageUri: context.globalStorageUri, settings, stateDir, setContext };

  // Times in the tree and the status bar count down; tick only while there is something to count.
  let ticker: NodeJS.Timeout | undefined;
  const syncTicker = (): void => {
    const wanted = store.state === 'running' || injections.size > 0;
    if (wanted && ticker === undefined) ticker = setInterval(refreshViews, TICK_MS);
    if (!wanted && ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
    }
  };

  let lastState: LabState | undefined;
  const onStoreChange = (): void => {
    if (store.state !== lastState) {
      lastState = store.state;
      setContext(CONTEXT.meshState, store.state);
      setContext(CONTEXT.meshRunning, store.state === 'running');
      syncTicker();
    }
    refreshViews();
  };
  const onEvents = (events: readonly MeshEvent[]): void => {
    for (const e of events) {
      if (e.type === 'svid/issued' && e.cause !== 'start') setContext(CONTEXT.sawRotation, true);
      if (e.type === 'attack' && e.rejected) setContext(CONTEXT.sawRejectedAttack, true);
      if (e.type === 'policy/changed') setContext(CONTEXT.policyChanged, true);
      if (e.type === 'ca/changed' && e.phase === 'activated' && injections.size > 0) {
        log.info('The CA rotated: renewing the injected folders so their bundles and chains name the new root.');
        void injections.renewAll();
      }
      if (e.type === 'rejection') log.info(`rejected ${e.caller.service ?? e.caller.spiffeId ?? e.caller.address ?? 'a caller'} → ${e.callee.service ?? '?'}: ${e.reason} (${e.detail})`);
      else if (e.type === 'svid/issued' && e.cause !== 'start') log.info(`${e.service}: new SVID ${e.serial} (${e.cause}), valid until ${e.notAfter}`);
      else if (e.type === 'svid/failed') log.warn(`${e.service}: SVID renewal failed: ${e.error}`);
      else if (e.type === 'attack') log.info(`attack ${e.scenario} on ${e.target}: ${e.rejected ? 'rejected' : 'NOT rejected'}. ${e.detail}`);
      else if (e.type === 'service/state' && (e.state === 'failed' || e.state === 'exited')) log.warn(`${e.service} ${e.state}${e.detail ? `: ${e.detail}` : ''}`);
    }
  };

  const unsubscribe = [
    store.onDidChange(onStoreChange),
    store.onEvents(onEvents),
    lab.onDidStopUnexpectedly((reason) => {
      void vscode.window.showWarningMessage(`mTLS Lab: the mesh stopped: ${reason}.`, 'Show Log', 'Start the Sample Mesh').then((p) => {
        if (p === 'Show Log') log.show(true);
        if (p === 'Start the Sample Mesh') void vscode.commands.executeCommand('mtlsLab.startSampleMesh');
      });
    }),
  ];

  context.subscriptions.push(
    treeView,
    statusBar,
    graph,
    ...registerCommands(host),
    vscode.window.registerWebviewPanelSerializer(GRAPH_VIEW_TYPE, graph.serializer(lookForRunningDaemon)),
    vscode.workspace.registerTextDocumentContentProvider(INSPECT_SCHEME, inspectionProvider(cli)),
    treeView.onDidChangeVisibility((e) => {
      if (e.visible) refreshViews();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(CONFIG_SECTION)) log.info('Settings changed; they apply to the next mesh, certificate or injection.');
    }),
    new vscode.Disposable(() => {
      for (const u of unsubscribe) u();
      if (ticker !== undefined) clearInterval(ticker);
      ticker = undefined;
    }),
  );

  injections.resume();
  setContext(CONTEXT.injecting, injections.size > 0);
  setContext(CONTEXT.meshRunning, false);
  syncTicker();

  active = {
    dispose: async () => {
      injections.dispose();
      await lab.dispose();
    },
  };

  return {
    state: () => store.state,
    snapshot: () => store.snapshot,
    injectedFolders: () => injections.views().map((v) => v.folder),
  };
}

/** Stops the daemon this window started (VS Code waits for the promise) and every renewal timer. */
export async function deactivate(): Promise<void> {
  const a = active;
  active = undefined;
  await a?.dispose();
}
