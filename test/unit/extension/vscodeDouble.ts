// A test double of the slice of the VS Code API the extension uses, injected with
// `vi.mock('vscode', () => import('./vscodeDouble.js'))`. It records what the extension did
// (registered commands, posted messages, notifications, context keys) and answers prompts from
// queues a test fills. Only behaviour the extension relies on is modelled.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

// ── basics ────────────────────────────────────────────────────────────────────────────────────

export class Disposable {
  private done = false;
  constructor(private readonly onDispose: () => void = () => undefined) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => {
      for (const i of items) i.dispose();
    });
  }
  dispose(): void {
    if (this.done) return;
    this.done = true;
    this.onDispose();
  }
}

export type Event<T> = (listener: (e: T) => unknown) => Disposable;

export class EventEmitter<T> {
  private readonly listeners = new Set<(e: T) => unknown>();
  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
    readonly query: string,
  ) {}
  static file(path: string): Uri {
    return new Uri('file', path, '');
  }
  static parse(value: string): Uri {
    const u = new URL(value);
    return new Uri(u.protocol.replace(/:$/, ''), u.pathname, u.search.replace(/^\?/, ''));
  }
  static from(parts: { scheme: string; path?: string; query?: string }): Uri {
    return new Uri(parts.scheme, parts.path ?? '', parts.query ?? '');
  }
  static joinPath(base: Uri, ...segments: string[]): Uri {
    return new Uri(base.scheme, join(base.path, ...segments), '');
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}://${this.path}${this.query ? `?${this.query}` : ''}`;
  }
}

export enum TreeItemCollapsibleState {
  None = 0,
  Collapsed = 1,
  Expanded = 2,
}

export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class TreeItem {
  id?: string;
  description?: string;
  tooltip?: string;
  contextValue?: string;
  iconPath?: ThemeIcon;
  command?: { title: string; command: string; arguments?: unknown[] };
  constructor(
    readonly label: string,
    readonly collapsibleState: TreeItemCollapsibleState = TreeItemCollapsibleState.None,
  ) {}
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
}

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

// ── the recorder: what the extension did ─────────────────────────────────────────────────────

type Handler = (...args: unknown[]) => unknown;

export interface Notification {
  readonly kind: 'info' | 'warning' | 'error';
  readonly message: string;
  readonly items: readonly string[];
}

/** Answers for prompts, consumed in order; a function gets the items and picks. */
export type Answer = unknown | ((items: readonly unknown[]) => unknown);

export const recorder = {
  commands: new Map<string, Handler>(),
  executed: [] as { command: string; args: unknown[] }[],
  context: new Map<string, unknown>(),
  notifications: [] as Notification[],
  statusMessages: [] as string[],
  quickPicks: [] as { items: readonly unknown[]; placeHolder?: string }[],
  answers: { quickPick: [] as Answer[], inputBox: [] as Answer[], message: [] as Answer[], openDialog: [] as Answer[], saveDialog: [] as Answer[] },
  settings: new Map<string, unknown>(),
  panels: [] as WebviewPanel[],
  treeViews: [] as TreeView[],
  statusBarItems: [] as StatusBarItem[],
  outputChannels: [] as LogOutputChannel[],
  serializers: new Map<string, { deserializeWebviewPanel(panel: WebviewPanel, state: unknown): Promise<void> }>(),
  contentProviders: new Map<string, { provideTextDocumentContent(uri: Uri): string | Promise<string> }>(),
  shownDocuments: [] as { uri: Uri; text: string }[],
  clipboard: '',
  openedExternal: [] as string[],
  workspaceFolders: [] as { uri: Uri; name: string; index: number }[],
  foundFiles: [] as Uri[],
  configListeners: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
};

