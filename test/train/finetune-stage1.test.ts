import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNodeRuntime } from '../../src/graph/runtimeNode.js';
import { finetune, type FinetuneOptions } from '../../src/train/loop/finetune.js';
import { writePhantomSet } from '../../src/train/data/phantom.js';
import { GOLDEN_DIR, scratch } from '../cli/helpers.js';

// Stage 1's resume test, in a file of its own so that vitest runs it beside the stage-2 tests of
// finetune.test.ts (each file is one fork; together they were the longest file of the suite).
// Small phantoms (48x48x16; 3 cases: 2 train, 1 val) and the golden synthetic weights.
const tmp = scratch('finetune-stage1');
const data = join(tmp, 'data');
const runtime = createNodeRuntime({});
// Minutes on 2 shared cores.
const HEAVY = 900_000;

beforeAll(() => {
  writePhantomSet(data, { count: 3, seed: 1, dims: [48, 48, 16] });
});

const base = (outDir: string, extra: Partial<FinetuneOptions> = {}): FinetuneOptions => ({
  data, weights: GOLDEN_DIR, outDir, stages: '2', batch: 1, warmup: 3, augment: false, seed: 3, valSlices: 4, runtime, evaluate: false, ...extra,
});

describe('sab finetune, stage 1 (encoder + decoder adapters, VNet)', () => {
  it('resumes exactly: 2 iterations straight = 1, interruption, --resume 1 (both models, optimizers, RNG, best checkpoint)', async () => {
    const straight = join(tmp, 'straight1');
    const split = join(tmp, 'split1');
    const opts = { stages: '1' as const, iterations: 2, valEvery: 100, checkpointEvery: 100, valSlices: 1, augment: true };
    const a = await finetune(base(straight, opts));
    const b = await finetune(base(split, { ...opts, stopAfter: 1 }));
    expect(b.stopped).toBe(true);
    const c = await finetune(base(split, { ...opts, resume: true }));
    expect(c.stages[0]!.losses).toEqual(a.stages[0]!.losses.slice(1));
    for (const f of ['bone_sam.pth', 'atten.pth', 'log_stage1_sam.csv', 'log_stage1_vnet.csv', 'checkpoint_best_stage1/bone_sam.pth', 'checkpoint_best_stage1/best.json']) {
      expect(readFileSync(join(split, f)).equals(readFileSync(join(straight, f))), f).toBe(true);
    }
  }, HEAVY);
});

