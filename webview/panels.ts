// Everything on the page that is not the canvas: the details of the selection, the timeline, the
// text view (real tables and a list, so the canvas never carries information alone) and the
// actions. Each part renders from the model and updates only what changed.
import { ATTACK_SCENARIOS } from '../src/protocol/messages.js';
import type { AttackScenario } from '../src/protocol/messages.js';
import type { PolicyRuleSnapshot } from '../src/protocol/snapshot.js';
import { append, h, setText, svg } from './dom.js';
import type { Child } from './dom.js';
import { formatClock, formatDuration, formatRate } from './format.js';
import type { Selection } from './graph.js';
import { allowableCall, certificateChain, edgeRate, filterLog, isUnverified, rulesForEdge, rulesForNode } from './store.js';
import type { EdgeView, LogCategory, LogEntry, NodeView, RejectionView, ViewModel } from './store.js';
import type { TimelineLayout } from './timeline.js';

export interface PageActions {
  select(selection: Selection | undefined): void;
  rotate(service: string): void;
  rotateCa(): void;
  attack(scenario: AttackScenario, target: string | undefined): void;
  allow(from: string, to: string): void;
}

// ── keyed tables ─────────────────────────────────────────────────────────────────────────────

interface Row {
  readonly tr: HTMLTableRowElement;
  readonly cells: HTMLElement[];
  readonly values: string[];
}

/**
 * A table body whose rows are keyed: a row is made once, then only cells whose text changed are
 * touched, and rows are re-ordered only when the order changes.
 */
class KeyedRows<T> {
  private readonly rows = new Map<string, Row>();
  private order: string[] = [];

  constructor(
    private readonly tbody: HTMLTableSectionElement,
    private readonly make: (item: T, key: string) => { tr: HTMLTableRowElement; cells: HTMLElement[] },
    private readonly values: (item: T) => string[],
  ) {}

  render(items: Iterable<readonly [string, T]>): void {
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const [key, item] of items) {
      keys.push(key);
      seen.add(key);
      let row = this.rows.get(key);
      if (row === undefined) {
        const made = this.make(item, key);
        row = { ...made, values: made.cells.map(() => '') };
        this.rows.set(key, row);
      }
      const vals = this.values(item);
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i] as string;
        if (row.values[i] !== v) {
          row.values[i] = v;
          setText(row.cells[i] as HTMLElement, v);
        }
      }
    }
    for (const key of [...this.rows.keys()]) if (!seen.has(key)) this.rows.delete(key);
    if (keys.length !== this.order.length || keys.some((k, i) => k !== this.order[i])) {
      const grown = keys.length > this.order.length && this.order.every((k, i) => keys[i] === k);
      // New rows at the end (new calls) are appended; any other change re-orders the body.
      if (grown) this.tbody.append(...keys.slice(this.order.length).map((k) => (this.rows.get(k) as Row).tr));
      else this.tbody.replaceChildren(...keys.map((k) => (this.rows.get(k) as Row).tr));
      this.order = keys;
    }
  }

  row(key: string): HTMLTableRowElement | undefined {
    return this.rows.get(key)?.tr;
  }
}

function headRow(...names: string[]): HTMLTableSectionElement {
  return h('thead', {}, h('tr', {}, ...names.map((n) => h('th', { attrs: { scope: 'col' }, text: n }))));
}

// ── services ─────────────────────────────────────────────────────────────────────────────────

export interface ServicesTable {
  readonly element: HTMLElement;
  render(model: ViewModel, now: number, selected: Selection | undefined): void;
}

