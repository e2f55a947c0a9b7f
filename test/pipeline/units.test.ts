// Unit tests of the pipeline building blocks on small synthetic inputs.
import { describe, expect, it } from 'vitest';
import {
  PreprocessError,
  encoderInputFromSlice,
  expf32,
  fma32,
  normaliseVolume,
  pairwiseSumF32,
  percentileBounds,
  percentileRank,
  powf32,
  probRescale,
  resizeBilinearPillow,
  resizeNearestPillow,
  roundHalfEven,
  sliceToUint8,
  vnetInputFromVolume,
  writeEncoderInput,
} from '../../src/pipeline/index.js';
import { mulberry32 } from '../../src/metrics/prng.js';

/** Deterministic pseudo-random numbers in [0, 1). */
const rng = mulberry32;

describe('percentiles', () => {
  it('rounds ranks half to even like Python round()', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
    expect(percentileRank(1, 101)).toBe(2);
    expect(percentileRank(99, 101)).toBe(100);
  });

  it('histogram and quickselect paths agree with a full sort', () => {
    const r = rng(7);
    const floats = Float32Array.from({ length: 10007 }, () => (r() - 0.3) * 1000);
    const ints = Int32Array.from(floats, (v) => Math.round(v));
    const wide = Int32Array.from(floats, (v) => Math.round(v * 1e5)); // too wide for the histogram
    for (const data of [floats, ints, wide]) {
      const sorted = Float64Array.from(data).sort();
      const b = percentileBounds(data);
      expect(b.low).toBe(sorted[b.kLow - 1]);
      expect(b.high).toBe(sorted[b.kHigh - 1]);
    }
  });

  it('rejects NaN and constant volumes with a clear error', () => {
    expect(() => percentileBounds(Float32Array.of(1, NaN, 2))).toThrow(PreprocessError);
    expect(() => normaliseVolume({ data: new Uint16Array(8).fill(5), dims: [2, 2, 2] })).toThrow(/no usable contrast/);
  });
});

describe('slice to uint8', () => {
  it('maps the slice maximum to 254 and reads image[r*J + c] = vol[r + c*I + k*I*J]', () => {
    const dims = [2, 3, 2] as const;
    const vol = new Float32Array(12);
    vol[6 + 1 + 2 * 2] = 1; // k=1, i=1, j=2
    vol[6 + 0 + 1 * 2] = 0.5; // k=1, i=0, j=1
    const img = sliceToUint8(vol, dims, 1);
    expect(Array.from(img)).toEqual([0, 127, 0, 0, 0, 254]);
    expect(() => sliceToUint8(vol, dims, 2)).toThrow(PreprocessError);
  });
});

describe('Pillow resizes', () => {
  it('bilinear keeps constant images constant and returns a copy at the same size', () => {
    const src = new Uint8Array(5 * 7).fill(200);
    expect(resizeBilinearPillow(src, 5, 7, 11, 3).every((v) => v === 200)).toBe(true);
    const same = resizeBilinearPillow(src, 5, 7, 5, 7);
    expect(same).not.toBe(src);
    expect(same).toEqual(src);
  });

  it('bilinear 2x upscale of a step uses quarter weights with fixed-point rounding', () => {
    // Output centres at 0.25 / 0.75 of an input pixel: 0.75*0 + 0.25*100 = 25, etc.
    const out = resizeBilinearPillow(Uint8Array.of(0, 100), 1, 2, 1, 4);
    expect(Array.from(out)).toEqual([0, 25, 75, 100]);
  });

  it('the row-wise vertical pass equals the horizontal pass on the transposed image (2, 3 and many taps)', () => {
    const transpose = (a: Uint8Array, h: number, w: number): Uint8Array => {
      const t = new Uint8Array(a.length);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) t[x * h + y] = a[y * w + x]!;
      return t;
    };
    const r = rng(7);
    const src = Uint8Array.from({ length: 13 * 5 }, () => Math.floor(r() * 256));
    for (const outH of [40, 29, 4]) {
      const vertical = resizeBilinearPillow(src, 13, 5, outH, 5);
      const viaHorizontal = transpose(resizeBilinearPillow(transpose(src, 13, 5), 5, 13, 5, outH), 5, outH);
      expect(vertical).toEqual(viaHorizontal);
    }
  });

  it('nearest uses the accumulated position (differs from floor((x+0.5)*s) for 2 -> 7)', () => {
    const out = resizeNearestPillow(Uint8Array.of(10, 20), 1, 2, 1, 7);
    // floor(3.5 * 2/7) = 1, but the accumulated position is 0.99999...: Pillow samples pixel 0.
    expect(Array.from(out)).toEqual([10, 10, 10, 10, 20, 20, 20]);
  });
});

