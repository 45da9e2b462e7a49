// Every contributed command: native UI (quick picks, input boxes, notifications) over the Lab,
// the CLI and the injections. Each handler is short; the logic lives in the vscode-free modules.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { ATTACK_SCENARIOS, isAttackScenario } from '../protocol/messages.js';
import type { AttackScenario, MeshCommand } from '../protocol/messages.js';
import type { MeshSnapshot } from '../protocol/snapshot.js';
import { caTrustDomain, ensureCa, inspectFile, issueSvid, trustBundle } from './cliRunner.js';
import type { CliRunner } from './cliRunner.js';
import { newConfigText, sampleConfigFor } from './configTemplate.js';
import type { CommandOutcome } from './daemonClient.js';
import type { GraphPanel } from './graphPanel.js';
import { COMMANDS, CONTEXT } from './ids.js';
import type { CommandId } from './ids.js';
import type { Injections } from './injector.js';
import type { Lab } from './lab.js';
import { defaultSpiffeId, effectiveTtl, SERVICE_NAME } from './settings.js';
import type { LabSettings } from './settings.js';
import type { TreeNode } from './treeModel.js';

export const INSPECT_SCHEME = 'mtls-lab-inspect';

/** What the command handlers reach. */
export interface LabHost {
  readonly lab: Lab;
  readonly cli: CliRunner;
  readonly injections: Injections;
  readonly graph: GraphPanel;
  readonly log: vscode.LogOutputChannel;
  readonly extensionUri: vscode.Uri;
  readonly storageUri: vscode.Uri;
  settings(): LabSettings;
  stateDir(): string;
  setContext(key: string, value: unknown): void;
}

const SCENARIO_TEXT: Readonly<Record<AttackScenario, { readonly label: string; readonly detail: string }>> = {
  'impostor-no-cert': { label: 'Impostor without a certificate', detail: 'Connects over TLS with no client certificate. Expect: no-client-cert.' },
  'rogue-ca': { label: 'Rogue CA', detail: 'Presents a look-alike SVID minted by its own CA for the same trust domain. Expect: unknown-ca.' },
  'expired-replay': { label: 'Replay an expired SVID', detail: 'Replays a leaked SVID of a real caller after it expired. Expect: expired.' },
  unauthorized: { label: 'Unauthorized identity', detail: 'A valid SVID that no policy rule lets call the target. Expect: denied-by-policy.' },
  plaintext: { label: 'Plaintext on the mTLS port', detail: 'Sends plain HTTP where mutual TLS is required. Expect: plaintext-on-mtls-port.' },
};

function isTreeNode(value: unknown): value is TreeNode {
  return typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string' && typeof (value as { contextValue?: unknown }).contextValue === 'string';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs a handler; a failure becomes one error notification and a log line, never an unhandled rejection. */
function guarded(host: LabHost, id: CommandId, handler: (...args: unknown[]) => Promise<unknown> | unknown): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    try {
      await handler(...args);
    } catch (err) {
      host.log.error(`${id}: ${message(err)}`);
      void vscode.window.showErrorMessage(message(err));
    }
  };
}

function requireSnapshot(host: LabHost): MeshSnapshot | undefined {
  const s = host.lab.store.snapshot;
  if (s === undefined || !host.lab.running) {
    void vscode.window.showWarningMessage('No mesh is running.', 'Start the Sample Mesh').then((pick) => {
      if (pick !== undefined) void vscode.commands.executeCommand(COMMANDS.startSampleMesh);
    });
    return undefined;
  }
  return s;
}

async function runMeshCommand(host: LabHost, command: MeshCommand, title: string): Promise<CommandOutcome> {
  const outcome = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, () => host.lab.command(command));
  if (!outcome.ok) throw new Error(outcome.error ?? `mTLS Lab: ${command.name} failed (${outcome.code ?? 'no reason given'}).`);
  return outcome;
}

