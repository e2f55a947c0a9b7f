import type { BinaryMask } from './mask.js';
import { assertSameDims, assertValidMask } from './mask.js';

/** Voxel confusion counts of a prediction against a reference. */
export interface ConfusionCounts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export function confusionCounts(pred: Uint8Array, gt: Uint8Array): ConfusionCounts {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] !== 0;
    const g = gt[i] !== 0;
    if (p) {
      if (g) tp++;
      else fp++;
    } else if (g) fn++;
  }
  return { tp, fp, fn, tn: pred.length - tp - fp - fn };
}

/**
 * Overlap scores. Empty-mask conventions (documented, used everywhere):
 * - both masks empty: DSC = IoU = precision = recall = 1 (perfect agreement on "no bone");
 * - exactly one empty: DSC = IoU = 0; precision is 0 when nothing was predicted, recall is 0 when the
 *   reference is empty but something was predicted (no 0/0 = NaN leaks into tables).
 */
export interface OverlapScores {
  dsc: number;
  iou: number;
  precision: number;
  recall: number;
}

export function overlapScores(c: ConfusionCounts): OverlapScores {
  const predCount = c.tp + c.fp;
  const gtCount = c.tp + c.fn;
  if (predCount === 0 && gtCount === 0) return { dsc: 1, iou: 1, precision: 1, recall: 1 };
  return {
    dsc: (2 * c.tp) / (predCount + gtCount),
    iou: c.tp / (c.tp + c.fp + c.fn),
    precision: predCount === 0 ? 0 : c.tp / predCount,
    recall: gtCount === 0 ? 0 : c.tp / gtCount,
  };
}

/** Volumes in mL (voxel count x voxel volume in mm^3 / 1000) and their difference pred - gt. */
export interface VolumeComparison {
  predMl: number;
  gtMl: number;
  /** pred - gt, in mL. */
  differenceMl: number;
  /** (pred - gt) / gt; null when the reference is empty. */
  relativeDifference: number | null;
}

export function volumeComparison(c: ConfusionCounts, spacing: readonly number[]): VolumeComparison {
  const voxelMl = (spacing[0] * spacing[1] * spacing[2]) / 1000;
  const predMl = (c.tp + c.fp) * voxelMl;
  const gtMl = (c.tp + c.fn) * voxelMl;
  return {
    predMl,
    gtMl,
    differenceMl: predMl - gtMl,
    relativeDifference: c.tp + c.fn === 0 ? null : (predMl - gtMl) / gtMl,
  };
}

/** Convenience: DSC of two masks on the same grid. */
export function dice(pred: BinaryMask, gt: BinaryMask): number {
  assertValidMask(pred, 'prediction');
  assertValidMask(gt, 'reference');
  assertSameDims(pred, gt);
  return overlapScores(confusionCounts(pred.data, gt.data)).dsc;
}
