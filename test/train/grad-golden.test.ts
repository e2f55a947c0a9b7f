import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { createNodeRuntime } from '../../src/graph/index.js';
import { normaliseForEncoder } from '../../src/pipeline/preprocess/index.js';
import { samLoss, vnetLoss } from '../../src/train/step/losses.js';
import { createTrainer, type StepResult, type Trainer } from '../../src/train/step/trainer.js';
import { GOLDEN, goldenManifest, loadGoldenF32, relMaxErr } from '../model/golden.js';
import { centralDifference } from './gradcheck.js';

/**
 * Gradient parity with the golden `training` fixtures (PyTorch, CPU float32): losses within 1e-4
 * relative, gradients within 1e-3 relative (max abs error / max abs reference).
 */
const LOSS_TOL = 1e-4;
const GRAD_TOL = 1e-3;
const runtime = createNodeRuntime({ threads: 2 });
const scalars = () => (goldenManifest()['training'] as { scalars: Record<string, number> }).scalars;
const relScalar = (a: number, ref: number) => Math.abs(a - ref) / Math.abs(ref);

const SAM_GRADS: Record<string, string> = {
  'mask_decoder.transformer.layers.0.Adapter.D_fc1.weight': 'grad_dec_adapter_fc1_w',
  'attention_fusion.gate': 'grad_fusion_gate',
  'mask_decoder.output_hypernetworks_mlps.2.layers.0.weight': 'grad_hypernet2_fc0_w',
  'attention_fusion.fuse_emb.0.weight': 'grad_fusion_conv0_w',
  'image_encoder.layers.1.blocks.0.Space_Adapter.D_fc1.weight': 'grad_enc_space_adapter_fc1_w',
  'image_encoder.layers.2.blocks.3.MLP_Adapter.D_fc2.weight': 'grad_enc_mlp_adapter_fc2_w',
};
/**
 * These three disagree with the fixtures (relative errors 2.4, 1.3, 3.5; the conv0 gradient is
 * uncorrelated with the fixture, cosine -0.02) although the forward, the losses and every other
 * gradient agree; central differences of our own forward confirm our values (test below). The fixture
 * was generated through a PyTorch CPU BatchNorm-backward bug (batch 1, channels-last-strided incoming
 * gradient read as contiguous), reproduced with real PyTorch: see the Training section of DESIGN.md.
 */
const DISPUTED = new Set(['grad_fusion_conv0_w', 'grad_enc_space_adapter_fc1_w', 'grad_enc_mlp_adapter_fc2_w']);
/** Steps along the max-1 gradient direction, sized so the loss moves by ~1e-4..1e-3 (well above float32 resolution). */
const CD_EPS: Record<string, number> = { grad_fusion_conv0_w: 3e-4, grad_enc_mlp_adapter_fc2_w: 9e-3, grad_enc_space_adapter_fc1_w: 0.3 };
const HYPERNET0 = 'mask_decoder.output_hypernetworks_mlps.0.layers.0.weight';

