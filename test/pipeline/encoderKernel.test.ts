// The WebAssembly encoder-input kernel against the JS reference (resizeBilinearPillow + writeEncoderInput), bit for bit.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { assembleWat, wasmModuleSource } from '../../tools/assemble-wat.mjs';
import { mulberry32 } from '../../src/metrics/prng.js';
import { EncoderInputKernel, normaliseVolume, percentileBounds, resizeBilinearPillow, sliceToUint8, writeEncoderInput } from '../../src/pipeline/preprocess/index.js';
import { goldenU8, loadWristMri } from './fixtures.js';
import { firstBitDifference as firstDifference } from '../graph/reference.js';

const WAT = fileURLToPath(new URL('../../src/pipeline/preprocess/encoderKernel.wat', import.meta.url));
const GENERATED = fileURLToPath(new URL('../../src/pipeline/preprocess/encoderKernelWasm.ts', import.meta.url));


function reference(slice: Uint8Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(3 * outH * outW);
  writeEncoderInput(resizeBilinearPillow(slice, h, w, outH, outW), out, 0);
  return out;
}

function kernelFor(h: number, w: number, outH: number, outW: number, slots = 1): EncoderInputKernel {
  const kernel = EncoderInputKernel.create(h, w, outH, outW, slots);
  if (!kernel) throw new Error('this Node has no WebAssembly SIMD');
  return kernel;
}

/** A smooth image with noise, edges and the extreme bytes 0 and 255. */
function image(h: number, w: number, seed: number): Uint8Array {
  const rnd = mulberry32(seed);
  return Uint8Array.from({ length: h * w }, (_, p) => {
    const r = Math.floor(p / w);
    const c = p % w;
    if (rnd() < 0.03) return rnd() < 0.5 ? 0 : 255;
    return Math.max(0, Math.min(255, Math.round(128 + 100 * Math.sin(r / 5) * Math.cos(c / 7) + 20 * (rnd() - 0.5))));
  });
}

