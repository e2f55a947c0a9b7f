// Parity of mask post-processing (recipe step 13) and the training targets (training.target_recipe).
import { describe, expect, it } from 'vitest';
import { maskFromLogits, maskToSliceGrid, sliceOf, trainTarget256, vnetTarget64 } from '../../src/pipeline/index.js';
import { compare, goldenF32, goldenU8, loadManifest, loadOfficialPrediction } from './fixtures.js';

const training = loadManifest().training.scalars;

describe.each(['eval', 'batchstats'] as const)('automatic-mode masks, variant %s', (variant) => {
  it('logits > 0 on channel 1 gives auto_mask_256', () => {
    const mask = maskFromLogits(goldenF32(`auto_lowres_logits_${variant}`), 256, 256, 1);
    expect(compare(mask, goldenU8(`auto_mask_256_${variant}`)).mismatches).toBe(0);
  });

  it('Pillow NEAREST back to 272x204 is identical to auto_mask_original_size', () => {
    const back = maskToSliceGrid(goldenU8(`auto_mask_256_${variant}`), 256, 256, 272, 204);
    expect(compare(back, goldenU8(`auto_mask_original_size_${variant}`)).mismatches).toBe(0);
  });
});

describe('training targets from the official prediction', () => {
  const pred = loadOfficialPrediction();

  it('train_target_256 is identical', () => {
    const slice = sliceOf(pred, 37);
    expect(slice.reduce((a, v) => a + v, 0)).toBe(training.slice_positive_pixels_272x204);
    const target = trainTarget256(slice, 272, 204);
    expect(compare(target, goldenF32('train_target_256')).mismatches).toBe(0);
    expect(target.reduce((a, v) => a + v, 0)).toBe(training.mask256_positive);
  });

  it('vnet_target_64 is identical', () => {
    const target = vnetTarget64(pred);
    expect(compare(target, goldenF32('vnet_target_64')).mismatches).toBe(0);
    expect(target.reduce((a, v) => a + v, 0)).toBe(training.target64_positive);
  });
});
