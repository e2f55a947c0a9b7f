import { PreprocessError } from './types.js';

/** Pillow's fixed-point precision for 8-bit resampling: 32 bits - 8 (pixel) - 2 (headroom). */
const PRECISION_BITS = 22;

export interface FixedPointTaps {
  /** First input index for each output index. */
  start: Int32Array;
  /** Number of taps for each output index. */
  count: Int32Array;
  /** Taps, `ksize` slots per output index. */
  weights: Int32Array;
  ksize: number;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for the triangle (bilinear) filter over the full
 * input extent: per output index, double weights normalised to sum 1, then rounded half away from zero
 * to 22-bit fixed point.
 */
export function bilinearTaps(inSize: number, outSize: number): FixedPointTaps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const invFilterScale = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C (int) casts truncate toward zero.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * invFilterScale);
      const v = t < 1 ? 1 - t : 0;
      w[x] = v;
      sum += v;
    }
    for (let x = 0; x < xmax; x++) {
      const v = sum !== 0 ? w[x]! / sum : w[x]!;
      weights[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    start[xx] = xmin;
    count[xx] = Math.max(xmax, 0);
  }
  return { start, count, weights, ksize };
}

/** Taps of a ksize-3 filter as three index and weight arrays; absent taps get weight 0 and index 0. */
function threeTaps(taps: FixedPointTaps, inSize: number) {
  const n = taps.start.length;
  const idx = [new Int32Array(n), new Int32Array(n), new Int32Array(n)];
  const wt = [new Int32Array(n), new Int32Array(n), new Int32Array(n)];
  for (let xx = 0; xx < n; xx++) {
    for (let j = 0; j < 3; j++) {
      if (j < taps.count[xx]!) {
        idx[j]![xx] = Math.min(taps.start[xx]! + j, inSize - 1);
        wt[j]![xx] = taps.weights[xx * 3 + j]!;
      }
    }
  }
  return { i0: idx[0]!, i1: idx[1]!, i2: idx[2]!, w0: wt[0]!, w1: wt[1]!, w2: wt[2]! };
}

function checkImage(img: ArrayLike<number>, h: number, w: number, outH: number, outW: number, what: string): void {
  for (const n of [h, w, outH, outW]) {
    if (!Number.isInteger(n) || n <= 0) throw new PreprocessError(`${what}: sizes must be positive integers, got ${h}x${w} -> ${outH}x${outW}`);
  }
  if (img.length !== h * w) throw new PreprocessError(`${what}: image has ${img.length} pixels, expected ${h}x${w} = ${h * w}`);
}

/**
 * Pillow Image.resize(BILINEAR) of a one-channel uint8 image (row-major h x w) to outH x outW, bit-exact:
 * separable fixed-point passes, horizontal first, each rounded and clipped to uint8. A pass whose size does
 * not change is skipped, as Pillow does. (torchvision Resize on a PIL image calls exactly this.)
 */
