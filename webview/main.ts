// The page: picks its transport, folds every message into the model at once, and redraws in
// requestAnimationFrame at most as often as each part needs (the graph ~5 times a second, the
// tables ~4, the timeline once a second), so 1,000 events a second cost a few renders, not 1,000.
import type { MeshEvent } from '../src/core/events/types.js';
import type { ServerMessage } from '../src/protocol/messages.js';
import { createCommandClient } from './commands.js';
import type { CommandOutcome } from './commands.js';
import { h, setText } from './dom.js';
import { createGraph } from './graph.js';
import type { GraphState, Selection } from './graph.js';
import { createFrameProbe } from './perf.js';
import type { FrameProbe } from './perf.js';
import { createCaTable, createDetailsPanel, createEdgesTable, createEventLog, createLegend, createServicesTable, createToolbar, renderTimeline } from './panels.js';
import type { PageActions } from './panels.js';
import { initialModel, reduce } from './store.js';
import type { EdgeView, NodeView, ViewModel } from './store.js';
import { readPalette, onThemeChange } from './theme.js';
import type { Palette } from './theme.js';
import { timelineLayout } from './timeline.js';
import { chooseTransport } from './transport.js';
import type { TransportStatus, VsCodeApi } from './transport.js';

/** The model as plain JSON, for tests and the benchmark (`window.__mtlsLab`). */
export interface PlainModel extends Omit<ViewModel, 'nodes' | 'edges' | 'byId'> {
  readonly byId?: undefined;
  readonly nodes: readonly NodeView[];
  readonly edges: readonly EdgeView[];
}

/** Read-only hooks for tests and the benchmark; they expose only what the page shows. */
export interface PageHook {
  model(): PlainModel;
  graph(): GraphState;
  palette(): Palette;
  status(): TransportStatus;
  renders(): Readonly<Record<string, number>>;
  /** Milliseconds spent in each part's renders since the page loaded. */
  renderMs(): Readonly<Record<string, number>>;
  readonly frames: FrameProbe;
}

declare global {
  interface Window {
    __mtlsLab?: PageHook;
    acquireVsCodeApi?: () => VsCodeApi;
  }
}

interface Task {
  readonly minIntervalMs: number;
  readonly run: (now: number) => void;
  last: number;
  dirty: boolean;
  count: number;
  spentMs: number;
  /** Has rendered a loaded model: until then it must not wait for its interval. */
  loaded: boolean;
}

