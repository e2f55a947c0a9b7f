import { roundHalfEven } from '../../pipeline/preprocess/index.js';
import { normalSampler } from '../../metrics/prng.js';
import { fft2 } from './fft.js';

/**
 * Training augmentations on one 2-D slice: a float32 image with intensities in [0, 1] (the uint8
 * slice / 255) and a uint8 0/1 mask, both (rows, cols) row-major. Geometric operations move image
 * and mask together (image bilinear, mask nearest); intensity operations leave the mask alone.
 * Randomness comes only from the `rand` passed in (uniform [0, 1)), so a seed reproduces a run.
 */
export interface Slice2D {
  image: Float32Array;
  mask: Uint8Array;
  rows: number;
  cols: number;
}

export class AugmentError extends Error {
  override name = 'AugmentError';
}

function check(s: Slice2D, what: string): void {
  const n = s.rows * s.cols;
  if (!(s.rows > 0 && s.cols > 0) || s.image.length !== n || s.mask.length !== n) {
    throw new AugmentError(`${what}: image (${s.image.length}) and mask (${s.mask.length}) must both hold ${s.rows}x${s.cols} pixels`);
  }
}

const uniform = (rand: () => number, lo: number, hi: number) => lo + (hi - lo) * rand();
const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

// ---------------------------------------------------------------- intensity (torchvision)

/**
 * torchvision adjust_sharpness(img, factor) on a float image: blend(img, degenerate, factor) =
 * factor*img + (1-factor)*degenerate, clamped to [0, 1], where degenerate is the image smoothed by
 * [[1,1,1],[1,5,1],[1,1,1]]/13 inside and the original on the 1-pixel border. factor 1 = identity.
 */
export function adjustSharpness(s: Slice2D, factor: number): Slice2D {
  check(s, 'adjustSharpness');
  const { rows, cols, image } = s;
  const out = Float32Array.from(image);
  if (rows < 3 || cols < 3) return { ...s, image: out, mask: Uint8Array.from(s.mask) };
  for (let r = 1; r < rows - 1; r++) {
    for (let c = 1; c < cols - 1; c++) {
      const p = r * cols + c;
      let acc = 4 * image[p]!;
      for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) acc += image[p + dr * cols + dc]!;
      const degenerate = acc / 13;
      out[p] = clamp01(factor * image[p]! + (1 - factor) * degenerate);
    }
  }
  // The border keeps the original value; the blend of equal values only clamps it.
  for (let c = 0; c < cols; c++) {
    out[c] = clamp01(image[c]!);
    out[(rows - 1) * cols + c] = clamp01(image[(rows - 1) * cols + c]!);
  }
  for (let r = 0; r < rows; r++) {
    out[r * cols] = clamp01(image[r * cols]!);
    out[r * cols + cols - 1] = clamp01(image[r * cols + cols - 1]!);
  }
  return { ...s, image: out, mask: Uint8Array.from(s.mask) };
}

/**
 * torchvision equalize on the image quantised to uint8 (round(x*255)): 256-bin histogram; step =
 * floor(sum of the non-zero bins except the last non-zero one / 255); lut[v] = floor((cdf[v-1] + step/2) / step)
 * (lut[0] = 0), clamped to 255; a single-valued image (step 0) is returned unchanged. Output / 255.
 */
export function equalize(s: Slice2D): Slice2D {
  check(s, 'equalize');
  const n = s.image.length;
  const q = new Uint8Array(n);
  const hist = new Float64Array(256);
  for (let p = 0; p < n; p++) {
    q[p] = roundHalfEven(clamp01(s.image[p]!) * 255);
    hist[q[p]!]!++;
  }
  let last = -1;
  for (let v = 255; v >= 0; v--) if (hist[v]! > 0) { last = v; break; }
  let total = 0;
  for (let v = 0; v < 256; v++) if (v !== last) total += hist[v]!;
  const step = Math.floor(total / 255);
  const image = new Float32Array(n);
  if (step === 0) {
    for (let p = 0; p < n; p++) image[p] = q[p]! / 255;
    return { ...s, image, mask: Uint8Array.from(s.mask) };
  }
  const lut = new Float32Array(256);
  let cdf = 0;
  for (let v = 0; v < 256; v++) {
    lut[v] = Math.min(Math.floor((cdf + Math.floor(step / 2)) / step), 255) / 255;
    cdf += hist[v]!;
  }
  for (let p = 0; p < n; p++) image[p] = lut[q[p]!]!;
  return { ...s, image, mask: Uint8Array.from(s.mask) };
}