export function createServicesTable(actions: PageActions): ServicesTable {
  const tbody = h('tbody');
  const table = h('table', { id: 'services-table', class: 'data', attrs: { 'aria-labelledby': 'services-heading' } },
    headRow('Service', 'SPIFFE ID', 'Mode', 'State', 'Serial', 'Time left', 'Rotations'),
    tbody,
  );
  const rows = new KeyedRows<NodeView>(
    tbody,
    (n) => {
      const name = h('button', { class: 'link', attrs: { type: 'button', 'data-select': n.id }, on: { click: () => actions.select({ kind: 'node', id: n.id }) } });
      const id = h('code');
      const cells = [name, id, h('td'), h('td'), h('code'), h('td', { class: 'time-left' }), h('td', { class: 'num' })];
      const tr = h('tr', { attrs: { 'data-service': n.id } }, h('th', { attrs: { scope: 'row' } }, name), h('td', {}, id), cells[2], cells[3], h('td', {}, cells[4]), cells[5], cells[6]);
      return { tr, cells };
    },
    (n) => {
      const now = currentNow;
      return [
        n.name,
        n.spiffeId ?? '',
        n.mode ?? '',
        n.state,
        n.cert?.serial ?? '',
        n.cert === undefined ? 'no SVID' : formatDuration(n.cert.notAfter - now),
        String(n.rotations),
      ];
    },
  );
  let currentNow = 0;
  return {
    element: table,
    render(model, now, selected) {
      currentNow = now;
      const services = [...model.nodes.values()].filter((n) => n.kind === 'service');
      rows.render(services.map((n) => [n.id, n] as const));
      for (const n of services) {
        const tr = rows.row(n.id);
        if (tr === undefined) continue;
        const isSelected = selected?.kind === 'node' && selected.id === n.id;
        if (tr.classList.contains('selected') !== isSelected) tr.classList.toggle('selected', isSelected);
        const state = n.state === 'running' ? (n.lastFailure !== undefined ? 'warn' : 'ok') : 'bad';
        if (tr.dataset['state'] !== state) tr.dataset['state'] = state;
      }
    },
  };
}

// ── calls (edges) ────────────────────────────────────────────────────────────────────────────

const EDGE_STATE_TEXT: Readonly<Record<EdgeView['state'], string>> = {
  idle: 'no traffic yet',
  ok: 'ok, plaintext',
  locked: 'ok, mutual TLS verified',
  rejected: 'rejected',
  breached: 'attack got through',
};

export interface EdgesTable {
  readonly element: HTMLElement;
  render(model: ViewModel, now: number, selected: Selection | undefined): void;
}

export function createEdgesTable(actions: PageActions): EdgesTable {
  const tbody = h('tbody');
  const table = h('table', { id: 'edges-table', class: 'data', attrs: { 'aria-labelledby': 'edges-heading' } },
    headRow('Call', 'State', 'Requests/s', 'Requests', 'Rejections', 'Last reason', 'Action'),
    tbody,
  );
  let current: ViewModel | undefined;
  const rows = new KeyedRows<EdgeView>(
    tbody,
    (e) => {
      const name = h('button', { class: 'link', attrs: { type: 'button', 'data-select': e.id }, on: { click: () => actions.select({ kind: 'edge', id: e.id }) } });
      const allow = h('button', {
        class: 'small',
        attrs: { type: 'button', hidden: true },
        on: {
          click: () => {
            const target = current?.edges.get(e.id);
            const call = current !== undefined && target !== undefined ? allowableCall(current, target) : undefined;
            if (call !== undefined) actions.allow(call.from, call.to);
          },
        },
      });
      const cells = [name, h('td', { class: 'state' }), h('td', { class: 'num' }), h('td', { class: 'num' }), h('td', { class: 'num' }), h('td', { class: 'reason' }), allow];
      const tr = h('tr', { attrs: { 'data-edge': e.id } }, h('th', { attrs: { scope: 'row' } }, name), cells[1], cells[2], cells[3], cells[4], cells[5], h('td', {}, allow));
      return { tr, cells };
    },
    (e) => {
      const last = e.recentRejections[e.recentRejections.length - 1];
      const canAllow = current !== undefined && allowableCall(current, e) !== undefined;
      return [
        `${nodeName(current, e.source)} → ${nodeName(current, e.target)}`,
        EDGE_STATE_TEXT[e.state],
        formatRate(edgeRate(e, currentNow)),
        String(e.requests),
        String(e.rejections),
        last === undefined ? '' : `${last.reason}${last.scenario !== undefined ? ` (${last.scenario})` : ''}`,
        canAllow ? 'Allow' : '',
      ];
    },
  );
  let currentNow = 0;
  return {
    element: table,
    render(model, now, selected) {
      current = model;
      currentNow = now;
      rows.render([...model.edges.values()].map((e) => [e.id, e] as const));
      for (const e of model.edges.values()) {
        const tr = rows.row(e.id);
        if (tr === undefined) continue;
        if (tr.dataset['state'] !== e.state) tr.dataset['state'] = e.state;
        const isSelected = selected?.kind === 'edge' && selected.id === e.id;
        if (tr.classList.contains('selected') !== isSelected) tr.classList.toggle('selected', isSelected);
        const allow = tr.querySelector('td:last-child button') as HTMLButtonElement | null;
        if (allow !== null) {
          const hide = allow.textContent === '';
          if (allow.hidden !== hide) allow.hidden = hide;
          allow.setAttribute('aria-label', `Allow ${nodeName(model, e.source)} to call ${nodeName(model, e.target)} (adds a policy rule)`);
        }
      }
    },
  };
}