async function pickService(snapshot: MeshSnapshot, placeHolder: string, extra: readonly (vscode.QuickPickItem & { value: string | undefined })[] = []): Promise<string | undefined | null> {
  const items: (vscode.QuickPickItem & { value: string | undefined })[] = [
    ...extra,
    ...snapshot.services.map((s) => ({ label: s.name, description: s.spiffeId, detail: `${s.mode}${s.entry ? ', entry' : ''} · ${s.state}`, value: s.name })),
  ];
  const pick = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true });
  return pick === undefined ? null : pick.value;
}

// ── starting and stopping ───────────────────────────────────────────────────────────────────

async function startMesh(host: LabHost, what: string, options: { config?: string; ttl?: string; cwd?: string }): Promise<void> {
  if (host.lab.running) {
    const pick = await vscode.window.showInformationMessage('A mesh is already running.', 'Open Graph', 'Stop It');
    if (pick === 'Open Graph') host.graph.show();
    if (pick === 'Stop It') await vscode.commands.executeCommand(COMMANDS.stopMesh);
    return;
  }
  const stateDir = host.stateDir();
  const how = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `mTLS Lab: starting ${what}…` },
    () => host.lab.start({ stateDir, ...options }),
  );
  host.graph.show();
  const entry = host.lab.store.snapshot?.entryUrl ?? host.lab.endpoint?.entryUrl;
  const services = host.lab.store.snapshot?.services.length ?? 0;
  const text = how === 'attached' ? `Connected to the mesh already running for ${stateDir}.` : `${what[0]?.toUpperCase()}${what.slice(1)} is running${services > 0 ? ` with ${services} services` : ''}.`;
  const pick = await vscode.window.showInformationMessage(text, ...(entry ? ['Open the App'] : []), 'Show Log');
  if (pick === 'Open the App' && entry) await vscode.env.openExternal(vscode.Uri.parse(entry));
  if (pick === 'Show Log') host.log.show(true);
}

async function startSampleMesh(host: LabHost): Promise<void> {
  const settings = host.settings();
  const sampleDir = vscode.Uri.joinPath(host.extensionUri, 'sample-services').fsPath;
  const derived = sampleConfigFor(readFileSync(join(sampleDir, 'mtls-lab.json'), 'utf8'), sampleDir, settings);
  let config: string | undefined;
  if (derived !== undefined) {
    // The sample with the person's trust domain and key type, beside the extension's other state.
    await vscode.workspace.fs.createDirectory(host.storageUri);
    const file = vscode.Uri.joinPath(host.storageUri, 'sample-mesh.json');
    await vscode.workspace.fs.writeFile(file, Buffer.from(derived, 'utf8'));
    config = file.fsPath;
  }
  await startMesh(host, 'the sample mesh', { ...(config === undefined ? {} : { config }), ttl: effectiveTtl(settings) });
}

async function findConfig(arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active !== undefined && basename(active.fsPath) === 'mtls-lab.json') return active;
  const found = await vscode.workspace.findFiles('**/mtls-lab.json', '**/node_modules/**', 50);
  if (found.length === 1) return found[0];
  if (found.length === 0) {
    const pick = await vscode.window.showWarningMessage('There is no mtls-lab.json in this workspace.', 'Create mtls-lab.json', 'Start the Sample Mesh');
    if (pick === 'Create mtls-lab.json') await vscode.commands.executeCommand(COMMANDS.createConfig);
    if (pick === 'Start the Sample Mesh') await vscode.commands.executeCommand(COMMANDS.startSampleMesh);
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    found.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
    { placeHolder: 'Which mesh configuration?' },
  );
  return pick?.uri;
}

async function startMeshFromConfig(host: LabHost, arg: unknown): Promise<void> {
  const uri = await findConfig(arg);
  if (uri === undefined) return;
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open?.isDirty) await open.save();
  const settings = host.settings();
  await startMesh(host, `the mesh from ${vscode.workspace.asRelativePath(uri)}`, {
    config: uri.fsPath,
    cwd: dirname(uri.fsPath),
    // The file's own ttl wins, except when a person asked for the demo preset.
    ...(settings.demoPreset ? { ttl: effectiveTtl(settings) } : {}),
  });
}

