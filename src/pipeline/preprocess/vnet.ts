import { PreprocessError, VoxelGrid, checkGrid } from './types.js';

/** Edge length of the VNet input cube. */
export const VNET_SIZE = 64;

interface LinearTaps {
  i0: Int32Array;
  i1: Int32Array;
  t: Float64Array;
}

/**
 * Per output index o: the input continuous index (o + 0.5) * n/size - 0.5 (SimpleITK linear resample onto a
 * half-voxel-centred grid of `size` voxels), as floor index, clamped neighbour and fraction. Positions
 * before the first voxel or past the last one take the border voxel (fraction 0), as ITK's linear
 * interpolator does inside the half-voxel margin.
 */
function linearTaps(n: number, size: number): LinearTaps {
  const s = n / size;
  const i0 = new Int32Array(size);
  const i1 = new Int32Array(size);
  const t = new Float64Array(size);
  for (let o = 0; o < size; o++) {
    const c = (o + 0.5) * s - 0.5;
    let base = Math.floor(c);
    if (base < 0) base = 0;
    if (base > n - 1) base = n - 1;
    const frac = c - base;
    i0[o] = base;
    i1[o] = base + 1 <= n - 1 ? base + 1 : base;
    t[o] = frac > 0 ? frac : 0;
  }
  return { i0, i1, t };
}

/**
 * Trilinear resample of a float volume (I fastest) to size^3, float64 arithmetic with ITK's order: lerp along
 * I, then J, then K, each as a + (b - a) * t. Returns the float64 result in (I, J, K) C order (K fastest).
 */
export function resampleTrilinear(grid: VoxelGrid, size = VNET_SIZE): Float64Array {
  checkGrid(grid, 'resampleTrilinear');
  const [ni, nj, nk] = grid.dims;
  const src = grid.data;
  const ti = linearTaps(ni, size);
  const tj = linearTaps(nj, size);
  const tk = linearTaps(nk, size);
  // Pass 1 (axis I): a[oi, j, k] stored at oi + size*(j + nj*k).
  const a = new Float64Array(size * nj * nk);
  for (let jk = 0; jk < nj * nk; jk++) {
    const row = jk * ni;
    const dst = jk * size;
    for (let o = 0; o < size; o++) {
      const v0 = src[row + ti.i0[o]!]!;
      const v1 = src[row + ti.i1[o]!]!;
      a[dst + o] = v0 + (v1 - v0) * ti.t[o]!;
    }
  }
  // Pass 2 (axis J): b[oi, oj, k] stored at oi + size*(oj + size*k).
  const b = new Float64Array(size * size * nk);
  for (let k = 0; k < nk; k++) {
    for (let oj = 0; oj < size; oj++) {
      const r0 = size * (tj.i0[oj]! + nj * k);
      const r1 = size * (tj.i1[oj]! + nj * k);
      const t = tj.t[oj]!;
      const dst = size * (oj + size * k);
      for (let oi = 0; oi < size; oi++) {
        const v0 = a[r0 + oi]!;
        b[dst + oi] = v0 + (a[r1 + oi]! - v0) * t;
      }
    }
  }
  // Pass 3 (axis K), written in (I, J, K) C order.
  const out = new Float64Array(size * size * size);
  const plane = size * size;
  for (let ok = 0; ok < size; ok++) {
    const p0 = plane * tk.i0[ok]!;
    const p1 = plane * tk.i1[ok]!;
    const t = tk.t[ok]!;
    for (let ij = 0; ij < plane; ij++) {
      const v0 = b[p0 + ij]!;
      const v = v0 + (b[p1 + ij]! - v0) * t;
      // ij = oi + size*oj  ->  C-order index (oi*size + oj)*size + ok.
      const oi = ij % size;
      const oj = (ij - oi) / size;
      out[(oi * size + oj) * size + ok] = v;
    }
  }
  return out;
}

/**
 * Recipe step 10: VNet input (1, 1, 64, 64, 64) from the step-3 normalised volume: trilinear resample in
 * float64, cast to float32, then (x - 0.5) / 0.5 in float32. Layout (I, J, K) C order, K fastest.
 */
export function vnetInputFromVolume(volume: Float32Array, dims: readonly [number, number, number]): Float32Array {
  if (dims.some((n) => n < 1)) throw new PreprocessError(`vnetInputFromVolume: bad dims [${dims.join(', ')}]`);
  const resampled = resampleTrilinear({ data: volume, dims }, VNET_SIZE);
  const out = new Float32Array(resampled.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(Math.fround(resampled[i]!) - 0.5) / 0.5;
  return out;
}