/** Forgets everything: call in beforeEach. */
export function resetDouble(): void {
  recorder.commands.clear();
  recorder.executed.length = 0;
  recorder.context.clear();
  recorder.notifications.length = 0;
  recorder.statusMessages.length = 0;
  recorder.quickPicks.length = 0;
  for (const q of Object.values(recorder.answers)) q.length = 0;
  recorder.settings.clear();
  recorder.panels.length = 0;
  recorder.treeViews.length = 0;
  recorder.statusBarItems.length = 0;
  recorder.outputChannels.length = 0;
  recorder.serializers.clear();
  recorder.contentProviders.clear();
  recorder.shownDocuments.length = 0;
  recorder.clipboard = '';
  recorder.openedExternal.length = 0;
  recorder.workspaceFolders.length = 0;
  recorder.foundFiles.length = 0;
}

function answer(queue: Answer[], items: readonly unknown[] = []): unknown {
  if (queue.length === 0) return undefined;
  const a = queue.shift();
  return typeof a === 'function' ? (a as (items: readonly unknown[]) => unknown)(items) : a;
}

// ── commands ────────────────────────────────────────────────────────────────────────────────

export const commands = {
  registerCommand(id: string, handler: Handler): Disposable {
    if (recorder.commands.has(id)) throw new Error(`command '${id}' already exists`);
    recorder.commands.set(id, handler);
    return new Disposable(() => recorder.commands.delete(id));
  },
  async executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    recorder.executed.push({ command: id, args });
    if (id === 'setContext') {
      recorder.context.set(args[0] as string, args[1]);
      return undefined;
    }
    const h = recorder.commands.get(id);
    return h === undefined ? undefined : h(...args);
  },
  async getCommands(): Promise<string[]> {
    return [...recorder.commands.keys()];
  },
};

// ── window ──────────────────────────────────────────────────────────────────────────────────

export class LogOutputChannel {
  readonly lines: string[] = [];
  shown = false;
  disposed = false;
  constructor(
    readonly name: string,
    readonly options: unknown,
  ) {}
  info(m: string): void {
    this.lines.push(`info ${m}`);
  }
  warn(m: string): void {
    this.lines.push(`warn ${m}`);
  }
  error(m: string): void {
    this.lines.push(`error ${m}`);
  }
  appendLine(m: string): void {
    this.lines.push(m);
  }
  show(): void {
    this.shown = true;
  }
  dispose(): void {
    this.disposed = true;
  }
}

export class StatusBarItem {
  text = '';
  tooltip: string | undefined;
  command: string | undefined;
  name: string | undefined;
  accessibilityInformation: { label: string; role?: string } | undefined;
  backgroundColor: ThemeColor | undefined;
  visible = false;
  disposed = false;
  constructor(
    readonly id: string,
    readonly alignment: StatusBarAlignment,
    readonly priority: number,
  ) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.disposed = true;
  }
}

export interface TreeDataProvider<T> {
  getChildren(element?: T): T[] | Promise<T[]>;
  getTreeItem(element: T): TreeItem;
  onDidChangeTreeData?: Event<T | undefined>;
}

export class TreeView {
  badge: { value: number; tooltip: string } | undefined;
  readonly visibility = new EventEmitter<{ visible: boolean }>();
  readonly onDidChangeVisibility = this.visibility.event;
  disposed = false;
  constructor(
    readonly id: string,
    readonly options: { treeDataProvider: TreeDataProvider<unknown>; showCollapseAll?: boolean },
  ) {}
  dispose(): void {
    this.disposed = true;
  }
}

export class Webview {
  html = '';
  options: { enableScripts?: boolean; localResourceRoots?: Uri[] } = {};
  readonly cspSource = 'https://webview.test';
  readonly posted: unknown[] = [];
  private readonly received = new EventEmitter<unknown>();
  readonly onDidReceiveMessage = this.received.event;
  asWebviewUri(uri: Uri): Uri {
    return Uri.from({ scheme: 'https', path: `webview.test${uri.path}` });
  }
  async postMessage(message: unknown): Promise<boolean> {
    // Structured clone, as the real postMessage does: the page gets a copy.
    this.posted.push(JSON.parse(JSON.stringify(message)));
    return true;
  }
  /** The page posting to the extension. */
  fromPage(message: unknown): void {
    this.received.fire(message);
  }
}

