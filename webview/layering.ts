// Which way a layered layout should flow so it fills the canvas: dagre stacks each layer across
// the flow, so a mesh with few layers and wide ones reads best top-to-bottom in a wide canvas, and
// a deep, narrow one left-to-right. Pure: an estimate from the edges before any layout runs.

export interface LayerShape {
  /** Number of layers (longest call chain, cycles broken). */
  readonly depth: number;
  /** Nodes in the widest layer. */
  readonly breadth: number;
}

/** Longest-path layering from the callers: a node sits one layer after the deepest of its callers. */
export function layerShape(nodes: readonly string[], edges: readonly (readonly [string, string])[]): LayerShape {
  const out = new Map<string, string[]>();
  const indegree = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (const [s, t] of edges) {
    if (s === t || !indegree.has(s) || !indegree.has(t)) continue;
    out.set(s, [...(out.get(s) ?? []), t]);
    indegree.set(t, (indegree.get(t) ?? 0) + 1);
  }
  const layer = new Map<string, number>();
  const queue = nodes.filter((n) => indegree.get(n) === 0);
  for (const n of queue) layer.set(n, 0);
  // Kahn's order; what a cycle leaves unvisited joins the first layer, as dagre's acyclic step would roughly do.
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i] as string;
    for (const t of out.get(n) ?? []) {
      layer.set(t, Math.max(layer.get(t) ?? 0, (layer.get(n) ?? 0) + 1));
      const left = (indegree.get(t) ?? 0) - 1;
      indegree.set(t, left);
      if (left === 0) queue.push(t);
    }
  }
  const counts = new Map<number, number>();
  for (const n of nodes) {
    const l = layer.get(n) ?? 0;
    counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  return { depth: counts.size === 0 ? 0 : Math.max(...counts.keys()) + 1, breadth: Math.max(0, ...counts.values()) };
}

/** 'LR' or 'TB', whichever gives a drawing whose aspect ratio is nearer the canvas's. */
export function chooseRankDir(shape: LayerShape, canvasAspect: number, rankStep: number, nodeStep: number): 'LR' | 'TB' {
  if (shape.depth === 0 || !(canvasAspect > 0)) return 'LR';
  const along = shape.depth * rankStep;
  const across = shape.breadth * nodeStep;
  const lr = along / across;
  const tb = across / along;
  const miss = (aspect: number): number => Math.abs(Math.log(aspect / canvasAspect));
  return miss(tb) < miss(lr) ? 'TB' : 'LR';
}
