// A minimal stand-in for the `vscode` module, just enough for the graph benchmark to load
// dist/extension.js and time `activate()` in plain Node. It models no behaviour: calls succeed and
// return disposables. A member activation reaches for that is not modelled still answers (with a
// no-op function) and is listed in `missing`, so the report can say the stub fell short instead
// of the benchmark failing. The real extension host is exercised by test/extension/, not here.
import { Module } from 'node:module';
import { join } from 'node:path';

// The value types are the unit tests' vscode double: one model of them, not two.
import { Disposable, EventEmitter, ThemeColor, ThemeIcon, TreeItem, Uri } from '../test/unit/extension/vscodeDouble.js';

type Listener = (e: unknown) => unknown;

const event = (): ((listener: Listener) => Disposable) => new EventEmitter<unknown>().event;
const resolved = (): Promise<undefined> => Promise.resolve(undefined);

function outputChannel(name: string): Record<string, unknown> {
  const noop = (): void => undefined;
  return { name, logLevel: 2, onDidChangeLogLevel: event(), append: noop, appendLine: noop, replace: noop, clear: noop, show: noop, hide: noop, dispose: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
}

function memento(): Record<string, unknown> {
  const values = new Map<string, unknown>();
  return {
    get: (key: string, fallback?: unknown): unknown => (values.has(key) ? values.get(key) : fallback),
    update: (key: string, value: unknown): Promise<void> => {
      values.set(key, value);
      return Promise.resolve();
    },
    keys: (): string[] => [...values.keys()],
    setKeysForSync: (): void => undefined,
  };
}

/** The stub module and what activation reached for that it does not model. */
export interface VscodeStub {
  readonly module: Record<string, unknown>;
  /** `namespace.member` names answered by the generic fallback, in first-use order. */
  readonly missing: readonly string[];
}

/**
 * A fresh `vscode` stand-in. Namespaces (`window`, `workspace`, …) answer unknown members with a
 * no-op function returning a Disposable and record the name in `missing`.
 */
export function createVscodeStub(): VscodeStub {
  const missing: string[] = [];
  const namespace = (name: string, members: Record<string, unknown>): Record<string, unknown> =>
    new Proxy(members, {
      get(target, key) {
        if (typeof key !== 'string' || key in target || key === 'then') return Reflect.get(target, key) as unknown;
        const full = `${name}.${key}`;
        if (!missing.includes(full)) missing.push(full);
        return (): Disposable => new Disposable();
      },
    });
  const module: Record<string, unknown> = {
    Disposable,
    EventEmitter,
    Uri,
    ThemeColor,
    ThemeIcon,
    TreeItem,
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    StatusBarAlignment: { Left: 1, Right: 2 },
    ViewColumn: { Active: -1, Beside: -2, One: 1, Two: 2 },
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    ExtensionMode: { Production: 1, Development: 2, Test: 3 },
    commands: namespace('commands', {
      registerCommand: (): Disposable => new Disposable(),
      executeCommand: resolved,
    }),
    window: namespace('window', {
      createOutputChannel: outputChannel,
      createTreeView: (): Record<string, unknown> => ({ visible: false, badge: undefined, onDidChangeVisibility: event(), onDidChangeSelection: event(), onDidExpandElement: event(), onDidCollapseElement: event(), reveal: resolved, dispose: (): void => undefined }),
      createStatusBarItem: (id: string): Record<string, unknown> => ({ id, text: '', show: (): void => undefined, hide: (): void => undefined, dispose: (): void => undefined }),
      registerTreeDataProvider: (): Disposable => new Disposable(),
      registerWebviewPanelSerializer: (): Disposable => new Disposable(),
      setStatusBarMessage: (): Disposable => new Disposable(),
      showInformationMessage: resolved,
      showWarningMessage: resolved,
      showErrorMessage: resolved,
    }),
    workspace: namespace('workspace', {
      workspaceFolders: undefined,
      getConfiguration: (): Record<string, unknown> => ({ get: (_key: string, fallback?: unknown): unknown => fallback, has: (): boolean => false, inspect: (): undefined => undefined, update: resolved }),
      onDidChangeConfiguration: event(),
      registerTextDocumentContentProvider: (): Disposable => new Disposable(),
    }),
    env: namespace('env', {}),
  };
  return { module, missing };
}

/** The slice of `vscode.ExtensionContext` a host hands to `activate`, for an extension at `root`. */
export function stubExtensionContext(module: Record<string, unknown>, root: string, storage: string): { readonly subscriptions: { dispose(): unknown }[] } & Record<string, unknown> {
  const uri = module['Uri'] as typeof Uri;
  return {
    subscriptions: [],
    extensionUri: uri.file(root),
    extensionPath: root,
    globalStorageUri: uri.file(join(storage, 'global')),
    storageUri: uri.file(join(storage, 'workspace')),
    logUri: uri.file(join(storage, 'log')),
    globalStoragePath: join(storage, 'global'),
    storagePath: join(storage, 'workspace'),
    logPath: join(storage, 'log'),
    extensionMode: 1,
    globalState: memento(),
    workspaceState: memento(),
    secrets: { get: resolved, store: resolved, delete: resolved, onDidChange: event() },
    asAbsolutePath: (p: string): string => join(root, p),
  };
}

interface ModuleInternals {
  _load(request: string, parent: unknown, isMain: boolean): unknown;
}

/**
 * Runs `work` with `require('vscode')` answered by `stub` (through Module._load, as the extension
 * host does), and puts the loader back afterwards, also when `work` throws.
 */
export async function withVscodeStub<T>(stub: VscodeStub, work: () => Promise<T>): Promise<T> {
  const internals = Module as unknown as ModuleInternals;
  const original = internals._load;
  internals._load = function load(request: string, parent: unknown, isMain: boolean): unknown {
    return request === 'vscode' ? stub.module : original.call(this, request, parent, isMain);
  };
  try {
    return await work();
  } finally {
    internals._load = original;
  }
}
