import { gridMismatch } from '../metrics/grid.js';
import { gridOverlapFraction, resampleLabels, resampleLinear, type LabelResampleMode } from '../volume/resample.js';
import type { Volume } from '../volume/types.js';
import { alignmentScores, type AlignmentScores } from './alignment.js';
import { registerVolumes, type RegistrationKind } from './elastix.js';
import { parameterObjectToWorld, rotationDegrees, type ElastixParameterObject } from './elastix-transform.js';

export class TransferError extends Error {
  override name = 'TransferError';
}

export type RegisterMode = 'none' | RegistrationKind;

/** Verdict defaults (README): up to 10 mm of correction, and a bone-boundary score of at least 0.2 (phantoms: aligned T1/T2 ~0.33, 3 mm off ~0.08). */
export const DEFAULT_MAX_SHIFT_MM = 10;
export const DEFAULT_MIN_SCORE = 0.2;

export interface TransferOptions {
  /** 'none' (default): through the two affines only; 'rigid'/'affine': elastix registration first. */
  register?: RegisterMode;
  /** Label resampling (default 'nearest'). */
  mode?: LabelResampleMode;
  /** Apply this elastix transform (fixed = target, moving = T1) instead of registering. */
  transform?: ElastixParameterObject;
  maxShiftMm?: number;
  minScore?: number;
  /** Registration tuning (levels, iterations, samples). */
  resolutions?: number;
  iterations?: number;
  /**
   * Treat a mask with T1's dims as on T1's grid even if its affine differs (masks saved without geometry, e.g.
   * an NRRD without space directions); the T1 affine is used for it.
   */
  ignoreMaskAffine?: boolean;
  /** File names for error messages. */
  names?: { mask?: string; t1?: string; other?: string };
  /** Progress lines (e.g. 'registering (rigid)'). */
  onStep?: (step: string) => void;
}

export interface TransferReport {
  register: RegisterMode | 'given';
  mode: LabelResampleMode;
  before: AlignmentScores;
  after: AlignmentScores;
  /** Rotation of the T1 -> target correction (degrees; of its nearest rotation for affine). */
  rotationDeg: number;
  /** Displacement of the mask centroid by the correction (mm, RAS) and its length. */
  translationMm: [number, number, number];
  translationNormMm: number;
  /** Largest displacement of any corner of the mask's bounding box (mm): what --max-shift limits. */
  maxShiftMm: number;
  /** Correction as a row-major 4x4 RAS map, target point -> T1 point (identity for 'none'). */
  targetToSourceWorld: number[];
  /** Fraction of the target grid inside the T1 grid after the correction. */
  overlapFraction: number;
  maskVoxels: { source: number; transferred: number };
  /** Mask volume (mL) on T1 and after transfer: a big loss means the target's field of view misses bone. */
  maskVolumeMl: { source: number; transferred: number };
  thresholds: { maxShiftMm: number; minScore: number };
  verdict: 'accepted' | 'rejected';
  reasons: string[];
}

export interface TransferResult {
  /** The mask on the target grid (same dtype and label values as the input mask). */
  mask: Volume;
  report: TransferReport;
  /** The elastix transform used (registered or given); undefined for 'none'. */
  parameterObject?: ElastixParameterObject;
}

const IDENTITY: Float64Array = Float64Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);

function isSpatial3d(v: Volume, name: string): void {
  if (v.dims.length !== 3 || v.data.length !== v.dims[0] * v.dims[1] * v.dims[2]) throw new TransferError(`${name}: not a 3-D volume`);
}

function countNonZero(a: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) n++;
  return n;
}

/** World-space corners of the mask's voxel bounding box and its centroid (mm). */
function maskExtent(mask: Volume): { corners: number[][]; centroid: number[] } {
  const [X, Y] = mask.dims;
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity], sum = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) {
    if (mask.data[i] === 0) continue;
    const p = [i % X, Math.floor(i / X) % Y, Math.floor(i / (X * Y))];
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a]!, p[a]!);
      hi[a] = Math.max(hi[a]!, p[a]!);
      sum[a]! += p[a]!;
    }
    n++;
  }
  const A = mask.affine;
  const world = (p: number[]): number[] => [0, 1, 2].map((r) => A[4 * r]! * p[0]! + A[4 * r + 1]! * p[1]! + A[4 * r + 2]! * p[2]! + A[4 * r + 3]!);
  const corners: number[][] = [];
  for (const k of [lo[2]!, hi[2]!]) for (const j of [lo[1]!, hi[1]!]) for (const i of [lo[0]!, hi[0]!]) corners.push(world([i, j, k]));
  return { corners, centroid: world(sum.map((s) => s / n)) };
}

/** World point `p` (T1 space) taken to target space by the inverse of target->source, i.e. solving M q = p. */
function invertPoint(m: Float64Array, p: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = [m[0]!, m[1]!, m[2]!, m[4]!, m[5]!, m[6]!, m[8]!, m[9]!, m[10]!];
  const r = [p[0]! - m[3]!, p[1]! - m[7]!, p[2]! - m[11]!];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    (r[0]! * (e * i - f * h) - b * (r[1]! * i - f * r[2]!) + c * (r[1]! * h - e * r[2]!)) / det,
    (a * (r[1]! * i - f * r[2]!) - r[0]! * (d * i - f * g) + c * (d * r[2]! - r[1]! * g)) / det,
    (a * (e * r[2]! - r[1]! * h) - b * (d * r[2]! - r[1]! * g) + r[0]! * (d * h - e * g)) / det,
  ];
}

