import { squaredDistanceTransform } from '../metrics/edt.js';
import { surfaceIndices } from '../metrics/surface.js';
import type { Vec3 } from '../volume/types.js';

/** Alignment of two images on one grid, as the transfer report states it. */
export interface AlignmentScores {
  /** Mutual information of the two intensity histograms (nats, 32x32 bins over the overlap). */
  mutualInformation: number;
  /** (H(A) + H(B)) / H(A, B): 1 for independent images, 2 for identical ones. */
  normalizedMutualInformation: number;
  /**
   * Bone-boundary agreement in [0, 1]: the symmetric uncertainty 2 MI / (H(A) + H(B)) of the two images over
   * the voxels within 3 mm of the transferred outline. Global MI is dominated by background and soft tissue;
   * this asks whether the images agree where the bone edge is. 1 for identical images; phantom T1 vs T2-like
   * with noise: ~0.33 aligned, ~0.08 at 3 mm off, ~0.02 at 15 mm off.
   */
  boundaryScore: number;
  /** Band voxels the score was computed on (0: the score is NaN). */
  boundaryVoxels: number;
}

const BINS = 32;

/** Lower and upper bound for binning: the 0.5th and 99.5th percentile of the finite values (strided sample). */
function binRange(v: ArrayLike<number>, valid: Uint8Array): [number, number] {
  const stride = Math.max(1, Math.floor(v.length / 200_000));
  const sample: number[] = [];
  for (let i = 0; i < v.length; i += stride) if (valid[i]) sample.push(v[i]!);
  if (sample.length === 0) return [0, 1];
  const s = Float64Array.from(sample).sort();
  const lo = s[Math.floor(0.005 * (s.length - 1))]!;
  const hi = s[Math.ceil(0.995 * (s.length - 1))]!;
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** Mutual information of `a` and `b` (same length) over voxels where both are finite. */
export function mutualInformation(a: ArrayLike<number>, b: ArrayLike<number>): { mi: number; nmi: number } {
  const n = a.length;
  const valid = new Uint8Array(n);
  for (let i = 0; i < n; i++) valid[i] = Number.isFinite(a[i]!) && Number.isFinite(b[i]!) ? 1 : 0;
  const [alo, ahi] = binRange(a, valid);
  const [blo, bhi] = binRange(b, valid);
  const joint = new Float64Array(BINS * BINS);
  let total = 0;
  const sa = BINS / (ahi - alo), sb = BINS / (bhi - blo);
  for (let i = 0; i < n; i++) {
    if (!valid[i]) continue;
    const ia = Math.min(BINS - 1, Math.max(0, Math.floor((a[i]! - alo) * sa)));
    const ib = Math.min(BINS - 1, Math.max(0, Math.floor((b[i]! - blo) * sb)));
    joint[ia * BINS + ib]!++;
    total++;
  }
  if (total === 0) return { mi: NaN, nmi: NaN };
  const pa = new Float64Array(BINS), pb = new Float64Array(BINS);
  for (let i = 0; i < BINS; i++) {
    for (let j = 0; j < BINS; j++) {
      const p = joint[i * BINS + j]! / total;
      pa[i]! += p;
      pb[j]! += p;
    }
  }
  const h = (p: Float64Array): number => p.reduce((s, x) => (x > 0 ? s - x * Math.log(x) : s), 0);
  const ha = h(pa), hb = h(pb);
  let hab = 0;
  for (let k = 0; k < joint.length; k++) {
    const p = joint[k]! / total;
    if (p > 0) hab -= p * Math.log(p);
  }
  return { mi: ha + hb - hab, nmi: hab > 0 ? (ha + hb) / hab : NaN };
}

/** Half-width (mm) of the band around the transferred outline where edges are compared. */
export const BOUNDARY_BAND_MM = 3;

/**
 * Bone-boundary agreement (see AlignmentScores.boundaryScore) of `target` and `sourceOnTarget` (the source image
 * resampled with the same transform as the mask) in the band of BOUNDARY_BAND_MM around the mask's surface.
 * Voxels where either image is not finite (outside the source grid) are skipped.
 */
export function boundaryAgreement(target: ArrayLike<number>, sourceOnTarget: ArrayLike<number>, mask: ArrayLike<number>, dims: Vec3, spacing: Vec3): { score: number; voxels: number } {
  const binary = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) binary[i] = mask[i] !== 0 ? 1 : 0;
  const surface = surfaceIndices(binary, dims);
  if (surface.length === 0) return { score: NaN, voxels: 0 };
  const feature = new Uint8Array(mask.length);
  for (const i of surface) feature[i] = 1;
  const d2 = squaredDistanceTransform(feature, dims, spacing);
  const band2 = BOUNDARY_BAND_MM ** 2;
  let n = 0;
  for (let i = 0; i < d2.length; i++) if (d2[i]! <= band2 && Number.isFinite(target[i]!) && Number.isFinite(sourceOnTarget[i]!)) n++;
  const a = new Float64Array(n), b = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < d2.length; i++) {
    if (d2[i]! <= band2 && Number.isFinite(target[i]!) && Number.isFinite(sourceOnTarget[i]!)) {
      a[k] = target[i]!;
      b[k++] = sourceOnTarget[i]!;
    }
  }
  const { nmi } = mutualInformation(a, b);
  return { score: 2 - 2 / nmi, voxels: n };
}

/** Both scores of a target image, the source image resampled onto its grid, and the transferred mask. */
export function alignmentScores(target: ArrayLike<number>, sourceOnTarget: ArrayLike<number>, mask: ArrayLike<number>, dims: Vec3, spacing: Vec3): AlignmentScores {
  const { mi, nmi } = mutualInformation(target, sourceOnTarget);
  const { score, voxels } = boundaryAgreement(target, sourceOnTarget, mask, dims, spacing);
  return { mutualInformation: mi, normalizedMutualInformation: nmi, boundaryScore: score, boundaryVoxels: voxels };
}