function nodeName(model: ViewModel | undefined, id: string): string {
  return model?.nodes.get(id)?.name ?? id;
}

// ── certificate authority ────────────────────────────────────────────────────────────────────

const CA_STATUS_TEXT: Readonly<Record<ViewModel['ca']['authorities'][number]['status'], string>> = {
  prepared: 'prepared: in the bundle, not signing yet',
  active: 'active: signing',
  old: 'old: trusted until its last SVID expires',
  retired: 'retired: out of the bundle',
};

export interface CaTable {
  readonly element: HTMLElement;
  render(model: ViewModel): void;
}

export function createCaTable(): CaTable {
  const tbody = h('tbody');
  const summary = h('p', { class: 'muted', id: 'ca-summary' });
  const table = h('table', { id: 'ca-table', class: 'data', attrs: { 'aria-labelledby': 'ca-heading' } }, headRow('Root serial', 'Status', 'Subject', 'Valid from', 'Valid until', 'Key type'), tbody);
  const rows = new KeyedRows<ViewModel['ca']['authorities'][number]>(
    tbody,
    () => {
      const cells = [h('code'), h('td'), h('td'), h('td'), h('td'), h('td')];
      return { tr: h('tr', {}, h('th', { attrs: { scope: 'row' } }, cells[0]), ...cells.slice(1)), cells };
    },
    (a) => [a.serial, CA_STATUS_TEXT[a.status], a.subject, a.notBefore, a.notAfter, a.keyType],
  );
  return {
    element: h('div', {}, summary, table),
    render(model) {
      rows.render(model.ca.authorities.map((a) => [a.serial, a] as const));
      const open = model.ca.overlaps[model.ca.overlaps.length - 1];
      const overlap = open !== undefined && open.to === undefined ? ` A CA rotation is in progress: the bundle holds ${open.serials.length} roots since ${formatClock(open.from)}.` : '';
      setText(summary, `Trust domain ${model.trustDomain}; ${model.ca.intermediate ? 'root and intermediate' : 'root only'}; bundle of ${model.ca.bundle.length} root${model.ca.bundle.length === 1 ? '' : 's'}.${overlap}`);
    },
  };
}

// ── event log ────────────────────────────────────────────────────────────────────────────────

export interface EventLogView {
  readonly element: HTMLElement;
  render(log: readonly LogEntry[]): void;
}

const CATEGORIES: readonly (readonly [LogCategory | 'all' | 'problems', string])[] = [
  ['all', 'All events'],
  ['problems', 'Problems only'],
  ['rejection', 'Rejections'],
  ['identity', 'Certificates'],
  ['ca', 'Certificate authority'],
  ['attack', 'Attacks'],
  ['policy', 'Policy'],
  ['traffic', 'Traffic'],
  ['service', 'Services'],
  ['mesh', 'Mesh'],
];

