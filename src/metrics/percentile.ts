/**
 * Percentile with linear interpolation between closest ranks (numpy's default `method="linear"`):
 * position p/100 * (n - 1) in the sorted values. `sorted` must be ascending. NaN for an empty array.
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (p / 100) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const frac = pos - lo;
  const a = sorted[lo];
  const b = sorted[hi];
  // Avoid Infinity * 0 = NaN when the upper neighbour is infinite and frac is 0.
  return frac === 0 ? a : a + (b - a) * frac;
}

/** Percentile of unsorted values (copies and sorts). */
export function percentile(values: ArrayLike<number>, p: number): number {
  const copy = Float64Array.from(values as ArrayLike<number>);
  copy.sort();
  return percentileSorted(copy, p);
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length === 0 ? NaN : s / values.length;
}
