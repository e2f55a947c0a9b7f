import { PreprocessError, VNET_SIZE, expf32 } from './preprocess/index.js';

const f32 = Math.fround;

/** Half-width of the slice window (in 64^3 VNet voxels) summed into the attention map. */
const WINDOW_HALF = 8;
/** Sigmoid values at or below this are dropped before the sum (float32 compare, numpy 1.x scalar casting). */
const SIGMOID_FLOOR = f32(0.1);
/** prob_rescale constants, as the float32 values numpy uses against a float32 array. */
const RESCALE_EPS = f32(1e-3);
const RESCALE_X = f32(0.05);
const RESCALE_Y = f32(0.8);
const RESCALE_GRAD_LOW = f32(0.8 / 0.05);
const RESCALE_GRAD_HIGH = f32((1 - 0.8) / (1 - 0.05));

/** torch.sigmoid on float32 CPU: 1 / (1 + exp(-x)) with torch's exp, each operation rounded to float32. */
export function sigmoid(logits: Float32Array): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = 1 / f32(1 + expf32(-logits[i]!));
  return out;
}

/** The window [min, max) of VNet slices (last axis of the 64^3 volume) used for an original slice. */
export function attentionWindow(sliceId: number, depth: number): { centre: number; start: number; end: number } {
  if (!Number.isInteger(depth) || depth <= 0) throw new PreprocessError(`attentionWindow: depth must be a positive integer, got ${depth}`);
  const centre = Math.trunc((sliceId * VNET_SIZE) / depth);
  return { centre, start: Math.max(centre - WINDOW_HALF, 0), end: Math.min(centre + WINDOW_HALF, VNET_SIZE) };
}

/**
 * numpy's float32 pairwise summation of n values at a[offset + m*stride] (the algorithm np.add.reduce uses
 * along a contiguous axis): a plain loop below 8 values, 8 interleaved partial sums up to 128, halving above.
 */
export function pairwiseSumF32(a: Float32Array, offset: number, n: number, stride: number): number {
  if (n < 8) {
    let res = 0;
    for (let m = 0; m < n; m++) res = f32(res + a[offset + m * stride]!);
    return res;
  }
  if (n <= 128) {
    const r = new Array<number>(8);
    for (let j = 0; j < 8; j++) r[j] = a[offset + j * stride]!;
    let m = 8;
    for (; m < n - (n % 8); m += 8) {
      for (let j = 0; j < 8; j++) r[j] = f32(r[j]! + a[offset + (m + j) * stride]!);
    }
    let res = f32(f32(f32(r[0]! + r[1]!) + f32(r[2]! + r[3]!)) + f32(f32(r[4]! + r[5]!) + f32(r[6]! + r[7]!)));
    for (; m < n; m++) res = f32(res + a[offset + m * stride]!);
    return res;
  }
  let n2 = Math.trunc(n / 2);
  n2 -= n2 % 8;
  return f32(pairwiseSumF32(a, offset, n2, stride) + pairwiseSumF32(a, offset + n2 * stride, n - n2, stride));
}

/**
 * Recipe step 11 up to prob_rescale (view_attention_2d): from the 64^3 sigmoid volume in (I, J, K) C order,
 * zero values <= 0.1 in the slice window, float32-sum over the window, divide by (max + 1e-8) where the
 * denominator is formed in float64 and rounded to float32. Returns the (64, 64) map indexed (I, J).
 */
export function attentionPreRescale(sigmoid64: Float32Array, sliceId: number, depth: number): Float32Array {
  const size = VNET_SIZE;
  if (sigmoid64.length !== size * size * size) {
    throw new PreprocessError(`attentionPreRescale: expected a ${size}^3 sigmoid volume, got ${sigmoid64.length} values`);
  }
  const { start, end } = attentionWindow(sliceId, depth);
  const n = Math.max(end - start, 0);
  const window = new Float32Array(n);
  const sums = new Float32Array(size * size);
  let max = -Infinity;
  for (let ij = 0; ij < size * size; ij++) {
    const base = ij * size + start;
    for (let m = 0; m < n; m++) {
      const v = sigmoid64[base + m]!;
      window[m] = v <= SIGMOID_FLOOR ? 0 : v;
    }
    const s = pairwiseSumF32(window, 0, n, 1);
    sums[ij] = s;
    if (s > max) max = s;
  }
  const denom = f32(max + 1e-8);
  const out = new Float32Array(size * size);
  for (let p = 0; p < out.length; p++) out[p] = sums[p]! / denom;
  return out;
}

/**
 * prob_rescale of the official code, float32: p <= 1e-3 -> 0; 1e-3 < p <= 0.05 -> 16p;
 * p > 0.05 -> (p - 0.05) * 0.2/0.95 + 0.8. All three masks come from the input values.
 */
export function probRescale(p: Float32Array): Float32Array {
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (v <= RESCALE_EPS) out[i] = 0;
    else if (v <= RESCALE_X) out[i] = v * RESCALE_GRAD_LOW;
    else if (v > RESCALE_X) out[i] = f32(f32(v - RESCALE_X) * RESCALE_GRAD_HIGH) + RESCALE_Y;
    // NaN matches no mask and is kept, as in the official code.
    else out[i] = v;
  }
  return out;
}

/**
 * Recipe step 11: the (64, 64) depth-attention map (I, J) for original slice `sliceId` of a volume with
 * `depth` slices, from the VNet sigmoid volume (64^3, (I, J, K) C order).
 */
export function attentionMapForSlice(sigmoid64: Float32Array, sliceId: number, depth: number): Float32Array {
  return probRescale(attentionPreRescale(sigmoid64, sliceId, depth));
}
