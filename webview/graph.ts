// The canvas: services as nodes, calls as edges, drawn by cytoscape with a layered (dagre)
// layout. Updates go in place inside one cy.batch, only for data a person would see change; the
// layout runs again only when the set of nodes changes. Traffic is animated on a separate
// overlay canvas (as Kiali does), so moving dots never force cytoscape to redraw.
import cytoscape from 'cytoscape';
import dagre from 'cytoscape-dagre';
import { edgeLabel, lifePercent, nodeLabel } from './labels.js';
import { chooseRankDir, layerShape } from './layering.js';
import { edgeRate } from './store.js';
import type { EdgeState, NodeView, ViewModel } from './store.js';
import type { Palette } from './theme.js';

cytoscape.use(dagre);

export type Selection = { readonly kind: 'node' | 'edge'; readonly id: string };

export interface GraphOptions {
  readonly container: HTMLElement;
  readonly overlay: HTMLCanvasElement;
  readonly palette: Palette;
  /** No animated traffic and no pulses' motion when the person asked for less motion. */
  readonly reducedMotion: boolean;
  readonly onSelect: (selection: Selection | undefined) => void;
  readonly raf?: (cb: (t: number) => void) => number;
  readonly caf?: (handle: number) => void;
}

/** What the canvas shows, for tests and the text-only check that nothing is canvas-only. */
export interface GraphState {
  readonly nodes: readonly { readonly id: string; readonly label: string; readonly classes: readonly string[]; readonly borderColor: string }[];
  readonly edges: readonly { readonly id: string; readonly source: string; readonly target: string; readonly state: string; readonly label: string; readonly lineColor: string }[];
  readonly layouts: number;
  readonly updates: number;
  readonly animatedEdges: number;
  readonly lockedEdges: number;
}

export interface Graph {
  /** Brings the canvas up to `model` at time `now`; cheap when nothing visible changed. Labels that only count time or traffic wait for `refreshLabels`. */
  update(model: ViewModel, now: number, refreshLabels?: boolean): void;
  select(selection: Selection | undefined): void;
  setPalette(palette: Palette): void;
  /** Fits the whole graph in view. */
  fit(): void;
  state(): GraphState;
  dispose(): void;
}

function nodeClasses(n: NodeView): string[] {
  const classes: string[] = [n.kind];
  if (n.entry) classes.push('entry');
  if (n.state === 'failed' || n.state === 'exited' || n.state === 'stopped') classes.push('down');
  else if (n.state !== 'running') classes.push('pending');
  if (n.lastFailure !== undefined) classes.push('svid-failed');
  return classes;
}

function stylesheet(p: Palette, big: boolean): cytoscape.StylesheetJson {
  const hc = p.highContrast;
  return [
    {
      selector: 'node',
      style: {
        'background-color': p.nodeBg,
        'border-width': hc ? 3 : 2,
        'border-color': hc ? p.contrast : p.border,
        width: 34,
        height: 34,
        label: 'data(label)',
        'text-wrap': 'wrap',
        'text-valign': 'bottom',
        'text-halign': 'center',
        'text-margin-y': 5,
        'font-size': 10,
        'font-family': p.fontFamily,
        color: p.fg,
        'text-background-color': p.bg,
        'text-background-opacity': 0.85,
        'text-background-padding': '2px',
        'min-zoomed-font-size': 7,
        'pie-size': '100%',
        'pie-hole': '62%',
        'pie-1-background-color': p.ok,
        'pie-1-background-size': 'mapData(lifePct, 0, 100, 0, 100)',
        'pie-2-background-color': p.idle,
        'pie-2-background-size': 'mapData(usedPct, 0, 100, 0, 100)',
        'pie-2-background-opacity': 0.25,
      },
    },
    { selector: 'node.entry', style: { shape: 'round-rectangle', 'border-style': 'double', 'border-width': 5 } },
    { selector: 'node.pending', style: { 'border-style': 'dashed', 'border-color': p.warn } },
    { selector: 'node.down', style: { 'border-style': 'dashed', 'border-color': p.bad, 'border-width': 3 } },
    { selector: 'node.svid-failed', style: { 'border-color': p.warn, 'border-width': 4 } },
    { selector: 'node.intruder', style: { shape: 'diamond', 'background-color': p.bad, 'border-color': p.bad, width: 40, height: 40, color: p.bad, 'pie-size': '0%' } },
    { selector: 'node.outside', style: { shape: 'round-rectangle', 'border-style': 'dotted', 'pie-size': '0%' } },
    { selector: 'node.pulse', style: { 'border-width': 10, 'border-color': p.accent } },
    { selector: 'node:selected', style: { 'border-color': p.accent, 'border-width': 5, 'overlay-opacity': 0 } },
    {
      selector: 'edge',
      style: {
        width: hc ? 3 : 2,
        // Straight edges skip cytoscape's parallel-edge and control-point work, which a big graph feels.
        'curve-style': big ? 'straight' : 'bezier',
        'line-color': p.idle,
        'target-arrow-shape': 'triangle',
        'target-arrow-color': p.idle,
        'arrow-scale': 0.9,
        label: 'data(label)',
        'font-size': 9,
        'font-family': p.fontFamily,
        color: p.fg,
        'text-rotation': 'autorotate',
        'text-background-color': p.bg,
        'text-background-opacity': 0.85,
        'text-background-padding': '1px',
        'min-zoomed-font-size': 7,
      },
    },
    { selector: 'edge.idle', style: { 'line-style': 'dashed', 'line-dash-pattern': [4, 4], opacity: 0.7 } },
    { selector: 'edge.ok', style: { 'line-color': p.warn, 'target-arrow-color': p.warn } },
    { selector: 'edge.locked', style: { 'line-color': p.ok, 'target-arrow-color': p.ok } },
    { selector: 'edge.rejected', style: { 'line-color': p.bad, 'target-arrow-color': p.bad, width: hc ? 4 : 3, color: p.bad, 'target-arrow-shape': 'tee' } },
    { selector: 'edge.breached', style: { 'line-color': p.bad, 'target-arrow-color': p.bad, width: 5, 'line-style': 'dashed', color: p.bad } },
    { selector: 'edge:selected', style: { 'underlay-color': p.accent, 'underlay-padding': 4, 'underlay-opacity': 0.35, 'overlay-opacity': 0 } },
  ] as cytoscape.StylesheetJson;
}

