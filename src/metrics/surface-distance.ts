import { distancesAtQueries } from './edt.js';
import type { BinaryMask, Vec3 } from './mask.js';
import { assertSameDims, assertValidMask } from './mask.js';
import { mean, percentileSorted } from './percentile.js';
import { surfaceIndices } from './surface.js';

/**
 * Directed surface distances in mm between the surfaces (see surface.ts) of two masks on one grid:
 * predToGt[i] = distance from the i-th prediction surface voxel centre to the nearest reference surface
 * voxel centre (exact EDT honouring anisotropic spacing), and vice versa.
 */
export interface SurfaceDistances {
  predToGt: Float64Array;
  gtToPred: Float64Array;
}

/**
 * Hausdorff-type summaries, following medpy.metric.binary (hd, hd95, assd):
 * - hd: max of all symmetric surface distances;
 * - hd95: 95th percentile (numpy linear interpolation) of the POOLED distances predToGt ∪ gtToPred
 *   (medpy's hd95; MONAI's compute_hausdorff_distance instead takes the max of the two directed 95th
 *   percentiles, which can be larger);
 * - assd: mean of the two directed mean surface distances (medpy's assd).
 * Empty masks: both empty -> all 0; exactly one empty -> Infinity (null in JSON).
 */
export interface SurfaceDistanceSummary {
  hd: number;
  hd95: number;
  assd: number;
}

function cropBox(a: Int32Array, b: Int32Array, dims: Vec3): { lo: Vec3; hi: Vec3 } {
  const [X, Y] = dims;
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-1, -1, -1];
  for (const list of [a, b]) {
    for (let i = 0; i < list.length; i++) {
      const idx = list[i];
      const x = idx % X;
      const r = (idx - x) / X;
      const y = r % Y;
      const z = (r - y) / Y;
      if (x < lo[0]) lo[0] = x;
      if (x > hi[0]) hi[0] = x;
      if (y < lo[1]) lo[1] = y;
      if (y > hi[1]) hi[1] = y;
      if (z < lo[2]) lo[2] = z;
      if (z > hi[2]) hi[2] = z;
    }
  }
  return { lo, hi };
}

/** Maps ascending full-grid indices to ascending indices inside the crop box. */
function toCrop(list: Int32Array, dims: Vec3, lo: Vec3, cdims: Vec3): Int32Array {
  const [X, Y] = dims;
  const out = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const idx = list[i];
    const x = idx % X;
    const r = (idx - x) / X;
    const y = r % Y;
    const z = (r - y) / Y;
    out[i] = x - lo[0] + cdims[0] * (y - lo[1] + cdims[1] * (z - lo[2]));
  }
  return out;
}

/**
 * Both directed surface-distance lists. The transform runs only on the bounding box of the two surfaces:
 * every feature and every query lies inside it, so the cropped EDT is still exact.
 */
export function surfaceDistances(pred: BinaryMask, gt: BinaryMask): SurfaceDistances {
  assertValidMask(pred, 'prediction');
  assertValidMask(gt, 'reference');
  assertSameDims(pred, gt);
  const dims = gt.dims;
  const spacing = gt.spacing;
  const ps = surfaceIndices(pred.data, dims);
  const gs = surfaceIndices(gt.data, dims);
  if (ps.length === 0 || gs.length === 0) {
    return {
      predToGt: new Float64Array(ps.length).fill(gs.length === 0 ? Infinity : 0),
      gtToPred: new Float64Array(gs.length).fill(ps.length === 0 ? Infinity : 0),
    };
  }
  const { lo, hi } = cropBox(ps, gs, dims);
  const cdims: Vec3 = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
  const pc = toCrop(ps, dims, lo, cdims);
  const gc = toCrop(gs, dims, lo, cdims);
  const n = cdims[0] * cdims[1] * cdims[2];
  const feature = new Uint8Array(n);
  for (let i = 0; i < gc.length; i++) feature[gc[i]] = 1;
  const predToGt = distancesAtQueries(feature, cdims, spacing, pc);
  feature.fill(0);
  for (let i = 0; i < pc.length; i++) feature[pc[i]] = 1;
  const gtToPred = distancesAtQueries(feature, cdims, spacing, gc);
  return { predToGt, gtToPred };
}

/** hd / hd95 / assd from directed distances (see SurfaceDistanceSummary for definitions and empty cases). */
export function summarizeSurfaceDistances(d: SurfaceDistances): SurfaceDistanceSummary {
  const a = d.predToGt;
  const b = d.gtToPred;
  if (a.length === 0 && b.length === 0) return { hd: 0, hd95: 0, assd: 0 };
  if (a.length === 0 || b.length === 0) return { hd: Infinity, hd95: Infinity, assd: Infinity };
  const pooled = new Float64Array(a.length + b.length);
  pooled.set(a);
  pooled.set(b, a.length);
  pooled.sort();
  return {
    hd: pooled[pooled.length - 1],
    hd95: percentileSorted(pooled, 95),
    assd: (mean(a) + mean(b)) / 2,
  };
}

/** hd, hd95 and assd of two masks on one grid (spacing from the reference). */
export function surfaceDistanceMetrics(pred: BinaryMask, gt: BinaryMask): SurfaceDistanceSummary {
  return summarizeSurfaceDistances(surfaceDistances(pred, gt));
}
