import { describe, expect, it } from 'vitest';
import {
  affinesClose, flipXY, invertAffine, lpsToRas, mat4, multiply4, orientationCode, rasToLps, spacingFromAffine, voxelToWorld,
} from '../../src/volume/affine.js';
import { createMaskLike, createVolume, firstNonFinite, voxelStats } from '../../src/volume/volume.js';

describe('orientation codes', () => {
  it('name the direction each voxel axis points to', () => {
    expect(orientationCode(mat4([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]))).toBe('RAS');
    expect(orientationCode(mat4([[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]]))).toBe('LPS');
    expect(orientationCode(mat4([[0, 0, -2, 0], [1, 0, 0, 0], [0, -3, 0, 0]]))).toBe('AIL');
  });
  it('oblique affines use the dominant component, each world axis once', () => {
    const c = Math.cos(0.4), s = Math.sin(0.4);
    expect(orientationCode(mat4([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0]]))).toBe('RAS');
    // 45 degree tie between axes still yields a valid permutation
    const code = orientationCode(mat4([[Math.SQRT1_2, -Math.SQRT1_2, 0, 0], [Math.SQRT1_2, Math.SQRT1_2, 0, 0], [0, 0, 1, 0]]));
    expect(new Set(code.replace(/[LR]/, 'x').replace(/[PA]/, 'y').replace(/[IS]/, 'z'))).toEqual(new Set(['x', 'y', 'z']));
  });
});

describe('affine helpers', () => {
  const a = mat4([[0.9, -0.3, 0.1, -12.5], [0.28, 0.95, -0.05, 40.25], [-0.12, 0.02, 2.9, -7]]);
  it('LPS <-> RAS flips x and y rows and is its own inverse', () => {
    const lps = rasToLps(a);
    expect(voxelToWorld(lps, [1, 2, 3])).toEqual(voxelToWorld(a, [1, 2, 3]).map((v, i) => (i < 2 ? -v : v)));
    expect(affinesClose(lpsToRas(lps), a, 0)).toBe(true);
    expect(flipXY).toBe(lpsToRas);
  });
  it('inverse times affine is identity; spacing is the column norms', () => {
    expect(affinesClose(multiply4(invertAffine(a), a), mat4([]), 1e-12)).toBe(true);
    const sp = spacingFromAffine(mat4([[0, 0, -2, 0], [1.5, 0, 0, 0], [0, -3, 0, 0]]));
    expect(sp).toEqual([1.5, 3, 2]);
  });
});

describe('volumes', () => {
  it('createVolume checks length and dims', () => {
    expect(() => createVolume(new Uint8Array(5), [2, 2, 2], mat4([]))).toThrow(/5 voxels but dims \[2, 2, 2\] need 8/);
    expect(() => createVolume(new Uint8Array(0), [2, 0, 2], mat4([]))).toThrow(/positive integer/);
  });
  it('createMaskLike keeps grid, affine and source but owns new uint8 data', () => {
    const v = createVolume(new Float32Array(24).fill(3), [4, 3, 2], mat4([[2, 0, 0, 1], [0, 3, 0, 2], [0, 0, 4, 3]]), { format: 'nrrd', header: { x: 1 } });
    const m = createMaskLike(v);
    expect(m.dtype).toBe('uint8');
    expect(m.dims).toEqual(v.dims);
    expect(m.spacing).toEqual([2, 3, 4]);
    expect(Array.from(m.affine)).toEqual(Array.from(v.affine));
    expect(m.affine).not.toBe(v.affine);
    expect(m.source).toBe(v.source);
    expect(voxelStats(m.data).sum).toBe(0);
  });
  it('voxelStats skips and counts non-finite values', () => {
    const st = voxelStats(Float64Array.from([1, 2, NaN, 5, Infinity]));
    expect(st).toEqual({ min: 1, max: 5, mean: 8 / 3, sum: 8, nonFinite: 2 });
    expect(firstNonFinite(Float32Array.from([0, 1, -Infinity]))).toBe(2);
    expect(firstNonFinite(Int16Array.from([1, 2]))).toBe(-1);
  });
});