/** Entries shown at once; the model keeps more, the filter reaches them. */
const LOG_ROWS = 200;

export function createEventLog(): EventLogView {
  const search = h('input', { id: 'log-filter', attrs: { type: 'search', placeholder: 'service, reason, serial…', autocomplete: 'off' } });
  const category = h('select', { id: 'log-category' }, ...CATEGORIES.map(([v, label]) => h('option', { attrs: { value: v }, text: label })));
  const count = h('p', { class: 'muted', id: 'log-count', attrs: { 'aria-live': 'polite' } });
  const list = h('ol', { id: 'event-log', class: 'log', attrs: { 'aria-labelledby': 'events-heading', reversed: true } });
  const form = h('form', { class: 'filters', attrs: { role: 'search', 'aria-label': 'Filter events' }, on: { submit: (e) => e.preventDefault() } },
    h('label', { attrs: { for: 'log-filter' } }, 'Filter '), search, ' ',
    h('label', { attrs: { for: 'log-category' } }, 'Show '), category,
  );
  let current: number[] = [];
  let last: readonly LogEntry[] = [];
  let shownKey = '';
  const make = (e: LogEntry): HTMLLIElement => {
    const time = h('time', { attrs: { datetime: new Date(e.time).toISOString() }, text: formatClock(e.time) });
    return h('li', { class: `sev-${e.severity}`, attrs: { 'data-seq': e.seq, 'data-type': e.type, 'data-reason': e.reason } },
      time, ' ', h('span', { class: 'badge', text: e.category }), ' ', h('span', { class: 'text', text: e.text }),
    );
  };
  const render = (log: readonly LogEntry[]): void => {
    last = log;
    const shown = filterLog(log, { text: search.value, category: category.value as LogCategory | 'all' | 'problems', limit: LOG_ROWS });
    const key = `${search.value}|${category.value}|${shown.length}|${shown[0]?.seq ?? 0}|${shown[shown.length - 1]?.seq ?? 0}`;
    if (key === shownKey) return;
    shownKey = key;
    // Usually a few new entries on top and as many gone at the bottom: move only those.
    const k = current.length === 0 ? -1 : shown.findIndex((e) => e.seq === current[0]);
    const overlap = k < 0 ? 0 : Math.min(current.length, shown.length - k);
    let incremental = k >= 0;
    for (let j = 0; incremental && j < overlap; j++) incremental = shown[k + j]?.seq === current[j];
    if (incremental) {
      const fresh = shown.slice(0, k).map(make);
      list.prepend(...fresh);
      while (list.children.length > shown.length) list.lastElementChild?.remove();
    } else {
      list.replaceChildren(...shown.map(make));
    }
    current = shown.map((e) => e.seq);
    const total = log.length;
    setText(count, shown.length === 0 ? (total === 0 ? 'No events yet.' : 'No event matches the filter.') : `Showing ${shown.length} of ${total} events, newest first.`);
  };
  search.addEventListener('input', () => render(last));
  category.addEventListener('change', () => render(last));
  return { element: h('div', {}, form, count, list), render };
}

// ── details ──────────────────────────────────────────────────────────────────────────────────

export interface DetailsPanel {
  readonly element: HTMLElement;
  render(model: ViewModel, selection: Selection | undefined, now: number): void;
}

function dl(pairs: readonly (readonly [string, Child])[]): HTMLDListElement {
  const out = h('dl');
  for (const [k, v] of pairs) {
    if (v === undefined || v === '' || v === null || v === false) continue;
    append(out, [h('dt', { text: k }), h('dd', {}, v)]);
  }
  return out;
}

function code(text: string): HTMLElement {
  return h('code', { text });
}

function validity(notBefore: number | undefined, notAfter: number | undefined): string {
  if (notBefore === undefined || notAfter === undefined) return '';
  return `${new Date(notBefore).toISOString()} → ${new Date(notAfter).toISOString()}`;
}

