import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/metrics/prng.js';
import {
  adjustSharpness, augmentSlice, biasField, biasFieldTerms, DEFAULT_AUGMENT, equalize, gaussianNoise, gibbsNoise,
  randomResizedCropParams, resizedCrop, rotate, type Slice2D,
} from '../../src/train/data/augment.js';
import { fft, fft2 } from '../../src/train/data/fft.js';

const ROWS = 48;
const COLS = 36;

function phantomSlice(seed = 1): Slice2D {
  const rand = mulberry32(seed);
  const image = new Float32Array(ROWS * COLS);
  const mask = new Uint8Array(ROWS * COLS);
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < COLS; c++) {
      const inside = (r - 20) ** 2 / 100 + (c - 15) ** 2 / 36 < 1;
      mask[r * COLS + c] = inside ? 1 : 0;
      image[r * COLS + c] = Math.min(1, (inside ? 0.7 : 0.3) + 0.05 * rand());
    }
  }
  return { image, mask, rows: ROWS, cols: COLS };
}

const isBinary = (m: Uint8Array) => m.every((v) => v === 0 || v === 1);
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

function naiveDft(re: number[], im: number[]): [number[], number[]] {
  const n = re.length;
  const or: number[] = [];
  const oi: number[] = [];
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0; t < n; t++) {
      const a = (-2 * Math.PI * k * t) / n;
      sr += re[t]! * Math.cos(a) - im[t]! * Math.sin(a);
      si += re[t]! * Math.sin(a) + im[t]! * Math.cos(a);
    }
    or.push(sr);
    oi.push(si);
  }
  return [or, oi];
}

describe('fft', () => {
  it.each([1, 2, 12, 16, 17, 45])('matches a naive DFT and inverts (n = %i)', (n) => {
    const rand = mulberry32(n);
    const re = Array.from({ length: n }, () => rand() - 0.5);
    const im = Array.from({ length: n }, () => rand() - 0.5);
    const [er, ei] = naiveDft(re, im);
    const fr = Float64Array.from(re);
    const fi = Float64Array.from(im);
    fft(fr, fi);
    for (let k = 0; k < n; k++) {
      expect(Math.abs(fr[k]! - er[k]!)).toBeLessThan(1e-9);
      expect(Math.abs(fi[k]! - ei[k]!)).toBeLessThan(1e-9);
    }
    fft(fr, fi, true);
    for (let k = 0; k < n; k++) expect(Math.abs(fr[k]! - re[k]!)).toBeLessThan(1e-12);
  });

  it('2-D transform round-trips a non-power-of-two image', () => {
    const s = phantomSlice();
    const re = Float64Array.from(s.image);
    const im = new Float64Array(re.length);
    fft2(re, im, ROWS, COLS);
    // DC term = sum of the image.
    expect(re[0]).toBeCloseTo(s.image.reduce((a, v) => a + v, 0), 8);
    fft2(re, im, ROWS, COLS, true);
    expect(maxAbsDiff(Float32Array.from(re), s.image)).toBeLessThan(1e-6);
  });
});

