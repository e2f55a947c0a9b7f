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
   * Bone-boundary agreement in [0, 1]: does the transferred outline sit on an edge of the target image?
   * near / (near + shell) of the target's mean gradient magnitude on the outline and in a shell 2.5-5 mm
   * around it. 0.5: the outline is no more on an edge than its surroundings; towards 1: it follows the edges;
   * below 0.5: the edges run beside it. Scale- and contrast-invariant (inverted contrast scores the same).
   */
  boundaryScore: number;
  /** Surface voxels of the transferred mask (0: the score is NaN). */
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

/** Central-difference gradient magnitude (per mm) at voxel i (one-sided at the grid edge). */
function gradientMagnitude(v: ArrayLike<number>, dims: Vec3, spacing: Vec3, i: number): number {
  const [X, Y, Z] = dims;
  const pos = [i % X, Math.floor(i / X) % Y, Math.floor(i / (X * Y))];
  const strides = [1, X, X * Y];
  const sizes = [X, Y, Z];
  let sq = 0;
  for (let a = 0; a < 3; a++) {
    const lo = pos[a]! > 0 ? i - strides[a]! : i;
    const hi = pos[a]! < sizes[a]! - 1 ? i + strides[a]! : i;
    if (hi === lo) continue;
    const g = (v[hi]! - v[lo]!) / (((hi - lo) / strides[a]!) * spacing[a]!);
    sq += g * g;
  }
  return Math.sqrt(sq);
}

/** Distances (mm) that define the boundary agreement's two zones: on the outline, and the shell around it. */
export const BOUNDARY_NEAR_MM = 1;
export const BOUNDARY_SHELL_MM: [number, number] = [2.5, 5];

/**
 * Bone-boundary agreement (see AlignmentScores.boundaryScore): mean gradient magnitude of `target` on the
 * mask's outline (within BOUNDARY_NEAR_MM of its surface voxels) against the mean in the shell 2.5-5 mm away,
 * as near / (near + shell). Uses only the target image, so it is independent of the source's contrast.
 */
export function boundaryAgreement(target: ArrayLike<number>, mask: ArrayLike<number>, dims: Vec3, spacing: Vec3): { score: number; voxels: number } {
  const binary = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) binary[i] = mask[i] !== 0 ? 1 : 0;
  const surface = surfaceIndices(binary, dims);
  if (surface.length === 0) return { score: NaN, voxels: 0 };
  const feature = new Uint8Array(mask.length);
  for (const i of surface) feature[i] = 1;
  const d2 = squaredDistanceTransform(feature, dims, spacing);
  const near2 = BOUNDARY_NEAR_MM ** 2, lo2 = BOUNDARY_SHELL_MM[0] ** 2, hi2 = BOUNDARY_SHELL_MM[1] ** 2;
  let nearSum = 0, nearN = 0, shellSum = 0, shellN = 0;
  for (let i = 0; i < d2.length; i++) {
    const d = d2[i]!;
    if (d <= near2) {
      nearSum += gradientMagnitude(target, dims, spacing, i);
      nearN++;
    } else if (d >= lo2 && d <= hi2) {
      shellSum += gradientMagnitude(target, dims, spacing, i);
      shellN++;
    }
  }
  const near = nearSum / nearN;
  const shell = shellN > 0 ? shellSum / shellN : 0;
  return { score: near + shell > 0 ? near / (near + shell) : NaN, voxels: surface.length };
}

/** Both scores of a target image, the source image resampled onto its grid, and the transferred mask. */
export function alignmentScores(target: ArrayLike<number>, sourceOnTarget: ArrayLike<number>, mask: ArrayLike<number>, dims: Vec3, spacing: Vec3): AlignmentScores {
  const { mi, nmi } = mutualInformation(target, sourceOnTarget);
  const { score, voxels } = boundaryAgreement(target, mask, dims, spacing);
  return { mutualInformation: mi, normalizedMutualInformation: nmi, boundaryScore: score, boundaryVoxels: voxels };
}
