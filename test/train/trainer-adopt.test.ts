import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { createNodeRuntime } from '../../src/graph/index.js';
import { createTrainer, type TrainerOptions } from '../../src/train/step/index.js';
import { GOLDEN } from '../model/golden.js';

// Bit-for-bit equality (vitest's toEqual walks millions of elements one by one).
const sameBytes = (x: Float32Array, y: Float32Array) =>
  Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));

/**
 * `adoptWeights`: a fine-tune run that loaded its checkpoint lets the trainer train those tensors in place instead of
 * holding a copy (stage 1's VNet is 182 MB). The adopted trainer must hold the checkpoint's own arrays and step to
 * exactly what the copying one steps to.
 */
describe('Trainer adoptWeights', () => {
  it('holds the checkpoint tensors themselves and gives the same step as a copying trainer (stage 2, batch 1)', async () => {
    const runtime = createNodeRuntime({ threads: 2 });
    const options = (adoptWeights: boolean): TrainerOptions => ({
      stage: 'sam', weights: loadCheckpoint(path.join(GOLDEN, 'bone_sam.pth')), batch: 1, samInput: 'embedding', attention: true,
      trainable: ['attention_fusion.', 'mask_decoder.'], adoptWeights,
    });
    const adopting = options(true);
    const copying = options(false);
    const a = await createTrainer(runtime, adopting);
    const c = await createTrainer(runtime, copying);
    try {
      expect(a.params.size).toBeGreaterThan(50);
      // Identity compared directly: expect(array).toBe/not.toBe compare large arrays element by element on the way.
      const notAdopted = [...a.params].filter(([key, value]) => value !== adopting.weights.get(key)!.data).map(([key]) => key);
      expect(notAdopted).toEqual([]);
      const copied = [...c.params].filter(([key, value]) => {
        const original = copying.weights.get(key)!.data as Float32Array;
        return value !== original && sameBytes(value, original);
      });
      expect(copied.length).toBe(c.params.size);
      const n = 256 * 64 * 64;
      const batch = {
        imageEmbedding: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.5),
        attentionMap: Float32Array.from({ length: 64 * 64 }, (_, i) => 0.5 + 0.4 * Math.cos(i * 0.11)),
        target: Float32Array.from({ length: 256 * 256 }, (_, i) => ((i >> 7) % 3 === 0 ? 1 : 0)),
      };
      const [sa, sc] = [await a.step(batch), await c.step(batch)];
      expect(sa.loss).toBe(sc.loss);
      const differing = [...sc.grads].filter(([key, g]) => !sameBytes(sa.grads.get(key)!, g)).map(([key]) => key);
      expect(differing).toEqual([]);
    } finally {
      await a.release();
      await c.release();
    }
  });
});
