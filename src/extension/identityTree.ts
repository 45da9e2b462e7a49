// The identities view: TreeItems from treeModel's plain nodes.
import * as vscode from 'vscode';
import { TREE_CONTEXT } from './ids.js';
import type { TreeNode } from './treeModel.js';

export class IdentityTreeProvider implements vscode.TreeDataProvider<TreeNode> {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private firstLook: (() => void) | undefined;

  /** `roots` builds the current roots; `onFirstLook` runs once, when the view first asks (lazy work, e.g. finding a running daemon). */
  constructor(
    private readonly roots: () => readonly TreeNode[],
    onFirstLook?: () => void,
  ) {
    this.firstLook = onFirstLook;
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(element?: TreeNode): TreeNode[] {
    if (element === undefined) {
      const look = this.firstLook;
      this.firstLook = undefined;
      look?.();
      return [...this.roots()];
    }
    return [...(element.children ?? [])];
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const collapsible =
      node.children === undefined || node.children.length === 0
        ? vscode.TreeItemCollapsibleState.None
        : node.contextValue === TREE_CONTEXT.injectionGroup
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(node.label, collapsible);
    item.id = node.id;
    item.contextValue = node.contextValue;
    if (node.description !== undefined) item.description = node.description;
    if (node.tooltip !== undefined) item.tooltip = node.tooltip;
    if (node.icon !== undefined) {
      item.iconPath = new vscode.ThemeIcon(node.icon.id, node.icon.color === undefined ? undefined : new vscode.ThemeColor(node.icon.color));
    }
    if (node.contextValue === TREE_CONTEXT.certificate && node.certFile !== undefined) {
      item.command = { title: 'Open Certificate', command: 'vscode.open', arguments: [vscode.Uri.file(node.certFile)] };
    }
    return item;
  }
}
