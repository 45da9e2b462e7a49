// The command handlers through the vscode double, over a Lab attached to the real control API
// (in-memory mesh) and a stand-in CLI: what a person picks becomes the right daemon command or
// CLI call, and what comes back becomes the right notification.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../../../src/core/rotation/fakeClock.js';
import { parseMeshConfig } from '../../../src/core/mesh/config.js';
import { processCliRunner } from '../../../src/extension/cliRunner.js';
import { inspectionProvider, registerCommands } from '../../../src/extension/commands.js';
import type { LabHost } from '../../../src/extension/commands.js';
import { GraphPanel } from '../../../src/extension/graphPanel.js';
import { COMMANDS, CONTEXT } from '../../../src/extension/ids.js';
import { Injections } from '../../../src/extension/injector.js';
import { Lab } from '../../../src/extension/lab.js';
import type { OwnedDaemon } from '../../../src/extension/lab.js';
import type { UpOptions } from '../../../src/extension/daemonProcess.js';
import { readSettings } from '../../../src/extension/settings.js';
import { serviceNode } from '../../../src/extension/treeModel.js';
import { eventually, fakeDaemon, service, T0 } from './fakeMesh.js';
import { LogOutputChannel, recorder, resetDouble, Uri } from './vscodeDouble.js';

vi.mock('vscode', () => import('./vscodeDouble.js'));

const root = join(__dirname, '..', '..', '..');
const fakeCli = join(__dirname, 'fixtures', 'fake-cli.mjs');

