import { describe, expect, it } from 'vitest';
import { chooseRankDir, layerShape } from '../../../webview/layering.js';

describe('layering', () => {
  const rows = [
    { name: 'a chain flows left to right in a wide canvas', nodes: ['a', 'b', 'c', 'd', 'e'], edges: [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e']] as const, shape: { depth: 5, breadth: 1 }, dir: 'LR' },
    { name: 'a wide fan flows top to bottom', nodes: ['r', ...'abcdefghij'], edges: [...'abcdefghij'].map((x) => ['r', x] as const), shape: { depth: 2, breadth: 10 }, dir: 'TB' },
    { name: 'a cycle still gets layers', nodes: ['a', 'b', 'c'], edges: [['a', 'b'], ['b', 'c'], ['c', 'a']] as const, shape: { depth: 1, breadth: 3 }, dir: 'TB' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const shape = layerShape(row.nodes, row.edges);
      expect(shape).toEqual(row.shape);
      expect(chooseRankDir(shape, 1.6, 124, 48)).toBe(row.dir);
    });
  }
});
