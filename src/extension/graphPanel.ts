// The graph: one webview panel relaying the daemon's stream, restored after a window reload by a
// WebviewPanelSerializer. The page is the same bundle the browser dashboard runs.
import * as vscode from 'vscode';
import type { MeshCommand } from '../protocol/messages.js';
import type { CommandOutcome } from './daemonClient.js';
import { GRAPH_VIEW_TYPE } from './ids.js';
import type { MeshStore } from './meshStore.js';
import { PanelRelay } from './panelRelay.js';
import { graphHtml, localResourceRoots } from './webviewHtml.js';

export interface GraphDeps {
  readonly extensionUri: vscode.Uri;
  readonly store: MeshStore;
  readonly execute: (command: MeshCommand) => Promise<CommandOutcome>;
  readonly log: (message: string) => void;
}

export class GraphPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly deps: GraphDeps) {}

  get current(): vscode.WebviewPanel | undefined {
    return this.panel;
  }

  /** Opens the graph, or brings it forward if it is open. */
  show(): vscode.WebviewPanel {
    if (this.panel !== undefined) {
      this.panel.reveal();
      return this.panel;
    }
    const panel = vscode.window.createWebviewPanel(GRAPH_VIEW_TYPE, 'mTLS Lab: Mesh', vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: localResourceRoots(this.deps.extensionUri),
    });
    this.attach(panel);
    return panel;
  }

  /** Takes over a panel VS Code restored after a reload. */
  restore(panel: vscode.WebviewPanel): void {
    if (this.panel !== undefined && this.panel !== panel) this.panel.dispose();
    this.attach(panel);
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: localResourceRoots(this.deps.extensionUri) };
    panel.iconPath = vscode.Uri.joinPath(this.deps.extensionUri, 'media', 'mtls-lab.svg');
    const relay = new PanelRelay({
      store: this.deps.store,
      execute: this.deps.execute,
      post: (m) => webview.postMessage(m),
      log: this.deps.log,
    });
    const subs: vscode.Disposable[] = [];
    subs.push(webview.onDidReceiveMessage((m: unknown) => relay.receiveFromPage(m)));
    subs.push(
      panel.onDidDispose(() => {
        relay.dispose();
        for (const d of subs) d.dispose();
        if (this.panel === panel) this.panel = undefined;
      }),
    );
    // Set last: the page's `ready` must find the relay listening.
    webview.html = graphHtml(webview, this.deps.extensionUri);
  }

  /** The serializer VS Code calls to bring the graph back after a window reload. */
  serializer(onRestore: () => void): vscode.WebviewPanelSerializer {
    return {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel): Promise<void> => {
        this.restore(panel);
        onRestore();
      },
    };
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
