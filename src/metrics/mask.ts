import { MetricsInputError } from './errors.js';

import type { Vec3 } from '../volume/types.js';

export type { Vec3 };

/**
 * A binary mask on a voxel grid: data[x + X*(y + Y*z)] is 0 or non-zero (non-zero = foreground).
 * spacing is the voxel size in mm along each axis.
 */
export interface BinaryMask {
  data: Uint8Array;
  dims: Vec3;
  spacing: Vec3;
}

export function voxelCount(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2];
}

/** Throws unless the mask's data length matches its dims and spacing is positive and finite. */
export function assertValidMask(mask: BinaryMask, what = 'mask'): void {
  const { dims, spacing, data } = mask;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 1) throw new MetricsInputError(`${what}: dims must be positive integers, got [${dims.join(', ')}]`);
  }
  for (const s of spacing) {
    if (!(s > 0) || !Number.isFinite(s)) throw new MetricsInputError(`${what}: spacing must be positive, got [${spacing.join(', ')}]`);
  }
  if (data.length !== voxelCount(dims)) {
    throw new MetricsInputError(`${what}: data has ${data.length} voxels but dims [${dims.join(', ')}] need ${voxelCount(dims)}`);
  }
}

/** Throws unless both masks share dims (spacing is taken from the reference). */
export function assertSameDims(a: BinaryMask, b: BinaryMask, what = 'masks'): void {
  if (a.dims[0] !== b.dims[0] || a.dims[1] !== b.dims[1] || a.dims[2] !== b.dims[2]) {
    throw new MetricsInputError(`${what}: dims differ ([${a.dims.join(', ')}] vs [${b.dims.join(', ')}])`);
  }
}

export function countForeground(data: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) n++;
  return n;
}

/**
 * Binary mask from label data: voxels equal to `label`, or any non-zero voxel when label is undefined.
 * Works on any numeric typed array (int32 NRRD predictions, uint8 NIfTI labels, float masks).
 */
export function labelToMask(values: ArrayLike<number>, label?: number): Uint8Array {
  const out = new Uint8Array(values.length);
  if (label === undefined) {
    for (let i = 0; i < values.length; i++) out[i] = values[i] !== 0 ? 1 : 0;
  } else {
    for (let i = 0; i < values.length; i++) out[i] = values[i] === label ? 1 : 0;
  }
  return out;
}

/** Copy of slice z of a 3-D mask as a 2-D mask (dims [X, Y, 1]). */
export function sliceMask(mask: BinaryMask, z: number): BinaryMask {
  const plane = mask.dims[0] * mask.dims[1];
  return {
    data: mask.data.subarray(z * plane, (z + 1) * plane),
    dims: [mask.dims[0], mask.dims[1], 1],
    spacing: [mask.spacing[0], mask.spacing[1], mask.spacing[2]],
  };
}
