// Parity of mask post-processing (recipe step 13) and the training targets (training.target_recipe).
import { describe, expect, it } from 'vitest';
import { maskFromLogits, maskToSliceGrid, resizeBilinearTorch, resizeNearestPillow, roundHalfEven, sliceOf, trainTarget256, vnetTarget64 } from '../../src/pipeline/index.js';
import { mulberry32 } from '../../src/metrics/prng.js';
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

  it('train_target_256 equals its recipe spelled out (NEAREST to 1024^2, torch bilinear, round) for other sizes and labels', () => {
    // trainTarget256 forms only the pixels the bilinear taps read; this is the whole composition.
    const rnd = mulberry32(7);
    for (const [h, w] of [[272, 204], [1024, 1024], [1100, 900], [37, 61], [512, 300]] as const) {
      const labels = Float32Array.from({ length: h * w }, () => (rnd() < 0.3 ? Math.floor(rnd() * 3) : 0));
      const u8 = Uint8Array.from(labels);
      const spelled = resizeBilinearTorch(Float32Array.from(resizeNearestPillow(u8, h, w, 1024, 1024)), 1024, 1024, 256, 256).map(roundHalfEven);
      expect(compare(trainTarget256(labels, h, w), spelled).mismatches, `${h}x${w}`).toBe(0);
    }
  });

  it('vnet_target_64 is identical', () => {
    const target = vnetTarget64(pred);
    expect(compare(target, goldenF32('vnet_target_64')).mismatches).toBe(0);
    expect(target.reduce((a, v) => a + v, 0)).toBe(training.target64_positive);
  });
});
