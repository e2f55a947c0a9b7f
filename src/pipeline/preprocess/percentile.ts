import { PreprocessError, VoxelArray, isIntegerArray, roundHalfEven } from './types.js';

/** Percentile clip bounds of the official volume normalisation (recipe step 2). */
export interface PercentileBounds {
  low: number;
  high: number;
  /** 1-based order-statistic ranks used (torch.kthvalue k). */
  kLow: number;
  kHigh: number;
}

/** Largest value range for which integer data is ranked with a counting histogram. */
const MAX_HISTOGRAM_BINS = 1 << 22;

/**
 * The official torch_percentile rank: k = 1 + round_half_even(0.01 * p * (numel - 1)) (float64, left to
 * right as in Python), 1-based.
 */
export function percentileRank(p: number, numel: number): number {
  return 1 + roundHalfEven(0.01 * p * (numel - 1));
}

/**
 * Official percentile bounds (p = 1 and 99 by default) over all voxels: the k-th smallest value with
 * k from {@link percentileRank}. Integer data is ranked with a histogram (O(n)); float data by
 * quickselect on a typed copy (O(n) expected). The input is not modified.
 */
export function percentileBounds(data: VoxelArray, pLow = 1, pHigh = 99): PercentileBounds {
  const n = data.length;
  if (n === 0) throw new PreprocessError('percentileBounds: the volume has no voxels');
  const kLow = percentileRank(pLow, n);
  const kHigh = percentileRank(pHigh, n);
  const [low, high] = isIntegerArray(data) ? kthByHistogram(data, kLow, kHigh) : kthBySelect(data, kLow, kHigh);
  return { low, high, kLow, kHigh };
}

function kthByHistogram(data: VoxelArray, k1: number, k2: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max - min + 1 > MAX_HISTOGRAM_BINS) return kthBySelect(data, k1, k2);
  const counts = new Uint32Array(max - min + 1);
  for (let i = 0; i < data.length; i++) counts[data[i]! - min]!++;
  const out: number[] = [];
  let seen = 0;
  let bin = 0;
  for (const k of [k1, k2]) {
    // k2 >= k1, so the scan continues where the previous rank stopped.
    while (seen + counts[bin]! < k) seen += counts[bin++]!;
    out.push(bin + min);
  }
  return [out[0]!, out[1]!];
}

function kthBySelect(data: VoxelArray, k1: number, k2: number): [number, number] {
  for (let i = 0; i < data.length; i++) {
    if (Number.isNaN(data[i])) throw new PreprocessError('percentileBounds: the volume contains NaN values');
  }
  const work = Float64Array.from(data);
  const lo = select(work, 0, work.length - 1, k1 - 1);
  // After selecting k1-1 every element right of it is >= it, so k2-1 lies in that part.
  const hi = select(work, k1 - 1, work.length - 1, k2 - 1);
  return [lo, hi];
}

/** In-place Hoare-partition quickselect (median-of-three pivot): a[target] becomes the target-th smallest. */
function select(a: Float64Array, left: number, right: number, target: number): number {
  while (right > left) {
    const mid = (left + right) >>> 1;
    // Median of three as pivot keeps sorted / constant runs (common in MRI) from going quadratic.
    const x = a[left]!;
    const y = a[mid]!;
    const z = a[right]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) right = j;
    else if (target >= i) left = i;
    else return a[target]!;
  }
  return a[target]!;
}
