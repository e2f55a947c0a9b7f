import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import type { StateDict } from '../../src/checkpoint/tensor.js';
import { createNodeRuntime } from '../../src/graph/index.js';
import { createTrainer, type SamBatch, type StepResult, type Trainer } from '../../src/train/step/index.js';
import { GOLDEN, loadGoldenF32, relMaxErr } from '../model/golden.js';
import { centralDifference } from './gradcheck.js';

/**
 * The disputed fixture gradients come from PyTorch's CPU BatchNorm backward at batch 1 (a
 * channels-last incoming gradient with an odd batch stride read as NCHW; batch >= 2 unaffected;
 * ERRATA.md). Our gradient of the fusion branch (conv0 -> BatchNorm, train mode) must be right at
 * batch 1 AND at batch 2: central differences of the loss agree at both, and a batch of two copies of
 * the golden slice (same batch statistics, same loss) gives the batch-1 gradient. Stage-2 graph
 * (from the golden image embedding), so the check costs a few fusion + decoder steps, no encoder.
 */
const runtime = createNodeRuntime({ threads: 2 });
const CONV0 = 'attention_fusion.fuse_emb.0.weight';
const BN_WEIGHT = 'attention_fusion.fuse_emb.1.weight';
const CD_TOL = 2e-2;

/** [C,H,W] -> [C,W,H] per channel: a second, different slice with consistent embedding, attention and target. */
function transposed(x: Float32Array, channels: number, n: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[c * n * n + j * n + i] = x[c * n * n + i * n + j]!;
  return out;
}

const concat = (...xs: Float32Array[]) => {
  const out = new Float32Array(xs.reduce((p, x) => p + x.length, 0));
  let o = 0;
  for (const x of xs) (out.set(x, o), (o += x.length));
  return out;
};

describe('fusion BatchNorm gradient is right at batch 1 and batch 2 (the PyTorch CPU batch-1 bug is not ours)', () => {
  let sd: StateDict;
  const emb = loadGoldenF32('image_embedding').data;
  const att = loadGoldenF32('attention_map_batchstats').data;
  const tgt = loadGoldenF32('train_target_256').data;
  const one: SamBatch = { imageEmbedding: emb, attentionMap: att, target: tgt };
  const other: SamBatch = { imageEmbedding: transposed(emb, 256, 64), attentionMap: transposed(att, 1, 64), target: transposed(tgt, 1, 256) };
  const trainers: Trainer[] = [];
  const open = async (batch: number) => {
    const t = await createTrainer(runtime, { stage: 'sam', weights: sd, trainable: [CONV0, BN_WEIGHT], batch, samInput: 'embedding', attention: true, mode: 'auto' });
    trainers.push(t);
    return t;
  };
  const check = async (t: Trainer, feeds: SamBatch, step: StepResult) => {
    const lossOf = { params: t.params, setParam: (k: string, v: Float32Array) => t.setParam(k, v), loss: async () => (await t.forward(feeds)).loss };
    // Along the gradient, and along the gradient restricted to a fixed pseudo-random half of the weights
    // (a random sign pattern is nearly orthogonal to the gradient: its derivative drowns in float32 noise).
    const grad = step.grads.get(CONV0)!;
    let m = 0;
    for (const v of grad) m = Math.max(m, Math.abs(v));
    const half = grad.map((v, i) => (Math.imul(i + 1, 2654435761) >>> 31 ? v / m : 0));
    return [await centralDifference(lossOf, CONV0, grad, 3e-4), await centralDifference(lossOf, CONV0, grad, 3e-4, half)];
  };
  let t1: Trainer;
  let s1: StepResult;
  beforeAll(async () => {
    sd = loadCheckpoint(`${GOLDEN}bone_sam.pth`);
    t1 = await open(1);
    s1 = await t1.step(one);
  });
  afterAll(async () => {
    for (const t of trainers) await t.release();
  });

  it('batch 1: conv0 gradient = central differences of the loss (two directions)', async () => {
    for (const cd of await check(t1, one, s1)) expect(cd.relErr, `${cd.numeric} vs ${cd.analytic}`).toBeLessThan(CD_TOL);
  });

  it('batch 2 (two different slices): conv0 gradient = central differences; two copies of one slice give the batch-1 gradient', async () => {
    const t2 = await open(2);
    const feeds: SamBatch = {
      imageEmbedding: concat(one.imageEmbedding!, other.imageEmbedding!), attentionMap: concat(one.attentionMap!, other.attentionMap!), target: concat(one.target, other.target),
    };
    const s2 = await t2.step(feeds);
    for (const cd of await check(t2, feeds, s2)) expect(cd.relErr, `${cd.numeric} vs ${cd.analytic}`).toBeLessThan(CD_TOL);
    // Two copies of the golden slice: same batch statistics and loss, so the batch-1 gradient exactly.
    const dup = await t2.step({ imageEmbedding: concat(emb, emb), attentionMap: concat(att, att), target: concat(tgt, tgt) });
    expect(Math.abs(dup.loss - s1.loss) / s1.loss).toBeLessThan(1e-5);
    for (const k of [CONV0, BN_WEIGHT]) expect(relMaxErr(dup.grads.get(k)!, s1.grads.get(k)!), k).toBeLessThan(1e-4);
  });
});