function start(): void {
  const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));
  const inVsCode = typeof window.acquireVsCodeApi === 'function';
  document.documentElement.dataset['host'] = inVsCode ? 'vscode' : 'browser';

  let model = initialModel();
  let selection: Selection | undefined;
  const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)').matches;

  const transport = chooseTransport({ acquireVsCodeApi: window.acquireVsCodeApi, location, host: window });
  const commands = createCommandClient(transport);

  // ── layout ──
  const connection = h('p', { id: 'connection', attrs: { role: 'status', 'data-state': 'connecting' }, text: 'Connecting to the mesh…' });
  const meshInfo = h('p', { id: 'mesh-info', class: 'muted' });
  const actionStatus = h('p', { id: 'action-status', attrs: { role: 'status', 'aria-live': 'polite' } });
  const graphBox = h('div', { id: 'graph', attrs: { role: 'img', 'aria-label': 'Graph of the mesh: services and the calls between them. The same data is in the text view.', 'aria-describedby': 'text-view-heading' } });
  const overlay = h('canvas', { id: 'traffic', attrs: { 'aria-hidden': 'true' } });
  const timelineHost = h('div', { id: 'timeline', class: 'timeline-host' });
  const timelineNote = h('p', { class: 'muted', id: 'timeline-note' });

  const run = async (label: string, work: () => Promise<CommandOutcome>): Promise<void> => {
    toolbar.setBusy(true);
    actionStatus.dataset['state'] = 'pending';
    setText(actionStatus, `${label}…`);
    const outcome = await work();
    toolbar.setBusy(false);
    actionStatus.dataset['state'] = outcome.ok ? 'ok' : 'error';
    setText(actionStatus, outcome.ok ? `${label}: done.` : `${label}: ${outcome.error ?? 'failed.'}`);
  };
  const actions: PageActions = {
    select(next) {
      selection = next;
      graph.select(next);
      selectionChanged = true;
      markAll();
    },
    rotate(service) {
      void run(`Rotating ${service}'s SVID`, () => commands.run({ name: 'rotate', service }));
    },
    rotateCa() {
      void run('Rotating the CA', () => commands.run({ name: 'ca/rotate' }));
    },
    attack(scenario, target) {
      void run(`Attack ${scenario}${target !== undefined ? ` on ${target}` : ''}`, () => commands.run(target === undefined ? { name: 'attack', scenario } : { name: 'attack', scenario, target }));
    },
    allow(from, to) {
      void run(`Allowing ${from} to call ${to}`, () => commands.run({ name: 'policy/allow', from, to }));
    },
  };

  const toolbar = createToolbar(actions, () => graph.fit());
  const details = createDetailsPanel(actions);
  const services = createServicesTable(actions);
  const edges = createEdgesTable(actions);
  const ca = createCaTable();
  const log = createEventLog();

  app.replaceChildren(
    h('header', { class: 'top' },
      h('div', { class: 'title' }, h('h1', { text: 'mTLS Lab' }), meshInfo, connection),
      toolbar.element,
      actionStatus,
    ),
    h('main', { class: 'layout' },
      h('section', { class: 'graph-pane', attrs: { 'aria-labelledby': 'graph-heading' } },
        h('h2', { id: 'graph-heading', class: 'visually-hidden', text: 'Mesh graph' }),
        h('div', { class: 'graph-stage' }, graphBox, overlay),
        createLegend(),
      ),
      h('aside', { class: 'details', attrs: { 'aria-labelledby': 'details-heading' } }, h('h2', { id: 'details-heading', text: 'Details' }), details.element),
      h('section', { class: 'timeline-pane', attrs: { 'aria-labelledby': 'timeline-heading' } },
        h('h2', { id: 'timeline-heading', text: 'Certificate timeline' }),
        timelineHost,
        timelineNote,
      ),
      h('section', { class: 'text-view', id: 'text-view', attrs: { 'aria-labelledby': 'text-view-heading' } },
        h('h2', { id: 'text-view-heading', text: 'Text view' }),
        h('h3', { id: 'services-heading', text: 'Services' }), services.element,
        h('h3', { id: 'edges-heading', text: 'Calls' }), edges.element,
        h('h3', { id: 'ca-heading', text: 'Certificate authority' }), ca.element,
        h('h3', { id: 'events-heading', text: 'Events' }), log.element,
      ),
    ),
  );
  app.removeAttribute('aria-busy');

  let palette = readPalette(document);
  const graph = createGraph({
    container: graphBox,
    overlay,
    palette,
    reducedMotion,
    onSelect: (next) => actions.select(next),
  });
  onThemeChange(window, () => {
    palette = readPalette(document);
    graph.setPalette(palette);
    tasks.timeline.dirty = true;
    schedule();
  });

  // ── scheduling ──
  const task = (minIntervalMs: number, runTask: (now: number) => void): Task => ({ minIntervalMs, run: runTask, last: 0, dirty: false, count: 0, spentMs: 0, loaded: false });
  let lastTopology = -1;
  let lastLabels = 0;
  const tasks = {
    graph: task(200, (now) => {
      const refreshLabels = now - lastLabels >= 1000;
      if (refreshLabels) lastLabels = now;
      graph.update(model, now, refreshLabels);
      lastTopology = model.topology;
    }),
    tables: task(250, (now) => {
      services.render(model, now, selection);
      edges.render(model, now, selection);
      ca.render(model);
      toolbar.render(model);
      setText(meshInfo, model.loaded ? `Trust domain ${model.trustDomain} · ${model.mode} · ${countServices(model)} services · ${model.edges.size} calls` : '');
    }),
    // The log is what a person (and a screen reader) reads first, and its render is incremental:
    // keep it close to the wire (event-to-pixel well under 100 ms even at 1,000 events/s).
    log: task(50, () => log.render(model.log)),
    details: task(250, (now) => details.render(model, selection, now)),
    timeline: task(1000, (now) => {
      const layout = timelineLayout(model, { now, selected: selection?.kind === 'node' ? selection.id : undefined, maxServiceLanes: 30 });
      const summary = timelineSummary(model, layout.hidden);
      renderTimeline(timelineHost, layout, timelineHost.clientWidth, summary);
      setText(timelineNote, summary);
    }),
  };
  const all = Object.values(tasks);
  let frame: number | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerDue = 0;
  let selectionChanged = false;

  function flush(): void {
    frame = undefined;
    const now = Date.now();
    let wait = Infinity;
    const userAction = selectionChanged;
    selectionChanged = false;
    for (const t of all) {
      if (!t.dirty) continue;
      // The first data, a new node and a person's click must not wait for an interval.
      const urgent = (t === tasks.graph && model.topology !== lastTopology) || (model.loaded && !t.loaded) || userAction;
      const due = t.last + t.minIntervalMs - now;
      if (urgent || due <= 0) {
        t.dirty = false;
        t.last = now;
        t.count++;
        t.loaded ||= model.loaded;
        const began = performance.now();
        t.run(now);
        t.spentMs += performance.now() - began;
      } else {
        wait = Math.min(wait, due);
      }
    }
    if (wait === Infinity) return;
    // One timer, for the earliest task due: a later one must not hold back an earlier one.
    if (timer !== undefined && timerDue <= now + wait) return;
    if (timer !== undefined) clearTimeout(timer);
    timerDue = now + wait;
    timer = setTimeout(() => {
      timer = undefined;
      schedule();
    }, wait);
  }
  function schedule(): void {
    if (frame === undefined) frame = requestAnimationFrame(flush);
  }
  function markAll(): void {
    for (const t of all) t.dirty = true;
    schedule();
  }
  // Countdowns tick every second even when nothing happens.
  setInterval(() => markAll(), 1000);

  // ── messages ──
  let refresh: ReturnType<typeof setTimeout> | undefined;
  const needsFreshSnapshot = (events: readonly MeshEvent[]): boolean =>
    // These events name a rule or a root without its details; a snapshot brings them.
    events.some((e) => e.type === 'policy/changed' || (e.type === 'ca/changed' && (e.phase === 'prepared' || e.phase === 'created')));
  transport.onMessage((message: ServerMessage) => {
    if (message.type === 'reply') return;
    const before = model;
    model = reduce(model, message);
    if (model === before) return;
    const events = message.type === 'mesh/events' ? message.events : message.type === 'mesh/event' ? [message.event] : [];
    if (needsFreshSnapshot(events) && refresh === undefined) {
      refresh = setTimeout(() => {
        refresh = undefined;
        transport.send({ type: 'ready' });
      }, 300);
    }
    if (selection !== undefined && !(selection.kind === 'node' ? model.nodes.has(selection.id) : model.edges.has(selection.id))) selection = undefined;
    markAll();
  });
  const showStatus = (s: TransportStatus): void => {
    connection.dataset['state'] = s.state;
    switch (s.state) {
      case 'connecting':
        return setText(connection, s.attempt > 1 ? `Reconnecting to the mesh (attempt ${s.attempt})…` : 'Connecting to the mesh…');
      case 'open':
        return setText(connection, inVsCode ? 'Live, through VS Code' : 'Live');
      case 'closed':
        return setText(connection, `Disconnected${s.reason !== undefined ? ` (${s.reason})` : ''}; retrying in ${Math.max(1, Math.round(s.retryInMs / 1000))} s.`);
      case 'disposed':
        return setText(connection, 'Closed.');
    }
  };
  transport.onStatus(showStatus);
  showStatus(transport.status);

  // ── test hook ──
  window.__mtlsLab = {
    model: () => ({ ...model, byId: undefined, nodes: [...model.nodes.values()], edges: [...model.edges.values()] }),
    graph: () => graph.state(),
    palette: () => palette,
    status: () => transport.status,
    renders: () => Object.fromEntries(Object.entries(tasks).map(([k, t]) => [k, t.count])),
    renderMs: () => Object.fromEntries(Object.entries(tasks).map(([k, t]) => [k, Math.round(t.spentMs * 10) / 10])),
    frames: createFrameProbe((cb) => requestAnimationFrame(cb), (hnd) => cancelAnimationFrame(hnd)),
  };
  window.addEventListener('pagehide', () => {
    commands.dispose();
    transport.dispose();
    graph.dispose();
  });
  markAll();
}

function countServices(model: ViewModel): number {
  let n = 0;
  for (const node of model.nodes.values()) if (node.kind === 'service') n++;
  return n;
}

function timelineSummary(model: ViewModel, hidden: number): string {
  const active = model.ca.authorities.filter((a) => a.status === 'active').map((a) => a.serial);
  const open = model.ca.overlaps[model.ca.overlaps.length - 1];
  const rotating = open !== undefined && open.to === undefined ? ` CA rotation in progress: ${open.serials.length} roots trusted.` : '';
  const more = hidden > 0 ? ` ${hidden} more services are not drawn; select one to see its lane first.` : '';
  return `Each lane is a service's certificates (bars) and rotations (ticks); the top lanes are the CA roots (active ${active.join(', ') || 'unknown'}).${rotating}${more}`;
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
}
