import { describe, expect, it } from 'vitest';
import { gridMismatch, maskOnGrid, resampleMaskNearest } from '../../src/metrics/index.js';
import type { Volume } from '../../src/volume/types.js';

function vol(data: Uint8Array, dims: [number, number, number], affine: number[]): Volume {
  const spacing = [0, 1, 2].map((j) => Math.hypot(affine[j], affine[4 + j], affine[8 + j])) as [number, number, number];
  return { data, dims, spacing, affine: Float64Array.from(affine), dtype: 'uint8' };
}

describe('grids and nearest resampling', () => {
  const fineData = new Uint8Array(64);
  const fine = vol(fineData, [4, 4, 4], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  fineData[1 + 4 * (2 + 4 * 3)] = 7; // voxel (1, 2, 3)

  it('reports dims and affine differences beyond 1e-4 only', () => {
    expect(gridMismatch(fine, fine)).toBeNull();
    const nudged = vol(fineData, [4, 4, 4], [1, 0, 0, 0.00005, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect(gridMismatch(fine, nudged)).toBeNull();
    const moved = vol(fineData, [4, 4, 4], [1, 0, 0, 0.5, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect(gridMismatch(fine, moved)).toMatch(/affines differ by up to 0\.5/);
    expect(gridMismatch(fine, vol(new Uint8Array(32), [4, 4, 2], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]))).toMatch(/dims differ/);
  });

  it('maps voxels through world space (mirrored x axis)', () => {
    // target voxel (i, j, k) sits at world (3 - i, j, k) -> source voxel (3 - i, j, k)
    const mirrored = vol(new Uint8Array(64), [4, 4, 4], [-1, 0, 0, 3, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    const out = resampleMaskNearest(fine.data, fine, mirrored);
    expect(out.reduce((a, b) => a + b, 0)).toBe(1);
    expect(out[2 + 4 * (2 + 4 * 3)]).toBe(1);
  });

  it('maskOnGrid: error naming both files, or resample / ignore the affine on request', () => {
    const coarse = vol(new Uint8Array(8), [2, 2, 2], [2, 0, 0, 0.5, 0, 2, 0, 0.5, 0, 0, 2, 0.5, 0, 0, 0, 1]);
    expect(() => maskOnGrid(fine, coarse, { movingName: 'pred.nii', referenceName: 'gt.nrrd' })).toThrow(
      /pred\.nii and gt\.nrrd are on different voxel grids: dims differ.*--resample nearest/,
    );
    // coarse voxel (0, 1, 1) has its centre at world (0.5, 2.5, 2.5) -> fine voxel (round 0.5 = 1, round 2.5 = 3, 3);
    // the marked fine voxel (1, 2, 3) is hit by no coarse centre, a mark at (1, 3, 3) is
    expect(Array.from(maskOnGrid(fine, coarse, { resample: 'nearest' }).data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const hit = vol(new Uint8Array(64), [4, 4, 4], Array.from(fine.affine));
    hit.data[1 + 4 * (3 + 4 * 3)] = 1;
    const r = maskOnGrid(hit, coarse, { resample: 'nearest' });
    expect(r.dims).toEqual([2, 2, 2]);
    expect(r.spacing).toEqual([2, 2, 2]);
    expect(Array.from(r.data)).toEqual([0, 0, 0, 0, 0, 0, 1, 0]);
    const shifted = vol(new Uint8Array(64), [4, 4, 4], [1, 0, 0, 100, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    expect(() => maskOnGrid(fine, shifted)).toThrow(/--ignore-affine/);
    expect(maskOnGrid(fine, shifted, { ignoreAffine: true, label: 7 }).data[1 + 4 * (2 + 4 * 3)]).toBe(1);
  });
});