// ---------------------------------------------------------------- geometry (torchvision)

/** Bilinear sample at continuous pixel position (y, x) (pixel centres at integers); taps outside read 0. */
function bilinearAt(img: Float32Array, rows: number, cols: number, y: number, x: number): number {
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fy = y - y0;
  const fx = x - x0;
  let v = 0;
  for (let dy = 0; dy <= 1; dy++) {
    const yy = y0 + dy;
    if (yy < 0 || yy >= rows) continue;
    const wy = dy ? fy : 1 - fy;
    for (let dx = 0; dx <= 1; dx++) {
      const xx = x0 + dx;
      if (xx < 0 || xx >= cols) continue;
      v += wy * (dx ? fx : 1 - fx) * img[yy * cols + xx]!;
    }
  }
  return v;
}

/** Nearest sample (round half away from the centre consistently: floor(v + 0.5)); outside reads 0. */
function nearestAt(m: Uint8Array, rows: number, cols: number, y: number, x: number): number {
  const yy = Math.floor(y + 0.5);
  const xx = Math.floor(x + 0.5);
  return yy < 0 || yy >= rows || xx < 0 || xx >= cols ? 0 : m[yy * cols + xx]!;
}

/**
 * Crop rows top..top+h-1, cols left..left+w-1 and resize back to (rows, cols) with half-pixel centres:
 * image bilinear (align_corners false, source positions clamped into the crop as torch does; the crop
 * is never larger than the output, so antialiasing never applies), mask nearest (floor((o + 0.5) * scale)).
 */
export function resizedCrop(s: Slice2D, top: number, left: number, h: number, w: number): Slice2D {
  check(s, 'resizedCrop');
  const { rows, cols } = s;
  if (!(Number.isInteger(top) && Number.isInteger(left) && h >= 1 && w >= 1 && top >= 0 && left >= 0 && top + h <= rows && left + w <= cols)) {
    throw new AugmentError(`resizedCrop: crop ${h}x${w} at (${top}, ${left}) does not fit a ${rows}x${cols} slice`);
  }
  const image = new Float32Array(rows * cols);
  const mask = new Uint8Array(rows * cols);
  const sy = h / rows;
  const sx = w / cols;
  for (let r = 0; r < rows; r++) {
    const y = Math.min(Math.max((r + 0.5) * sy - 0.5, 0), h - 1) + top;
    const my = top + Math.min(Math.floor((r + 0.5) * sy), h - 1);
    for (let c = 0; c < cols; c++) {
      const x = Math.min(Math.max((c + 0.5) * sx - 0.5, 0), w - 1) + left;
      const mx = left + Math.min(Math.floor((c + 0.5) * sx), w - 1);
      image[r * cols + c] = bilinearAt(s.image, rows, cols, y, x);
      mask[r * cols + c] = s.mask[my * cols + mx]!;
    }
  }
  return { ...s, image, mask };
}

export interface CropParams {
  top: number;
  left: number;
  h: number;
  w: number;
}

/**
 * torchvision RandomResizedCrop.get_params: up to 10 tries of area fraction U(scale) and log-uniform
 * aspect ratio in `ratio`, w = round(sqrt(area*ratio)), h = round(sqrt(area/ratio)) (half to even),
 * position uniform; else a centre crop with the ratio clamped into `ratio`.
 */
export function randomResizedCropParams(rows: number, cols: number, rand: () => number, scale: [number, number] = [0.08, 1], ratio: [number, number] = [3 / 4, 4 / 3]): CropParams {
  const area = rows * cols;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * uniform(rand, scale[0], scale[1]);
    const aspect = Math.exp(uniform(rand, logLo, logHi));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= cols && h > 0 && h <= rows) {
      const top = Math.floor(rand() * (rows - h + 1));
      const left = Math.floor(rand() * (cols - w + 1));
      return { top, left, h, w };
    }
  }
  const inRatio = cols / rows;
  let w = cols;
  let h = rows;
  if (inRatio < Math.min(...ratio)) h = roundHalfEven(w / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) w = roundHalfEven(h * Math.max(...ratio));
  return { top: Math.floor((rows - h) / 2), left: Math.floor((cols - w) / 2), h, w };
}

