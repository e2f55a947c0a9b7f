import { resampleLabels } from '../volume/resample.js';
import { MetricsInputError } from './errors.js';

/** A voxel grid: dims plus the row-major 4x4 voxel->world (mm) affine. */
export interface MaskGrid {
  dims: readonly number[];
  affine: Float64Array | readonly number[];
}

/** Default tolerance on affine entries when deciding that two grids are the same. */
export const GRID_TOLERANCE = 1e-4;

/** Why two grids differ (dims, or the largest affine difference), or null when they match. */
export function gridMismatch(a: MaskGrid, b: MaskGrid, tolerance = GRID_TOLERANCE): string | null {
  for (let i = 0; i < 3; i++) {
    if (a.dims[i] !== b.dims[i]) return `dims differ ([${[...a.dims].join(', ')}] vs [${[...b.dims].join(', ')}])`;
  }
  let worst = 0;
  for (let i = 0; i < 16; i++) worst = Math.max(worst, Math.abs(a.affine[i] - b.affine[i]));
  if (worst > tolerance) return `voxel->world affines differ by up to ${worst.toPrecision(3)} (tolerance ${tolerance})`;
  return null;
}

/**
 * Nearest-neighbour resampling of `values` (on grid `from`) onto grid `to`, through world space:
 * each target voxel centre is mapped into the source grid and takes the nearest source voxel
 * (outside the source grid -> 0). Returns a Uint8Array of non-zero flags, i.e. a binary mask.
 */
export function resampleMaskNearest(values: ArrayLike<number>, from: MaskGrid, to: MaskGrid): Uint8Array {
  if (Math.abs(det3(from.affine)) < 1e-12) throw new MetricsInputError('voxel->world affine of the resampled mask is singular');
  const labels = resampleLabels(values, from, to);
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < out.length; i++) out[i] = labels[i] !== 0 ? 1 : 0;
  return out;
}

function det3(m: Float64Array | readonly number[]): number {
  return m[0] * (m[5] * m[10] - m[6] * m[9]) - m[1] * (m[4] * m[10] - m[6] * m[8]) + m[2] * (m[4] * m[9] - m[5] * m[8]);
}