function describeRule(model: ViewModel, r: PolicyRuleSnapshot): string {
  const name = (id: string): string => [...model.nodes.values()].find((n) => n.spiffeId === id)?.name ?? id;
  const from = 'memberOf' in r.from ? `any workload of ${r.from.memberOf}` : r.from.length === 0 ? '(see the policy)' : r.from.map(name).join(', ');
  const to = r.to.length === 0 ? '(see the policy)' : r.to.map(name).join(', ');
  return `${r.name}: ${from} → ${to}`;
}

function rulesList(model: ViewModel, rules: readonly PolicyRuleSnapshot[], none: string): HTMLElement {
  if (rules.length === 0) return h('p', { class: 'muted', text: none });
  return h('ul', { class: 'rules' }, ...rules.map((r) => h('li', {}, code(describeRule(model, r)))));
}

function rejectionsList(model: ViewModel, items: readonly (readonly [EdgeView, RejectionView])[], none: string): HTMLElement {
  if (items.length === 0) return h('p', { class: 'muted', text: none });
  return h('ol', { class: 'rejections' },
    ...items.map(([e, r]) => h('li', { class: 'sev-bad', attrs: { 'data-reason': r.reason } },
      h('time', { attrs: { datetime: new Date(r.time).toISOString() }, text: formatClock(r.time) }), ' ',
      h('strong', { text: r.reason }), ` ${nodeName(model, e.source)} → ${nodeName(model, e.target)}, reported by the ${r.side === 'server' ? 'callee (server side)' : 'caller (client side)'}`,
      r.rule !== undefined ? `, rule ${r.rule}` : '', r.scenario !== undefined ? `, attack ${r.scenario}` : '',
      h('div', { class: 'detail', text: r.detail }),
    )),
  );
}

export function createDetailsPanel(actions: PageActions): DetailsPanel {
  const body = h('div', { id: 'details-body' });
  const element = h('div', {}, body);
  let key = '';
  const render = (model: ViewModel, selection: Selection | undefined, now: number): void => {
    const node = selection?.kind === 'node' ? model.nodes.get(selection.id) : undefined;
    const edge = selection?.kind === 'edge' ? model.edges.get(selection.id) : undefined;
    // Rebuild only when what is shown changed; time left is shown to the second.
    const nextKey = node !== undefined ? `n|${model.revision}|${Math.floor(now / 1000)}|${node.id}` : edge !== undefined ? `e|${model.revision}|${Math.floor(now / 1000)}|${edge.id}` : 'none';
    if (nextKey === key) return;
    key = nextKey;
    if (node !== undefined) body.replaceChildren(...nodeDetails(model, node, now, actions));
    else if (edge !== undefined) body.replaceChildren(...edgeDetails(model, edge, now, actions));
    else body.replaceChildren(h('p', { class: 'muted', text: 'Select a service or a call in the graph or in the tables below to see its certificate chain, the policy rules that apply and its last rejections.' }));
  };
  return { element, render };
}

