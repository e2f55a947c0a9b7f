/**
 * In-place complex FFT of any length: iterative radix-2 for powers of two, Bluestein's chirp-z
 * (three power-of-two FFTs) otherwise. Split real/imaginary Float64Arrays; plans are cached per length.
 */

interface Radix2Plan {
  n: number;
  rev: Uint32Array;
  cos: Float64Array;
  sin: Float64Array;
}

interface BluesteinPlan {
  n: number;
  m: Radix2Plan;
  /** chirp w_k = exp(-i*pi*k^2/n), k < n */
  wr: Float64Array;
  wi: Float64Array;
  /** FFT of the conjugate chirp, wrapped to length m */
  br: Float64Array;
  bi: Float64Array;
}

const radix2Plans = new Map<number, Radix2Plan>();
const bluesteinPlans = new Map<number, BluesteinPlan>();

function radix2Plan(n: number): Radix2Plan {
  let p = radix2Plans.get(n);
  if (p) return p;
  const bits = Math.round(Math.log2(n));
  const rev = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >>> b) & 1) << (bits - 1 - b);
    rev[i] = r;
  }
  const cos = new Float64Array(n / 2);
  const sin = new Float64Array(n / 2);
  for (let k = 0; k < n / 2; k++) {
    cos[k] = Math.cos((2 * Math.PI * k) / n);
    sin[k] = -Math.sin((2 * Math.PI * k) / n);
  }
  p = { n, rev, cos, sin };
  radix2Plans.set(n, p);
  return p;
}

function fftRadix2(re: Float64Array, im: Float64Array, p: Radix2Plan, inverse: boolean): void {
  const n = p.n;
  for (let i = 0; i < n; i++) {
    const j = p.rev[i]!;
    if (j > i) {
      let t = re[i]!; re[i] = re[j]!; re[j] = t;
      t = im[i]!; im[i] = im[j]!; im[j] = t;
    }
  }
  const sign = inverse ? -1 : 1;
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >>> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = p.cos[k * step]!;
        const wi = sign * p.sin[k * step]!;
        const a = start + k;
        const b = a + half;
        const tr = re[b]! * wr - im[b]! * wi;
        const ti = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
      }
    }
  }
}

function bluesteinPlan(n: number): BluesteinPlan {
  let p = bluesteinPlans.get(n);
  if (p) return p;
  let m = 1;
  while (m < 2 * n - 1) m <<= 1;
  const mp = radix2Plan(m);
  const wr = new Float64Array(n);
  const wi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // k^2 mod 2n keeps the angle small for large k.
    const a = (Math.PI * ((k * k) % (2 * n))) / n;
    wr[k] = Math.cos(a);
    wi[k] = -Math.sin(a);
  }
  const br = new Float64Array(m);
  const bi = new Float64Array(m);
  for (let k = 0; k < n; k++) {
    br[k] = wr[k]!;
    bi[k] = -wi[k]!;
    if (k > 0) {
      br[m - k] = wr[k]!;
      bi[m - k] = -wi[k]!;
    }
  }
  fftRadix2(br, bi, mp, false);
  p = { n, m: mp, wr, wi, br, bi };
  bluesteinPlans.set(n, p);
  return p;
}

function fftBluestein(re: Float64Array, im: Float64Array, p: BluesteinPlan, inverse: boolean): void {
  const { n } = p;
  const m = p.m.n;
  const ar = new Float64Array(m);
  const ai = new Float64Array(m);
  // The inverse transform is the forward one on conjugated data, conjugated back.
  const s = inverse ? -1 : 1;
  for (let k = 0; k < n; k++) {
    const xr = re[k]!;
    const xi = s * im[k]!;
    ar[k] = xr * p.wr[k]! - xi * p.wi[k]!;
    ai[k] = xr * p.wi[k]! + xi * p.wr[k]!;
  }
  fftRadix2(ar, ai, p.m, false);
  for (let k = 0; k < m; k++) {
    const r = ar[k]! * p.br[k]! - ai[k]! * p.bi[k]!;
    ai[k] = ar[k]! * p.bi[k]! + ai[k]! * p.br[k]!;
    ar[k] = r;
  }
  fftRadix2(ar, ai, p.m, true);
  for (let k = 0; k < n; k++) {
    const cr = ar[k]! / m;
    const ci = ai[k]! / m;
    re[k] = cr * p.wr[k]! - ci * p.wi[k]!;
    im[k] = s * (cr * p.wi[k]! + ci * p.wr[k]!);
  }
}

/** Unnormalised DFT of length re.length in place (inverse: conjugate kernel, divided by n). */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new Error('fft: real and imaginary parts differ in length');
  if (n <= 1) return;
  if ((n & (n - 1)) === 0) fftRadix2(re, im, radix2Plan(n), inverse);
  else fftBluestein(re, im, bluesteinPlan(n), inverse);
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] = re[i]! / n;
      im[i] = im[i]! / n;
    }
  }
}

/** 2-D DFT of a (rows, cols) row-major complex image in place: every row, then every column. */
export function fft2(re: Float64Array, im: Float64Array, rows: number, cols: number, inverse = false): void {
  const rr = new Float64Array(cols);
  const ri = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    rr.set(re.subarray(o, o + cols));
    ri.set(im.subarray(o, o + cols));
    fft(rr, ri, inverse);
    re.set(rr, o);
    im.set(ri, o);
  }
  const cr = new Float64Array(rows);
  const ci = new Float64Array(rows);
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) {
      cr[r] = re[r * cols + c]!;
      ci[r] = im[r * cols + c]!;
    }
    fft(cr, ci, inverse);
    for (let r = 0; r < rows; r++) {
      re[r * cols + c] = cr[r]!;
      im[r * cols + c] = ci[r]!;
    }
  }
}