async function stopMesh(host: LabHost): Promise<void> {
  if (host.lab.how === undefined) {
    void vscode.window.showInformationMessage('No mesh is running.');
    return;
  }
  if (host.lab.how === 'attached') {
    const pid = host.lab.endpoint?.pid;
    const pick = await vscode.window.showWarningMessage(
      `This mesh was started outside VS Code${pid === undefined ? '' : ` (pid ${pid})`}. Stop it, or only disconnect?`,
      { modal: true },
      'Stop It',
      'Disconnect',
    );
    if (pick === undefined) return;
    await host.lab.stop(pick === 'Stop It');
    return;
  }
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'mTLS Lab: stopping the mesh…' }, () => host.lab.stop());
}

// ── mesh commands ───────────────────────────────────────────────────────────────────────────

async function rotateNow(host: LabHost, arg: unknown): Promise<void> {
  const snapshot = requireSnapshot(host);
  if (snapshot === undefined) return;
  let service: string | undefined;
  if (isTreeNode(arg) && arg.service !== undefined) service = arg.service;
  else if (typeof arg === 'string') service = arg;
  else if (snapshot.services.length > 1) {
    const picked = await pickService(snapshot, 'Rotate which SVID?', [{ label: '$(sync) Every service', description: 'Renew every SVID now', value: undefined }]);
    if (picked === null) return;
    service = picked;
  }
  await runMeshCommand(host, { name: 'rotate', ...(service === undefined ? {} : { service }) }, `Rotating ${service ?? 'every SVID'}…`);
  vscode.window.setStatusBarMessage(`$(sync) mTLS Lab: rotated ${service ?? 'every SVID'}`, 4000);
}

async function rotateCa(host: LabHost): Promise<void> {
  if (requireSnapshot(host) === undefined) return;
  await runMeshCommand(host, { name: 'ca/rotate' }, 'Rotating the CA…');
  void vscode.window.showInformationMessage('The CA is rotating: the new root joins the trust bundle first, SVIDs are re-issued under it, then the old root retires. Watch it in the graph.', 'Open Graph').then((p) => {
    if (p !== undefined) host.graph.show();
  });
}

interface AttackReportView {
  readonly scenario?: string;
  readonly target?: string;
  readonly rejected?: boolean;
  readonly reason?: string | null;
  readonly detail?: string;
}

async function runAttack(host: LabHost, arg: unknown, targetArg: unknown): Promise<void> {
  const snapshot = requireSnapshot(host);
  if (snapshot === undefined) return;
  let scenario: AttackScenario | undefined = isAttackScenario(arg) ? arg : undefined;
  let target: string | undefined = isTreeNode(arg) ? arg.service : typeof targetArg === 'string' ? targetArg : undefined;
  if (scenario === undefined) {
    const pick = await vscode.window.showQuickPick(
      ATTACK_SCENARIOS.map((s) => ({ label: SCENARIO_TEXT[s].label, description: s, detail: SCENARIO_TEXT[s].detail, scenario: s })),
      { placeHolder: target === undefined ? 'Which attack?' : `Which attack on ${target}?`, matchOnDetail: true },
    );
    if (pick === undefined) return;
    scenario = pick.scenario;
    if (target === undefined && !isAttackScenario(arg)) {
      const picked = await pickService(snapshot, 'Attack which service?', [{ label: '$(target) Let the mesh choose', description: 'payments, or the first service behind a sidecar', value: undefined }]);
      if (picked === null) return;
      target = picked;
    }
  }
  const outcome = await runMeshCommand(host, { name: 'attack', scenario, ...(target === undefined ? {} : { target }) }, `Running the ${scenario} attack…`);
  const report = (typeof outcome.result === 'object' && outcome.result !== null ? outcome.result : {}) as AttackReportView;
  const detail = report.detail ?? '';
  host.log.info(`attack ${scenario} on ${report.target ?? target ?? '?'}: ${report.rejected === true ? 'rejected' : 'GOT THROUGH'} (${report.reason ?? 'no reason'}). ${detail}`);
  if (report.rejected === true) {
    host.setContext(CONTEXT.sawRejectedAttack, true);
    const pick = await vscode.window.showInformationMessage(`Rejected (${report.reason ?? 'no reason'}). ${detail}`, 'Open Graph');
    if (pick !== undefined) host.graph.show();
  } else {
    const pick = await vscode.window.showWarningMessage(`The ${scenario} attack was not rejected as expected. ${detail}`, 'Open Graph', 'Show Log');
    if (pick === 'Open Graph') host.graph.show();
    if (pick === 'Show Log') host.log.show(true);
  }
}