function nodeDetails(model: ViewModel, n: NodeView, now: number, actions: PageActions): Node[] {
  const out: Node[] = [h('h3', { text: n.kind === 'intruder' ? 'Intruder' : n.name })];
  const related = [...model.edges.values()].filter((e) => e.source === n.id || e.target === n.id);
  const rejections = related
    .flatMap((e) => e.recentRejections.map((r) => [e, r] as const))
    .sort((a, b) => b[1].time - a[1].time)
    .slice(0, 10);
  if (n.kind !== 'service') {
    out.push(dl([
      ['What', n.kind === 'intruder' ? 'A caller from outside the mesh, refused or attacking. An unverified caller is never drawn as the service it claimed to be.' : 'Callers without a mesh identity that got through (e.g. a browser on the entry).'],
      ['Presented', n.presented.length === 0 ? 'no identity' : h('ul', {}, ...n.presented.map((p) => h('li', {}, code(p))))],
      ['Attacks', n.kind === 'intruder' ? `${n.attacks} run, ${n.breaches} got through` : undefined],
    ]));
    out.push(h('h4', { text: 'Last rejections' }), rejectionsList(model, rejections, 'None.'));
    return out;
  }
  out.push(dl([
    ['SPIFFE ID', code(n.spiffeId ?? '')],
    ['Mode', n.mode === 'sidecar' ? 'sidecar (the sidecar terminates mutual TLS)' : 'native (the service terminates mutual TLS itself)'],
    ['State', n.state],
    ['Entry', n.entry ? 'yes: the front door' : undefined],
    ['Mesh port', n.meshPort !== undefined ? String(n.meshPort) : undefined],
    ['Upstreams', n.upstreams.length > 0 ? n.upstreams.join(', ') : 'none'],
    ['Rotations', String(n.rotations) + (n.lastRotationAt !== undefined ? `, last at ${formatClock(n.lastRotationAt)}` : '')],
    ['Renewal', n.lastFailure !== undefined ? h('span', { class: 'bad', text: `failed at ${formatClock(n.lastFailure.time)}: ${n.lastFailure.error}` }) : undefined],
  ]));
  out.push(h('div', { class: 'actions' }, h('button', { attrs: { type: 'button', 'data-action': 'rotate' }, on: { click: () => actions.rotate(n.id) }, text: `Rotate ${n.name} now` })));
  out.push(h('h4', { text: 'Certificate chain' }));
  const chain = certificateChain(model, n.id);
  if (chain.length === 0) out.push(h('p', { class: 'muted', text: 'No SVID yet.' }));
  else {
    out.push(h('ol', { class: 'chain' }, ...chain.map((c) => h('li', {},
      h('strong', { text: c.role === 'leaf' ? 'X.509-SVID (leaf)' : c.role === 'intermediate' ? 'Intermediate CA' : 'Root CA' }),
      dl([
        [c.role === 'leaf' ? 'ID' : 'Subject', code(c.name)],
        ['Serial', c.serial !== undefined ? code(c.serial) : undefined],
        ['Valid', validity(c.notBefore, c.notAfter)],
        ['Time left', c.notAfter !== undefined ? formatDuration(c.notAfter - now) : undefined],
        ['Key type', c.keyType],
        ['Issuer', c.issuer],
        ['Status', c.status],
      ]),
    ))));
    if (n.files !== undefined) out.push(h('p', { class: 'muted' }, 'Files: ', code(n.files.cert), ', ', code(n.files.bundle), ' (the key stays on disk: ', code(n.files.key), ')'));
  }
  const rules = rulesForNode(model, n.id);
  out.push(h('h4', { text: 'Policy: who may call it' }), rulesList(model, rules.inbound, model.policy.mode === 'strict' ? 'No rule: every caller is denied (default deny).' : 'No rule (permissive mode).'));
  out.push(h('h4', { text: 'Policy: whom it may call' }), rulesList(model, rules.outbound, 'No rule: it may call no one.'));
  out.push(h('h4', { text: 'Last rejections, inbound and outbound' }), rejectionsList(model, rejections, 'None.'));
  return out;
}

