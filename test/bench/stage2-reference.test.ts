import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { TORCH_SCRIPTS, torchPython } from '../../src/bench/pytorch/reference.js';
import { loadCheckpoint } from '../../src/checkpoint/index.js';
import { createNodeRuntime } from '../../src/graph/index.js';
import { createTrainer, type Trainer } from '../../src/train/step/index.js';
import { GOLDEN, loadGoldenF32, relMaxErr } from '../model/golden.js';

/**
 * `bench train`'s same-run PyTorch reference for stage 2 (src/bench/pytorch/stage2_step.py) computes what our
 * stage-2 graph computes: its eval-mode fusion + decoder match the golden fixtures (the decoder tests' tolerance),
 * and its train-mode loss on the golden inputs equals our stage-2 graph's. Skipped where no Python has torch.
 */
const SCRIPT = TORCH_SCRIPTS.sam2;
const REL_TOL = 1e-4;
const python = await torchPython();

interface Check {
  keysLoaded: number;
  fused_embedding_eval: { maxAbsErr: number; maxAbsRef: number };
  auto_lowres_logits_eval: { maxAbsErr: number; maxAbsRef: number };
  auto_iou_pred_eval: { maxAbsErr: number; maxAbsRef: number };
  trainLoss: { dice: number; ce: number; total: number };
  gradParams: string[];
  grad: Record<string, number[]>;
}

describe.skipIf(!python)('stage2_step.py (PyTorch reference of the stage-2 step)', () => {
  let check: Check;
  const trainers: Trainer[] = [];
  afterAll(async () => {
    for (const t of trainers) await t.release();
  });

  it('--check: fused embedding, automatic-mode logits and IoU match the golden outputs', async () => {
    const { stdout } = await promisify(execFile)(python!, [SCRIPT, '--check', GOLDEN], { maxBuffer: 1 << 20 });
    check = JSON.parse(stdout.trim().split('\n').at(-1)!) as Check;
    console.log(JSON.stringify({ ...check, gradParams: check.gradParams.length, grad: Object.keys(check.grad) }));
    for (const name of ['fused_embedding_eval', 'auto_lowres_logits_eval', 'auto_iou_pred_eval'] as const) {
      expect(check[name].maxAbsErr, name).toBeLessThanOrEqual(REL_TOL * check[name].maxAbsRef);
    }
  });

  it('on the golden inputs its train-mode loss, trained parameter set and a decoder gradient equal our stage-2 graph\'s', async () => {
    expect(check, 'the --check run above').toBeDefined();
    const runtime = createNodeRuntime({ threads: 2 });
    const t = await createTrainer(runtime, {
      stage: 'sam', weights: loadCheckpoint(`${GOLDEN}bone_sam.pth`), trainable: ['attention_fusion.', 'mask_decoder.'], batch: 1,
      samInput: 'embedding', attention: true, mode: 'auto',
    });
    trainers.push(t);
    const inputs = {
      imageEmbedding: loadGoldenF32('image_embedding').data, attentionMap: loadGoldenF32('attention_map_batchstats').data, target: loadGoldenF32('train_target_256').data,
    };
    const ours = await t.forward(inputs);
    console.log(`loss: ours ${JSON.stringify(ours.terms)}, PyTorch ${JSON.stringify(check.trainLoss)}`);
    for (const term of ['dice', 'ce', 'total'] as const) expect(Math.abs(ours.terms[term]! - check.trainLoss[term]), term).toBeLessThan(1e-5 * Math.abs(check.trainLoss[term]) + 1e-6);
    // The same parameters get a gradient (our graph's inputs; the IoU head and mask token 0's hypernetwork reach no loss).
    expect([...t.graph.params].sort()).toEqual(check.gradParams);
    const step = await t.step(inputs);
    for (const [key, theirs] of Object.entries(check.grad)) {
      const err = relMaxErr(step.grads.get(key)!, Float32Array.from(theirs));
      console.log(`${key}: gradient rel max err ${err.toExponential(3)}`);
      expect(err, key).toBeLessThan(1e-4);
    }
  });
});