export function resizeBilinearPillow(src: Uint8Array, h: number, w: number, outH: number, outW: number): Uint8Array {
  checkImage(src, h, w, outH, outW, 'resizeBilinearPillow');
  const half = 1 << (PRECISION_BITS - 1);
  let cur = src;
  if (outW !== w) {
    const taps = bilinearTaps(w, outW);
    const next = new Uint8Array(h * outW);
    // Pillow's clip8 is (acc >> 22) clamped to 0..255: a Uint8ClampedArray store of that integer clamps
    // exactly so, without branches (both passes write through such views).
    const nextClamped = new Uint8ClampedArray(next.buffer);
    if (taps.ksize === 3) {
      // Upscaling (at most 3 taps): fixed three taps per output, missing ones padded with weight 0 at an
      // in-range index, so the integer sum is unchanged and the loop has no inner loop.
      const { i0, i1, i2, w0, w1, w2 } = threeTaps(taps, w);
      for (let y = 0; y < h; y++) {
        const row = cur.subarray(y * w, (y + 1) * w);
        const o = new Uint8ClampedArray(next.buffer, y * outW, outW);
        for (let xx = 0; xx < outW; xx++) {
          o[xx] = (half + row[i0[xx]!]! * w0[xx]! + row[i1[xx]!]! * w1[xx]! + row[i2[xx]!]! * w2[xx]!) >> PRECISION_BITS;
        }
      }
    } else {
      for (let y = 0; y < h; y++) {
        const row = y * w;
        for (let xx = 0; xx < outW; xx++) {
          const s = row + taps.start[xx]!;
          const k = xx * taps.ksize;
          const n = taps.count[xx]!;
          // Sums stay below 2^31 (255 * 2^22 plus rounding), so int32 arithmetic is exact.
          let acc = half;
          for (let x = 0; x < n; x++) acc += cur[s + x]! * taps.weights[k + x]!;
          nextClamped[y * outW + xx] = acc >> PRECISION_BITS;
        }
      }
    }
    cur = next;
  }
  if (outH !== h) {
    const taps = bilinearTaps(h, outH);
    const next = new Uint8Array(outH * outW);
    for (let yy = 0; yy < outH; yy++) {
      const s = taps.start[yy]!;
      const k = yy * taps.ksize;
      const n = taps.count[yy]!;
      const out = new Uint8ClampedArray(next.buffer, yy * outW, outW);
      // Row-wise: the taps are constants of the output row, the input rows are read in order.
      if (n === 2) {
        const w0 = taps.weights[k]!;
        const w1 = taps.weights[k + 1]!;
        const r0 = cur.subarray(s * outW, (s + 1) * outW);
        const r1 = cur.subarray((s + 1) * outW, (s + 2) * outW);
        for (let xx = 0; xx < outW; xx++) out[xx] = (half + r0[xx]! * w0 + r1[xx]! * w1) >> PRECISION_BITS;
      } else if (n === 3) {
        const w0 = taps.weights[k]!;
        const w1 = taps.weights[k + 1]!;
        const w2 = taps.weights[k + 2]!;
        const r0 = cur.subarray(s * outW, (s + 1) * outW);
        const r1 = cur.subarray((s + 1) * outW, (s + 2) * outW);
        const r2 = cur.subarray((s + 2) * outW, (s + 3) * outW);
        for (let xx = 0; xx < outW; xx++) out[xx] = (half + r0[xx]! * w0 + r1[xx]! * w1 + r2[xx]! * w2) >> PRECISION_BITS;
      } else {
        for (let xx = 0; xx < outW; xx++) {
          let acc = half;
          for (let y = 0; y < n; y++) acc += cur[(s + y) * outW + xx]! * taps.weights[k + y]!;
          out[xx] = acc >> PRECISION_BITS;
        }
      }
    }
    cur = next;
  }
  return cur === src ? src.slice() : cur;
}

/**
 * Pillow's ImagingScaleAffine source indices for Image.resize(NEAREST): the position starts at 0.5*s and
 * is advanced by s = in/out per output pixel (accumulated, which can differ from floor((x+0.5)*s)).
 */
export function nearestIndices(inSize: number, outSize: number): Int32Array {
  const s = inSize / outSize;
  const idx = new Int32Array(outSize);
  let pos = s * 0.5;
  for (let x = 0; x < outSize; x++) {
    const v = pos < 0 ? -1 : Math.trunc(pos);
    // Out-of-range positions leave Pillow's (zero-filled) output untouched; flag them with -1.
    idx[x] = v >= 0 && v < inSize ? v : -1;
    pos += s;
  }
  return idx;
}

/**
 * Pillow Image.resize(NEAREST) of a one-channel row-major h x w image to outH x outW (recipe step 13 and the
 * training-mask path), bit-exact including the accumulated sampling position.
 */
export function resizeNearestPillow<T extends Uint8Array | Int32Array | Float32Array>(src: T, h: number, w: number, outH: number, outW: number): T {
  checkImage(src, h, w, outH, outW, 'resizeNearestPillow');
  if (outH === h && outW === w) return src.slice() as T;
  const xi = nearestIndices(w, outW);
  const yi = nearestIndices(h, outH);
  const out = new (src.constructor as new (n: number) => T)(outH * outW);
  for (let y = 0; y < outH; y++) {
    const sy = yi[y]!;
    if (sy < 0) continue;
    const row = sy * w;
    for (let x = 0; x < outW; x++) {
      const sx = xi[x]!;
      if (sx >= 0) out[y * outW + x] = src[row + sx]!;
    }
  }
  return out;
}
