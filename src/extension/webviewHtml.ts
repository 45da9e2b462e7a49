// The graph page's HTML for a webview: the shared page shell (one CSP helper: default-src 'none',
// scripts by nonce, styles and images from the webview's cspSource) with a fresh crypto nonce and
// every asset through asWebviewUri.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { pageShell } from '../protocol/pageShell.js';

/** 128 random bits, base64: a CSP nonce nobody can guess. A new one for every page load. */
export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}

/** The folders the page may load from: the page bundle and the media. Nothing else. */
export function localResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')];
}

export function graphHtml(webview: vscode.Webview, extensionUri: vscode.Uri, nonce: string = makeNonce()): string {
  return pageShell({
    nonce,
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', 'main.js')).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', 'main.css')).toString(),
    cspSource: webview.cspSource,
    title: 'mTLS Lab: mesh graph',
  });
}