describe('SAM train-mode step vs golden (encoder + fusion + decoder, batch statistics)', () => {
  let trainer: Trainer;
  let step: StepResult;
  let feeds: Parameters<Trainer['step']>[0];
  beforeAll(async () => {
    const sd = loadCheckpoint(`${GOLDEN}bone_sam.pth`);
    trainer = await createTrainer(runtime, { stage: 'sam', weights: sd, trainable: [...Object.keys(SAM_GRADS), HYPERNET0], batch: 1 });
    feeds = {
      image: normaliseForEncoder(loadGoldenF32('encoder_input_prenorm').data),
      attentionMap: loadGoldenF32('attention_map_batchstats').data,
      target: loadGoldenF32('train_target_256').data,
    };
    step = await trainer.step(feeds);
  });
  afterAll(async () => trainer?.release());

  it('reproduces train_lowres_logits', () => {
    expect(relMaxErr(step.output, loadGoldenF32('train_lowres_logits').data)).toBeLessThan(1e-4);
  });

  it('reproduces loss_dice, loss_ce, loss_total (graph and plain TS)', () => {
    const s = scalars();
    const ts = samLoss(loadGoldenF32('train_lowres_logits').data, loadGoldenF32('train_target_256').data, 1, 256, 256);
    for (const [name, graph, plain] of [
      ['loss_dice', step.terms['dice']!, ts.dice],
      ['loss_ce', step.terms['ce']!, ts.ce],
      ['loss_total', step.terms['total']!, ts.total],
    ] as const) {
      expect(relScalar(graph, s[name]!), name).toBeLessThan(LOSS_TOL);
      expect(relScalar(plain, s[name]!), `${name} (TS)`).toBeLessThan(LOSS_TOL);
    }
    const dice = goldenManifest()['training'] as { scalars: Record<string, number[]> };
    ts.intersection.forEach((v, c) => expect(relScalar(v, dice.scalars['dice_intersection']![c]!)).toBeLessThan(LOSS_TOL));
    ts.predO.forEach((v, c) => expect(relScalar(v, dice.scalars['dice_pred_o']![c]!)).toBeLessThan(LOSS_TOL));
  });

  for (const [key, golden] of Object.entries(SAM_GRADS)) {
    if (DISPUTED.has(golden)) continue;
    it(`${golden} (d loss / d ${key})`, () => {
      expect(relMaxErr(step.grads.get(key)!, loadGoldenF32(golden).data)).toBeLessThan(GRAD_TOL);
    });
  }

  it('gives the sliced-away token-0 hypernetwork a zero gradient', () => {
    expect(Math.max(...step.grads.get(HYPERNET0)!.map(Math.abs))).toBe(scalars()['grad_hypernet_token0_max_abs']);
    expect(trainer.graph.params).not.toContain(HYPERNET0);
  });

  it('the three disputed gradients match central differences of the loss and contradict their fixtures', async () => {
    const lossOf = { params: trainer.params, setParam: (k: string, v: Float32Array) => trainer.setParam(k, v), loss: async () => (await trainer.forward(feeds)).loss };
    for (const [key, golden] of Object.entries(SAM_GRADS).filter(([, g]) => DISPUTED.has(g))) {
      const grad = step.grads.get(key)!;
      const cd = await centralDifference(lossOf, key, grad, CD_EPS[golden]!);
      expect(cd.relErr, `${key}: ${cd.numeric} vs ${cd.analytic}`).toBeLessThan(3e-2);
      // ERRATA.md: the fixture is PyTorch's wrong batch-1 backward, far from the true gradient.
      expect(relMaxErr(grad, loadGoldenF32(golden).data), golden).toBeGreaterThan(0.5);
    }
  });
});

describe('VNet train-mode step vs golden (batch statistics, BCE + Tversky)', () => {
  const VNET_GRADS: Record<string, string> = {
    'in_tr.conv_block.conv.weight': 'grad_vnet_in_conv_w',
    'out_tr.conv_block.conv.weight': 'grad_vnet_out_conv_w',
    'out_tr.conv2.weight': 'grad_vnet_out_conv2_w',
    'out_tr.conv2.bias': 'grad_vnet_out_conv2_b',
  };
  let step: StepResult;
  beforeAll(async () => {
    const sd = loadCheckpoint(`${GOLDEN}atten.pth`);
    const trainer = await createTrainer(runtime, { stage: 'vnet', weights: sd, trainable: Object.keys(VNET_GRADS), batch: 1 });
    step = await trainer.step({ input: loadGoldenF32('vnet_input').data, target: loadGoldenF32('vnet_target_64').data });
    await trainer.release();
  });

  it('forward equals vnet_logits_batchstats', () => {
    expect(relMaxErr(step.output, loadGoldenF32('vnet_logits_batchstats').data)).toBeLessThan(1e-4);
  });

  it('reproduces vnet_loss_bce, vnet_loss_tversky, vnet_loss_total (graph and plain TS)', () => {
    const s = scalars();
    const ts = vnetLoss(loadGoldenF32('vnet_logits_batchstats').data, loadGoldenF32('vnet_target_64').data);
    for (const [name, graph, plain] of [
      ['vnet_loss_bce', step.terms['bce']!, ts.bce],
      ['vnet_loss_tversky', step.terms['tversky']!, ts.tversky],
      ['vnet_loss_total', step.terms['total']!, ts.total],
    ] as const) {
      expect(relScalar(graph, s[name]!), name).toBeLessThan(LOSS_TOL);
      expect(relScalar(plain, s[name]!), `${name} (TS)`).toBeLessThan(LOSS_TOL);
    }
    expect(relScalar(ts.tp, s['vnet_tp']!)).toBeLessThan(LOSS_TOL);
    expect(relScalar(ts.fp, s['vnet_fp']!)).toBeLessThan(LOSS_TOL);
  });

  for (const [key, golden] of Object.entries(VNET_GRADS)) {
    it(`${golden} (d loss / d ${key})`, () => {
      expect(relMaxErr(step.grads.get(key)!, loadGoldenF32(golden).data)).toBeLessThan(GRAD_TOL);
    });
  }
});
