import type { Volume } from '../volume/types.js';
import { MetricsInputError } from './errors.js';
import { gridMismatch, resampleMaskNearest } from './grid.js';
import type { BinaryMask } from './mask.js';
import { labelToMask } from './mask.js';

/** Binary mask of a label volume: voxels equal to `label`, or every non-zero voxel when label is undefined. */
export function maskFromVolume(vol: Volume, label?: number): BinaryMask {
  return { data: labelToMask(vol.data, label), dims: [...vol.dims], spacing: [...vol.spacing] };
}

export type ResampleMode = 'none' | 'nearest';

/** How to put a mask on a reference grid (see maskOnGrid). */
export interface GridAlignOptions {
  label?: number;
  /** 'nearest': resample through world coordinates when the grids differ. */
  resample?: ResampleMode;
  /**
   * Treat volumes with equal dims as voxel-aligned even if their affines differ (a NIfTI without
   * qform/sform gets a made-up affine, while its prediction written as NRRD has another).
   */
  ignoreAffine?: boolean;
  movingName?: string;
  referenceName?: string;
}

/**
 * `moving` as a binary mask on `reference`'s grid. Grids that differ (dims, or any affine entry by more
 * than 1e-4) are an error naming both files unless resample is 'nearest' (world-space nearest neighbour)
 * or ignoreAffine is set and the dims agree.
 */
export function maskOnGrid(
  moving: Volume,
  reference: Volume,
  options: GridAlignOptions = {},
): BinaryMask {
  const mask = labelToMask(moving.data, options.label);
  const why = options.ignoreAffine ? gridMismatch(moving, reference, Infinity) : gridMismatch(moving, reference);
  if (why === null) return { data: mask, dims: [...reference.dims], spacing: [...reference.spacing] };
  if ((options.resample ?? 'none') !== 'nearest') {
    throw new MetricsInputError(
      `${options.movingName ?? 'mask'} and ${options.referenceName ?? 'reference'} are on different voxel grids: ${why}; ` +
        'pass --resample nearest to resample through world coordinates, or --ignore-affine if they share the voxel grid ' +
        '(e.g. a NIfTI without qform/sform and a prediction written from its array)',
    );
  }
  return {
    data: resampleMaskNearest(mask, moving, reference),
    dims: [...reference.dims],
    spacing: [...reference.spacing],
  };
}
