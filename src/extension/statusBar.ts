// The status bar item: mesh state, next rotation, rejected calls; a click opens the graph.
import * as vscode from 'vscode';
import { COMMANDS } from './ids.js';
import type { StoreView } from './meshStore.js';
import { statusContent } from './statusText.js';

export class LabStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor(
    private readonly view: StoreView,
    private readonly now: () => number = Date.now,
  ) {
    this.item = vscode.window.createStatusBarItem('mtlsLab.status', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'mTLS Lab';
    this.item.command = COMMANDS.openGraph;
    this.update();
    this.item.show();
  }

  update(): void {
    const c = statusContent(this.view, this.now());
    this.item.text = c.text;
    this.item.tooltip = c.tooltip;
    this.item.accessibilityInformation = { label: c.accessibilityLabel, role: 'button' };
    this.item.backgroundColor = c.background === undefined ? undefined : new vscode.ThemeColor(c.background);
  }

  dispose(): void {
    this.item.dispose();
  }
}