function edgeDetails(model: ViewModel, e: EdgeView, now: number, actions: PageActions): Node[] {
  const out: Node[] = [h('h3', { text: `${nodeName(model, e.source)} → ${nodeName(model, e.target)}` })];
  const caller = model.nodes.get(e.source);
  const callee = model.nodes.get(e.target);
  out.push(dl([
    ['State', EDGE_STATE_TEXT[e.state]],
    ['Caller', caller?.spiffeId !== undefined ? code(caller.spiffeId) : e.callerIds.length > 0 ? code(e.callerIds.join(', ')) : caller?.name],
    ['Callee', callee?.spiffeId !== undefined ? code(callee.spiffeId) : callee?.name],
    ['Declared upstream', e.declared ? 'yes' : 'no'],
    ['Traffic', `${formatRate(edgeRate(e, now))} requests/s now; ${e.requests} requests and ${e.handshakes} handshakes in all`],
    ['Mutual TLS', e.state === 'idle' ? undefined : e.mtls ? 'verified on the last call that got through' : 'not verified on the last call'],
    ['Last decision', e.lastDecision !== undefined ? `${e.lastDecision.allowed ? 'allowed' : 'denied'} by ${e.lastDecision.rule}: ${e.lastDecision.explanation}` : undefined],
  ]));
  const allow = allowableCall(model, e);
  if (allow !== undefined) {
    out.push(h('div', { class: 'actions' }, h('button', { attrs: { type: 'button', 'data-action': 'allow' }, on: { click: () => actions.allow(allow.from, allow.to) }, text: 'Allow this call (adds a policy rule)' })));
  }
  const lastRejection = e.recentRejections[e.recentRejections.length - 1];
  const noRule =
    e.state === 'rejected' && lastRejection !== undefined && isUnverified(lastRejection.reason)
      ? `None applies: the caller was refused before the policy, its identity not verified (${lastRejection.reason}).`
      : model.policy.mode === 'strict'
        ? 'None: the call is denied by default.'
        : 'None (permissive mode).';
  out.push(h('h4', { text: 'Policy rules that allow it' }), rulesList(model, rulesForEdge(model, e), noRule));
  const server = e.recentRejections.filter((r) => r.side === 'server').map((r) => [e, r] as const).reverse();
  const client = e.recentRejections.filter((r) => r.side === 'client').map((r) => [e, r] as const).reverse();
  out.push(h('h4', { text: "Last rejections by the callee's side" }), rejectionsList(model, server, 'None.'));
  out.push(h('h4', { text: "Last rejections by the caller's side" }), rejectionsList(model, client, 'None.'));
  return out;
}

// ── timeline ─────────────────────────────────────────────────────────────────────────────────

const LANE_HEIGHT = 18;
const LABEL_WIDTH = 130;

/** Draws a timeline layout into `host` as one SVG sized to `width`. */
export function renderTimeline(host: HTMLElement, layout: TimelineLayout, width: number, summary: string): void {
  const w = Math.max(320, Math.floor(width));
  const plot = w - LABEL_WIDTH - 8;
  const caLanes = layout.lanes.filter((l) => l.kind === 'ca').length;
  const height = layout.lanes.length * LANE_HEIGHT + 22;
  const root = svg('svg', { width: w, height, viewBox: `0 0 ${w} ${height}`, role: 'img', 'aria-label': summary, class: 'timeline' });
  const px = (f: number): number => LABEL_WIDTH + f * plot;
  if (caLanes > 0) {
    for (const o of layout.overlaps) {
      const band = svg('rect', { x: px(o.x0), y: 0, width: Math.max(1, px(o.x1) - px(o.x0)), height: caLanes * LANE_HEIGHT, class: 'seg-overlap' });
      band.appendChild(svg('title', {}, o.label));
      root.appendChild(band);
    }
  }
  layout.lanes.forEach((lane, i) => {
    const y = i * LANE_HEIGHT;
    root.appendChild(svg('text', { x: 4, y: y + 13, class: `lane-label lane-${lane.kind}` }, lane.label));
    root.appendChild(svg('line', { x1: LABEL_WIDTH, x2: w - 8, y1: y + LANE_HEIGHT - 0.5, y2: y + LANE_HEIGHT - 0.5, class: 'lane-rule' }));
    for (const s of lane.segments) {
      const inner = s.kind === 'in-use' || s.kind === 'active';
      const rect = svg('rect', {
        x: px(s.x0),
        y: y + (inner ? 4 : 2),
        width: Math.max(1, px(s.x1) - px(s.x0)),
        height: inner ? LANE_HEIGHT - 8 : LANE_HEIGHT - 4,
        rx: 2,
        class: `seg-${s.kind}`,
      });
      rect.appendChild(svg('title', {}, s.label));
      root.appendChild(rect);
    }
    for (const t of lane.ticks) root.appendChild(svg('line', { x1: px(t), x2: px(t), y1: y + 1, y2: y + LANE_HEIGHT - 1, class: 'tick' }));
  });
  const nowX = px(layout.now);
  root.appendChild(svg('line', { x1: nowX, x2: nowX, y1: 0, y2: height - 18, class: 'now' }));
  root.appendChild(svg('text', { x: nowX + 3, y: height - 6, class: 'axis' }, `now ${formatClock(layout.from + layout.now * (layout.to - layout.from))}`));
  root.appendChild(svg('text', { x: LABEL_WIDTH, y: height - 6, class: 'axis' }, formatClock(layout.from)));
  root.appendChild(svg('text', { x: w - 8, y: height - 6, class: 'axis', 'text-anchor': 'end' }, formatClock(layout.to)));
  host.replaceChildren(root);
}

