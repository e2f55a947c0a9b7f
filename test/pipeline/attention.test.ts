// Parity of the depth-attention map (recipe step 11) with the golden fixtures, from the stored VNet logits.
import { describe, expect, it } from 'vitest';
import { attentionMapForSlice, attentionPreRescale, attentionWindow, probRescale, sigmoid } from '../../src/pipeline/index.js';
import { compare, goldenF32, loadManifest, sha256 } from './fixtures.js';

const manifest = loadManifest();
const scalars = manifest.scalars as Record<string, number>;
const SLICE = manifest.case.slice_id;
const DEPTH = 74;

describe('attention window', () => {
  it('matches the official slice_id_reshape and bounds', () => {
    expect(attentionWindow(SLICE, DEPTH)).toEqual({
      centre: scalars.slice_id_reshape,
      start: scalars.vnet_slice_min,
      end: scalars.vnet_slice_max_exclusive,
    });
  });
});

describe.each(['eval', 'batchstats'] as const)('variant %s', (variant) => {
  const stats = manifest.scalars.stats[variant];
  const sig = sigmoid(goldenF32(`vnet_logits_${variant}`));

  it('sigmoid is bit-identical to torch.sigmoid (sha256 of the float32 bytes)', () => {
    expect(sha256(sig)).toBe(stats.vnet_sigmoid_sha256_float32);
    let low = 0;
    for (const v of sig) if (v <= Math.fround(0.1)) low++;
    expect(low / sig.length).toBe(stats['vnet_sigmoid_le_0.1_fraction']);
  });

  it('attention map before and after prob_rescale is bit-exact', () => {
    const pre = attentionPreRescale(sig, SLICE, DEPTH);
    expect(compare(pre, goldenF32(`attention_map_pre_rescale_${variant}`)).mismatches).toBe(0);
    expect(compare(probRescale(pre), goldenF32(`attention_map_${variant}`)).mismatches).toBe(0);
    expect(compare(attentionMapForSlice(sig, SLICE, DEPTH), goldenF32(`attention_map_${variant}`)).mismatches).toBe(0);
  });
});
