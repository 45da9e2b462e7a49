// The extension-host tests' entry: VS Code loads this module (bundled to out/vscode-e2e/suite.js)
// in the extension host and awaits `run()`, under code-server (scripts/vscode-e2e.mjs) or
// @vscode/test-electron (test/extension/runTestElectron.ts). A tiny ordered runner, no Mocha: the
// tests form one story (start the mesh, look, rotate, attack, stop), so later steps are not run
// once a step they need has failed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { MeshEvent } from '../../../src/core/events/types.js';
import type { LabApi } from '../../../src/extension/extension.js';
import { activationTests } from './activation.test.js';
import { commandTests } from './commands.test.js';
import { meshTests } from './mesh.test.js';
import { toolTests } from './tools.test.js';
import { walkthroughTests } from './walkthrough.test.js';

export const EXTENSION_ID = 'mtls-lab.mtls-lab';

export interface TestCase {
  readonly name: string;
  readonly run: () => Promise<void>;
  /** Default 30 s. */
  readonly timeoutMs?: number;
  /** Also in the smoke subset run against an installed .vsix. */
  readonly smoke?: boolean;
  /** Only in this mode (e.g. the .vsix check). */
  readonly only?: 'dev' | 'vsix';
  /** The rest of its group needs it: when it fails they are reported as not run (and count as failed). */
  readonly critical?: boolean;
}

export interface TestGroup {
  readonly name: string;
  readonly tests: readonly TestCase[];
}

// ── the environment the harness sets ───────────────────────────────────────────────────────────

/** 'vsix' when the extension under test was installed from a packaged .vsix (the smoke subset). */
export function mode(): 'dev' | 'vsix' {
  return process.env['MTLS_LAB_E2E_MODE'] === 'vsix' ? 'vsix' : 'dev';
}

/** The state folder the extension, its CLI and its daemon use: a fresh one per run, never the person's. */
export function stateDir(): string {
  const dir = process.env['MTLS_LAB_STATE'];
  if (dir === undefined || dir === '') throw new Error('MTLS_LAB_STATE is not set: the harness must give the extension a state folder of its own.');
  return dir;
}

// ── the extension and what it exposes ──────────────────────────────────────────────────────────

/**
 * A test hook the suite uses when the extension's API offers it (feature-detected): whether the
 * graph panel is open, whether its page said `ready`, and how many snapshots were posted to it.
 * Without it, the harness's look into the webview's DOM proves the same under code-server.
 */
export interface GraphHook {
  graphState?(): { readonly open: boolean; readonly ready: boolean; readonly snapshotsPosted: number };
}

export type Api = LabApi & GraphHook;

export function extension(): vscode.Extension<Api> {
  const ext = vscode.extensions.getExtension<Api>(EXTENSION_ID);
  if (ext === undefined) throw new Error(`The extension ${EXTENSION_ID} is not installed in this VS Code.`);
  return ext;
}

export async function api(): Promise<Api> {
  const ext = extension();
  const exports = ext.isActive ? ext.exports : await ext.activate();
  if (exports === undefined || typeof exports.state !== 'function') throw new Error('activate() did not return the test API ({ state, snapshot, injectedFolders }).');
  return exports;
}

export interface ManifestCommand {
  readonly command: string;
  readonly title: string;
  readonly category?: string;
}

export interface WalkthroughStep {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly media?: { readonly image?: string | { readonly light: string; readonly dark: string }; readonly altText?: string; readonly markdown?: string; readonly svg?: string };
  readonly completionEvents?: readonly string[];
}

export interface Manifest {
  readonly name: string;
  readonly publisher: string;
  readonly contributes: {
    readonly commands: readonly ManifestCommand[];
    readonly views?: Readonly<Record<string, readonly { readonly id: string; readonly name: string }[]>>;
    readonly viewsContainers?: { readonly activitybar?: readonly { readonly id: string; readonly title: string }[] };
    readonly walkthroughs?: readonly { readonly id: string; readonly title: string; readonly description: string; readonly steps: readonly WalkthroughStep[] }[];
  };
}

/** The manifest as the running VS Code read it (not the file on disk). */
export function manifest(): Manifest {
  return extension().packageJSON as Manifest;
}

// ── the mesh's own records ──────────────────────────────────────────────────────────────────────

/** Every event in the state folder's audit.jsonl, oldest first. */
export function auditEvents(): MeshEvent[] {
  const file = join(stateDir(), 'audit.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as MeshEvent];
      } catch {
        return [];
      }
    });
}

export interface DaemonFile {
  readonly pid: number;
  readonly port: number;
}

