import { describe, expect, it } from 'vitest';
import {
  distancesAtQueries,
  evaluatePerSlice,
  evaluateSegmentation,
  mulberry32,
  squaredDistanceTransform,
  surfaceDistances,
  surfaceIndices,
} from '../../src/metrics/index.js';
import type { BinaryMask } from '../../src/metrics/index.js';

type V3 = [number, number, number];

function box(dims: V3, lo: V3, hi: V3): Uint8Array {
  const out = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let z = lo[2]; z <= hi[2]; z++)
    for (let y = lo[1]; y <= hi[1]; y++) for (let x = lo[0]; x <= hi[0]; x++) out[x + dims[0] * (y + dims[1] * z)] = 1;
  return out;
}

/** value (rounded to 1e-6: squared distances are stored as float32) -> count. */
function histogram(values: Float64Array): Map<number, number> {
  const h = new Map<number, number>();
  for (const v of values) {
    const k = Math.round(v * 1e6) / 1e6;
    h.set(k, (h.get(k) ?? 0) + 1);
  }
  return h;
}

describe('two 10x10x10 cubes offset by 2 voxels along x, spacing [1.0, 0.6, 2.5] mm', () => {
  // A = x 10..19, y 10..19, z 5..14;  B = A shifted by +2 in x (x 12..21).
  // Overlap: TP = 8*10*10 = 800, |A| = |B| = 1000 -> DSC = 1600/2000 = 0.8, IoU = 800/1200 = 2/3.
  // Surfaces: 1000 - 8^3 = 488 voxels each. Distances A -> B (sx = 1, sy = 0.6, sz = 2.5):
  //  x = 10 face (100 voxels): outside B, nearest B face x = 12 -> 2*sx = 2.0
  //  x = 11 ring (36 voxels on y/z faces): nearest B voxel (12, y, z) -> sx = 1.0
  //  x = 12..18 rings (7*36 = 252) and x = 19 ring (36): also on B's y/z faces -> 0
  //  x = 19 interior (64 voxels, inside B): nearest B face is min(2*sx [x=21], dy*sy, dz*sz, 7*sx) where
  //    dy, dz = steps to the nearest y/z face in 1..4; dz*sz >= 2.5 never wins, so
  //    dy = 1, 2, 3, 4 (16 voxels each) -> 0.6, 1.2, 1.8, min(2.4, 2.0) = 2.0.
  //  => zeros 288, 0.6 x16, 1.0 x36, 1.2 x16, 1.8 x16, 2.0 x116; mean = 325.6 / 488.
  // B -> A is the mirror image (x -> 31 - x) and has the same distribution.
  // Pooled 976 values sorted: 0 x576 (0..575), 0.6 x32, 1.0 x72, 1.2 x32, 1.8 x32 (..743), 2.0 x232 (744..975).
  // hd95 = value at 0.95*975 = 926.25 -> 2.0; hd = 2.0; assd = (325.6/488 + 325.6/488)/2.
  const dims: V3 = [34, 30, 20];
  const spacing: V3 = [1.0, 0.6, 2.5];
  const a: BinaryMask = { data: box(dims, [10, 10, 5], [19, 19, 14]), dims, spacing };
  const b: BinaryMask = { data: box(dims, [12, 10, 5], [21, 19, 14]), dims, spacing };

  it('overlap and volume metrics', () => {
    const m = evaluateSegmentation(a, b);
    expect(m.dsc).toBeCloseTo(0.8, 12);
    expect(m.iou).toBeCloseTo(2 / 3, 12);
    expect(m.precision).toBeCloseTo(0.8, 12);
    expect(m.recall).toBeCloseTo(0.8, 12);
    // 1000 voxels x 1.5 mm^3 = 1.5 mL each
    expect(m.predMl).toBeCloseTo(1.5, 12);
    expect(m.volumeDifferenceMl).toBeCloseTo(0, 12);
    expect(m.hd).toBeCloseTo(2.0, 6);
    expect(m.hd95).toBeCloseTo(2.0, 6);
    expect(m.assd).toBeCloseTo(325.6 / 488, 6);
  });

  it('directed distance distributions', () => {
    const d = surfaceDistances(a, b);
    const expected = new Map([[0, 288], [0.6, 16], [1, 36], [1.2, 16], [1.8, 16], [2, 116]]);
    expect(histogram(d.predToGt)).toEqual(expected);
    expect(histogram(d.gtToPred)).toEqual(expected);
  });

  it('per-slice metrics (2-D, in-plane spacing)', () => {
    // Each slice z = 5..14 holds 10x10 squares offset by 2 in x: DSC 0.8, IoU 2/3.
    // 2-D perimeters 36 px each; A -> B: x=10 column 10 px -> 2.0; x=11 top/bottom 2 px -> 1.0;
    // x=12..19 top/bottom 16 px -> 0; x=19 interior y=11..18 -> min(2.0, dy*0.6): 0.6,1.2,1.8,2.0 twice each.
    // mean = (20 + 2 + 2*(0.6+1.2+1.8+2.0)) / 36 = 33.2/36; pooled 72: 2.0 occupies ranks 48..71, so hd95 = 2.0.
    const r = evaluatePerSlice(a, b);
    expect(r.slices).toHaveLength(20);
    expect(r.evaluatedSlices).toBe(10);
    expect(r.meanDsc).toBeCloseTo(0.8, 12);
    expect(r.meanIou).toBeCloseTo(2 / 3, 12);
    for (const s of r.slices) {
      if (s.slice >= 5 && s.slice <= 14) {
        expect(s.dsc).toBeCloseTo(0.8, 12);
        expect(s.assd).toBeCloseTo(33.2 / 36, 6);
        expect(s.hd95).toBeCloseTo(2.0, 6);
        expect(s.hd).toBeCloseTo(2.0, 6);
      } else {
        expect(s.dsc).toBe(1);
        expect(s.hd95).toBe(0);
      }
    }
  });
});

