import { describe, expect, it } from 'vitest';
import {
  boneStats,
  connectedComponents26,
  fillHolesPerSlice,
  keepLargestComponents,
  removeSmallComponents,
} from '../../src/metrics/index.js';

type V3 = [number, number, number];
const dims: V3 = [10, 8, 6];
const at = (x: number, y: number, z: number): number => x + dims[0] * (y + dims[1] * z);

function scene(): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  // component A: 3x3x3 block at (1..3, 1..3, 1..3) = 27 voxels
  for (let z = 1; z <= 3; z++) for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) m[at(x, y, z)] = 1;
  // component B: two voxels touching only at a corner (26-connected, not 6/18): (6,5,1) and (7,6,2)
  m[at(6, 5, 1)] = 1;
  m[at(7, 6, 2)] = 1;
  // component C: single voxel far away
  m[at(9, 0, 5)] = 1;
  return m;
}

describe('26-connected components', () => {
  it('labels corner-touching voxels as one component, with sizes and boxes', () => {
    const cc = connectedComponents26(scene(), dims);
    expect(cc.count).toBe(3);
    const sizes = Array.from(cc.sizes.subarray(1)).sort((a, b) => a - b);
    expect(sizes).toEqual([1, 2, 27]);
    const lB = cc.labels[at(6, 5, 1)];
    expect(cc.labels[at(7, 6, 2)]).toBe(lB);
    expect(Array.from(cc.boxes.subarray(6 * (lB - 1), 6 * lB))).toEqual([6, 5, 1, 7, 6, 2]);
  });
  it('merges labels met from different directions (U shape)', () => {
    const d: V3 = [5, 3, 1];
    const m = new Uint8Array(15);
    // rows y=0: # . . . #, y=1: # . . . #, y=2: # # # # #
    for (const [x, y] of [[0, 0], [4, 0], [0, 1], [4, 1], [0, 2], [1, 2], [2, 2], [3, 2], [4, 2]]) m[x + 5 * y] = 1;
    const cc = connectedComponents26(m, d);
    expect(cc.count).toBe(1);
    expect(cc.sizes[1]).toBe(9);
  });
});

describe('post-processing', () => {
  it('removes components below N voxels and keeps the K largest', () => {
    const m = scene();
    const small = removeSmallComponents(m, dims, 2);
    expect(small.reduce((a, b) => a + b, 0)).toBe(29);
    expect(small[at(9, 0, 5)]).toBe(0);
    const largest = keepLargestComponents(m, dims, 1);
    expect(largest.reduce((a, b) => a + b, 0)).toBe(27);
    expect(keepLargestComponents(m, dims, 5).reduce((a, b) => a + b, 0)).toBe(30);
  });
  it('fills enclosed holes per slice but not background open to the border', () => {
    const d: V3 = [7, 7, 2];
    const m = new Uint8Array(98);
    // slice 0: ring 5x5 around a 3x3 hole; slice 1: ring with a gap (open) at the top edge
    for (let z = 0; z < 2; z++)
      for (let y = 1; y <= 5; y++)
        for (let x = 1; x <= 5; x++) if (x === 1 || x === 5 || y === 1 || y === 5) m[x + 7 * (y + 7 * z)] = 1;
    m[3 + 7 * (1 + 7 * 1)] = 0;
    const f = fillHolesPerSlice(m, d);
    expect(f.subarray(0, 49).reduce((a, b) => a + b, 0)).toBe(25);
    expect(f.subarray(49).reduce((a, b) => a + b, 0)).toBe(15);
    // a diagonal-only gap does not open a hole (background is 4-connected)
    const g = new Uint8Array(25);
    for (const [x, y] of [[1, 0], [0, 1], [2, 1], [1, 2]]) g[x + 5 * y] = 1; // diamond around (1,1)
    expect(fillHolesPerSlice(g, [5, 5, 1])[1 + 5 * 1]).toBe(1);
  });
});

describe('bone stats', () => {
  it('volume in mL, components sorted by size, intensity inside the mask', () => {
    const m = scene();
    const image = new Float32Array(m.length).map((_, i) => i % 7);
    const s = boneStats({ data: m, dims, spacing: [0.5, 2, 3] }, image);
    expect(s.voxels).toBe(30);
    expect(s.voxelVolumeMm3).toBe(3);
    expect(s.volumeMl).toBeCloseTo(0.09, 12);
    expect(s.components.map((c) => c.voxels)).toEqual([27, 2, 1]);
    expect(s.components[0].volumeMl).toBeCloseTo(0.081, 12);
    expect(s.components[0].bboxMin).toEqual([1, 1, 1]);
    expect(s.components[0].bboxMax).toEqual([3, 3, 3]);
    const inside = Array.from(m.keys()).filter((i) => m[i]).map((i) => i % 7);
    const mean = inside.reduce((a, b) => a + b, 0) / inside.length;
    const std = Math.sqrt(inside.reduce((a, b) => a + (b - mean) ** 2, 0) / inside.length);
    expect(s.intensity?.mean).toBeCloseTo(mean, 10);
    expect(s.intensity?.std).toBeCloseTo(std, 10);
  });
});