async function allowCall(host: LabHost, fromArg: unknown, toArg: unknown): Promise<void> {
  const snapshot = requireSnapshot(host);
  if (snapshot === undefined) return;
  const from = typeof fromArg === 'string' ? fromArg : isTreeNode(fromArg) ? fromArg.service : await pickService(snapshot, 'Allow calls from which service?');
  if (!from) return;
  const to = typeof toArg === 'string' ? toArg : await pickService({ ...snapshot, services: snapshot.services.filter((s) => s.name !== from) }, `Let ${from} call which service?`);
  if (!to) return;
  await runMeshCommand(host, { name: 'policy/allow', from, to }, `Allowing ${from} → ${to}…`);
  host.setContext(CONTEXT.policyChanged, true);
  vscode.window.setStatusBarMessage(`$(pass) mTLS Lab: ${from} may now call ${to}`, 5000);
}

function describePeers(from: MeshSnapshot['policy']['rules'][number]['from']): string {
  return Array.isArray(from) ? from.join(', ') : `any member of ${(from as { memberOf: string }).memberOf}`;
}

async function denyCall(host: LabHost, ruleArg: unknown): Promise<void> {
  const snapshot = requireSnapshot(host);
  if (snapshot === undefined) return;
  let rule = typeof ruleArg === 'string' ? ruleArg : undefined;
  if (rule === undefined) {
    if (snapshot.policy.rules.length === 0) {
      void vscode.window.showInformationMessage('The policy has no rules: every call between services is already denied.');
      return;
    }
    const pick = await vscode.window.showQuickPick(
      snapshot.policy.rules.map((r) => ({ label: r.name, description: `${describePeers(r.from)} → ${r.to.join(', ')}`, rule: r.name })),
      { placeHolder: 'Remove which rule? The calls it allowed are denied from the next request on.', matchOnDescription: true },
    );
    if (pick === undefined) return;
    rule = pick.rule;
  }
  await runMeshCommand(host, { name: 'policy/remove', rule }, `Removing rule ${rule}…`);
  host.setContext(CONTEXT.policyChanged, true);
  const pick = await vscode.window.showInformationMessage(`Rule ${rule} is gone: the calls it allowed are now denied (denied-by-policy). Watch them turn red in the graph.`, 'Open Graph', 'Allow Again');
  if (pick === 'Open Graph') host.graph.show();
  if (pick === 'Allow Again') await vscode.commands.executeCommand(COMMANDS.allowCall);
}

// ── certificates ────────────────────────────────────────────────────────────────────────────

function trustDomainNow(host: LabHost): string {
  return host.lab.store.snapshot?.trustDomain ?? caTrustDomain(host.stateDir()) ?? host.settings().trustDomain;
}

function workspaceFolderUri(): vscode.Uri | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

async function pickFolder(title: string, arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Use This Folder', title, defaultUri: workspaceFolderUri() });
  return picked?.[0];
}