/** Cytoscape writes `rgb(1,2,3)`; the browser's computed style writes `rgb(1, 2, 3)`. Tests compare the latter. */
function cssColor(value: unknown): string {
  return String(value).replace(/\s*,\s*/g, ', ');
}

interface Track {
  readonly id: string;
  readonly color: string;
  /** Requests per second, or -1 for recent rejections (dots that stop short). */
  readonly rate: number;
  readonly moving: boolean;
  /** Mutual TLS verified: draw the lock. */
  readonly lock: boolean;
  readonly phase: number;
  sx: number;
  sy: number;
  cx: number;
  cy: number;
  tx: number;
  ty: number;
}

/** Up to this many nodes, a new node lays the whole graph out again (animated); beyond, it is placed beside its peers. */
const SMALL_GRAPH = 40;
/** Node radius (half the style's 34 px) and cytoscape's default bezier step between parallel edges. */
const NODE_RADIUS = 17;
const BEZIER_STEP = 40;

/** How long a rotated node keeps its pulse. */
const PULSE_MS = 1200;

/** Rejections within this long keep red dots moving on their edge. */
const REJECTION_ANIMATION_MS = 5_000;

export function createGraph(options: GraphOptions): Graph {
  const raf = options.raf ?? ((cb: (t: number) => void): number => requestAnimationFrame(cb));
  const caf = options.caf ?? ((h: number): void => cancelAnimationFrame(h));
  let palette = options.palette;
  /** Past SMALL_GRAPH nodes: straight edges, coarse labels, no animated relayout. */
  let big = false;
  const cy = cytoscape({
    container: options.container,
    style: stylesheet(palette, false),
    elements: [],
    minZoom: 0.1,
    maxZoom: 3,
    boxSelectionEnabled: false,
    selectionType: 'single',
    motionBlur: false,
    textureOnViewport: false,
    pixelRatio: 'auto',
  });
  const pulses = new Map<string, number>();
  let topology = -1;
  let layouts = 0;
  let updates = 0;
  let tracks: Track[] = [];
  let tracksDirty = true;
  let lastModel: ViewModel | undefined;
  let lastNow = 0;
  let animation: number | undefined;
  let disposed = false;

  cy.on('tap', (evt) => {
    const target = evt.target as cytoscape.Core | cytoscape.SingularElementArgument;
    if (target === cy) options.onSelect(undefined);
    else {
      const ele = target as cytoscape.SingularElementArgument;
      options.onSelect({ kind: ele.isNode() ? 'node' : 'edge', id: ele.id() });
    }
  });
  cy.on('viewport resize', () => startAnimation());
  cy.on('position layoutstop add remove', () => {
    positionsDirty = true;
    tracksDirty = true;
    startAnimation();
  });

  const ctx = options.overlay.getContext('2d');
  const resizeOverlay = (): void => {
    const rect = options.container.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    options.overlay.width = Math.max(1, Math.round(rect.width * ratio));
    options.overlay.height = Math.max(1, Math.round(rect.height * ratio));
    options.overlay.style.width = `${rect.width}px`;
    options.overlay.style.height = `${rect.height}px`;
    cy.resize();
    tracksDirty = true;
    startAnimation();
  };
  const resizeObserver = new ResizeObserver(() => resizeOverlay());
  resizeObserver.observe(options.container);

  // Node centres, read from cytoscape only after a layout or a drag: asking edges for their
  // endpoints would make cytoscape recompute every edge's geometry on each update.
  let positions = new Map<string, cytoscape.Position>();
  let positionsDirty = true;

  function rebuildTracks(): void {
    tracksDirty = false;
    const model = lastModel;
    if (model === undefined) {
      tracks = [];
      return;
    }
    if (positionsDirty) {
      positionsDirty = false;
      positions = new Map(cy.nodes().map((n) => [n.id(), { ...n.position() }] as const));
    }
    const next: Track[] = [];
    let i = 0;
    for (const e of model.edges.values()) {
      i++;
      const rate = edgeRate(e, lastNow);
      const recentReject = e.state === 'rejected' && e.lastRejectAt !== undefined && lastNow - e.lastRejectAt < REJECTION_ANIMATION_MS;
      const moving = !options.reducedMotion && (rate > 0 || recentReject);
      const lock = e.state === 'locked';
      if (!moving && !lock) continue;
      const a = positions.get(e.source);
      const b = positions.get(e.target);
      if (a === undefined || b === undefined || e.source === e.target) continue;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len = Math.hypot(dx, dy) || 1;
      const ux = dx / len;
      const uy = dy / len;
      // From rim to rim; a call with a reverse twin bends aside, as cytoscape draws the pair.
      const bend = !big && model.edges.has(`${e.target}->${e.source}`) ? BEZIER_STEP / 2 : 0;
      const sx = a.x + ux * NODE_RADIUS;
      const sy = a.y + uy * NODE_RADIUS;
      const tx = b.x - ux * NODE_RADIUS;
      const ty = b.y - uy * NODE_RADIUS;
      // Each of the pair bends to the same side of its own direction, so the two part.
      const cx = (sx + tx) / 2 - uy * bend;
      const cyy = (sy + ty) / 2 + ux * bend;
      const color = e.state === 'rejected' || e.state === 'breached' ? palette.bad : e.state === 'locked' ? palette.ok : palette.warn;
      next.push({ id: e.id, color, rate: moving ? (recentReject && rate <= 0 ? -1 : rate) : 0, moving, lock, phase: (i * 0.37) % 1, sx, sy, cx, cy: cyy, tx, ty });
    }
    tracks = next;
  }

  let lastDraw = 0;
  /**
   * The overlay: a lock on every call whose mutual TLS was verified (drawn, not a glyph, so no
   * font can lose it) and moving dots for traffic. Redraws itself only while dots move.
   */
  function drawOverlay(time: number): void {
    animation = undefined;
    if (disposed || ctx === null) return;
    // 30 frames a second is smooth for dots and halves the overlay's cost.
    if (time - lastDraw < 30) {
      animation = raf(drawOverlay);
      return;
    }
    lastDraw = time;
    if (tracksDirty) rebuildTracks();
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, options.overlay.width, options.overlay.height);
    if (tracks.length === 0) return;
    const zoom = cy.zoom();
    const pan = cy.pan();
    ctx.setTransform(ratio * zoom, 0, 0, ratio * zoom, ratio * pan.x, ratio * pan.y);
    const at = (tr: Track, u: number): [number, number] => {
      const a = (1 - u) * (1 - u);
      const b = 2 * (1 - u) * u;
      const c = u * u;
      return [a * tr.sx + b * tr.cx + c * tr.tx, a * tr.sy + b * tr.cy + c * tr.ty];
    };
    if (zoom >= 0.35) {
      const locks = tracks.filter((t) => t.lock).map((t) => at(t, 0.3));
      if (locks.length > 0) {
        ctx.fillStyle = palette.bg;
        ctx.beginPath();
        for (const [x, y] of locks) {
          ctx.moveTo(x + 7, y);
          ctx.arc(x, y, 7, 0, Math.PI * 2);
        }
        ctx.fill();
        ctx.fillStyle = palette.ok;
        ctx.strokeStyle = palette.ok;
        ctx.lineWidth = 1.6;
        ctx.beginPath();
        for (const [x, y] of locks) ctx.rect(x - 4, y - 1, 8, 6);
        ctx.fill();
        ctx.beginPath();
        for (const [x, y] of locks) {
          ctx.moveTo(x - 2.6, y - 1);
          ctx.arc(x, y - 2.5, 2.6, Math.PI, 0);
          ctx.lineTo(x + 2.6, y - 1);
        }
        ctx.stroke();
      }
    }
    const radius = Math.max(2, 3 / Math.sqrt(zoom));
    // One path per colour: a few fills per frame, whatever the number of dots.
    const byColor = new Map<string, Track[]>();
    for (const tr of tracks) {
      if (!tr.moving) continue;
      const list = byColor.get(tr.color);
      if (list === undefined) byColor.set(tr.color, [tr]);
      else list.push(tr);
    }
    for (const [color, list] of byColor) {
      ctx.fillStyle = color;
      ctx.beginPath();
      for (const tr of list) {
        const rejected = tr.rate < 0;
        // Faster and denser with more traffic, on a log scale so 1 and 1,000 req/s both read.
        const dots = rejected ? 1 : Math.min(4, 1 + Math.floor(Math.log10(1 + tr.rate)));
        const period = rejected ? 1600 : Math.max(700, 2600 - 500 * Math.log10(1 + tr.rate));
        for (let k = 0; k < dots; k++) {
          let u = (time / period + tr.phase + k / dots) % 1;
          // A refused call's dot stops at the callee's door.
          if (rejected) u *= 0.85;
          const [x, y] = at(tr, u);
          ctx.moveTo(x + radius, y);
          ctx.arc(x, y, radius, 0, Math.PI * 2);
        }
      }
      ctx.fill();
    }
    if (byColor.size > 0) animation = raf(drawOverlay);
  }

  function startAnimation(): void {
    if (animation === undefined && !disposed) animation = raf(drawOverlay);
  }

  interface ShownNode {
    model: NodeView;
    label: string;
    life: number;
    classes: string;
  }
  interface ShownEdge {
    label: string;
    state: EdgeState;
  }
  const shownNodes = new Map<string, ShownNode>();
  const pulsing = new Map<string, number>();
  const shownEdges = new Map<string, ShownEdge>();

  /**
   * Node countdowns and edge rates change every second for every element; they are redrawn only
   * when `refreshLabels` is set (about once a second). A change of state (a rejection, a new
   * certificate, a service down) shows at once.
   */
  function update(model: ViewModel, now: number, refreshLabels = true): void {
    if (disposed) return;
    updates++;
    lastModel = model;
    lastNow = now;
    const fresh: string[] = [];
    const nextBig = model.nodes.size > SMALL_GRAPH;
    if (nextBig !== big) {
      big = nextBig;
      cy.style(stylesheet(palette, big));
      refreshLabels = true;
    }
    const lifeStep = big ? 5 : 1;
    cy.batch(() => {
      for (const n of model.nodes.values()) {
        const shown = shownNodes.get(n.id);
        if (shown !== undefined && shown.model === n && !refreshLabels) continue;
        const life = lifePercent(n, now, lifeStep);
        const label = nodeLabel(n, now, big);
        const classes = nodeClasses(n).join(' ');
        if (shown === undefined) {
          const ele = cy.getElementById(n.id);
          if (ele.empty()) {
            cy.add({ group: 'nodes', data: { id: n.id, label, lifePct: life, usedPct: n.cert === undefined ? 0 : 100 - life }, classes });
            fresh.push(n.id);
          }
          shownNodes.set(n.id, { model: n, label, life, classes });
          pulses.set(n.id, n.pulses);
          continue;
        }
        const ele = cy.getElementById(n.id);
        if (shown.label !== label || shown.life !== life) ele.data({ label, lifePct: life, usedPct: n.cert === undefined ? 0 : 100 - life });
        if (shown.classes !== classes) ele.classes(classes);
        shownNodes.set(n.id, { model: n, label, life, classes });
        const before = pulses.get(n.id) ?? n.pulses;
        pulses.set(n.id, n.pulses);
        if (n.pulses > before) {
          // Not flashClass: its timers would each redraw the canvas; pulses end in a later batch.
          if (!pulsing.has(n.id)) ele.addClass('pulse');
          pulsing.set(n.id, now + PULSE_MS);
        }
      }
      for (const e of model.edges.values()) {
        const shown = shownEdges.get(e.id);
        if (shown !== undefined && shown.state === e.state && !refreshLabels) continue;
        const label = edgeLabel(e, now, big);
        if (shown === undefined) {
          if (!model.nodes.has(e.source) || !model.nodes.has(e.target)) continue;
          if (cy.getElementById(e.id).empty()) cy.add({ group: 'edges', data: { id: e.id, source: e.source, target: e.target, label, state: e.state }, classes: e.state });
          shownEdges.set(e.id, { label, state: e.state });
          continue;
        }
        if (shown.label === label && shown.state === e.state) continue;
        const ele = cy.getElementById(e.id);
        ele.data({ label, state: e.state });
        if (shown.state !== e.state) ele.classes(e.state);
        shownEdges.set(e.id, { label, state: e.state });
      }
      for (const [id, until] of pulsing) {
        if (until > now) continue;
        pulsing.delete(id);
        cy.getElementById(id).removeClass('pulse');
      }
      if (cy.nodes().length !== model.nodes.size || cy.edges().length !== model.edges.size || model.topology !== topology) {
        cy.elements().forEach((ele) => {
          const id = ele.id();
          const gone = ele.isNode() ? !model.nodes.has(id) : !model.edges.has(id);
          if (!gone) return;
          shownNodes.delete(id);
          shownEdges.delete(id);
          pulses.delete(id);
          pulsing.delete(id);
          ele.remove();
        });
      }
    });
    if (model.topology !== topology && model.nodes.size > 0) {
      const initial = topology === -1 || fresh.length === cy.nodes().length;
      topology = model.topology;
      if (initial || cy.nodes().length <= SMALL_GRAPH || !place(model, fresh)) layout(initial);
    }
    tracksDirty = true;
    startAnimation();
  }

  /**
   * Puts nodes that joined a big, laid-out graph (the intruder, outside callers) beside what they
   * call, instead of laying 200 nodes out again for one. False when a node has no neighbour placed.
   */
  function place(model: ViewModel, ids: readonly string[]): boolean {
    if (ids.length === 0) return true;
    const box = cy.nodes().filter((n) => !ids.includes(n.id())).boundingBox({ includeLabels: false });
    for (const id of ids) {
      const ys: number[] = [];
      for (const e of model.edges.values()) {
        const other = e.source === id ? e.target : e.target === id ? e.source : undefined;
        if (other === undefined || ids.includes(other)) continue;
        ys.push(cy.getElementById(other).position().y);
      }
      if (ys.length === 0) return false;
      const y = ys.reduce((a, b) => a + b, 0) / ys.length;
      cy.getElementById(id).position({ x: box.x1 - 140, y });
    }
    layouts++;
    tracksDirty = true;
    return true;
  }

  function layout(initial: boolean): void {
    layouts++;
    const count = cy.nodes().length;
    const small = count <= SMALL_GRAPH;
    // Small graphs leave room for the labels (name, ID on two lines, mode and time left).
    const nodeSep = small ? 70 : 14;
    const rankSep = small ? 170 : 90;
    const box = options.container.getBoundingClientRect();
    const shape = layerShape(cy.nodes().map((n) => n.id()), cy.edges().map((e) => [e.source().id(), e.target().id()] as const));
    const layoutOptions = {
      name: 'dagre',
      rankDir: small ? 'LR' : chooseRankDir(shape, box.width / Math.max(1, box.height), rankSep + 34, nodeSep + 34),
      nodeSep,
      rankSep,
      edgeSep: 8,
      fit: true,
      padding: 24,
      // Only a small graph moves smoothly into place; a big one jumps, once.
      animate: !initial && small && !options.reducedMotion,
      animationDuration: 300,
    };
    cy.layout(layoutOptions).run();
  }

  return {
    update,
    select(selection) {
      cy.batch(() => {
        cy.elements(':selected').unselect();
        if (selection !== undefined) cy.getElementById(selection.id).select();
      });
    },
    setPalette(next) {
      palette = next;
      cy.style(stylesheet(next, big));
      tracksDirty = true;
    },
    fit() {
      cy.fit(undefined, 24);
    },
    state() {
      return {
        nodes: cy.nodes().map((n) => ({ id: n.id(), label: String(n.data('label')), classes: n.classes(), borderColor: cssColor(n.style('border-color')) })),
        edges: cy.edges().map((e) => ({
          id: e.id(),
          source: e.source().id(),
          target: e.target().id(),
          state: String(e.data('state')),
          label: String(e.data('label')),
          lineColor: cssColor(e.style('line-color')),
        })),
        layouts,
        updates,
        animatedEdges: tracks.filter((t) => t.moving).length,
        lockedEdges: tracks.filter((t) => t.lock).length,
      };
    },
    dispose() {
      disposed = true;
      if (animation !== undefined) caf(animation);
      resizeObserver.disconnect();
      cy.destroy();
    },
  };
}
