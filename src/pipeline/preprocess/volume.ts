import { PercentileBounds, percentileBounds } from './percentile.js';
import { PreprocessError, VoxelGrid, checkGrid } from './types.js';

const f32 = Math.fround;

/**
 * Recipe step 3: clamp to the percentile bounds and scale to [0, 1] as float32:
 * (clamp(x, lo, hi) - lo) / (hi - lo). The subtraction is exact for integer volumes (torch does it in the
 * volume dtype) and the single float32 rounding of a float32 value, so both cases round the difference
 * to float32 and then divide in float32 (a correctly rounded double quotient rounded to float32 equals
 * the float32 quotient).
 */
export function normaliseVolume(grid: VoxelGrid, bounds: Pick<PercentileBounds, 'low' | 'high'> = percentileBounds(grid.data)): Float32Array {
  checkGrid(grid, 'normaliseVolume');
  const { low, high } = bounds;
  if (!(high > low)) {
    throw new PreprocessError(`normaliseVolume: the 1st and 99th percentiles are equal (${low}); the volume has no usable contrast`);
  }
  const src = grid.data;
  const out = new Float32Array(src.length);
  const range = f32(high - low);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    const c = v < low ? low : v > high ? high : v;
    out[i] = f32(c - low) / range;
  }
  return out;
}

/**
 * Recipe step 4: slice k of the normalised volume as a (rows = I, cols = J) uint8 image, image[r*J + c] =
 * vol[r + c*I + k*I*J]: (s - min) / (max - min + 1e-5) * 255 in float32, truncated (the maximum maps to 254).
 */
export function sliceToUint8(volume: Float32Array, dims: readonly [number, number, number], sliceIndex: number): Uint8Array {
  const [ni, nj, nk] = dims;
  checkGrid({ data: volume, dims }, 'sliceToUint8');
  if (!Number.isInteger(sliceIndex) || sliceIndex < 0 || sliceIndex >= nk) {
    throw new PreprocessError(`sliceToUint8: slice index ${sliceIndex} is outside 0..${nk - 1}`);
  }
  const base = sliceIndex * ni * nj;
  let min = Infinity;
  let max = -Infinity;
  for (let p = 0; p < ni * nj; p++) {
    const v = volume[base + p]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const denom = f32(f32(max - min) + f32(1e-5));
  const out = new Uint8Array(ni * nj);
  for (let c = 0; c < nj; c++) {
    const col = base + c * ni;
    for (let r = 0; r < ni; r++) {
      // Uint8Array assignment truncates toward zero, as numpy's float32 -> uint8 cast does for 0..255.
      out[r * nj + c] = f32(f32(f32(volume[col + r]! - min) / denom) * 255);
    }
  }
  return out;
}
