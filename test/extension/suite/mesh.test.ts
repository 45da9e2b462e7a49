// The sample mesh end to end, driven by the contributed commands as a person would: start it, see
// the five services in the identities tree, open the graph and watch its page receive the
// snapshot, rotate, attack, change policy, inspect, stop, and find the daemon gone.
import * as vscode from 'vscode';
import type { MeshEvent } from '../../../src/core/events/types.js';
import type { ServiceSnapshot } from '../../../src/protocol/snapshot.js';
import type { TestGroup } from './index.js';
import { api, auditEvents, check, checkEqual, checkpoint, daemonFile, exec, finish, hasHarness, isAlive, NOTIFICATIONS, SIDEBAR, start, STATUSBAR, waitFor, waitForMesh } from './index.js';

export const SAMPLE_SERVICES = ['frontend', 'orders', 'billing', 'payments', 'inventory'] as const;

let daemonPid: number | undefined;
let servicePids: number[] = [];

async function services(): Promise<readonly ServiceSnapshot[]> {
  return (await api()).snapshot()?.services ?? [];
}

async function service(name: string): Promise<ServiceSnapshot> {
  const s = (await services()).find((x) => x.name === name);
  check(s !== undefined, `the snapshot has no service ${name}`);
  return s;
}

/** Audit events written after `since` (a count of lines read before acting). */
function newEvents(since: number): MeshEvent[] {
  return auditEvents().slice(since);
}

function graphTab(): vscode.Tab | undefined {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('mtlsLab.graph'));
}