export function daemonFile(): DaemonFile | undefined {
  const file = join(stateDir(), 'daemon.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as DaemonFile;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ── waiting and checking ────────────────────────────────────────────────────────────────────────

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `probe` returns a value other than undefined/false; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}.`);
    }
    await sleep(everyMs);
  }
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export function checkEqual<T>(actual: T, expected: T, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}.`);
}

/** The extension's commands this run has executed (see the coverage test at the end). */
export const executed = new Set<string>();

/** Runs a command and waits for it, recording it for the coverage test. */
export async function exec<T = unknown>(command: string, ...args: unknown[]): Promise<T> {
  executed.add(command);
  return vscode.commands.executeCommand<T>(command, ...args);
}

/**
 * Runs a command without waiting for it (many end on a notification with buttons, which the
 * command awaits). Returns the command's promise, with rejection kept for `finish`.
 */
export function start(command: string, ...args: unknown[]): Promise<unknown> {
  executed.add(command);
  const p = Promise.resolve(vscode.commands.executeCommand(command, ...args));
  p.catch(() => undefined);
  return p;
}

/** Dismisses notifications until `pending` (a command from `start`) settles; rethrows its failure. */
export async function finish(pending: Promise<unknown>, what: string, timeoutMs = 15_000): Promise<void> {
  let settled = false;
  void pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = Date.now() + timeoutMs;
  while (!settled) {
    if (Date.now() > deadline) throw new Error(`${what} did not finish within ${timeoutMs / 1000} s after its notifications were dismissed.`);
    await vscode.commands.executeCommand('notifications.clearAll');
    await sleep(300);
  }
  await pending;
}

// ── the harness's eyes: checkpoints ─────────────────────────────────────────────────────────────

export interface CheckpointRequest {
  /** Names the screenshots: test-results/vscode/NAME.png (and NAME-webview.png for a frame). */
  readonly name: string;
  /** Text that must show in the workbench, inside `selector` (default the whole page). */
  readonly page?: { readonly selector?: string; readonly texts: readonly string[] };
  /** Text that must show in one webview frame, inside `selector`. */
  readonly frame?: { readonly selector?: string; readonly texts: readonly string[] };
  /** Click this tree item (by label) in the side bar first, e.g. to expand it. */
  readonly clickTreeItem?: string;
  readonly timeoutMs?: number;
}

export interface CheckpointResponse {
  readonly ok: boolean;
  readonly missing: readonly string[];
  readonly seen: string;
  readonly screenshots: readonly string[];
  readonly frameUrl?: string;
  readonly error?: string;
}

export const SIDEBAR = '[id="workbench.parts.sidebar"]';
export const STATUSBAR = '[id="workbench.parts.statusbar"]';
/** The notification list (`notifications.showList`) and the toasts. */
export const NOTIFICATIONS = '.notifications-center, .notifications-toasts';

let checkpointSeq = 0;

/** True when a harness watches the workbench (code-server); false under @vscode/test-electron. */
export function hasHarness(): boolean {
  const dir = process.env['MTLS_LAB_E2E_HANDSHAKE'];
  return dir !== undefined && dir !== '' && existsSync(dir);
}

/**
 * Asks the harness to look at the workbench as a person would (and take screenshots); throws when
 * the text does not show. Resolves undefined, having checked nothing, when no harness watches.
 */
export async function checkpoint(request: CheckpointRequest): Promise<CheckpointResponse | undefined> {
  if (!hasHarness()) return undefined;
  const { writeFileSync, renameSync } = await import('node:fs');
  const dir = process.env['MTLS_LAB_E2E_HANDSHAKE'] as string;
  const base = join(dir, `${String(++checkpointSeq).padStart(3, '0')}-${request.name}`);
  writeFileSync(`${base}.tmp`, JSON.stringify(request));
  renameSync(`${base}.tmp`, `${base}.request.json`);
  const response = await waitFor(
    `the harness to answer checkpoint ${request.name}`,
    () => (existsSync(`${base}.response.json`) ? (JSON.parse(readFileSync(`${base}.response.json`, 'utf8')) as CheckpointResponse) : undefined),
    (request.timeoutMs ?? 20_000) + 15_000,
    250,
  );
  if (!response.ok) {
    throw new Error(`The workbench does not show ${JSON.stringify(response.missing)} (checkpoint ${request.name}; it showed: ${JSON.stringify(response.seen.slice(0, 600))}).`);
  }
  return response;
}

/** The notifications a person would see now (and a screenshot of them), to explain a failure; undefined without a harness. */
export async function notificationsText(name: string): Promise<string | undefined> {
  if (!hasHarness()) return undefined;
  try {
    await vscode.commands.executeCommand('notifications.showList');
    const seen = await checkpoint({ name, page: { selector: NOTIFICATIONS, texts: [] }, timeoutMs: 2000 });
    await vscode.commands.executeCommand('notifications.hideList');
    return seen?.seen.trim();
  } catch {
    return undefined;
  }
}

