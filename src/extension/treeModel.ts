// The identities tree as plain data, built from what the store knows: one node per service (name,
// SPIFFE ID, time left, last rotation, state) and the folders kept rotated for a person's own
// services. The vscode layer only turns these into TreeItems.
import type { ServiceSnapshot } from '../protocol/snapshot.js';
import { TREE_CONTEXT } from './ids.js';
import type { StoreView } from './meshStore.js';
import { ago, renewalDue, shortDuration, timeLeft } from './timeText.js';

export interface TreeIcon {
  /** A codicon id, e.g. `pass`, `sync~spin`. */
  readonly id: string;
  /** A theme color id, e.g. `testing.iconPassed`. */
  readonly color?: string;
}

export interface TreeNode {
  /** Stable across refreshes, so expansion and selection survive. */
  readonly id: string;
  readonly label: string;
  readonly description?: string;
  readonly tooltip?: string;
  readonly contextValue: string;
  readonly icon?: TreeIcon;
  readonly children?: readonly TreeNode[];
  /** The service a node belongs to (service nodes and their details). */
  readonly service?: string;
  readonly spiffeId?: string;
  /** A certificate file (svid.pem). Never a key file. */
  readonly certFile?: string;
  /** An injected folder. */
  readonly folder?: string;
}

/** A folder the extension keeps a person's SVID files fresh in. */
export interface InjectionView {
  readonly folder: string;
  readonly service: string;
  readonly spiffeId: string;
  readonly notAfter?: string;
  readonly nextRenewal?: number;
  readonly lastError?: string;
  readonly reloadCommand?: string;
}

const STATE_ICONS: Readonly<Record<ServiceSnapshot['state'], TreeIcon>> = {
  starting: { id: 'loading~spin' },
  running: { id: 'pass', color: 'testing.iconPassed' },
  restarting: { id: 'sync~spin', color: 'charts.yellow' },
  exited: { id: 'circle-slash', color: 'disabledForeground' },
  stopped: { id: 'circle-slash', color: 'disabledForeground' },
  failed: { id: 'error', color: 'errorForeground' },
};

function detail(parent: string, key: string, label: string, description: string, extra: Partial<TreeNode> = {}): TreeNode {
  return { id: `${parent}/${key}`, label, description, tooltip: `${label}: ${description}`, contextValue: TREE_CONTEXT.detail, ...extra };
}

/** One service: its label and summary line, and its details as children. */
export function serviceNode(s: ServiceSnapshot, now: number): TreeNode {
  const id = `service/${s.name}`;
  const expired = Date.parse(s.notAfter) <= now;
  const left = timeLeft(s.notAfter, now);
  const due = renewalDue(s.notBefore, s.notAfter);
  const nextRotation = due <= now ? 'due now' : `in ${shortDuration(due - now)}`;
  const lastRotation = ago(s.lastRotation, now);
  const icon = expired ? { id: 'warning', color: 'list.warningForeground' } : STATE_ICONS[s.state];
  const tooltip = [
    `${s.name} (${s.mode}${s.entry ? ', entry' : ''})`,
    `SPIFFE ID: ${s.spiffeId}`,
    `State: ${s.state}${s.pid === undefined ? '' : ` (pid ${s.pid})`}`,
    `SVID: ${left}, serial ${s.serial}`,
    `Next rotation: ${nextRotation}`,
    `Last rotation: ${lastRotation} (${s.rotations} so far)`,
    ...(s.meshPort === undefined ? [] : [`Mesh port: 127.0.0.1:${s.meshPort}`]),
  ].join('\n');
  const common = { service: s.name, spiffeId: s.spiffeId };
  return {
    id,
    label: s.name,
    description: `${left} · ${s.state}`,
    tooltip,
    contextValue: TREE_CONTEXT.service,
    icon,
    ...common,
    certFile: s.files.cert,
    children: [
      detail(id, 'spiffeId', 'SPIFFE ID', s.spiffeId, { ...common, contextValue: TREE_CONTEXT.spiffeId, icon: { id: 'key' } }),
      detail(id, 'timeLeft', 'Time left', `${left} (next rotation ${nextRotation})`, { ...common, icon: { id: 'watch' } }),
      detail(id, 'lastRotation', 'Last rotation', `${lastRotation} · ${s.rotations} rotation${s.rotations === 1 ? '' : 's'}`, { ...common, icon: { id: 'history' } }),
      detail(id, 'state', 'State', s.state + (s.pid === undefined ? '' : ` · pid ${s.pid}`), { ...common, icon: STATE_ICONS[s.state] }),
      detail(id, 'serial', 'Serial', s.serial, { ...common, icon: { id: 'symbol-number' } }),
      detail(id, 'cert', 'Certificate', s.files.cert, { ...common, contextValue: TREE_CONTEXT.certificate, certFile: s.files.cert, icon: { id: 'file' } }),
    ],
  };
}

function injectionNode(i: InjectionView, now: number): TreeNode {
  const id = `injection/${i.folder}`;
  const state = i.lastError !== undefined ? `failed: ${i.lastError}` : i.notAfter === undefined ? 'issuing…' : timeLeft(i.notAfter, now);
  const renewal = i.nextRenewal === undefined ? 'not scheduled' : i.nextRenewal <= now ? 'due now' : `in ${shortDuration(i.nextRenewal - now)}`;
  return {
    id,
    label: i.service,
    description: `${i.folder} · ${state}`,
    tooltip: [
      `${i.spiffeId}`,
      `Folder: ${i.folder} (svid.pem, svid_key.pem, svid_bundle.pem)`,
      `SVID: ${state}`,
      `Next renewal: ${renewal}`,
      `Reload command: ${i.reloadCommand ?? 'none'}`,
    ].join('\n'),
    contextValue: TREE_CONTEXT.injection,
    icon: i.lastError !== undefined ? { id: 'error', color: 'errorForeground' } : { id: 'folder-active' },
    service: i.service,
    spiffeId: i.spiffeId,
    folder: i.folder,
    certFile: `${i.folder.replace(/[\\/]$/, '')}/svid.pem`,
  };
}

/** The tree's roots: the mesh's services (or a placeholder while it starts), then the injected folders. Empty when there is nothing: the view's welcome text shows. */
export function identityTree(view: StoreView, injections: readonly InjectionView[], now: number): TreeNode[] {
  const roots: TreeNode[] = [];
  if (view.snapshot !== undefined && view.state !== 'stopped') {
    for (const s of view.snapshot.services) roots.push(serviceNode(s, now));
  } else if (view.state === 'starting') {
    roots.push({ id: 'placeholder/starting', label: 'Starting the mesh…', contextValue: TREE_CONTEXT.detail, icon: { id: 'loading~spin' } });
  }
  if (injections.length > 0) {
    roots.push({
      id: 'injections',
      label: 'Injected folders',
      description: `${injections.length}`,
      tooltip: 'Folders where mTLS Lab writes svid.pem, svid_key.pem and svid_bundle.pem and renews them at half their lifetime.',
      contextValue: TREE_CONTEXT.injectionGroup,
      icon: { id: 'folder-library' },
      children: injections.map((i) => injectionNode(i, now)),
    });
  }
  return roots;
}
