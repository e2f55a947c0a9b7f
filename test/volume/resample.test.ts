import { describe, expect, it } from 'vitest';
import { downsampleByBlocks, gridOverlapFraction, resampleLabels, resampleLinear, type WorldGrid } from '../../src/volume/index.js';

// Reference arithmetic written independently of src/: world = A [i j k 1]^T by explicit sums, and the
// source index solved from A_s x = world by Gaussian elimination with partial pivoting.
function world(A: ArrayLike<number>, i: number, j: number, k: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < 3; r++) out.push(A[4 * r]! * i + A[4 * r + 1]! * j + A[4 * r + 2]! * k + A[4 * r + 3]!);
  return out;
}

function solveVoxel(A: ArrayLike<number>, w: number[]): number[] {
  const m = [0, 1, 2].map((r) => [A[4 * r]!, A[4 * r + 1]!, A[4 * r + 2]!, w[r]! - A[4 * r + 3]!]);
  for (let c = 0; c < 3; c++) {
    let p = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = 0; r < 3; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k < 4; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return [0, 1, 2].map((r) => m[r]![3]! / m[r]![r]!);
}

/** Voxel->world affine: rotation R (axis, degrees) times diag(spacing), then origin. */
function obliqueAffine(axis: number[], degrees: number, spacing: number[], origin: number[]): Float64Array {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((v) => v / n) as [number, number, number];
  const a = (degrees * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a), C = 1 - c;
  const R = [
    [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
    [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
    [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
  ];
  const A = new Float64Array(16);
  for (let r = 0; r < 3; r++) {
    for (let col = 0; col < 3; col++) A[4 * r + col] = R[r]![col]! * spacing[col]!;
    A[4 * r + 3] = origin[r]!;
  }
  A[15] = 1;
  return A;
}

function randomLabels(n: number, seed: number, labels: number[]): Uint8Array {
  let s = seed >>> 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = labels[s % labels.length]!;
  }
  return out;
}

describe('resampleLabels', () => {
  const dims = [20, 17, 9];
  const affine = obliqueAffine([0.2, 1, 0.4], 17, [0.7, 0.9, 3.1], [-5, 12, 3]);

  it('returns the mask bit-identically on the same grid and affine (nearest and majority, any label type)', () => {
    const grid: WorldGrid = { dims, affine };
    const u8 = randomLabels(20 * 17 * 9, 7, [0, 0, 1, 2, 7]);
    const i16 = Int16Array.from(u8, (v) => v * 300 - 1);
    for (const mode of ['nearest', 'majority'] as const) {
      const a = resampleLabels(u8, grid, grid, { mode });
      expect(a).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(a.buffer).equals(Buffer.from(u8.buffer))).toBe(true);
      const b = resampleLabels(i16, grid, grid, { mode });
      expect(b).toBeInstanceOf(Int16Array);
      expect(Array.from(b)).toEqual(Array.from(i16));
    }
  });

  it('matches world-coordinate reference arithmetic between oblique grids of different resolution', () => {
    const src: WorldGrid = { dims, affine };
    const dst: WorldGrid = { dims: [31, 22, 14], affine: obliqueAffine([1, -0.3, 0.5], 29, [0.55, 0.6, 1.9], [-8, 9, -4]) };
    const values = randomLabels(20 * 17 * 9, 11, [0, 1, 3]);
    const out = resampleLabels(values, src, dst);
    let checked = 0, inside = 0;
    for (let k = 0; k < 14; k++) {
      for (let j = 0; j < 22; j++) {
        for (let i = 0; i < 31; i++) {
          const v = solveVoxel(affine, world(dst.affine, i, j, k));
          // Skip positions within 1e-6 of a rounding tie: either neighbour is a correct answer there.
          if (v.some((x) => Math.abs(x - Math.floor(x) - 0.5) < 1e-6)) continue;
          const [si, sj, sk] = v.map((x) => Math.round(x)) as [number, number, number];
          const ok = si >= 0 && sj >= 0 && sk >= 0 && si < 20 && sj < 17 && sk < 9;
          const expected = ok ? values[si + 20 * (sj + 17 * sk)]! : 0;
          expect(out[i + 31 * (j + 22 * k)]).toBe(expected);
          checked++;
          if (ok) inside++;
        }
      }
    }
    expect(checked).toBeGreaterThan(9000);
    expect(inside).toBeGreaterThan(1000); // the grids overlap substantially, so the comparison is not all zeros
  });

  it('applies a target->source world map before the source affine', () => {
    const src: WorldGrid = { dims, affine };
    const dst: WorldGrid = { dims: [12, 12, 6], affine: obliqueAffine([0, 0, 1], 0, [1.1, 1.1, 2.3], [-4, 5, 1]) };
    const map = obliqueAffine([0.3, 0.1, 1], 6, [1, 1, 1], [1.5, -2, 0.8]); // a rigid world transform
    const values = randomLabels(20 * 17 * 9, 5, [0, 1]);
    const out = resampleLabels(values, src, dst, { targetToSourceWorld: map });
    for (let k = 0; k < 6; k++) {
      for (let j = 0; j < 12; j++) {
        for (let i = 0; i < 12; i++) {
          const v = solveVoxel(affine, world(map, ...(world(dst.affine, i, j, k) as [number, number, number])));
          if (v.some((x) => Math.abs(x - Math.floor(x) - 0.5) < 1e-6)) continue;
          const [si, sj, sk] = v.map((x) => Math.round(x)) as [number, number, number];
          const ok = si >= 0 && sj >= 0 && sk >= 0 && si < 20 && sj < 17 && sk < 9;
          expect(out[i + 12 * (j + 12 * k)]).toBe(ok ? values[si + 20 * (sj + 17 * sk)]! : 0);
        }
      }
    }
  });

  it('majority takes the most frequent label of the source voxels a coarser target voxel covers', () => {
    // Source 1 mm, target 2 mm, aligned so each target voxel covers exactly 2x2x2 source voxels.
    const src: WorldGrid = { dims: [16, 16, 8], affine: obliqueAffine([0, 0, 1], 0, [1, 1, 1], [0, 0, 0]) };
    const dst: WorldGrid = { dims: [8, 8, 4], affine: obliqueAffine([0, 0, 1], 0, [2, 2, 2], [0.5, 0.5, 0.5]) };
    const values = randomLabels(16 * 16 * 8, 3, [0, 0, 1, 1, 2]);
    const out = resampleLabels(values, src, dst, { mode: 'majority' });
    let decided = 0;
    for (let k = 0; k < 4; k++) {
      for (let j = 0; j < 8; j++) {
        for (let i = 0; i < 8; i++) {
          const counts = new Map<number, number>();
          for (const [a, b, c] of [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]] as const) {
            const v = values[2 * i + a + 16 * (2 * j + b + 16 * (2 * k + c))]!;
            counts.set(v, (counts.get(v) ?? 0) + 1);
          }
          const sorted = [...counts.entries()].sort((x, y) => y[1] - x[1]);
          if (sorted.length > 1 && sorted[0]![1] === sorted[1]![1]) continue; // ties: any of them is a majority
          expect(out[i + 8 * (j + 8 * k)]).toBe(sorted[0]![0]);
          decided++;
        }
      }
    }
    expect(decided).toBeGreaterThan(100);
  });
});

describe('resampleLinear and grid overlap', () => {
  it('reproduces a linear intensity field exactly between oblique grids, NaN outside', () => {
    const sa = obliqueAffine([0.2, 1, 0.4], 17, [0.7, 0.9, 3.1], [-5, 12, 3]);
    const src: WorldGrid = { dims: [20, 17, 9], affine: sa };
    const f = (w: number[]): number => 2 * w[0]! - 0.5 * w[1]! + 0.25 * w[2]! + 3;
    const values = new Float64Array(20 * 17 * 9);
    for (let k = 0; k < 9; k++) for (let j = 0; j < 17; j++) for (let i = 0; i < 20; i++) values[i + 20 * (j + 17 * k)] = f(world(sa, i, j, k));
    const dst: WorldGrid = { dims: [15, 15, 10], affine: obliqueAffine([1, -0.3, 0.5], 29, [0.8, 0.8, 1.5], [-3, 10, 2]) };
    const out = resampleLinear(values, src, dst);
    let inside = 0;
    for (let k = 0; k < 10; k++) {
      for (let j = 0; j < 15; j++) {
        for (let i = 0; i < 15; i++) {
          const w = world(dst.affine, i, j, k);
          const v = solveVoxel(sa, w);
          const got = out[i + 15 * (j + 15 * k)]!;
          if (v[0]! >= 0 && v[1]! >= 0 && v[2]! >= 0 && v[0]! <= 19 && v[1]! <= 16 && v[2]! <= 8) {
            expect(Math.abs(got - f(w))).toBeLessThan(1e-3 * Math.max(1, Math.abs(f(w)))); // float32 output
            inside++;
          } else if (v.some((x, a) => x < -0.5 || x > [20, 17, 9][a]! - 0.5)) {
            expect(got).toBeNaN();
          }
        }
      }
    }
    expect(inside).toBeGreaterThan(200);
  });

  it('reports 0 overlap for grids far apart in world space', () => {
    const a: WorldGrid = { dims: [10, 10, 10], affine: obliqueAffine([0, 0, 1], 0, [1, 1, 1], [0, 0, 0]) };
    const b: WorldGrid = { dims: [10, 10, 10], affine: obliqueAffine([0, 0, 1], 0, [1, 1, 1], [0, 0, 500]) };
    const half: WorldGrid = { dims: [10, 10, 10], affine: obliqueAffine([0, 0, 1], 0, [1, 1, 1], [5, 0, 0]) };
    expect(gridOverlapFraction(a, b)).toBe(0);
    expect(gridOverlapFraction(a, a)).toBe(1);
    expect(gridOverlapFraction(a, half)).toBeCloseTo(0.5, 5);
  });
});

describe('downsampleByBlocks', () => {
  it('averages blocks and keeps each block centre at its world position', () => {
    const affine = obliqueAffine([0.2, 1, 0.4], 17, [0.4, 0.5, 3], [-5, 12, 3]);
    const values = Float32Array.from({ length: 6 * 4 * 3 }, (_, i) => i);
    const d = downsampleByBlocks(values, { dims: [6, 4, 3], affine }, [3, 2, 1]);
    expect(d.dims).toEqual([2, 2, 3]);
    // Output voxel (1, 1, 2) averages source x 3..5, y 2..3 at z 2.
    let sum = 0;
    for (let y = 2; y < 4; y++) for (let x = 3; x < 6; x++) sum += values[x + 6 * (y + 4 * 2)]!;
    expect(d.data[1 + 2 * (1 + 2 * 2)]).toBeCloseTo(sum / 6, 5);
    const centre = world(affine, 4, 2.5, 2);
    world(d.affine, 1, 1, 2).forEach((v, r) => expect(v).toBeCloseTo(centre[r]!, 9));
  });
});