/**
 * Rotation by `degrees` counter-clockwise (as torchvision) about the image centre, same size, fill 0:
 * each output pixel reads the input at the inversely rotated position, image bilinear, mask nearest.
 */
export function rotate(s: Slice2D, degrees: number): Slice2D {
  check(s, 'rotate');
  const { rows, cols } = s;
  const image = new Float32Array(rows * cols);
  const mask = new Uint8Array(rows * cols);
  const a = (degrees * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const cy = (rows - 1) / 2;
  const cx = (cols - 1) / 2;
  for (let r = 0; r < rows; r++) {
    const y = r - cy;
    for (let c = 0; c < cols; c++) {
      const x = c - cx;
      // Visual CCW rotation with y pointing down maps (x, y) -> (x cos + y sin, -x sin + y cos); read the inverse.
      const sx = x * cos - y * sin + cx;
      const sy = x * sin + y * cos + cy;
      image[r * cols + c] = bilinearAt(s.image, rows, cols, sy, sx);
      mask[r * cols + c] = nearestAt(s.mask, rows, cols, sy, sx);
    }
  }
  return { ...s, image, mask };
}

// ---------------------------------------------------------------- MRI artefacts (MONAI)

/** MONAI GaussianNoise: image + N(mean, std) per pixel (no clamping, as MONAI). */
export function gaussianNoise(s: Slice2D, std: number, rand: () => number, mean = 0): Slice2D {
  check(s, 'gaussianNoise');
  const normal = normalSampler(rand);
  const image = new Float32Array(s.image.length);
  for (let p = 0; p < image.length; p++) image[p] = s.image[p]! + mean + std * normal();
  return { ...s, image, mask: Uint8Array.from(s.mask) };
}

/** Legendre polynomials P_0..P_degree at x. */
function legendre(x: number, degree: number): Float64Array {
  const p = new Float64Array(degree + 1);
  p[0] = 1;
  if (degree >= 1) p[1] = x;
  for (let n = 1; n < degree; n++) p[n + 1] = ((2 * n + 1) * x * p[n]! - n * p[n - 1]!) / (n + 1);
  return p;
}

/** Number of coefficients of a 2-D bias field of total degree `degree`. */
export const biasFieldTerms = (degree: number) => ((degree + 1) * (degree + 2)) / 2;

/**
 * MONAI BiasField (2-D): image * exp(sum_{i+j<=degree} c_ij P_i(y) P_j(x)), Legendre polynomials on
 * linspace(-1, 1) along each axis; `coeffs` in MONAI's order (i outer, j inner, i + j <= degree).
 */
export function biasField(s: Slice2D, coeffs: readonly number[], degree = 3): Slice2D {
  check(s, 'biasField');
  if (coeffs.length !== biasFieldTerms(degree)) throw new AugmentError(`biasField: degree ${degree} needs ${biasFieldTerms(degree)} coefficients, got ${coeffs.length}`);
  const { rows, cols } = s;
  const at = (k: number, n: number) => (n === 1 ? -1 : -1 + (2 * k) / (n - 1));
  const py = Array.from({ length: rows }, (_, r) => legendre(at(r, rows), degree));
  const px = Array.from({ length: cols }, (_, c) => legendre(at(c, cols), degree));
  const image = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let field = 0;
      let k = 0;
      for (let i = 0; i <= degree; i++) for (let j = 0; j <= degree - i; j++) field += coeffs[k++]! * py[r]![i]! * px[c]![j]!;
      image[r * cols + c] = s.image[r * cols + c]! * Math.exp(field);
    }
  }
  return { ...s, image, mask: Uint8Array.from(s.mask) };
}

/**
 * MONAI GibbsNoise: k = fftshift(fft2(image)); keep k-space inside the circle of radius
 * (1 - alpha) * max(rows, cols) / 2 about the centre ((n - 1) / 2 per axis); image = real(ifft2(...)).
 * alpha = 0 returns the image unchanged (MONAI documents alpha = 0 as the identity).
 */
