import { MetricsInputError } from './errors.js';
import { percentileSorted } from './percentile.js';
import { mulberry32 } from './prng.js';

export interface BootstrapOptions {
  /** Number of resamples (default 10,000). */
  resamples?: number;
  /** uint32 seed of the mulberry32 PRNG (default 0). Same seed + same data -> same interval. */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

/** A statistic with its bootstrap confidence interval. */
export interface BootstrapInterval {
  estimate: number;
  lower: number;
  upper: number;
  n: number;
}

export const DEFAULT_RESAMPLES = 10_000;

/**
 * Percentile-method bootstrap CI of the mean: resample the n case scores with replacement `resamples`
 * times, take the mean of each resample, and report the (1-level)/2 and (1+level)/2 percentiles of those
 * means (numpy linear interpolation). The estimate is the plain mean of the original scores.
 * Non-finite scores are rejected: a mean over Infinity has no interval.
 */
export function bootstrapMeanCI(scores: ArrayLike<number>, options: BootstrapOptions = {}): BootstrapInterval {
  const n = scores.length;
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const level = options.level ?? 0.95;
  if (n === 0) throw new MetricsInputError('bootstrap: no scores to resample');
  if (!Number.isInteger(resamples) || resamples < 1) throw new MetricsInputError(`bootstrap: resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new MetricsInputError(`bootstrap: level must be in (0, 1), got ${level}`);
  const values = Float64Array.from(scores as ArrayLike<number>);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i])) throw new MetricsInputError(`bootstrap: score ${i} is not finite (${values[i]})`);
    sum += values[i];
  }
  const random = mulberry32(options.seed ?? 0);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(random() * n)];
    means[r] = s / n;
  }
  means.sort();
  const alpha = (1 - level) / 2;
  return {
    estimate: sum / n,
    lower: percentileSorted(means, alpha * 100),
    upper: percentileSorted(means, (1 - alpha) * 100),
    n,
  };
}