describe('empty-mask conventions', () => {
  const dims: V3 = [8, 8, 4];
  const spacing: V3 = [1, 1, 1];
  const empty: BinaryMask = { data: new Uint8Array(256), dims, spacing };
  const cube: BinaryMask = { data: box(dims, [2, 2, 1], [4, 4, 2]), dims, spacing };
  it('both empty: perfect agreement', () => {
    const m = evaluateSegmentation(empty, empty);
    expect([m.dsc, m.iou, m.precision, m.recall, m.hd, m.hd95, m.assd]).toEqual([1, 1, 1, 1, 0, 0, 0]);
  });
  it('one empty: DSC 0, distances Infinity', () => {
    for (const [p, g] of [[empty, cube], [cube, empty]]) {
      const m = evaluateSegmentation(p, g);
      expect(m.dsc).toBe(0);
      expect(m.iou).toBe(0);
      expect(m.hd).toBe(Infinity);
      expect(m.hd95).toBe(Infinity);
      expect(m.assd).toBe(Infinity);
    }
  });
  it('different dims are rejected', () => {
    expect(() => evaluateSegmentation(cube, { ...cube, dims: [8, 4, 8] })).toThrow(/dims differ/);
  });
});

describe('exact EDT against brute force', () => {
  it('random features, anisotropic spacing, full transform and query variant', () => {
    const rand = mulberry32(7);
    const dims: V3 = [13, 9, 7];
    const spacing: V3 = [0.7, 1.9, 1.3];
    const n = dims[0] * dims[1] * dims[2];
    const feature = new Uint8Array(n);
    for (let i = 0; i < n; i++) feature[i] = rand() < 0.03 ? 1 : 0;
    const coords = (i: number): V3 => [i % dims[0], Math.floor(i / dims[0]) % dims[1], Math.floor(i / (dims[0] * dims[1]))];
    const brute = new Float64Array(n).fill(Infinity);
    for (let i = 0; i < n; i++) {
      const [x, y, z] = coords(i);
      for (let j = 0; j < n; j++) {
        if (!feature[j]) continue;
        const [u, v, w] = coords(j);
        const d = ((x - u) * spacing[0]) ** 2 + ((y - v) * spacing[1]) ** 2 + ((z - w) * spacing[2]) ** 2;
        if (d < brute[i]) brute[i] = d;
      }
    }
    const edt = squaredDistanceTransform(feature, dims, spacing);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(edt[i] - brute[i]));
    expect(worst).toBeLessThan(1e-4);
    const queries = Int32Array.from({ length: 40 }, (_, k) => k * 20);
    const atQ = distancesAtQueries(feature, dims, spacing, queries);
    for (let k = 0; k < queries.length; k++) expect(atQ[k]).toBeCloseTo(Math.sqrt(brute[queries[k]]), 5);
  });
  it('surface of a solid box is its shell; a 2-D slice ignores the unit axis', () => {
    const dims: V3 = [6, 6, 6];
    expect(surfaceIndices(box(dims, [1, 1, 1], [4, 4, 4]), dims)).toHaveLength(64 - 8);
    // the whole grid filled: every voxel on the grid border is surface
    expect(surfaceIndices(new Uint8Array(216).fill(1), dims)).toHaveLength(216 - 64);
    const flat: V3 = [6, 6, 1];
    expect(surfaceIndices(box(flat, [1, 1, 0], [4, 4, 0]), flat)).toHaveLength(16 - 4);
  });
});
