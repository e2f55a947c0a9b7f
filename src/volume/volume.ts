import { affineToRows, orientationCode, spacingFromAffine } from './affine.js';
import { dtypeOfArray } from './dtype.js';
import { affineProblem } from './geometry-rules.js';
import type { VoxelDType, Vec3, Volume, VoxelArray } from './types.js';

export type { VoxelDType, Vec3, Volume, VolumeSource, VoxelArray } from './types.js';

export class VolumeError extends Error {
  override name = 'VolumeError';
}

export function voxelCount(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2];
}

/** Build a volume, checking that the data length matches the grid and the affine is 4x4. */
export function createVolume(data: VoxelArray, dims: Vec3, affine: Float64Array, source?: Volume['source']): Volume {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 1) throw new VolumeError(`invalid dims [${dims.join(', ')}]: each must be a positive integer`);
  }
  if (data.length !== voxelCount(dims)) {
    throw new VolumeError(`data has ${data.length} voxels but dims [${dims.join(', ')}] need ${voxelCount(dims)}`);
  }
  if (affine.length !== 16) throw new VolumeError(`affine must have 16 entries, got ${affine.length}`);
  // No Volume exists with a degenerate affine, so no volume or mL is ever computed from one (readers check first,
  // with an error naming the file).
  const problem = affineProblem(affine);
  if (problem !== undefined) throw new VolumeError(`unusable affine: ${problem}`);
  const vol: Volume = { data, dims: [...dims], spacing: spacingFromAffine(affine), affine, dtype: dtypeOfArray(data) };
  if (source) vol.source = source;
  return vol;
}

/** An all-zero uint8 mask on the same grid, affine and source header as `vol` (so writers keep its geometry). */
export function createMaskLike(vol: Volume): Volume {
  const mask: Volume = {
    data: new Uint8Array(vol.data.length),
    dims: [...vol.dims],
    spacing: [...vol.spacing],
    affine: Float64Array.from(vol.affine),
    dtype: 'uint8',
  };
  if (vol.source) mask.source = vol.source;
  return mask;
}

export interface VoxelStats {
  min: number;
  max: number;
  mean: number;
  sum: number;
  /** Voxels that are NaN or +-Inf (skipped by the other figures). */
  nonFinite: number;
}

export function voxelStats(data: VoxelArray): VoxelStats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let nonFinite = 0;
  const n = data.length;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const finite = n - nonFinite;
  return { min: finite ? min : NaN, max: finite ? max : NaN, mean: finite ? sum / finite : NaN, sum, nonFinite };
}

/** Index of the first NaN/Inf voxel, or -1. Integer arrays cannot hold any. */
export function firstNonFinite(data: VoxelArray): number {
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return -1;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return i;
  return -1;
}

export interface VolumeSummary {
  format: string;
  dims: Vec3;
  spacing: Vec3;
  affine: number[][];
  orientation: string;
  dtype: VoxelDType;
  stats: VoxelStats;
}

export function summarizeVolume(vol: Volume): VolumeSummary {
  return {
    format: vol.source?.format ?? 'memory',
    dims: [...vol.dims],
    spacing: [...vol.spacing],
    affine: affineToRows(vol.affine),
    orientation: orientationCode(vol.affine),
    dtype: vol.dtype,
    stats: voxelStats(vol.data),
  };
}