// ── actions ──────────────────────────────────────────────────────────────────────────────────

export interface Toolbar {
  readonly element: HTMLElement;
  /** Keeps the attack target list in step with the services. */
  render(model: ViewModel): void;
  setBusy(busy: boolean): void;
}

export function createToolbar(actions: PageActions, onFit: () => void): Toolbar {
  const scenario = h('select', { id: 'attack-scenario' }, ...ATTACK_SCENARIOS.map((s) => h('option', { attrs: { value: s }, text: s })));
  const target = h('select', { id: 'attack-target' }, h('option', { attrs: { value: '' }, text: 'default target' }));
  const buttons = [
    h('button', { id: 'rotate-ca', attrs: { type: 'button' }, text: 'Rotate the CA', on: { click: () => actions.rotateCa() } }),
    h('button', { id: 'run-attack', attrs: { type: 'button' }, text: 'Run attack', on: { click: () => actions.attack(scenario.value as AttackScenario, target.value === '' ? undefined : target.value) } }),
  ];
  let targets = '';
  const element = h('div', { class: 'toolbar', attrs: { role: 'toolbar', 'aria-label': 'Actions' } },
    buttons[0],
    h('span', { class: 'group' }, h('label', { attrs: { for: 'attack-scenario' } }, 'Attack '), scenario, ' ', h('label', { attrs: { for: 'attack-target' } }, 'on '), target, ' ', buttons[1]),
    h('button', { id: 'fit-graph', attrs: { type: 'button' }, text: 'Fit graph', on: { click: onFit } }),
  );
  return {
    element,
    render(model) {
      const names = [...model.nodes.values()].filter((n) => n.kind === 'service').map((n) => n.name);
      const next = names.join('\n');
      if (next === targets) return;
      targets = next;
      const chosen = target.value;
      target.replaceChildren(h('option', { attrs: { value: '' }, text: 'default target' }), ...names.map((n) => h('option', { attrs: { value: n }, text: n })));
      if (names.includes(chosen)) target.value = chosen;
    },
    setBusy(busy) {
      for (const b of buttons) b.disabled = busy;
    },
  };
}

/** The legend, in Kiali's vocabulary plus what Kiali lacks: identities and reasons. */
export function createLegend(): HTMLElement {
  const item = (cls: string, text: string, icon?: SVGElement): HTMLElement => h('li', {}, h('span', { class: `swatch ${cls}`, attrs: { 'aria-hidden': 'true' } }), icon, text);
  const lock = svg('svg', { width: 12, height: 12, viewBox: '0 0 12 12', class: 'lock-icon', 'aria-hidden': 'true' });
  lock.append(svg('rect', { x: 2, y: 5, width: 8, height: 6 }), svg('path', { d: 'M3.5 5V3.5a2.5 2.5 0 0 1 5 0V5', fill: 'none' }));
  return h('details', { class: 'legend' },
    h('summary', { text: 'Legend' }),
    h('ul', {},
      item('edge-locked', ' mutual TLS verified (green, a lock), with requests/s', lock),
      item('edge-ok', 'got through without mutual TLS (plaintext, orange)'),
      item('edge-rejected', '✕ rejected, with the reason (red)'),
      item('edge-idle', 'declared upstream, no traffic yet (dashed)'),
      item('node-ring', 'ring: the current certificate\'s life left; a pulse: it rotated'),
      item('node-intruder', 'intruder: a refused caller from outside the mesh'),
      item('node-entry', 'double border: the entry service'),
    ),
  );
}