export const meshTests: TestGroup = {
  name: 'the sample mesh',
  tests: [
    {
      name: 'Start the Sample Mesh: the identities tree fills with the 5 sample services',
      smoke: true,
      critical: true,
      timeoutMs: 75_000,
      run: async () => {
        await vscode.commands.executeCommand('workbench.view.extension.mtlsLab');
        const t = Date.now();
        const pending = start('mtlsLab.startSampleMesh');
        await waitForMesh('the mesh to run with the 5 sample services', SAMPLE_SERVICES.length, 45_000);
        console.log(`    running with ${SAMPLE_SERVICES.length} services after ${((Date.now() - t) / 1000).toFixed(1)} s`);
        checkEqual([...(await services()).map((s) => s.name)].sort(), [...SAMPLE_SERVICES].sort(), 'services');
        for (const s of await services()) check(/^spiffe:\/\/lab\.local\/ns\/[^/]+\/sa\/[^/]+$/.test(s.spiffeId), `${s.name} has SPIFFE ID ${s.spiffeId}`);
        const daemon = daemonFile();
        check(daemon !== undefined, 'no daemon.json in the state folder while the mesh runs');
        check(isAlive(daemon.pid), `the daemon (pid ${daemon.pid}) is not alive`);
        daemonPid = daemon.pid;
        servicePids = (await services()).flatMap((s) => (s.pid === undefined ? [] : [s.pid]));
        await checkpoint({ name: 'tree-filled', page: { selector: SIDEBAR, texts: [...SAMPLE_SERVICES] }, timeoutMs: 15_000 });
        await checkpoint({ name: 'status-bar-running', page: { selector: STATUSBAR, texts: ['mTLS: running'] } });
        await finish(pending, 'mtlsLab.startSampleMesh');
      },
    },
    {
      name: 'Open the Mesh Graph: the webview panel opens and its page receives the snapshot',
      smoke: true,
      timeoutMs: 45_000,
      run: async () => {
        await exec('mtlsLab.openGraph');
        const tab = await waitFor('a tab holding the graph webview (mtlsLab.graph)', () => graphTab(), 10_000);
        check(tab.label.includes('mTLS Lab'), `the graph tab is labelled ${tab.label}`);
        const lab = await api();
        if (lab.graphState !== undefined) {
          const g = lab.graphState;
          await waitFor('the graph page to be ready and sent a snapshot', () => {
            const s = g();
            return s.open && s.ready && s.snapshotsPosted > 0;
          });
        }
        // The page's shell holds no data: service names in its table came in the snapshot.
        const seen = await checkpoint({ name: 'graph', frame: { selector: '#services-table', texts: [...SAMPLE_SERVICES, 'spiffe://lab.local/'] }, timeoutMs: 20_000 });
        if (seen === undefined && lab.graphState === undefined) console.log('    (no harness and no graphState() hook: the snapshot reaching the page is not checked here)');
      },
    },
    {
      name: 'Rotate SVIDs Now: a new serial appears in the tree',
      timeoutMs: 45_000,
      run: async () => {
        const before = (await service('orders')).serial;
        const mark = auditEvents().length;
        await exec('mtlsLab.rotateNow', 'orders');
        const after = await waitFor('a new serial for orders', async () => {
          const s = (await service('orders')).serial;
          return s !== before ? s : undefined;
        });
        check(
          newEvents(mark).some((e) => e.type === 'svid/issued' && e.service === 'orders' && e.serial === after && e.cause !== 'start'),
          'the audit log has no svid/issued event for the new serial',
        );
        checkEqual((await service('orders')).rotations >= 1, true, 'orders counts its rotation');
        // Expand "orders" in the tree: its Serial row shows the new serial.
        await checkpoint({ name: 'rotated-serial', clickTreeItem: 'orders', page: { selector: SIDEBAR, texts: [after] } });
      },
    },
    {
      name: 'Run an Attack with a preselected scenario: the mesh rejects it and says why',
      timeoutMs: 45_000,
      run: async () => {
        const mark = auditEvents().length;
        const pending = start('mtlsLab.runAttack', 'impostor-no-cert');
        const attack = await waitFor('the attack event in the audit log', () => newEvents(mark).find((e) => e.type === 'attack'), 20_000);
        check(attack.type === 'attack', 'not an attack event');
        check(attack.rejected, `the impostor got through: ${attack.detail}`);
        checkEqual(attack.reason, 'no-client-cert', 'the reason');
        check(newEvents(mark).some((e) => e.type === 'rejection' && e.reason === 'no-client-cert'), 'no rejection event with reason no-client-cert');
        // What the person reads: the notification the command shows (in the list: a toast may have hidden already).
        if (hasHarness()) await vscode.commands.executeCommand('notifications.showList');
        await checkpoint({ name: 'attack-rejected', page: { selector: NOTIFICATIONS, texts: ['Rejected (no-client-cert)'] } });
        await finish(pending, 'mtlsLab.runAttack');
        await vscode.commands.executeCommand('notifications.hideList');
        check((await api()).state() === 'running', 'the mesh stopped after the attack');
      },
    },
    {
      name: 'Deny a Call and Allow a Call change the policy',
      timeoutMs: 45_000,
      run: async () => {
        const rule = 'orders-to-billing';
        const had = (await api()).snapshot()?.policy.rules.some((r) => r.name === rule);
        check(had === true, `the sample policy has no rule ${rule}`);
        let mark = auditEvents().length;
        const denying = start('mtlsLab.denyCall', rule);
        await waitFor(`a policy/changed event removing ${rule}`, () => newEvents(mark).find((e) => e.type === 'policy/changed' && e.change === 'removed' && e.rule === rule));
        await finish(denying, 'mtlsLab.denyCall');
        mark = auditEvents().length;
        await exec('mtlsLab.allowCall', 'orders', 'billing');
        await waitFor('a policy/changed event adding a rule for orders → billing', () => newEvents(mark).find((e) => e.type === 'policy/changed' && e.change === 'added'));
      },
    },
    {
      name: 'Inspect Certificate opens the SVID as text, and Copy SPIFFE ID copies it',
      timeoutMs: 30_000,
      run: async () => {
        const orders = await service('orders');
        await exec('mtlsLab.inspectCertificate', vscode.Uri.file(orders.files.cert));
        const doc = await waitFor('the inspection document', () => vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'mtls-lab-inspect' && d.uri.query === orders.files.cert));
        check(doc.getText().includes(orders.spiffeId), `the inspection does not name ${orders.spiffeId}:\n${doc.getText().slice(0, 400)}`);
        check(!/PRIVATE KEY/.test(doc.getText()), 'the inspection shows key material');
        await checkpoint({ name: 'inspect-certificate', page: { texts: [orders.spiffeId] } });
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
        // The tree's SPIFFE ID row passes its node; the command takes `spiffeId` from it.
        const node = { id: 'service/orders/spiffeId', label: 'SPIFFE ID', contextValue: 'mtlsLab.spiffeId', service: 'orders', spiffeId: orders.spiffeId };
        await vscode.env.clipboard.writeText('');
        await exec('mtlsLab.copySpiffeId', node);
        checkEqual(await vscode.env.clipboard.readText(), orders.spiffeId, 'the clipboard');
        await exec('mtlsLab.showLog');
      },
    },
    {
      name: 'Rotate the CA: the mesh prepares a new root and re-issues under it',
      timeoutMs: 60_000,
      run: async () => {
        const mark = auditEvents().length;
        const rotating = start('mtlsLab.rotateCa');
        await waitFor('ca/changed events', () => newEvents(mark).find((e) => e.type === 'ca/changed'), 30_000);
        await finish(rotating, 'mtlsLab.rotateCa');
        check((await api()).state() === 'running', 'the mesh stopped during the CA rotation');
      },
    },
    {
      name: 'Stop the Mesh: the daemon and its services are gone',
      smoke: true,
      timeoutMs: 45_000,
      run: async () => {
        check(daemonPid !== undefined, 'the start test recorded no daemon pid');
        const pid = daemonPid;
        await exec('mtlsLab.stopMesh');
        const lab = await api();
        checkEqual(lab.state(), 'stopped', 'state() after stopMesh');
        await waitFor(`the daemon (pid ${pid}) to exit`, () => !isAlive(pid), 15_000);
        await waitFor('daemon.json to be removed', () => daemonFile() === undefined, 5_000);
        const left = servicePids.filter(isAlive);
        check(left.length === 0, `service processes still alive: ${left.join(', ')}`);
        await checkpoint({ name: 'stopped', page: { selector: SIDEBAR, texts: ['No mesh is running'] } });
        if (hasHarness()) await checkpoint({ name: 'status-bar-stopped-again', page: { selector: STATUSBAR, texts: ['mTLS: stopped'] } });
      },
    },
  ],
};
