import { PreprocessError } from './types.js';
import { powf32 } from './float32Math.js';

const f32 = Math.fround;

/** torchvision ImageNet normalisation constants (recipe step 9), as float32 like torch stores them. */
export const IMAGENET_MEAN: readonly [number, number, number] = [f32(0.485), f32(0.456), f32(0.406)];
export const IMAGENET_STD: readonly [number, number, number] = [f32(0.229), f32(0.224), f32(0.225)];

/** The official gamma for dark slices (MONAI AdjustContrast(gamma=0.8)) and the mean below which it applies. */
const GAMMA = f32(0.8);
const GAMMA_MEAN_THRESHOLD = 0.1;
const QUANTILE_P = 0.01;

/** One torch.quantile(x, q) (linear) evaluated over a multiset of uint8/255 values. */
export interface QuantileDetail {
  q: number;
  /** float32(q) * (n - 1) rounded to float32, as torch computes the fractional rank. */
  rank: number;
  value: number;
}

export interface EncoderInput {
  /** (3, H, W) float32, channel-major: the tensor fed to the image encoder (without the batch axis). */
  input: Float32Array;
  /** (H, W) float32 before ImageNet normalisation; the three channels are identical at that stage. */
  prenorm: Float32Array;
  quantileLow: QuantileDetail;
  quantileHigh: QuantileDetail;
  /** Mean of the clamped image (float64 accumulation); gamma 0.8 is applied when it is below 0.1. */
  meanAfterClamp: number;
  gammaApplied: boolean;
}

/** torch.lerp on float32 scalars: two formulas chosen by |weight| < 0.5 for accuracy at both ends. */
function lerpF32(a: number, b: number, weight: number): number {
  const diff = f32(b - a);
  return Math.abs(weight) < 0.5 ? f32(a + f32(weight * diff)) : f32(b - f32(diff * f32(1 - weight)));
}

/**
 * torch.quantile(x, q, interpolation='linear') where x holds `copies` copies of every pixel value of the
 * uint8 histogram mapped through toValue (monotonic non-decreasing in the byte). The order statistics of
 * the replicated data are read from the histogram, so nothing is sorted.
 */
function quantileFromHistogram(hist: Uint32Array, copies: number, q: number, toValue: (byte: number) => number): QuantileDetail {
  let n = 0;
  for (let v = 0; v < 256; v++) n += hist[v]! * copies;
  const rank = f32(f32(q) * f32(n - 1));
  const below = Math.floor(rank);
  const above = Math.ceil(rank);
  const orderStat = (r: number): number => {
    let cum = 0;
    for (let v = 0; v < 256; v++) {
      cum += hist[v]! * copies;
      if (r < cum) return toValue(v);
    }
    throw new PreprocessError(`quantile: rank ${r} is outside the ${n} values`);
  };
  const value = lerpF32(orderStat(below), orderStat(above), f32(rank - below));
  return { q, rank, value };
}

/** The per-slice statistics of recipe steps 6-8 and the prenorm value of every input byte. */
export interface EncoderLut {
  /** prenorm value (clamped, gamma-adjusted, float32) for each byte 0..255. */
  lut: Float64Array;
  quantileLow: QuantileDetail;
  quantileHigh: QuantileDetail;
  meanAfterClamp: number;
  gammaApplied: boolean;
}

/**
 * Recipe steps 6-8 from the slice's byte histogram: ToTensor (/255), clamp to torch.quantile 0.01/0.99 over
 * the 3 identical channels, gamma 0.8 (MONAI AdjustContrast formula, float32) when the mean is below 0.1.
 * Every output value is a function of the input byte, so the float32 arithmetic runs once per byte value.
 */
export function encoderLutFromHistogram(hist: Uint32Array): EncoderLut {
  let n = 0;
  for (let v = 0; v < 256; v++) n += hist[v]!;
  if (n === 0) throw new PreprocessError('encoderInputFromSlice: empty image');
  const toTensor = (byte: number): number => f32(byte / 255);
  const quantileLow = quantileFromHistogram(hist, 3, QUANTILE_P, toTensor);
  const quantileHigh = quantileFromHistogram(hist, 3, 1 - QUANTILE_P, toTensor);
  const lo = quantileLow.value;
  const hi = quantileHigh.value;

  const lut = new Float64Array(256);
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let v = 0; v < 256; v++) {
    const x = toTensor(v);
    const c = x < lo ? lo : x > hi ? hi : x;
    lut[v] = c;
    if (hist[v]! > 0) {
      sum += c * hist[v]!;
      if (c < min) min = c;
      if (c > max) max = c;
    }
  }
  const meanAfterClamp = sum / n;
  const gammaApplied = meanAfterClamp < GAMMA_MEAN_THRESHOLD;
  if (gammaApplied) {
    // ((x - min) / float(range + 1e-7)) ** 0.8 * range + min, every operation rounded to float32; pow as
    // torch evaluates it (SLEEF), which is not always the correctly rounded float32 power.
    const range = f32(max - min);
    const denom = f32(range + f32(1e-7));
    for (let v = 0; v < 256; v++) {
      const t = f32(f32(lut[v]! - min) / denom);
      lut[v] = f32(f32(powf32(t, GAMMA) * range) + min);
    }
  }
  return { lut, quantileLow, quantileHigh, meanAfterClamp, gammaApplied };
}