async function issueCertificate(host: LabHost): Promise<void> {
  const settings = host.settings();
  const td = trustDomainNow(host);
  const id = await vscode.window.showInputBox({
    title: 'Issue an X.509-SVID',
    prompt: `The workload's SPIFFE ID, in trust domain ${td}`,
    value: defaultSpiffeId(td, 'my-service'),
    valueSelection: [`spiffe://${td}/ns/default/sa/`.length, `spiffe://${td}/ns/default/sa/my-service`.length],
    validateInput: (v) => (/^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)+$/.test(v.trim()) ? undefined : 'A workload SPIFFE ID: spiffe://<trust domain>/<path>, e.g. spiffe://lab.local/ns/default/sa/orders.'),
  });
  if (id === undefined) return;
  const folder = await pickFolder('Where should svid.pem, svid_key.pem and svid_bundle.pem go?', undefined);
  if (folder === undefined) return;
  const stateDir = host.stateDir();
  const svid = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'mTLS Lab: issuing…' }, async () => {
    if (await ensureCa(host.cli, stateDir, settings.trustDomain, settings.keyType)) host.log.info(`Created a CA for ${settings.trustDomain} in ${stateDir}.`);
    return issueSvid(host.cli, { stateDir, spiffeId: id.trim(), outDir: folder.fsPath, ttl: effectiveTtl(settings) });
  });
  host.log.info(`Issued ${svid.spiffeId} (serial ${svid.serial}, until ${svid.notAfter}) into ${folder.fsPath}.`);
  const pick = await vscode.window.showInformationMessage(`Issued ${svid.spiffeId}, valid until ${new Date(svid.notAfter).toLocaleTimeString()}. It is not renewed: to keep a folder fresh, inject certificates instead.`, 'Inspect', 'Keep It Rotated');
  if (pick === 'Inspect') await showInspection(vscode.Uri.file(svid.files.cert));
  if (pick === 'Keep It Rotated') await vscode.commands.executeCommand(COMMANDS.injectCertificates, folder);
}

/** A read-only document with `mtls-lab inspect FILE`'s output. */
export function inspectionUri(file: vscode.Uri): vscode.Uri {
  return vscode.Uri.from({ scheme: INSPECT_SCHEME, path: `/${basename(file.fsPath)} (inspected)`, query: file.fsPath });
}

/** Serves `mtls-lab-inspect:` documents: the CLI's description of the certificates in the file (never a key). */
export function inspectionProvider(cli: CliRunner): vscode.TextDocumentContentProvider {
  return {
    provideTextDocumentContent: async (uri: vscode.Uri): Promise<string> => {
      try {
        return await inspectFile(cli, uri.query);
      } catch (err) {
        return `mTLS Lab could not inspect ${uri.query}:\n${message(err)}\n`;
      }
    },
  };
}

async function showInspection(file: vscode.Uri): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(inspectionUri(file));
  await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}

async function inspectCertificate(arg: unknown): Promise<void> {
  let file: vscode.Uri | undefined;
  if (arg instanceof vscode.Uri) file = arg;
  else if (isTreeNode(arg) && arg.certFile !== undefined) file = vscode.Uri.file(arg.certFile);
  else {
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active !== undefined && active.scheme === 'file' && /\.(pem|crt|cer)$/i.test(active.fsPath)) file = active;
    else {
      const picked = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Inspect', title: 'Inspect a certificate', filters: { Certificates: ['pem', 'crt', 'cer'] }, defaultUri: workspaceFolderUri() });
      file = picked?.[0];
    }
  }
  if (file === undefined) return;
  if (/key/i.test(basename(file.fsPath)) && !/\.(crt|cer)$/i.test(file.fsPath)) {
    void vscode.window.showWarningMessage(`${basename(file.fsPath)} looks like a private key; mTLS Lab inspects certificates only (svid.pem, svid_bundle.pem).`);
    return;
  }
  await showInspection(file);
}

