// The commands for a person's own services, each answered through VS Code's own inputs (the
// suite accepts the suggested value of every input box, as a person pressing Enter would):
// create mtls-lab.json, start the mesh from a config file, inject certificates into a folder and
// stop, issue a certificate, export the trust bundle.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { TestGroup } from './index.js';
import { api, check, checkEqual, checkpoint, daemonFile, exec, extension, finish, isAlive, SIDEBAR, sleep, start, waitFor, waitForMesh } from './index.js';
import { SAMPLE_SERVICES } from './mesh.test.js';

function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  check(folder !== undefined, 'no workspace folder is open');
  return folder.uri.fsPath;
}

/** Presses Enter in whatever quick input is open until `done` holds or `pending` settles. */
async function acceptInputs(what: string, pending: Promise<unknown>, done: () => boolean, timeoutMs = 20_000): Promise<void> {
  let settled = false;
  void pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = Date.now() + timeoutMs;
  while (!settled && !done()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s answering the inputs of ${what}.`);
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    await sleep(400);
  }
}

function pemCount(file: string): number {
  return (readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
}

export const toolTests: TestGroup = {
  name: 'own services and certificates',
  tests: [
    {
      name: 'Create mtls-lab.json writes a valid starting config into the workspace and opens it',
      run: async () => {
        const file = join(workspaceDir(), 'mtls-lab.json');
        check(!existsSync(file), `${file} exists before the test`);
        await finish(start('mtlsLab.createConfig'), 'mtlsLab.createConfig');
        await waitFor('mtls-lab.json in the workspace', () => existsSync(file));
        const config = JSON.parse(readFileSync(file, 'utf8')) as { trustDomain?: string; services?: unknown[]; policy?: unknown };
        checkEqual(config.trustDomain, 'lab.local', 'trustDomain');
        check(Array.isArray(config.services) && config.services.length > 0, 'the new config has no services');
        await waitFor('the new config open in an editor', () => vscode.window.visibleTextEditors.some((e) => e.document.uri.fsPath === file));
        await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      },
    },
    {
      name: 'Start the Mesh from mtls-lab.json runs the services that file names, and stops',
      timeoutMs: 90_000,
      run: async () => {
        // The sample mesh's config, with its services' folder made absolute, in the workspace.
        const sampleDir = join(extension().extensionUri.fsPath, 'sample-services');
        const config = JSON.parse(readFileSync(join(sampleDir, 'mtls-lab.json'), 'utf8')) as { services: { name: string; cwd?: string }[] };
        config.services = config.services.map((s) => ({ ...s, cwd: join(sampleDir, s.cwd ?? '.') }));
        const dir = join(workspaceDir(), 'shop');
        mkdirSync(dir, { recursive: true });
        const file = join(dir, 'mtls-lab.json');
        writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
        const pending = start('mtlsLab.startMeshFromConfig', vscode.Uri.file(file));
        await waitForMesh('the mesh from shop/mtls-lab.json to run', SAMPLE_SERVICES.length, 45_000);
        await finish(pending, 'mtlsLab.startMeshFromConfig');
        const pid = daemonFile()?.pid;
        check(pid !== undefined, 'no daemon.json while the mesh runs');
        await exec('mtlsLab.stopMesh');
        await waitFor(`the daemon (pid ${pid}) to exit`, () => !isAlive(pid), 15_000);
      },
    },
    {
      name: 'Inject Certificates into a Folder writes svid.pem, svid_key.pem, svid_bundle.pem and keeps them rotated; Stop Renewing stops',
      timeoutMs: 60_000,
      run: async () => {
        const folder = join(workspaceDir(), 'my-api');
        mkdirSync(folder, { recursive: true });
        const lab = await api();
        const pending = start('mtlsLab.injectCertificates', vscode.Uri.file(folder));
        // Two inputs: the service name (suggested from the folder: my-api) and an optional reload command.
        await acceptInputs('Inject Certificates', pending, () => lab.injectedFolders().includes(folder));
        await waitFor('the folder in injectedFolders()', () => lab.injectedFolders().includes(folder), 30_000);
        await waitFor('svid.pem, svid_key.pem and svid_bundle.pem', () => ['svid.pem', 'svid_key.pem', 'svid_bundle.pem'].every((f) => existsSync(join(folder, f))), 30_000);
        checkEqual(statSync(join(folder, 'svid_key.pem')).mode & 0o777, 0o600, 'svid_key.pem mode');
        check(pemCount(join(folder, 'svid.pem')) >= 1 && pemCount(join(folder, 'svid_bundle.pem')) >= 1, 'the SVID files hold no certificates');
        await finish(pending, 'mtlsLab.injectCertificates', 30_000);
        await vscode.commands.executeCommand('workbench.view.extension.mtlsLab');
        await checkpoint({ name: 'injected-folder', page: { selector: SIDEBAR, texts: ['Injected folders', 'my-api'] } });
        await exec('mtlsLab.stopInjecting', folder);
        checkEqual(lab.injectedFolders(), [], 'injectedFolders() after Stop Renewing');
        check(existsSync(join(folder, 'svid.pem')), 'Stop Renewing removed the files (they should stay)');
      },
    },
    {
      name: 'Issue a Certificate writes an X.509-SVID for the suggested SPIFFE ID into the chosen folder',
      timeoutMs: 60_000,
      run: async () => {
        // The suggested ID (spiffe://lab.local/ns/default/sa/my-service), then the folder dialog's suggestion: the workspace folder.
        const dir = workspaceDir();
        const cert = join(dir, 'svid.pem');
        check(!existsSync(cert), `${cert} exists before the test`);
        const pending = start('mtlsLab.issueCertificate');
        await acceptInputs('Issue a Certificate', pending, () => existsSync(cert));
        await waitFor('svid.pem, svid_key.pem and svid_bundle.pem in the workspace', () => ['svid.pem', 'svid_key.pem', 'svid_bundle.pem'].every((f) => existsSync(join(dir, f))), 30_000);
        await finish(pending, 'mtlsLab.issueCertificate', 30_000);
        const inspected = await vscode.workspace.openTextDocument(vscode.Uri.from({ scheme: 'mtls-lab-inspect', path: '/svid.pem (inspected)', query: cert }));
        check(inspected.getText().includes('spiffe://lab.local/ns/default/sa/my-service'), `the issued SVID does not carry the suggested ID:\n${inspected.getText().slice(0, 400)}`);
      },
    },
    {
      name: 'Export the Trust Bundle writes the roots as PEM where the save dialog suggests',
      timeoutMs: 60_000,
      run: async () => {
        const file = join(workspaceDir(), 'bundle.pem');
        check(!existsSync(file), `${file} exists before the test`);
        const pending = start('mtlsLab.exportTrustBundle');
        // The format pick (PEM first), then the save dialog's suggestion: bundle.pem in the workspace.
        await acceptInputs('Export the Trust Bundle', pending, () => existsSync(file));
        await waitFor('bundle.pem', () => existsSync(file) && pemCount(file) >= 1, 15_000);
        await finish(pending, 'mtlsLab.exportTrustBundle');
        check(!/PRIVATE KEY/.test(readFileSync(file, 'utf8')), 'the trust bundle holds key material');
      },
    },
  ],
};