export function gibbsNoise(s: Slice2D, alpha: number): Slice2D {
  check(s, 'gibbsNoise');
  if (!(alpha >= 0 && alpha <= 1)) throw new AugmentError(`gibbsNoise: alpha ${alpha} must lie in [0, 1]`);
  if (alpha === 0) return { ...s, image: Float32Array.from(s.image), mask: Uint8Array.from(s.mask) };
  const { rows, cols } = s;
  const re = Float64Array.from(s.image);
  const im = new Float64Array(rows * cols);
  fft2(re, im, rows, cols);
  const radius = ((1 - alpha) * Math.max(rows, cols)) / 2;
  const cy = (rows - 1) / 2;
  const cx = (cols - 1) / 2;
  // Unshifted frequency u sits at (u + floor(n/2)) mod n after fftshift.
  for (let u = 0; u < rows; u++) {
    const dy = ((u + Math.floor(rows / 2)) % rows) - cy;
    for (let v = 0; v < cols; v++) {
      const dx = ((v + Math.floor(cols / 2)) % cols) - cx;
      if (Math.sqrt(dy * dy + dx * dx) > radius) {
        re[u * cols + v] = 0;
        im[u * cols + v] = 0;
      }
    }
  }
  fft2(re, im, rows, cols, true);
  return { ...s, image: Float32Array.from(re), mask: Uint8Array.from(s.mask) };
}

// ---------------------------------------------------------------- the random pipeline

export interface AugmentOptions {
  /** RandomAdjustSharpness(factor, p). */
  sharpness?: { p: number; factor: number };
  /** RandomEqualize(p). */
  equalize?: { p: number };
  /** RandomResizedCrop(size kept, scale, ratio), applied with probability p. */
  crop?: { p: number; scale?: [number, number]; ratio?: [number, number] };
  /** RandomRotation(degrees): angle U(-degrees, degrees), applied with probability p. */
  rotation?: { p: number; degrees: number };
  /** RandGaussianNoise(prob, mean 0, std): the std itself drawn U(0, std), as MONAI's sample_std. */
  noise?: { p: number; std: number };
  /** RandBiasField(prob, degree, coeff_range). */
  bias?: { p: number; degree: number; coeffRange: [number, number] };
  /** RandGibbsNoise(prob, alpha range). */
  gibbs?: { p: number; alpha: [number, number] };
}

/**
 * Defaults: torchvision's p = 0.5 for sharpness (factor 2) and equalisation; crop and rotation
 * (+-15 degrees) with p = 0.5; MONAI's prob 0.1 and default ranges for noise (std 0.1), bias field
 * (degree 3, coefficients 0..0.1) and Gibbs ringing (alpha 0..1).
 */
export const DEFAULT_AUGMENT: Required<AugmentOptions> = {
  sharpness: { p: 0.5, factor: 2 },
  equalize: { p: 0.5 },
  crop: { p: 0.5, scale: [0.08, 1], ratio: [3 / 4, 4 / 3] },
  rotation: { p: 0.5, degrees: 15 },
  noise: { p: 0.1, std: 0.1 },
  bias: { p: 0.1, degree: 3, coeffRange: [0, 0.1] },
  gibbs: { p: 0.1, alpha: [0, 1] },
};

/** Applies each augmentation with its probability, in a fixed order: geometry, torchvision intensity, MRI artefacts. */
export function augmentSlice(s: Slice2D, rand: () => number, opts: AugmentOptions = DEFAULT_AUGMENT): Slice2D {
  check(s, 'augmentSlice');
  let out: Slice2D = { ...s, image: Float32Array.from(s.image), mask: Uint8Array.from(s.mask) };
  const o = opts;
  if (o.crop && rand() < o.crop.p) {
    const c = randomResizedCropParams(out.rows, out.cols, rand, o.crop.scale, o.crop.ratio);
    out = resizedCrop(out, c.top, c.left, c.h, c.w);
  }
  if (o.rotation && rand() < o.rotation.p) out = rotate(out, uniform(rand, -o.rotation.degrees, o.rotation.degrees));
  if (o.sharpness && rand() < o.sharpness.p) out = adjustSharpness(out, o.sharpness.factor);
  if (o.equalize && rand() < o.equalize.p) out = equalize(out);
  if (o.noise && rand() < o.noise.p) out = gaussianNoise(out, uniform(rand, 0, o.noise.std), rand);
  if (o.bias && rand() < o.bias.p) {
    const coeffs = Array.from({ length: biasFieldTerms(o.bias.degree) }, () => uniform(rand, o.bias!.coeffRange[0], o.bias!.coeffRange[1]));
    out = biasField(out, coeffs, o.bias.degree);
  }
  if (o.gibbs && rand() < o.gibbs.p) out = gibbsNoise(out, uniform(rand, o.gibbs.alpha[0], o.gibbs.alpha[1]));
  return out;
}
