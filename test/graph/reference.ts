// Plain TypeScript reference implementations of a few ops, written for clarity, not speed.

export { mulberry32 as seededRandom } from '../../src/metrics/prng.js';

export function randn(n: number, rnd: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-12);
    const v = rnd();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

export function matmulRef(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += a[i * k + q]! * b[q * n + j]!;
      out[i * n + j] = s;
    }
  return out;
}

/** N-d convolution (N = 2 or 3 spatial dims), NCHW / NCDHW, symmetric pads, group 1. */
export function convRef(
  x: Float32Array,
  xs: number[],
  w: Float32Array,
  ws: number[],
  b: Float32Array | null,
  stride: number,
  pad: number,
): { data: Float32Array; shape: number[] } {
  const sp = xs.slice(2);
  const ks = ws.slice(2);
  const os = sp.map((n, i) => Math.floor((n + 2 * pad - ks[i]!) / stride) + 1);
  const [, cin] = xs as [number, number];
  const cout = ws[0]!;
  const out = new Float32Array(cout * os.reduce((p, q) => p * q, 1));
  const nd = sp.length;
  const ospCount = os.reduce((p, q) => p * q, 1);
  const kCount = ks.reduce((p, q) => p * q, 1);
  const unravel = (idx: number, dims: number[]) => {
    const r = new Array<number>(dims.length);
    for (let d = dims.length - 1; d >= 0; d--) {
      r[d] = idx % dims[d]!;
      idx = Math.floor(idx / dims[d]!);
    }
    return r;
  };
  const ravel = (c: number[], dims: number[]) => c.reduce((acc, v, d) => acc * dims[d]! + v, 0);
  for (let co = 0; co < cout; co++)
    for (let o = 0; o < ospCount; o++) {
      const oc = unravel(o, os);
      let s = b ? b[co]! : 0;
      for (let ci = 0; ci < cin; ci++)
        for (let kk = 0; kk < kCount; kk++) {
          const kc = unravel(kk, ks);
          const ic = oc.map((v, d) => v * stride - pad + kc[d]!);
          if (ic.some((v, d) => v < 0 || v >= sp[d]!)) continue;
          s += x[ci * sp.reduce((p, q) => p * q, 1) + ravel(ic, sp)]! * w[(co * cin + ci) * kCount + kk]!;
        }
      out[co * ospCount + o] = s;
    }
  void nd;
  return { data: out, shape: [1, cout, ...os] };
}

/** 3-D transposed convolution, kernel = stride (as VNet's up-convolutions), no padding. */
export function convTranspose3dRef(
  x: Float32Array,
  xs: number[],
  w: Float32Array,
  ws: number[],
  b: Float32Array,
  stride: number,
): { data: Float32Array; shape: number[] } {
  const [, cin, d, h, wd] = xs as [number, number, number, number, number];
  const [, cout, kd, kh, kw] = ws as [number, number, number, number, number];
  const od = (d - 1) * stride + kd;
  const oh = (h - 1) * stride + kh;
  const ow = (wd - 1) * stride + kw;
  const out = new Float32Array(cout * od * oh * ow);
  for (let co = 0; co < cout; co++) out.fill(b[co]!, co * od * oh * ow, (co + 1) * od * oh * ow);
  for (let ci = 0; ci < cin; ci++)
    for (let z = 0; z < d; z++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < wd; xx++) {
          const v = x[((ci * d + z) * h + y) * wd + xx]!;
          for (let co = 0; co < cout; co++)
            for (let a = 0; a < kd; a++)
              for (let c = 0; c < kh; c++)
                for (let e = 0; e < kw; e++) {
                  const oz = z * stride + a;
                  const oy = y * stride + c;
                  const ox = xx * stride + e;
                  out[((co * od + oz) * oh + oy) * ow + ox]! += v * w[((((ci * cout + co) * kd + a) * kh + c) * kw + e)]!;
                }
        }
  return { data: out, shape: [1, cout, od, oh, ow] };
}

export function layerNormRef(x: Float32Array, rows: number, cols: number, g: Float32Array, b: Float32Array, eps: number) {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[r * cols + c]!;
    mean /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[r * cols + c]! - mean) ** 2;
    v /= cols;
    for (let c = 0; c < cols; c++) out[r * cols + c] = ((x[r * cols + c]! - mean) / Math.sqrt(v + eps)) * g[c]! + b[c]!;
  }
  return out;
}

export function softmaxRef(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]!);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c]! - m);
    for (let c = 0; c < cols; c++) out[r * cols + c] = Math.exp(x[r * cols + c]! - m) / s;
  }
  return out;
}

/** Exact GELU: x * Phi(x), with erf from a high-precision series/continued fraction. */
export function geluRef(x: Float32Array): Float32Array {
  return x.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
}

export function erf(z: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse; use the Maclaurin series for |z|<3 and asymptotics beyond.
  const az = Math.abs(z);
  if (az > 5) return Math.sign(z);
  let sum = 0;
  let term = az;
  for (let n = 0; n < 200; n++) {
    sum += term / (2 * n + 1);
    term *= (-az * az) / (n + 1);
    if (Math.abs(term) < 1e-17) break;
  }
  return Math.sign(z) * (2 / Math.sqrt(Math.PI)) * sum;
}

/** Bilinear resize of one HxW plane, half-pixel centres, no antialias (ONNX Resize linear, half_pixel). */
export function resizeBilinearRef(x: Float32Array, h: number, w: number, oh: number, ow: number): Float32Array {
  const out = new Float32Array(oh * ow);
  const coord = (o: number, n: number, on: number) => Math.min(Math.max((o + 0.5) * (n / on) - 0.5, 0), n - 1);
  for (let i = 0; i < oh; i++) {
    const fy = coord(i, h, oh);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const ty = fy - y0;
    for (let j = 0; j < ow; j++) {
      const fx = coord(j, w, ow);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const tx = fx - x0;
      const top = x[y0 * w + x0]! * (1 - tx) + x[y0 * w + x1]! * tx;
      const bot = x[y1 * w + x0]! * (1 - tx) + x[y1 * w + x1]! * tx;
      out[i * ow + j] = top * (1 - ty) + bot * ty;
    }
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Index of the first value whose float32 bits differ (-1: none; the shorter length when the lengths differ):
 * bit-equality checks on large arrays, where toEqual takes seconds.
 */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}