describe('augmentations', () => {
  it('identity parameters give the identity', () => {
    const s = phantomSlice();
    for (const out of [adjustSharpness(s, 1), resizedCrop(s, 0, 0, ROWS, COLS), rotate(s, 0), gaussianNoise(s, 0, mulberry32(1)),
      biasField(s, new Array(biasFieldTerms(3)).fill(0)), gibbsNoise(s, 0)]) {
      expect(maxAbsDiff(out.image, s.image)).toBeLessThan(1e-6);
      expect(out.mask).toEqual(s.mask);
    }
    // Equalising an image whose 256 grey levels are equally frequent changes nothing.
    const flat: Slice2D = { rows: 16, cols: 32, image: Float32Array.from({ length: 512 }, (_, i) => (i % 256) / 255), mask: new Uint8Array(512) };
    expect(maxAbsDiff(equalize(flat).image, flat.image)).toBeLessThan(1e-7);
  });

  it('keep shapes and a binary mask (every operation, and the full pipeline at p = 1)', () => {
    const s = phantomSlice();
    const rand = mulberry32(3);
    const all = Object.fromEntries(Object.entries(DEFAULT_AUGMENT).map(([k, v]) => [k, { ...v, p: 1 }]));
    const outs = [adjustSharpness(s, 2), equalize(s), resizedCrop(s, 5, 3, 20, 30), rotate(s, 33), gaussianNoise(s, 0.1, rand),
      biasField(s, [0.1, -0.05, 0.02, 0.01, 0.03, 0, 0.02, 0.01, -0.02, 0.05]), gibbsNoise(s, 0.6), augmentSlice(s, rand, all)];
    for (const o of outs) {
      expect([o.rows, o.cols, o.image.length, o.mask.length]).toEqual([ROWS, COLS, ROWS * COLS, ROWS * COLS]);
      expect(isBinary(o.mask)).toBe(true);
      expect(o.image.every(Number.isFinite)).toBe(true);
    }
    // Intensity operations leave the mask as it was.
    for (const o of [outs[0]!, outs[1]!, outs[4]!, outs[5]!, outs[6]!]) expect(o.mask).toEqual(s.mask);
  });

  it('sharpening follows torchvision: blend with the 3x3 [1 1 1; 1 5 1; 1 1 1]/13 blur, border kept', () => {
    const s = phantomSlice();
    const out = adjustSharpness(s, 0); // factor 0 = the degenerate (blurred) image itself
    const p = 10 * COLS + 10;
    let acc = 4 * s.image[p]!;
    for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) acc += s.image[p + dr * COLS + dc]!;
    expect(out.image[p]).toBeCloseTo(acc / 13, 6);
    expect(out.image[0]).toBe(s.image[0]);
  });

  it('equalisation spreads a narrow histogram over the full range (torchvision lut)', () => {
    // Grey levels 100..103 with counts 10, 20, 30, 40 -> step = floor((10+20+30)/255) = 0: unchanged.
    // Use counts x10: 100, 200, 300, 400 -> step = floor(600/255) = 2; lut = floor((cdf_prev + 1)/2).
    const vals: number[] = [];
    [100, 200, 300, 400].forEach((count, i) => { for (let k = 0; k < count; k++) vals.push((100 + i) / 255); });
    const s: Slice2D = { rows: 1, cols: vals.length, image: Float32Array.from(vals), mask: new Uint8Array(vals.length) };
    const out = equalize(s);
    const levels = [...new Set([...out.image].map((v) => Math.round(v * 255)))];
    expect(levels).toEqual([0, 50, 150, 255]); // floor(1/2)=0, floor(101/2)=50, floor(301/2)=150, floor(601/2)=300 -> 255
  });

  it('geometry moves image and mask together', () => {
    // A single bright pixel on the only mask pixel: a 90-degree turn maps it exactly (square slice).
    const n = 21;
    const img = new Float32Array(n * n);
    const msk = new Uint8Array(n * n);
    img[4 * n + 15] = 1;
    msk[4 * n + 15] = 1;
    const sq: Slice2D = { rows: n, cols: n, image: img, mask: msk };
    const rot = rotate(sq, 90);
    const at = rot.image.indexOf(Math.max(...rot.image));
    expect(rot.mask.indexOf(1)).toBe(at);
    // Counter-clockwise: the pixel right of the centre, above it... (row 4, col 15) -> (row 5, col 4).
    expect([Math.floor(at / n), at % n]).toEqual([5, 4]);

    // Random crops and rotations of a 3x3 bright blob on a 3x3 mask blob: the brightest output pixel
    // is a mask pixel and the intensity centroid sits within a pixel of the mask centroid.
    const rand = mulberry32(17);
    for (let t = 0; t < 30; t++) {
      const image = new Float32Array(ROWS * COLS);
      const mask = new Uint8Array(ROWS * COLS);
      for (let r = 22; r <= 24; r++) for (let c = 16; c <= 18; c++) { image[r * COLS + c] = 1; mask[r * COLS + c] = 1; }
      const s: Slice2D = { rows: ROWS, cols: COLS, image, mask };
      let out: Slice2D;
      if (t % 2) out = rotate(s, (rand() - 0.5) * 60);
      else {
        const h = 20 + Math.floor(rand() * 20);
        const w = 15 + Math.floor(rand() * 15);
        const pick = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
        // The crop must contain the blob (rows 22..24, cols 16..18).
        out = resizedCrop(s, pick(Math.max(0, 25 - h), Math.min(22, ROWS - h)), pick(Math.max(0, 19 - w), Math.min(16, COLS - w)), h, w);
      }
      const best = out.image.indexOf(Math.max(...out.image));
      expect(out.mask[best]).toBe(1);
      let [wi, ri, ci, wm, rm, cm] = [0, 0, 0, 0, 0, 0];
      for (let p = 0; p < out.image.length; p++) {
        const r = Math.floor(p / COLS);
        const c = p % COLS;
        wi += out.image[p]!; ri += r * out.image[p]!; ci += c * out.image[p]!;
        wm += out.mask[p]!; rm += r * out.mask[p]!; cm += c * out.mask[p]!;
      }
      expect(Math.abs(ri / wi - rm / wm)).toBeLessThan(1);
      expect(Math.abs(ci / wi - cm / wm)).toBeLessThan(1);
    }
  });

  it('random resized crop parameters stay inside the slice with torchvision ranges', () => {
    const rand = mulberry32(5);
    for (let t = 0; t < 200; t++) {
      const { top, left, h, w } = randomResizedCropParams(ROWS, COLS, rand);
      expect(top >= 0 && left >= 0 && top + h <= ROWS && left + w <= COLS && h >= 1 && w >= 1).toBe(true);
      expect((h * w) / (ROWS * COLS)).toBeGreaterThan(0.05);
    }
  });

  it('MRI artefacts: noise std, multiplicative bias, Gibbs ringing keeps the mean and blurs edges', () => {
    const s = phantomSlice();
    const noisy = gaussianNoise(s, 0.2, mulberry32(9));
    const d = [...noisy.image].map((v, i) => v - s.image[i]!);
    const mean = d.reduce((a, v) => a + v, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, v) => a + (v - mean) ** 2, 0) / d.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(sd - 0.2)).toBeLessThan(0.02);
    // Constant-only field c: image * exp(c) everywhere.
    const c0 = [0.1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(maxAbsDiff(biasField(s, c0).image, s.image.map((v) => v * Math.exp(0.1)))).toBeLessThan(1e-6);
    const g = gibbsNoise(s, 0.8);
    const sum = (a: Float32Array) => a.reduce((x, v) => x + v, 0);
    expect(sum(g.image)).toBeCloseTo(sum(s.image), 3); // the DC coefficient is always kept
    expect(maxAbsDiff(g.image, s.image)).toBeGreaterThan(0.05);
    expect(maxAbsDiff(gibbsNoise(s, 0.01).image, s.image)).toBeLessThan(maxAbsDiff(g.image, s.image));
  });

  it('is reproducible for a seed', () => {
    const s = phantomSlice();
    const all = Object.fromEntries(Object.entries(DEFAULT_AUGMENT).map(([k, v]) => [k, { ...v, p: 0.7 }]));
    const a = augmentSlice(s, mulberry32(123), all);
    const b = augmentSlice(s, mulberry32(123), all);
    const c = augmentSlice(s, mulberry32(124), all);
    expect(Buffer.from(a.image.buffer).equals(Buffer.from(b.image.buffer))).toBe(true);
    expect(a.mask).toEqual(b.mask);
    expect(Buffer.from(a.image.buffer).equals(Buffer.from(c.image.buffer))).toBe(false);
  });
});