let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  resetDouble();
  dir = mkdtempSync(join(tmpdir(), 'mtls-ext-cmd-'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

interface Setup {
  host: LabHost;
  run: (id: string, ...args: unknown[]) => Promise<unknown>;
  daemon: Awaited<ReturnType<typeof fakeDaemon>>;
  launches: UpOptions[];
  cliCalls: () => string[][];
}

async function setup(o: { running?: boolean } = {}): Promise<Setup> {
  const daemon = await fakeDaemon();
  cleanups.push(() => daemon.api.close());
  const launches: UpOptions[] = [];
  const owned: OwnedDaemon = { endpoint: daemon.endpoint, onExit: () => () => undefined, stop: async () => undefined };
  const log = new LogOutputChannel('mTLS Lab', { log: true });
  const lab = new Lab({ runtime: { command: process.execPath, env: {} }, cliPath: 'x', log, findRunning: () => undefined, launch: async (l) => (launches.push(l.options), owned) });
  cleanups.push(() => lab.dispose());
  const argsFile = join(dir, 'cli-args');
  const cli = processCliRunner({ command: process.execPath, env: { ...process.env, FAKE_MODE: 'issue', FAKE_ARGS_FILE: argsFile } }, fakeCli);
  const clock = new FakeClock();
  const injections = new Injections({ issue: async (spec) => ({ spiffeId: spec.spiffeId, serial: 'ab', notBefore: new Date(clock.now()).toISOString(), notAfter: new Date(clock.now() + 120_000).toISOString(), files: { cert: join(spec.folder, 'svid.pem'), bundle: join(spec.folder, 'svid_bundle.pem') } }), reload: async () => ({ code: 0, output: '' }), clock, log: () => undefined, changed: () => undefined }, { get: () => [], set: () => undefined });
  cleanups.push(() => injections.dispose());
  const graph = new GraphPanel({ extensionUri: Uri.file(root) as never, store: lab.store, execute: (c) => lab.command(c), log: () => undefined });
  const host: LabHost = {
    lab,
    cli,
    injections,
    graph,
    log: log as never,
    extensionUri: Uri.file(root) as never,
    storageUri: Uri.file(join(dir, 'storage')) as never,
    settings: () => readSettings((k) => recorder.settings.get(`mtlsLab.${k}`)),
    stateDir: () => join(dir, 'state'),
    setContext: (k, v) => void recorder.context.set(k, v),
  };
  const disposables = registerCommands(host);
  cleanups.push(() => disposables.forEach((d) => d.dispose()));
  if (o.running !== false) {
    await lab.start({ stateDir: join(dir, 'state') });
    await eventually(() => lab.store.state === 'running');
  }
  const run = async (id: string, ...args: unknown[]): Promise<unknown> => recorder.commands.get(id)?.(...args);
  const cliCalls = (): string[][] => (existsSync(argsFile) ? readFileSync(argsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : []);
  return { host, run, daemon, launches, cliCalls };
}

const pickBy = (key: string, value: unknown) => (items: readonly unknown[]) => items.find((i) => (i as Record<string, unknown>)[key] === value);

describe('mesh commands', () => {
  it('runs the impostor from the walkthrough link and says why it was rejected', async () => {
    const { run, daemon } = await setup();
    await run(COMMANDS.runAttack, 'impostor-no-cert');
    expect(daemon.controller.commands).toEqual([{ name: 'attack', scenario: 'impostor-no-cert' }]);
    expect(recorder.notifications.at(-1)).toMatchObject({ kind: 'info', message: 'Rejected (no-client-cert). payments refused it.' });
    expect(recorder.context.get(CONTEXT.sawRejectedAttack)).toBe(true);
  });

  it('attacks the service of a tree node after a quick pick of the scenario', async () => {
    const { run, daemon } = await setup();
    recorder.answers.quickPick.push(pickBy('scenario', 'rogue-ca'));
    await run(COMMANDS.runAttack, serviceNode(service('orders'), T0));
    expect(daemon.controller.commands).toEqual([{ name: 'attack', scenario: 'rogue-ca', target: 'orders' }]);
  });

  it('from the palette asks for scenario and target; "let the mesh choose" sends none', async () => {
    const { run, daemon } = await setup();
    recorder.answers.quickPick.push(pickBy('scenario', 'plaintext'), pickBy('value', undefined));
    await run(COMMANDS.runAttack);
    expect(daemon.controller.commands).toEqual([{ name: 'attack', scenario: 'plaintext' }]);
    expect(recorder.quickPicks.map((q) => q.items.length)).toEqual([5, 4]);
  });

  it('warns when an attack got through', async () => {
    const { run, daemon } = await setup();
    daemon.controller.result = () => ({ scenario: 'unauthorized', target: 'payments', rejected: false, reason: null, detail: 'it got a 200.' });
    await run(COMMANDS.runAttack, 'unauthorized');
    expect(recorder.notifications.at(-1)?.kind).toBe('warning');
  });

  it('rotates one service from the tree, or every one from the palette', async () => {
    const { run, daemon } = await setup();
    await run(COMMANDS.rotateNow, serviceNode(service('orders'), T0));
    recorder.answers.quickPick.push(pickBy('value', undefined));
    await run(COMMANDS.rotateNow);
    await run(COMMANDS.rotateCa);
    expect(daemon.controller.commands).toEqual([{ name: 'rotate', service: 'orders' }, { name: 'rotate' }, { name: 'ca/rotate' }]);
  });

  it('allows a call from picked services, and denies one by removing its rule', async () => {
    const { run, daemon } = await setup();
    recorder.answers.quickPick.push(pickBy('value', 'orders'), pickBy('value', 'payments'));
    await run(COMMANDS.allowCall);
    recorder.answers.quickPick.push(pickBy('rule', 'frontend-to-orders'));
    await run(COMMANDS.denyCall);
    expect(daemon.controller.commands).toEqual([{ name: 'policy/allow', from: 'orders', to: 'payments' }, { name: 'policy/remove', rule: 'frontend-to-orders' }]);
    expect(recorder.quickPicks[1]?.items.map((i) => (i as { value: string }).value)).not.toContain('orders');
    expect(recorder.context.get(CONTEXT.policyChanged)).toBe(true);
  });

  it('shows the daemon\'s sentence when a command fails', async () => {
    const { run, daemon } = await setup();
    daemon.controller.result = () => {
      throw Object.assign(new Error('policy: there is no rule named "x"; its rules are: frontend-to-orders.'), { code: 'unknown-rule' });
    };
    await run(COMMANDS.denyCall, 'x');
    expect(recorder.notifications.at(-1)).toMatchObject({ kind: 'error', message: 'policy: there is no rule named "x"; its rules are: frontend-to-orders.' });
  });

  it('with no mesh, mesh commands offer to start the sample', async () => {
    const { run, daemon } = await setup({ running: false });
    await run(COMMANDS.rotateNow);
    expect(recorder.notifications.at(-1)).toMatchObject({ kind: 'warning', message: 'No mesh is running.', items: ['Start the Sample Mesh'] });
    expect(daemon.controller.commands).toEqual([]);
  });
});

describe('starting and stopping', () => {
  it('starts the sample mesh with the settings\' TTL and no --config, then opens the graph', async () => {
    const { run, launches, host } = await setup({ running: false });
    recorder.settings.set('mtlsLab.demoPreset', true);
    await run(COMMANDS.startSampleMesh);
    expect(launches).toEqual([{ stateDir: join(dir, 'state'), ttl: '2m' }]);
    expect(recorder.panels).toHaveLength(1);
    expect(host.lab.how).toBe('owned');
  });

  it('starts the sample with another trust domain from a copy in the extension\'s storage', async () => {
    const { run, launches } = await setup({ running: false });
    recorder.settings.set('mtlsLab.trustDomain', 'example.org');
    await run(COMMANDS.startSampleMesh);
    expect(launches[0]?.config).toBe(join(dir, 'storage', 'sample-mesh.json'));
    expect(parseMeshConfig(readFileSync(launches[0]?.config as string, 'utf8'), 'x').trustDomain.name).toBe('example.org');
  });

  it('starts from the workspace\'s mtls-lab.json in its folder; the file\'s TTL wins unless the demo preset is on', async () => {
    const { run, launches } = await setup({ running: false });
    await run(COMMANDS.startMeshFromConfig, Uri.file('/w/app/mtls-lab.json'));
    expect(launches).toEqual([{ stateDir: join(dir, 'state'), config: '/w/app/mtls-lab.json', cwd: '/w/app' }]);
  });

  it('without an mtls-lab.json, offers to create one', async () => {
    const { run, launches } = await setup({ running: false });
    await run(COMMANDS.startMeshFromConfig);
    expect(launches).toEqual([]);
    expect(recorder.notifications.at(-1)?.items).toEqual(['Create mtls-lab.json', 'Start the Sample Mesh']);
  });

  it('stops the mesh it started', async () => {
    const { run, host } = await setup();
    await run(COMMANDS.stopMesh);
    expect(host.lab.running).toBe(false);
    expect(host.lab.store.state).toBe('stopped');
  });
});

describe('certificates', () => {
  it('inspects a .pem from the explorer in a read-only document', async () => {
    const { run, host } = await setup({ running: false });
    recorder.contentProviders.set('mtls-lab-inspect', inspectionProvider(host.cli) as never);
    await run(COMMANDS.inspectCertificate, Uri.file('/w/svid.pem'));
    expect(recorder.shownDocuments[0]?.uri.scheme).toBe('mtls-lab-inspect');
    expect(recorder.shownDocuments[0]?.text).toContain('SPIFFE ID   spiffe://lab.local/ns/default/sa/x');
  });

  it('will not open a key file', async () => {
    const { run } = await setup({ running: false });
    await run(COMMANDS.inspectCertificate, Uri.file('/w/svid_key.pem'));
    expect(recorder.shownDocuments).toEqual([]);
    expect(recorder.notifications.at(-1)?.message).toMatch(/private key/);
  });

  it('issues into a chosen folder through the CLI, making a CA first if there is none', async () => {
    const { run, cliCalls } = await setup({ running: false });
    recorder.answers.inputBox.push('spiffe://lab.local/ns/default/sa/api');
    recorder.answers.openDialog.push([Uri.file('/w/api')]);
    await run(COMMANDS.issueCertificate);
    expect(cliCalls()).toEqual([
      ['ca', 'init', '--state', join(dir, 'state'), '--trust-domain', 'lab.local', '--key-type', 'ec-p256'],
      ['issue', 'spiffe://lab.local/ns/default/sa/api', '--state', join(dir, 'state'), '--ttl', '1h', '--out', '/w/api', '--json'],
    ]);
    expect(recorder.notifications.at(-1)?.message).toMatch(/^Issued spiffe:\/\/lab.local\/ns\/default\/sa\/api/);
  });

  it('injects certificates into a folder and keeps them rotated', async () => {
    const { run, host } = await setup();
    recorder.answers.openDialog.push([Uri.file('/w/My API')]);
    recorder.answers.inputBox.push((items: readonly unknown[]) => items[0], 'systemctl --user reload my-api');
    await run(COMMANDS.injectCertificates);
    expect(host.injections.views()).toEqual([
      expect.objectContaining({ folder: '/w/My API', service: 'my-api', spiffeId: 'spiffe://lab.local/ns/default/sa/my-api', reloadCommand: 'systemctl --user reload my-api' }),
    ]);
    expect(recorder.context.get(CONTEXT.injecting)).toBe(true);
    await run(COMMANDS.stopInjecting, { id: 'injection//w/My API', contextValue: 'mtlsLab.injection', folder: '/w/My API', label: 'my-api' });
    expect(host.injections.size).toBe(0);
  });

  it('exports the trust bundle where the person says', async () => {
    const { run } = await setup({ running: false });
    recorder.answers.quickPick.push(pickBy('value', 'pem'));
    recorder.answers.saveDialog.push(Uri.file(join(dir, 'out', 'bundle.pem')));
    await run(COMMANDS.exportTrustBundle);
    expect(readFileSync(join(dir, 'out', 'bundle.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('creates mtls-lab.json in the workspace that the mesh accepts, and opens it', async () => {
    const { run } = await setup({ running: false });
    recorder.workspaceFolders.push({ uri: Uri.file(join(dir, 'ws')), name: 'ws', index: 0 });
    recorder.settings.set('mtlsLab.trustDomain', 'shop.test');
    await run(COMMANDS.createConfig);
    const file = join(dir, 'ws', 'mtls-lab.json');
    expect(parseMeshConfig(readFileSync(file, 'utf8'), file).trustDomain.name).toBe('shop.test');
    expect(recorder.shownDocuments[0]?.uri.fsPath).toBe(file);
  });

  it('copies a SPIFFE ID from the tree', async () => {
    const { run } = await setup({ running: false });
    await run(COMMANDS.copySpiffeId, serviceNode(service('orders'), T0).children?.[0]);
    expect(recorder.clipboard).toBe('spiffe://lab.local/ns/default/sa/orders');
  });
});
