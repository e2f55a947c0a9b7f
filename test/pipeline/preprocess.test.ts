// Parity of the official preprocessing (manifest preprocessing_recipe steps 1-10) with the golden fixtures.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  encoderInputFromSlice,
  normaliseForEncoder,
  normaliseVolume,
  percentileBounds,
  resizeBilinearPillow,
  sliceToUint8,
  vnetInputFromVolume,
} from '../../src/pipeline/index.js';
import { compare, goldenF32, goldenU8, loadManifest, loadWristMri } from './fixtures.js';

const manifest = loadManifest();
const scalars = manifest.scalars as Record<string, number | boolean>;
const extra = manifest.scalars.extra_preprocessing_case;
const SLICE = manifest.case.slice_id;

let mri: ReturnType<typeof loadWristMri>;
let normalised: Float32Array;

beforeAll(() => {
  mri = loadWristMri();
  normalised = normaliseVolume(mri, percentileBounds(mri.data));
});

describe('volume normalisation (steps 1-3)', () => {
  it('loads the volume with the manifest shape', () => {
    expect(mri.dims).toEqual(manifest.scalars.volume_shape_IJK);
    expect(mri.data.length).toBe(scalars.volume_numel);
  });

  it('percentile ranks and values equal the official torch_percentile', () => {
    const b = percentileBounds(mri.data);
    expect(b.kLow).toBe(scalars.percentile_k_low_1based);
    expect(b.kHigh).toBe(scalars.percentile_k_high_1based);
    expect(b.low).toBe(scalars.percentile_low_value);
    expect(b.high).toBe(scalars.percentile_high_value);
    // torchio widens uint16 to int32; the bounds must not depend on the storage type.
    expect(percentileBounds(Int32Array.from(mri.data))).toEqual(b);
    expect(percentileBounds(Float32Array.from(mri.data))).toEqual(b);
  });

  it('normalised volume spans [0, 1]', () => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of normalised) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect([min, max]).toEqual([0, 1]);
  });
});

describe(`2-D branch, slice ${SLICE} (steps 4-9)`, () => {
  it('slice_uint8 is bit-exact', () => {
    const u8 = sliceToUint8(normalised, mri.dims, SLICE);
    expect(compare(u8, goldenU8('slice_uint8')).mismatches).toBe(0);
  });

  it('Pillow bilinear 1024x1024 is bit-exact', () => {
    const big = resizeBilinearPillow(goldenU8('slice_uint8'), 272, 204, 1024, 1024);
    expect(compare(big, goldenU8('slice_uint8_resized_1024')).mismatches).toBe(0);
  });

  it('encoder_input_prenorm, quantiles and branch are bit-exact (no gamma)', () => {
    const enc = encoderInputFromSlice(goldenU8('slice_uint8_resized_1024'));
    expect(enc.quantileLow.rank).toBe(scalars.quantile_rank_0_01_float32);
    expect(enc.quantileHigh.rank).toBe(scalars.quantile_rank_0_99_float32);
    expect(enc.quantileLow.value).toBe(scalars.quantile_0_01);
    expect(enc.quantileHigh.value).toBe(scalars.quantile_0_99);
    expect(enc.gammaApplied).toBe(false);
    expect(enc.meanAfterClamp).toBeCloseTo(scalars.mean_after_clamp as number, 6);
    const golden = goldenF32('encoder_input_prenorm');
    expect(compare(enc.prenorm, golden).mismatches).toBe(0);
    // Step 9 from the stored prenorm reproduces the encoder input (channels differ after it).
    const rebuilt = normaliseForEncoder(golden);
    expect(compare(enc.input, rebuilt).mismatches).toBe(0);
    expect(enc.input[0]).not.toBe(enc.input[1024 * 1024]);
  });
});

describe('2-D branch, extra case slice 15 (gamma branch)', () => {
  it('resize and prenorm (gamma 0.8 applied) are bit-exact', () => {
    const big = resizeBilinearPillow(sliceToUint8(normalised, mri.dims, 15), 272, 204, 1024, 1024);
    expect(compare(big, goldenU8('preproc_slice15_slice_uint8_resized_1024')).mismatches).toBe(0);
    const enc = encoderInputFromSlice(big);
    expect(enc.quantileLow.value).toBe(extra.quantile_0_01);
    expect(enc.quantileHigh.value).toBe(extra.quantile_0_99);
    expect(enc.gammaApplied).toBe(true);
    expect(enc.meanAfterClamp).toBeCloseTo(extra.mean_after_clamp as number, 6);
    expect(compare(enc.prenorm, goldenF32('preproc_slice15_encoder_input_prenorm')).mismatches).toBe(0);
  });
});

describe('VNet branch (step 10)', () => {
  it('vnet_input (64^3, K fastest) is bit-exact', () => {
    const input = vnetInputFromVolume(normalised, mri.dims);
    const r = compare(input, goldenF32('vnet_input'));
    expect(r.maxAbs).toBe(0);
    expect(r.mismatches).toBe(0);
  });
});