export class WebviewPanel {
  readonly webview = new Webview();
  iconPath: Uri | undefined;
  revealed = 0;
  disposed = false;
  private readonly disposeEmitter = new EventEmitter<void>();
  readonly onDidDispose = this.disposeEmitter.event;
  constructor(
    readonly viewType: string,
    public title: string,
    readonly column: ViewColumn,
    options: { enableScripts?: boolean; localResourceRoots?: Uri[] } = {},
  ) {
    this.webview.options = options;
  }
  reveal(): void {
    this.revealed++;
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.disposeEmitter.fire();
  }
}

function notify(kind: Notification['kind']) {
  return async (message: string, ...rest: unknown[]): Promise<string | undefined> => {
    const items = rest.filter((r): r is string => typeof r === 'string');
    recorder.notifications.push({ kind, message, items });
    return answer(recorder.answers.message, items) as string | undefined;
  };
}

export const window = {
  activeTextEditor: undefined as undefined | { document: { uri: Uri } },
  createOutputChannel(name: string, options?: unknown): LogOutputChannel {
    const c = new LogOutputChannel(name, options);
    recorder.outputChannels.push(c);
    return c;
  },
  createStatusBarItem(id: string, alignment: StatusBarAlignment, priority: number): StatusBarItem {
    const item = new StatusBarItem(id, alignment, priority);
    recorder.statusBarItems.push(item);
    return item;
  },
  createTreeView(id: string, options: { treeDataProvider: TreeDataProvider<unknown>; showCollapseAll?: boolean }): TreeView {
    const view = new TreeView(id, options);
    recorder.treeViews.push(view);
    return view;
  },
  createWebviewPanel(viewType: string, title: string, column: ViewColumn, options?: { enableScripts?: boolean; localResourceRoots?: Uri[] }): WebviewPanel {
    const panel = new WebviewPanel(viewType, title, column, options);
    recorder.panels.push(panel);
    return panel;
  },
  registerWebviewPanelSerializer(viewType: string, serializer: { deserializeWebviewPanel(panel: WebviewPanel, state: unknown): Promise<void> }): Disposable {
    recorder.serializers.set(viewType, serializer);
    return new Disposable(() => recorder.serializers.delete(viewType));
  },
  async showQuickPick(items: readonly unknown[] | Promise<readonly unknown[]>, options?: { placeHolder?: string }): Promise<unknown> {
    const list = await items;
    recorder.quickPicks.push({ items: list, ...(options?.placeHolder === undefined ? {} : { placeHolder: options.placeHolder }) });
    return answer(recorder.answers.quickPick, list);
  },
  async showInputBox(options?: { value?: string; validateInput?: (v: string) => string | undefined }): Promise<string | undefined> {
    const a = answer(recorder.answers.inputBox, [options?.value ?? '']);
    if (typeof a === 'string' && options?.validateInput?.(a) !== undefined) throw new Error(`input "${a}" fails validation: ${options.validateInput(a) ?? ''}`);
    return a as string | undefined;
  },
  async showOpenDialog(): Promise<Uri[] | undefined> {
    return answer(recorder.answers.openDialog) as Uri[] | undefined;
  },
  async showSaveDialog(): Promise<Uri | undefined> {
    return answer(recorder.answers.saveDialog) as Uri | undefined;
  },
  async showWorkspaceFolderPick(): Promise<unknown> {
    return recorder.workspaceFolders[0];
  },
  showInformationMessage: notify('info'),
  showWarningMessage: notify('warning'),
  showErrorMessage: notify('error'),
  async withProgress<T>(_options: unknown, task: (progress: { report(v: unknown): void }) => Promise<T>): Promise<T> {
    return task({ report: () => undefined });
  },
  setStatusBarMessage(text: string): Disposable {
    recorder.statusMessages.push(text);
    return new Disposable(() => undefined);
  },
  async showTextDocument(doc: TextDocument | Uri): Promise<unknown> {
    const d = doc instanceof Uri ? await workspace.openTextDocument(doc) : doc;
    recorder.shownDocuments.push({ uri: d.uri, text: d.getText() });
    return {};
  },
};