function byteHistogram(image: Uint8Array): Uint32Array {
  // Four interleaved partial histograms: consecutive equal bytes would otherwise stall on one counter.
  const parts = new Uint32Array(1024);
  const n = image.length;
  const m = n - (n % 4);
  for (let p = 0; p < m; p += 4) {
    parts[image[p]!]!++;
    parts[256 + image[p + 1]!]!++;
    parts[512 + image[p + 2]!]!++;
    parts[768 + image[p + 3]!]!++;
  }
  for (let p = m; p < n; p++) parts[image[p]!]!++;
  const hist = new Uint32Array(256);
  for (let v = 0; v < 256; v++) hist[v] = parts[v]! + parts[256 + v]! + parts[512 + v]! + parts[768 + v]!;
  return hist;
}

/** The three ImageNet-normalised channel values (recipe step 9, float32 subtract then divide) of each byte. */
function channelLuts(lut: Float64Array): Float32Array[] {
  return [0, 1, 2].map((ch) => Float32Array.from(lut, (x) => f32(x - IMAGENET_MEAN[ch]!) / IMAGENET_STD[ch]!));
}

/** The three channel tables (`channelLuts`) of a slice with this byte histogram (encoderKernel.ts's write). */
export function encoderChannelTables(hist: Uint32Array): Float32Array[] {
  return channelLuts(encoderLutFromHistogram(hist).lut);
}

/**
 * Recipe steps 6-9 for one slice already resized to the encoder size, with the intermediate values
 * (`prenorm`, quantiles, mean) that `sab trace` reports. See encoderLutFromHistogram.
 */
export function encoderInputFromSlice(image: Uint8Array, height = 1024, width = 1024): EncoderInput {
  const n = height * width;
  if (image.length !== n) throw new PreprocessError(`encoderInputFromSlice: image has ${image.length} pixels, expected ${height}x${width}`);
  const stats = encoderLutFromHistogram(byteHistogram(image));
  const { lut, ...details } = stats;
  const prenorm = new Float32Array(n);
  for (let p = 0; p < n; p++) prenorm[p] = lut[image[p]!]!;
  const input = new Float32Array(3 * n);
  writeEncoderChannels(image, channelLuts(lut), input, 0);
  return { input, prenorm, ...details };
}

/**
 * The encoder input of one slice (the `input` of encoderInputFromSlice, bit for bit) written straight into
 * `out` at element `offset`: one histogram pass and one pass storing the three channels, no intermediates.
 */
export function writeEncoderInput(image: Uint8Array, out: Float32Array, offset: number): void {
  if (image.length === 0) throw new PreprocessError('encoderInputFromSlice: empty image');
  if (offset < 0 || offset + 3 * image.length > out.length) {
    throw new PreprocessError(`writeEncoderInput: ${3 * image.length} values at ${offset} do not fit in ${out.length}`);
  }
  writeEncoderChannels(image, channelLuts(encoderLutFromHistogram(byteHistogram(image)).lut), out, offset);
}

function writeEncoderChannels(image: Uint8Array, luts: Float32Array[], out: Float32Array, offset: number): void {
  const n = image.length;
  // The float32 values are copied as their bit patterns (uint32 views): no float32 <-> double conversions,
  // measured ~2x faster than Float32Array loads and stores on this 12 MB write.
  const [l0, l1, l2] = luts.map((l) => new Uint32Array(l.buffer, l.byteOffset, l.length)) as [Uint32Array, Uint32Array, Uint32Array];
  const o = new Uint32Array(out.buffer, out.byteOffset + 4 * offset, 3 * n);
  const n2 = 2 * n;
  for (let p = 0; p < n; p++) {
    const v = image[p]!;
    o[p] = l0[v]!;
    o[p + n] = l1[v]!;
    o[p + n2] = l2[v]!;
  }
}

/** Recipe step 9 alone: (3, H, W) ImageNet-normalised encoder input from a (H, W) prenorm channel. */
export function normaliseForEncoder(prenorm: Float32Array): Float32Array {
  const n = prenorm.length;
  const input = new Float32Array(3 * n);
  for (let ch = 0; ch < 3; ch++) {
    const mean = IMAGENET_MEAN[ch]!;
    const std = IMAGENET_STD[ch]!;
    const base = ch * n;
    for (let p = 0; p < n; p++) input[base + p] = f32(prenorm[p]! - mean) / std;
  }
  return input;
}