async function injectCertificates(host: LabHost, arg: unknown): Promise<void> {
  const settings = host.settings();
  const folder = await pickFolder('Keep SVID files fresh in which folder?', arg);
  if (folder === undefined) return;
  const service = await vscode.window.showInputBox({
    title: 'Inject certificates: service name',
    prompt: `Its SPIFFE ID will be spiffe://${trustDomainNow(host)}/ns/default/sa/<name>`,
    value: basename(folder.fsPath).toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'my-service',
    validateInput: (v) => (SERVICE_NAME.test(v) ? undefined : 'Lowercase letters, digits, ".", "-" and "_", starting and ending with a letter or digit.'),
  });
  if (service === undefined) return;
  const reload = await vscode.window.showInputBox({
    title: 'Inject certificates: reload command (optional)',
    prompt: 'Run in the folder after each renewal, like spiffe-helper\'s cmd. $SVID_CERT_FILE, $SVID_KEY_FILE and $SVID_BUNDLE_FILE are set. Leave empty if your service re-reads the files itself.',
    placeHolder: 'e.g. kill -HUP $(cat app.pid)',
  });
  if (reload === undefined) return;
  const stateDir = host.stateDir();
  const spiffeId = defaultSpiffeId(trustDomainNow(host), service);
  const ttl = effectiveTtl(settings);
  const svid = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `mTLS Lab: issuing ${spiffeId}…` }, async () => {
    if (await ensureCa(host.cli, stateDir, settings.trustDomain, settings.keyType)) host.log.info(`Created a CA for ${settings.trustDomain} in ${stateDir}.`);
    return host.injections.add({ folder: folder.fsPath, service, spiffeId, ttl, ...(reload.trim() === '' ? {} : { reloadCommand: reload.trim() }) });
  });
  host.setContext(CONTEXT.injecting, true);
  const pick = await vscode.window.showInformationMessage(
    `${basename(folder.fsPath)} has svid.pem, svid_key.pem and svid_bundle.pem for ${spiffeId}; mTLS Lab renews them every ${ttl} at half their lifetime (next before ${new Date(Date.parse(svid.notBefore) / 2 + Date.parse(svid.notAfter) / 2).toLocaleTimeString()}) while VS Code is open.`,
    'Inspect',
    'Reveal Folder',
  );
  if (pick === 'Inspect') await showInspection(vscode.Uri.file(svid.files.cert));
  if (pick === 'Reveal Folder') await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(svid.files.cert));
}

async function stopInjecting(host: LabHost, arg: unknown): Promise<void> {
  let folder = isTreeNode(arg) ? arg.folder : typeof arg === 'string' ? arg : undefined;
  if (folder === undefined) {
    const views = host.injections.views();
    if (views.length === 0) {
      void vscode.window.showInformationMessage('No folder is being kept rotated.');
      return;
    }
    const pick = await vscode.window.showQuickPick(views.map((v) => ({ label: v.service, description: v.folder, folder: v.folder })), { placeHolder: 'Stop renewing the SVID files in which folder? The files stay.' });
    folder = pick?.folder;
  }
  if (folder === undefined) return;
  if (await host.injections.remove(folder)) {
    host.setContext(CONTEXT.injecting, host.injections.size > 0);
    vscode.window.setStatusBarMessage(`mTLS Lab: no longer renewing the SVID in ${basename(folder)}`, 4000);
  }
}

async function exportTrustBundle(host: LabHost): Promise<void> {
  const format = await vscode.window.showQuickPick(
    [
      { label: 'PEM', description: 'bundle.pem', detail: 'The root certificates, for ssl_trusted_certificate, curl --cacert, NODE_EXTRA_CA_CERTS…', value: 'pem' as const },
      { label: 'SPIFFE bundle (JWKS)', description: 'bundle.spiffe.json', detail: 'The SPIFFE trust bundle format, for federation and SPIFFE libraries.', value: 'spiffe' as const },
    ],
    { placeHolder: 'Export the trust bundle as…' },
  );
  if (format === undefined) return;
  const text = await trustBundle(host.cli, host.stateDir(), format.value);
  const base = workspaceFolderUri();
  const target = await vscode.window.showSaveDialog({
    title: 'Export the trust bundle',
    saveLabel: 'Export',
    ...(base === undefined ? {} : { defaultUri: vscode.Uri.joinPath(base, format.description) }),
    filters: format.value === 'pem' ? { PEM: ['pem'] } : { JSON: ['json'] },
  });
  if (target === undefined) return;
  await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
  host.log.info(`Exported the trust bundle (${format.value}) to ${target.fsPath}.`);
  vscode.window.setStatusBarMessage(`$(pass) mTLS Lab: trust bundle written to ${basename(target.fsPath)}`, 5000);
}