// ── workspace ───────────────────────────────────────────────────────────────────────────────

export class TextDocument {
  readonly isDirty = false;
  constructor(
    readonly uri: Uri,
    private readonly text: string,
  ) {}
  getText(): string {
    return this.text;
  }
  async save(): Promise<boolean> {
    return true;
  }
}

export const workspace = {
  get workspaceFolders(): { uri: Uri; name: string; index: number }[] | undefined {
    return recorder.workspaceFolders.length === 0 ? undefined : recorder.workspaceFolders;
  },
  textDocuments: [] as TextDocument[],
  getConfiguration(section?: string): { get<T>(key: string, fallback?: T): T | undefined } {
    return {
      get: <T>(key: string, fallback?: T): T | undefined => {
        const full = section ? `${section}.${key}` : key;
        return (recorder.settings.has(full) ? recorder.settings.get(full) : fallback) as T | undefined;
      },
    };
  },
  onDidChangeConfiguration: recorder.configListeners.event,
  async findFiles(): Promise<Uri[]> {
    return [...recorder.foundFiles];
  },
  asRelativePath(uri: Uri | string): string {
    const p = typeof uri === 'string' ? uri : uri.fsPath;
    const root = recorder.workspaceFolders[0]?.uri.fsPath;
    return root === undefined ? p : relative(root, p);
  },
  registerTextDocumentContentProvider(scheme: string, provider: { provideTextDocumentContent(uri: Uri): string | Promise<string> }): Disposable {
    recorder.contentProviders.set(scheme, provider);
    return new Disposable(() => recorder.contentProviders.delete(scheme));
  },
  async openTextDocument(uri: Uri): Promise<TextDocument> {
    const provider = recorder.contentProviders.get(uri.scheme);
    if (provider !== undefined) return new TextDocument(uri, await provider.provideTextDocumentContent(uri));
    const { readFileSync } = await import('node:fs');
    return new TextDocument(uri, readFileSync(uri.fsPath, 'utf8'));
  },
  fs: {
    async writeFile(uri: Uri, content: Uint8Array): Promise<void> {
      mkdirSync(dirname(uri.fsPath), { recursive: true });
      writeFileSync(uri.fsPath, content);
    },
    async createDirectory(uri: Uri): Promise<void> {
      mkdirSync(uri.fsPath, { recursive: true });
    },
  },
};

export const env = {
  clipboard: {
    async writeText(text: string): Promise<void> {
      recorder.clipboard = text;
    },
  },
  async openExternal(uri: Uri): Promise<boolean> {
    recorder.openedExternal.push(uri.toString());
    return true;
  },
};

// ── the extension context ───────────────────────────────────────────────────────────────────

export class Memento {
  private readonly values = new Map<string, unknown>();
  get<T>(key: string, fallback?: T): T | undefined {
    return (this.values.has(key) ? this.values.get(key) : fallback) as T | undefined;
  }
  async update(key: string, value: unknown): Promise<void> {
    this.values.set(key, value);
  }
  keys(): string[] {
    return [...this.values.keys()];
  }
}

export interface ExtensionContextDouble {
  readonly subscriptions: { dispose(): unknown }[];
  readonly extensionUri: Uri;
  readonly extensionPath: string;
  readonly globalStorageUri: Uri;
  readonly workspaceState: Memento;
  readonly globalState: Memento;
}

export function makeContext(extensionPath: string, storagePath: string, workspaceState: Memento = new Memento()): ExtensionContextDouble {
  return {
    subscriptions: [],
    extensionUri: Uri.file(extensionPath),
    extensionPath,
    globalStorageUri: Uri.file(storagePath),
    workspaceState,
    globalState: new Memento(),
  };
}
