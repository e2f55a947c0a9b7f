import type { BinaryMask } from './mask.js';
import { assertSameDims, assertValidMask, sliceMask } from './mask.js';
import { confusionCounts, overlapScores, volumeComparison } from './overlap.js';
import type { ConfusionCounts } from './overlap.js';
import { surfaceDistanceMetrics } from './surface-distance.js';

/** Every metric of one prediction against one reference (conventions: overlap.ts, surface-distance.ts). */
export interface SegmentationMetrics {
  dsc: number;
  iou: number;
  precision: number;
  recall: number;
  /** Hausdorff distance (max), mm. Infinity when exactly one mask is empty. */
  hd: number;
  /** 95th percentile of pooled symmetric surface distances (medpy hd95), mm. */
  hd95: number;
  /** Average symmetric surface distance (medpy assd), mm. */
  assd: number;
  predMl: number;
  gtMl: number;
  volumeDifferenceMl: number;
  relativeVolumeDifference: number | null;
  counts: ConfusionCounts;
}

export interface EvaluateOptions {
  /** Skip the surface-distance metrics (they dominate the cost); hd/hd95/assd are then NaN. */
  skipDistances?: boolean;
}

/** Whole-volume metrics; both masks must share dims, spacing is taken from the reference. */
export function evaluateSegmentation(pred: BinaryMask, gt: BinaryMask, options: EvaluateOptions = {}): SegmentationMetrics {
  assertValidMask(pred, 'prediction');
  assertValidMask(gt, 'reference');
  assertSameDims(pred, gt);
  const counts = confusionCounts(pred.data, gt.data);
  const overlap = overlapScores(counts);
  const volume = volumeComparison(counts, gt.spacing);
  const dist = options.skipDistances
    ? { hd: NaN, hd95: NaN, assd: NaN }
    : surfaceDistanceMetrics(pred, gt);
  return {
    ...overlap,
    ...dist,
    predMl: volume.predMl,
    gtMl: volume.gtMl,
    volumeDifferenceMl: volume.differenceMl,
    relativeVolumeDifference: volume.relativeDifference,
    counts,
  };
}

export interface SliceMetrics extends SegmentationMetrics {
  /** Index along the third voxel axis. */
  slice: number;
}

/** Slice-level evaluation summary: means over slices where prediction or reference has foreground. */
export interface PerSliceResult {
  slices: SliceMetrics[];
  /** Number of slices with foreground in either mask (the ones averaged). */
  evaluatedSlices: number;
  meanDsc: number;
  meanIou: number;
}

/**
 * 2-D metrics on every slice along the third axis (the paper's slice-level evaluation), distances in the
 * slice plane with spacing [sx, sy]. Slices empty in both masks are listed (DSC 1 by convention) but not
 * averaged, so that background slices do not inflate the means.
 */
export function evaluatePerSlice(pred: BinaryMask, gt: BinaryMask, options: EvaluateOptions = {}): PerSliceResult {
  assertValidMask(pred, 'prediction');
  assertValidMask(gt, 'reference');
  assertSameDims(pred, gt);
  const predOnGtSpacing: BinaryMask = { ...pred, spacing: gt.spacing };
  const slices: SliceMetrics[] = [];
  let sumDsc = 0;
  let sumIou = 0;
  let evaluated = 0;
  for (let z = 0; z < gt.dims[2]; z++) {
    const m = evaluateSegmentation(sliceMask(predOnGtSpacing, z), sliceMask(gt, z), options);
    slices.push({ slice: z, ...m });
    if (m.counts.tp + m.counts.fp + m.counts.fn > 0) {
      evaluated++;
      sumDsc += m.dsc;
      sumIou += m.iou;
    }
  }
  return {
    slices,
    evaluatedSlices: evaluated,
    meanDsc: evaluated === 0 ? NaN : sumDsc / evaluated,
    meanIou: evaluated === 0 ? NaN : sumIou / evaluated,
  };
}