/** Waits for the mesh to run with `count` services; on time-out says what the extension and the window showed instead. */
export async function waitForMesh(what: string, count: number, timeoutMs: number): Promise<void> {
  const lab = await api();
  const ready = (): boolean => lab.state() === 'running' && (lab.snapshot()?.services ?? []).length === count && (lab.snapshot()?.services ?? []).every((s) => s.state === 'running');
  try {
    await waitFor(what, ready, timeoutMs);
  } catch (err) {
    const services = (lab.snapshot()?.services ?? []).map((s) => `${s.name}:${s.state}`).join(', ') || 'none';
    const shown = await notificationsText('mesh-did-not-start');
    throw new Error(`${errorText(err)} The extension's state is ${lab.state()}, services: ${services}; daemon.json ${daemonFile() === undefined ? 'absent' : 'present'}; notifications: ${JSON.stringify(shown ?? '(no harness)')}.`);
  }
}

// ── the runner ──────────────────────────────────────────────────────────────────────────────────

function withTimeout<T>(p: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`"${name}" took longer than ${ms / 1000} s.`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Stops a mesh a failed test left running, so the window closes clean. */
async function cleanUp(): Promise<void> {
  try {
    const ext = vscode.extensions.getExtension<Api>(EXTENSION_ID);
    if (ext?.isActive && ext.exports.state() !== 'stopped') {
      console.log('cleanup: stopping the mesh a failed test left running');
      await withTimeout(Promise.resolve(vscode.commands.executeCommand('mtlsLab.stopMesh')), 15_000, 'cleanup');
    }
  } catch (err) {
    console.log(`cleanup: ${errorText(err)}`);
  }
}

/** Last: a command added to the manifest fails the suite until a test runs it. */
const coverage: TestGroup = {
  name: 'coverage',
  tests: [
    {
      name: 'the suite ran every contributed command',
      run: async () => {
        const missed = manifest()
          .contributes.commands.map((c) => c.command)
          .filter((id) => !executed.has(id));
        check(missed.length === 0, `no test runs ${missed.join(', ')}: add one to test/extension/suite`);
      },
    },
  ],
};

/** The @vscode/test-electron contract: resolve when every test passed, reject otherwise. */
export async function run(): Promise<void> {
  const groups: readonly TestGroup[] = [activationTests, commandTests, walkthroughTests, meshTests, toolTests, coverage];
  const m = mode();
  let passed = 0;
  let failed = 0;
  // Tests that belong to the other run (the .vsix smoke, or the full development suite): not skipped, run there.
  let otherRun = 0;
  const failures: string[] = [];
  const t0 = Date.now();
  console.log(`mTLS Lab extension-host tests (${m === 'vsix' ? 'smoke subset on the installed .vsix' : 'full suite on the development path'}; VS Code ${vscode.version}, ${vscode.env.appName}, ${hasHarness() ? 'harness watching' : 'no harness'})`);
  for (const group of groups) {
    const tests = group.tests.filter((t) => (m === 'vsix' ? t.smoke === true || t.only === 'vsix' : t.only !== 'vsix'));
    otherRun += group.tests.length - tests.length;
    if (tests.length === 0) continue;
    console.log(`\n${group.name}`);
    let blockedBy: string | undefined;
    for (const test of tests) {
      if (blockedBy !== undefined) {
        failed++;
        failures.push(`${group.name} › ${test.name}: not run, "${blockedBy}" failed`);
        console.log(`  ✗ ${test.name} (not run: "${blockedBy}" failed)`);
        continue;
      }
      const t = Date.now();
      try {
        await withTimeout(test.run(), test.timeoutMs ?? 30_000, test.name);
        passed++;
        console.log(`  ✓ ${test.name} (${Date.now() - t} ms)`);
      } catch (err) {
        failed++;
        failures.push(`${group.name} › ${test.name}: ${errorText(err)}`);
        console.log(`  ✗ ${test.name} (${Date.now() - t} ms)\n      ${errorText(err)}`);
        if (test.critical === true) blockedBy = test.name;
      }
    }
  }
  await cleanUp();
  console.log(`\n${failures.length === 0 ? '' : `Failures:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`}`);
  console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  // The plain closing line CI reads: alone on its line.
  console.log(`extension-host: ${passed} passed, ${failed} failed${otherRun > 0 ? ` (${otherRun} more belong to the ${m === 'vsix' ? 'full suite' : '.vsix smoke run'})` : ''}`);
  if (failed > 0) throw new Error(`${failed} extension-host test${failed === 1 ? '' : 's'} failed.`);
}