describe('encoder input', () => {
  it('interpolates quantiles between order statistics of the tripled data with torch.lerp', () => {
    // 100 pixels -> 300 values; rank float32(0.01) * 299 = 2.99.. lies between sorted values 2 (pixel 0)
    // and 3 (pixel 1), weight >= 0.5, so torch.lerp uses end - (end - start) * (1 - weight).
    const img = new Uint8Array(100).fill(200);
    img[42] = 0;
    const enc = encoderInputFromSlice(img, 10, 10);
    const f = Math.fround;
    const rank = f(f(0.01) * 299);
    expect(enc.quantileLow.rank).toBe(rank);
    const end = f(200 / 255);
    const w = f(rank - 2);
    expect(w).toBeGreaterThan(0.5);
    expect(enc.quantileLow.value).toBe(f(end - f(f(end - 0) * f(1 - w))));
    expect(enc.prenorm[42]).toBe(enc.quantileLow.value);
  });

  it('writeEncoderInput writes the same values in place (bright slice and gamma slice)', () => {
    const r = rng(3);
    for (const scale of [255, 20]) {
      const img = Uint8Array.from({ length: 24 * 16 }, () => Math.floor(r() * scale));
      const ref = encoderInputFromSlice(img, 24, 16);
      expect(ref.gammaApplied).toBe(scale === 20);
      const out = new Float32Array(5 + 3 * img.length).fill(7);
      writeEncoderInput(img, out, 5);
      expect(out.subarray(0, 5).every((v) => v === 7)).toBe(true);
      expect(out.subarray(5)).toEqual(ref.input);
    }
  });
});

describe('float32 math', () => {
  it('fma32 rounds once', () => {
    const a = Math.fround(1 + 2 ** -23);
    // a*a = 1 + 2^-22 + 2^-46: the separate product rounds the 2^-46 away, the fused form keeps it.
    expect(fma32(a, a, -Math.fround(a * a))).toBe(2 ** -46);
    expect(fma32(2, 3, 1)).toBe(7);
  });

  it('expf32 and powf32 stay within 1 ulp of the correctly rounded value', () => {
    const r = rng(3);
    for (let n = 0; n < 2000; n++) {
      const x = Math.fround((r() - 0.5) * 60);
      const e = expf32(x);
      const ref = Math.fround(Math.exp(x));
      expect(Math.abs(e - ref)).toBeLessThanOrEqual(Math.abs(ref) * 2 ** -23);
      const t = Math.fround(r());
      const p = powf32(t, Math.fround(0.8));
      const pref = Math.fround(Math.pow(t, Math.fround(0.8)));
      expect(Math.abs(p - pref)).toBeLessThanOrEqual(pref * 2 ** -23);
    }
    expect([powf32(0, 0.8), powf32(1, 0.8), expf32(-200), expf32(200)]).toEqual([0, 1, 0, Infinity]);
  });
});

describe('attention helpers', () => {
  it('pairwise sum is a plain loop below 8 values and 8 partial sums above', () => {
    const v = Float32Array.from({ length: 16 }, (_, i) => Math.fround(0.1 * (i + 1)));
    let seq = 0;
    for (let i = 0; i < 5; i++) seq = Math.fround(seq + v[i]!);
    expect(pairwiseSumF32(v, 0, 5, 1)).toBe(seq);
    const r = Array.from({ length: 8 }, (_, j) => Math.fround(v[j]! + v[j + 8]!));
    const f = Math.fround;
    expect(pairwiseSumF32(v, 0, 16, 1)).toBe(f(f(f(r[0]! + r[1]!) + f(r[2]! + r[3]!)) + f(f(r[4]! + r[5]!) + f(r[6]! + r[7]!))));
  });

  it('prob_rescale branches', () => {
    const out = probRescale(Float32Array.of(0.0005, 0.01, 0.05, 1));
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(Math.fround(Math.fround(0.01) * 16));
    expect(out[2]).toBe(Math.fround(Math.fround(0.05) * 16));
    expect(out[3]).toBeCloseTo(1, 6);
  });
});

describe('VNet input', () => {
  it('resamples a linear ramp along K exactly and clamps at the border of short axes', () => {
    const dims = [64, 64, 32] as const;
    const vol = new Float32Array(64 * 64 * 32);
    for (let k = 0; k < 32; k++) vol.fill(k / 31, k * 4096, (k + 1) * 4096);
    const out = vnetInputFromVolume(vol, dims);
    // Output k samples input (k + 0.5) / 2 - 0.5, clamped to [0, 31]: first value = slice 0, last = slice 31.
    expect(out[0]).toBe(-1);
    expect(out[63]).toBe(1);
    const mid = Math.fround(Math.fround(((10.5 / 2 - 0.5) / 31)) - 0.5) / 0.5;
    expect(out[10]).toBeCloseTo(mid, 6);
  });
});