async function createConfig(host: LabHost): Promise<void> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  let target: vscode.Uri | undefined;
  if (folders.length === 0) {
    target = await vscode.window.showSaveDialog({ title: 'Create mtls-lab.json', saveLabel: 'Create', filters: { JSON: ['json'] } });
  } else {
    const folder = folders.length === 1 ? folders[0] : await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Create mtls-lab.json in which folder?' });
    if (folder !== undefined) target = vscode.Uri.joinPath(folder.uri, 'mtls-lab.json');
  }
  if (target === undefined) return;
  if (existsSync(target.fsPath)) {
    await vscode.window.showTextDocument(target);
    void vscode.window.showInformationMessage(`${vscode.workspace.asRelativePath(target)} exists already; opened it.`);
    return;
  }
  await vscode.workspace.fs.writeFile(target, Buffer.from(newConfigText(host.settings()), 'utf8'));
  await vscode.window.showTextDocument(target);
  void vscode.window.showInformationMessage('Describe your services, then start the mesh from this file. The editor checks it against the mtls-lab.json schema as you type.', 'Start This Mesh').then((p) => {
    if (p !== undefined && target !== undefined) void vscode.commands.executeCommand(COMMANDS.startMeshFromConfig, target);
  });
}

/** Registers every command the manifest contributes. */
export function registerCommands(host: LabHost): vscode.Disposable[] {
  const handlers: Readonly<Record<CommandId, (...args: unknown[]) => Promise<unknown> | unknown>> = {
    [COMMANDS.startSampleMesh]: () => startSampleMesh(host),
    [COMMANDS.startMeshFromConfig]: (arg) => startMeshFromConfig(host, arg),
    [COMMANDS.stopMesh]: () => stopMesh(host),
    [COMMANDS.openGraph]: () => {
      host.graph.show();
      if (!host.lab.running) {
        void vscode.window.showInformationMessage('No mesh is running; the graph fills in once one starts.', 'Start the Sample Mesh').then((p) => {
          if (p !== undefined) void vscode.commands.executeCommand(COMMANDS.startSampleMesh);
        });
      }
    },
    [COMMANDS.rotateNow]: (arg) => rotateNow(host, arg),
    [COMMANDS.rotateCa]: () => rotateCa(host),
    [COMMANDS.runAttack]: (arg, target) => runAttack(host, arg, target),
    [COMMANDS.allowCall]: (from, to) => allowCall(host, from, to),
    [COMMANDS.denyCall]: (rule) => denyCall(host, rule),
    [COMMANDS.issueCertificate]: () => issueCertificate(host),
    [COMMANDS.inspectCertificate]: (arg) => inspectCertificate(arg),
    [COMMANDS.injectCertificates]: (arg) => injectCertificates(host, arg),
    [COMMANDS.stopInjecting]: (arg) => stopInjecting(host, arg),
    [COMMANDS.exportTrustBundle]: () => exportTrustBundle(host),
    [COMMANDS.createConfig]: () => createConfig(host),
    [COMMANDS.copySpiffeId]: async (arg) => {
      const id = isTreeNode(arg) ? arg.spiffeId : undefined;
      if (id !== undefined) {
        await vscode.env.clipboard.writeText(id);
        vscode.window.setStatusBarMessage(`Copied ${id}`, 3000);
      }
    },
    [COMMANDS.showLog]: () => host.log.show(),
  };
  return (Object.keys(handlers) as CommandId[]).map((id) => vscode.commands.registerCommand(id, guarded(host, id, handlers[id])));
}