describe('EncoderInputKernel', () => {
  it('is the committed assembly of encoderKernel.wat', async () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(wasmModuleSource('encoderKernel.wat', await assembleWat(WAT)));
  });

  describe('the sample volume', () => {
    let mri: ReturnType<typeof loadWristMri>;
    let normalised: Float32Array;
    beforeAll(() => {
      mri = loadWristMri();
      normalised = normaliseVolume(mri, percentileBounds(mri.data));
    });

    it('equals the JS functions on the golden slice and on every 9th slice of the sample, in two slots', () => {
      const [ni, nj, nk] = mri.dims;
      const kernel = kernelFor(ni, nj, 1024, 1024, 2);
      const n = 3 * 1024 * 1024;
      kernel.write(goldenU8('slice_uint8'), 1);
      expect(firstDifference(kernel.inputs.subarray(n), reference(goldenU8('slice_uint8'), ni, nj, 1024, 1024))).toBe(-1);
      for (let k = 0; k < nk; k += 9) {
        const slice = sliceToUint8(normalised, mri.dims, k);
        kernel.write(slice, k % 2);
        expect(firstDifference(kernel.inputs.subarray((k % 2) * n, (k % 2 + 1) * n), reference(slice, ni, nj, 1024, 1024)), `slice ${k}`).toBe(-1);
      }
      // The float slice straight from the volume (sliceToUint8 inside the kernel), into slot 1.
      for (let k = 4; k < nk; k += 9) {
        kernel.writeVolumeSlice(normalised, mri.dims, k, 1);
        const ref = reference(sliceToUint8(normalised, mri.dims, k), ni, nj, 1024, 1024);
        expect(firstDifference(kernel.inputs.subarray(n), ref), `volume slice ${k}`).toBe(-1);
      }
      kernel.write(sliceToUint8(normalised, mri.dims, 63), 1);
      kernel.writeVolumeSlice(normalised, mri.dims, 72, 0);
      // Writing one slot leaves the other as it was.
      expect(firstDifference(kernel.inputs.subarray(n), reference(sliceToUint8(normalised, mri.dims, 63), ni, nj, 1024, 1024))).toBe(-1);
    });
  });

  it('equals the JS functions for downscaling, mixed, unchanged and odd sizes (SIMD blocks and tails, skipped passes)', () => {
    const cases: [number, number, number, number][] = [
      [90, 70, 37, 53], // both down (ksize > 3)
      [20, 33, 47, 19], // up rows, down columns; width not a multiple of 16
      [31, 17, 31, 40], // rows unchanged: horizontal pass only
      [23, 50, 64, 50], // columns unchanged: vertical pass only
      [12, 12, 12, 12], // no pass
      [5, 3, 1024, 1024], // extreme upscaling
      [300, 257, 97, 129], // ksize 7 rows
      [30, 100, 20, 105], // columns up by 1.05: three taps spread over more than 16 bytes, no swizzle blocks
      [9, 17, 9, 40], // columns up by 2.35: two swizzle blocks and a scalar tail of 8
    ];
    cases.forEach(([h, w, outH, outW], i) => {
      const kernel = kernelFor(h, w, outH, outW);
      for (const seed of [1, 2]) {
        const img = image(h, w, 100 * i + seed);
        kernel.write(img, 0);
        expect(firstDifference(kernel.inputs, reference(img, h, w, outH, outW)), `${h}x${w} -> ${outH}x${outW}, seed ${seed}`).toBe(-1);
      }
    });
  });

  it('equals the JS functions for a constant slice and a dark slice (gamma applied)', () => {
    const kernel = kernelFor(40, 30, 64, 48);
    const constant = new Uint8Array(1200).fill(77);
    kernel.write(constant, 0);
    expect(firstDifference(kernel.inputs, reference(constant, 40, 30, 64, 48))).toBe(-1);
    const dark = image(40, 30, 9).map((v) => v >> 4);
    kernel.write(dark, 0);
    expect(firstDifference(kernel.inputs, reference(dark, 40, 30, 64, 48))).toBe(-1);
  });

  it('writeVolumeSlice equals sliceToUint8 + the JS functions on float volumes with constant and odd slices', () => {
    const rnd = mulberry32(5);
    for (const [ni, nj, nk, outH, outW] of [[19, 23, 3, 40, 33], [64, 48, 2, 30, 20]] as const) {
      const dims = [ni, nj, nk] as const;
      const vol = Float32Array.from({ length: ni * nj * nk }, (_, i) => (i < ni * nj ? 0.25 : Math.fround(rnd() ** 2)));
      vol[ni * nj + 7] = 0;
      vol[ni * nj + 9] = 1;
      const kernel = kernelFor(ni, nj, outH, outW);
      for (let k = 0; k < nk; k++) {
        kernel.writeVolumeSlice(vol, dims, k, 0);
        expect(firstDifference(kernel.inputs, reference(sliceToUint8(vol, dims, k), ni, nj, outH, outW)), `${dims.join('x')} slice ${k}`).toBe(-1);
      }
      expect(() => kernel.writeVolumeSlice(vol, dims, nk, 0)).toThrow(/slice index/);
      expect(() => kernel.writeVolumeSlice(vol, [nj, ni, nk], 0, 0)).toThrow(/does not hold/);
    }
  });

  it('rejects a slice of the wrong size and a slot out of range', () => {
    const kernel = kernelFor(8, 8, 16, 16, 2);
    expect(() => kernel.write(new Uint8Array(63), 0)).toThrow(/63 pixels, expected 8x8/);
    expect(() => kernel.write(new Uint8Array(64), 2)).toThrow(/slot 2 is outside 0..1/);
    expect(() => EncoderInputKernel.create(0, 8, 16, 16, 1)).toThrow(/positive integers/);
  });
});