/**
 * Transfers a T1 mask onto another sequence's grid (paper §3.4): optionally registers T1 -> target with elastix,
 * resamples the labels through world coordinates, and reports alignment before/after with a verdict.
 * Errors (TransferError) for inputs that cannot give a mask: a mask grid that is not T1's, grids that do not
 * overlap in world space, an empty input mask. A poor alignment is a 'rejected' verdict, not an error.
 */
export async function transferLabels(mask: Volume, t1: Volume, target: Volume, options: TransferOptions = {}): Promise<TransferResult> {
  const names = { mask: options.names?.mask ?? 'mask', t1: options.names?.t1 ?? 'T1 image', other: options.names?.other ?? 'target image' };
  isSpatial3d(mask, names.mask);
  isSpatial3d(t1, names.t1);
  isSpatial3d(target, names.other);
  if (options.ignoreMaskAffine && gridMismatch(mask, t1, Infinity) === null) mask = { ...mask, affine: t1.affine, spacing: [...t1.spacing] };
  const why = gridMismatch(mask, t1);
  if (why) throw new TransferError(`${names.mask}: its grid differs from the T1 image ${names.t1} (${why}); the mask must be on T1's grid (--ignore-affine: take T1's affine when the dims match)`);
  const sourceVoxels = countNonZero(mask.data);
  if (sourceVoxels === 0) throw new TransferError(`${names.mask}: the mask is empty (no non-zero voxel); nothing to transfer`);
  const initialOverlap = gridOverlapFraction(t1, target);
  if (initialOverlap === 0) {
    throw new TransferError(`${names.other} and ${names.t1} do not overlap in world space (check that both are the same patient and session, and their headers)`);
  }
  const register = options.register ?? 'none';
  const mode = options.mode ?? 'nearest';
  const maxShift = options.maxShiftMm ?? DEFAULT_MAX_SHIFT_MM;
  const minScore = options.minScore ?? DEFAULT_MIN_SCORE;

  let correction: Float64Array = IDENTITY;
  let parameterObject: ElastixParameterObject | undefined;
  if (options.transform) {
    parameterObject = options.transform;
    correction = parameterObjectToWorld(options.transform);
  } else if (register !== 'none') {
    options.onStep?.(`registering ${names.t1} -> ${names.other} (${register}, elastix)`);
    let reg;
    try {
      reg = await registerVolumes(target, t1, { kind: register, resolutions: options.resolutions, iterations: options.iterations });
    } catch (err) {
      throw new TransferError(`${names.t1} -> ${names.other}: ${(err as Error).message} (${(100 * initialOverlap).toFixed(0)}% of the target grid lies inside T1's; registration needs the two to overlap substantially)`);
    }
    parameterObject = reg.parameterObject;
    correction = reg.fixedToMovingWorld;
  }
  options.onStep?.('resampling');
  const identityScores = (): AlignmentScores => {
    const labels = resampleLabels(mask.data, mask, target, { mode: 'nearest' });
    return alignmentScores(target.data, resampleLinear(t1.data, t1, target), labels, target.dims, target.spacing);
  };
  const labels = resampleLabels(mask.data, mask, target, { mode, targetToSourceWorld: correction });
  const after = alignmentScores(target.data, resampleLinear(t1.data, t1, target, { targetToSourceWorld: correction }), labels, target.dims, target.spacing);
  const before = correction === IDENTITY ? after : identityScores();

  const transferredVoxels = countNonZero(labels);
  const voxelMl = (v: Volume): number => v.spacing[0] * v.spacing[1] * v.spacing[2] / 1000;
  // Shift: how far the correction moves the mask (its T1 positions taken into target space).
  const { corners, centroid } = maskExtent(mask);
  const moved = (p: number[]): number[] => invertPoint(correction, p);
  const movedCentroid = moved(centroid);
  const translation = [0, 1, 2].map((a) => movedCentroid[a]! - centroid[a]!) as [number, number, number];
  const maxShiftFound = Math.max(...corners.map((p) => Math.hypot(...moved(p).map((q, a) => q - p[a]!))));
  const reasons: string[] = [];
  if (transferredVoxels === 0) reasons.push(`the transferred mask is empty: no bone of ${names.mask} falls inside ${names.other}'s field of view`);
  if (maxShiftFound > maxShift) reasons.push(`the correction moves the mask by up to ${maxShiftFound.toFixed(1)} mm (> --max-shift ${maxShift} mm)`);
  if (!(after.boundaryScore >= minScore)) reasons.push(`bone-boundary score ${Number.isNaN(after.boundaryScore) ? 'undefined (the outline lies outside one of the images)' : after.boundaryScore.toFixed(3)} < --min-score ${minScore}`);
  const report: TransferReport = {
    register: options.transform ? 'given' : register,
    mode,
    before,
    after,
    rotationDeg: rotationDegrees(correction),
    translationMm: translation,
    translationNormMm: Math.hypot(...translation),
    maxShiftMm: maxShiftFound,
    targetToSourceWorld: Array.from(correction),
    overlapFraction: gridOverlapFraction(t1, target, { targetToSourceWorld: correction }),
    maskVoxels: { source: sourceVoxels, transferred: transferredVoxels },
    maskVolumeMl: { source: sourceVoxels * voxelMl(mask), transferred: transferredVoxels * voxelMl(target) },
    thresholds: { maxShiftMm: maxShift, minScore },
    verdict: reasons.length === 0 ? 'accepted' : 'rejected',
    reasons,
  };
  const out: Volume = {
    data: labels,
    dims: [...target.dims],
    spacing: [...target.spacing],
    affine: Float64Array.from(target.affine),
    dtype: mask.dtype,
  };
  if (target.source) out.source = target.source;
  const result: TransferResult = { mask: out, report };
  if (parameterObject) result.parameterObject = parameterObject;
  return result;
}
