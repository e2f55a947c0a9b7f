import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { createNodeRuntime } from '../../src/graph/runtimeNode.js';
import { writeVolume } from '../../src/io/dispatch.js';
import { finetune, FinetuneError, type FinetuneOptions, type StageSummary } from '../../src/train/loop/finetune.js';
import { makePhantom, writePhantomSet } from '../../src/train/data/phantom.js';
import { GOLDEN_DIR, scratch } from '../cli/helpers.js';

// Small phantoms (48x48x16; 3 cases: 2 train, 1 val) and the golden synthetic weights keep this quick on 2 cores.
const tmp = scratch('finetune');
const data = join(tmp, 'data');
// Two validation cases at two body locations, for the per-location validation DSC and the closing table.
const data2 = join(tmp, 'data2');
const runtime = createNodeRuntime({});
// Each of these runs fine-tunes several times; minutes on 2 shared cores (CI's 2 cores alone: about a quarter of that).
const HEAVY = 900_000;
// The both-stages run: 15 min measured at load average 7-9 (other jobs on the 2 cores); it is mostly stage 1's 12 VNet steps.
const HEAVIEST = 2_400_000;
const mean = (a: number[]) => a.reduce((p, v) => p + v, 0) / a.length;

beforeAll(() => {
  writePhantomSet(data, { count: 3, seed: 1, dims: [48, 48, 16] });
  writePhantomSet(data2, { count: 4, seed: 1, dims: [48, 48, 16] });
  writeFileSync(join(data2, 'cases.csv'), [
    'image,mask,location,sequence,split',
    ...['train', 'train', 'val', 'val'].map((split, i) => `case_00${i}.nii.gz,case_00${i}_mask.nii.gz,${['knee', 'knee', 'knee', 'wrist'][i]},T1,${split}`),
  ].join('\n') + '\n');
});

const base = (outDir: string, extra: Partial<FinetuneOptions> = {}): FinetuneOptions => ({
  data, weights: GOLDEN_DIR, outDir, stages: '2', batch: 1, warmup: 3, augment: false, seed: 3, valSlices: 4, runtime, evaluate: false, ...extra,
});

describe('sab finetune, both stages, then stage 2 alone', () => {
  // The must-show run: stage 1 (encoder + decoder adapters, VNet) then stage 2 (fusion + decoder, 30%
  // prompted iterations), fixed seed, on phantoms; validation DSC rises in each stage.
  it('both stages (12 iterations each, hybrid prompting in stage 2) raise the validation DSC; per-location DSC, best checkpoints, closing table', async () => {
    const out = join(tmp, 'trend');
    const res = await finetune(base(out, { data: data2, stages: 'both', iterations: 12, valEvery: 6, evaluate: true }));
    expect(res.stopped).toBe(false);
    const [s1, s] = res.stages as [StageSummary, StageSummary];
    expect([s1.stage, s.stage]).toEqual([1, 2]);

    // Stage 1: SAM adapters and the VNet, each validated at 0, 6 and 12. The VNet's validation DSC
    // rises (measured 0.08 -> 0.24 -> 0.33); the SAM part's does not yet in 12 iterations (0.06 -> 0.03
    // -> 0.01: cross-entropy first pulls every logit towards background), stage 2 then lifts it.
    expect(s1.losses).toHaveLength(12);
    expect(s1.valDsc.map((v) => v.iteration)).toEqual([0, 6, 12]);
    expect(s1.vnetValDsc!.map((v) => v.iteration)).toEqual([0, 6, 12]);
    expect(s1.vnetValDsc!.at(-1)!.dsc).toBeGreaterThan(s1.vnetValDsc![0]!.dsc + 0.1);
    expect(s1.vnetValDsc![1]!.dsc).toBeGreaterThan(s1.vnetValDsc![0]!.dsc);
    expect(mean(s1.losses.slice(-4))).toBeLessThan(mean(s1.losses.slice(0, 4)));
    expect(s1.best!.stage).toBe(1);
    for (const f of ['log_stage1_sam.csv', 'log_stage1_vnet.csv', 'checkpoint_best_stage1/bone_sam.pth', 'checkpoint_best_stage1/atten.pth']) expect(existsSync(join(out, f)), f).toBe(true);

    // Stage 2 from stage 1's weights.
    expect(s.losses).toHaveLength(12);
    expect(s.prompted).toBeGreaterThan(0); // hybrid prompting did run prompted iterations
    expect(mean(s.losses.slice(-4))).toBeLessThan(0.7 * mean(s.losses.slice(0, 4)));
    expect(s.valDsc.map((v) => v.iteration)).toEqual([0, 6, 12]);
    expect(s.valDsc.at(-1)!.dsc).toBeGreaterThan(s.valDsc[0]!.dsc + 0.1);
    expect(s.valDsc[1]!.dsc).toBeGreaterThan(s.valDsc[0]!.dsc);
    // The whole run: the segmenting model ends far above where it started (measured 0.06 -> 0.46).
    expect(s.valDsc.at(-1)!.dsc).toBeGreaterThan(s1.valDsc[0]!.dsc + 0.2);
    // Per location (cases CSV): both validation locations, each rising.
    for (const loc of ['knee', 'wrist']) expect(s.valDsc.at(-1)!.byLocation[loc]!, loc).toBeGreaterThan(s.valDsc[0]!.byLocation[loc]!);
    expect(Object.keys(s.valDsc[0]!.byLocation)).toEqual(['knee', 'wrist']);
    // The embedding spill file is gone after the stage.
    expect(existsSync(join(out, '.stage2-embeddings.bin'))).toBe(false);

    // Log: iteration 0 (validation only) + 12 rows, a DSC column per location; the plot is a PNG.
    const csv = readFileSync(join(out, 'log_stage2.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('iteration,loss_dice,loss_ce,loss_total,lr,val_dsc,val_dsc_knee,val_dsc_wrist');
    expect(csv).toHaveLength(14);
    expect(readFileSync(join(out, 'log_stage2.png')).subarray(1, 4).toString()).toBe('PNG');

    // Best checkpoint: the validation with the highest DSC, its weights in checkpoint_best_stage2/.
    const bestPoint = s.valDsc.reduce((a, b) => (b.dsc > a.dsc ? b : a));
    expect(s.best).toMatchObject({ stage: 2, iteration: bestPoint.iteration, valDsc: bestPoint.dsc });
    const best = JSON.parse(readFileSync(join(out, 'checkpoint_best_stage2', 'best.json'), 'utf8')) as { iteration: number };
    expect(best.iteration).toBe(bestPoint.iteration);
    const bestSam = loadCheckpoint(join(out, 'checkpoint_best_stage2', 'bone_sam.pth'));
    expect([...bestSam.keys()]).toEqual([...loadCheckpoint(join(GOLDEN_DIR, 'bone_sam.pth')).keys()]);
    if (bestPoint.iteration === 12) expect(readFileSync(join(out, 'checkpoint_best_stage2', 'bone_sam.pth')).equals(readFileSync(join(out, 'bone_sam.pth')))).toBe(true);

    // Closing evaluate-style table: each validation volume segmented whole, per location + Overall.
    const ev = res.evaluation!;
    expect(ev.cases.map((c) => c.location)).toEqual(['knee', 'wrist']);
    expect(ev.table.map((r) => [r.location, r.n])).toEqual([['knee', 1], ['wrist', 1], ['Overall', 2]]);
    for (const c of ev.cases) expect(c.metrics.dsc).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'validation_table.md'), 'utf8')).toMatch(/^\| Location \| n \| DSC \(95% CI\) \| IoU \(95% CI\) \|\n[^\n]*\n\| knee \| 1 \|/);
    expect(readFileSync(join(out, 'validation_cases.csv'), 'utf8').split('\n')[0]).toBe('image,location,dsc,iou,precision,recall,hd95_mm,assd_mm,pred_ml,gt_ml');

    // Export: every golden key; adapters (stage 1), fusion and decoder (stage 2) changed; the rest of
    // the encoder and the prompt encoder bit-identical; fusion BN running stats moved once per stage-2 step.
    const golden = loadCheckpoint(join(GOLDEN_DIR, 'bone_sam.pth'));
    const tuned = loadCheckpoint(join(out, 'bone_sam.pth'));
    expect([...tuned.keys()]).toEqual([...golden.keys()]);
    const same = (k: string) => Buffer.from(tuned.get(k)!.data.buffer, tuned.get(k)!.data.byteOffset, tuned.get(k)!.data.byteLength)
      .equals(Buffer.from(golden.get(k)!.data.buffer, golden.get(k)!.data.byteOffset, golden.get(k)!.data.byteLength));
    expect(same('attention_fusion.gate')).toBe(false);
    expect(same('attention_fusion.fuse_emb.0.weight')).toBe(false);
    expect(same('mask_decoder.output_hypernetworks_mlps.2.layers.0.weight')).toBe(false);
    expect(same('attention_fusion.fuse_emb.1.running_mean')).toBe(false);
    expect([...golden.keys()].some((k) => k.startsWith('image_encoder.') && k.includes('Adapter.') && !same(k))).toBe(true);
    expect((tuned.get('attention_fusion.fuse_emb.1.num_batches_tracked')!.data as BigInt64Array)[0]).toBe(
      (golden.get('attention_fusion.fuse_emb.1.num_batches_tracked')!.data as BigInt64Array)[0]! + 12n,
    );
    for (const k of golden.keys()) if ((k.startsWith('image_encoder.') && !k.includes('Adapter.') && !/\.(running_mean|running_var|num_batches_tracked)$/.test(k)) || k.startsWith('prompt_encoder.')) expect(same(k), k).toBe(true);
    // Stage 1 trained the VNet: atten.pth has the golden keys and new values.
    const vnet0 = loadCheckpoint(join(GOLDEN_DIR, 'atten.pth'));
    const vnet1 = loadCheckpoint(join(out, 'atten.pth'));
    expect([...vnet1.keys()]).toEqual([...vnet0.keys()]);
    // safetensors: same tensors as the .pth.
    const st = readSafetensors(new Uint8Array(readFileSync(join(out, 'bone_sam.safetensors'))), 'bone_sam.safetensors');
    expect(Array.from(st.get('attention_fusion.gate')!.data as Float32Array)).toEqual(Array.from(tuned.get('attention_fusion.gate')!.data as Float32Array));
  }, HEAVIEST);

  it('resumes exactly: 6 iterations straight = 3, interruption, --resume 3', async () => {
    const straight = join(tmp, 'straight');
    const split = join(tmp, 'split');
    const opts = { iterations: 6, valEvery: 3, checkpointEvery: 100 };
    const a = await finetune(base(straight, opts));
    const b = await finetune(base(split, { ...opts, stopAfter: 3 }));
    expect(b.stopped).toBe(true);
    expect(b.stages[0]!.losses).toHaveLength(3);
    const state = JSON.parse(readFileSync(join(split, 'checkpoint', 'state.json'), 'utf8')) as { iteration: number; done: boolean };
    expect(state).toMatchObject({ iteration: 3, done: false });
    await expect(finetune(base(split, opts))).rejects.toThrow(/already holds a training checkpoint; pass --resume/);
    const c = await finetune(base(split, { ...opts, resume: true }));
    expect(c.stages[0]!.losses).toEqual(a.stages[0]!.losses.slice(3));
    expect(a.stages[0]!.prompted).toBeGreaterThan(0); // the compared run includes prompted iterations
    expect(readFileSync(join(split, 'bone_sam.pth')).equals(readFileSync(join(straight, 'bone_sam.pth')))).toBe(true);
    expect(readFileSync(join(split, 'log_stage2.csv'), 'utf8')).toBe(readFileSync(join(straight, 'log_stage2.csv'), 'utf8'));
    for (const f of ['bone_sam.pth', 'best.json']) expect(readFileSync(join(split, 'checkpoint_best_stage2', f)).equals(readFileSync(join(straight, 'checkpoint_best_stage2', f))), f).toBe(true);
  }, HEAVY);
});

describe('sab finetune errors', () => {
  it('empty data folder', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty, { recursive: true });
    await expect(finetune(base(join(tmp, 'o1'), { data: empty, iterations: 1 }))).rejects.toThrow(/empty: no image\/mask pairs found/);
  });

  it('a mask that does not match its image', async () => {
    const bad = join(tmp, 'bad');
    mkdirSync(bad, { recursive: true });
    const a = makePhantom(5, { dims: [48, 48, 16] });
    const b = makePhantom(6, { dims: [40, 48, 16] });
    writeVolume(join(bad, 'x.nii.gz'), a.image);
    writeVolume(join(bad, 'x_mask.nii.gz'), b.mask);
    writeFileSync(join(bad, 'cases.csv'), 'image,mask,split\nx.nii.gz,x_mask.nii.gz,train\n');
    await expect(finetune(base(join(tmp, 'o2'), { data: bad, iterations: 1 }))).rejects.toThrow(/x_mask\.nii\.gz: mask dims 40x48x16 differ from the image/);
  });

  it('an output folder that cannot be written', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    await expect(finetune(base(join(file, 'out'), { iterations: 1 }))).rejects.toThrow(FinetuneError);
    await expect(finetune(base(join(file, 'out'), { iterations: 1 }))).rejects.toThrow(/a-file\/out: cannot write the output folder/);
  });

  it('missing weights (no folder, or atten.pth absent)', async () => {
    await expect(finetune(base(join(tmp, 'o3'), { weights: join(tmp, 'nowhere'), iterations: 1 }))).rejects.toThrow(/nowhere: no such weights folder/);
    const half = join(tmp, 'half');
    mkdirSync(half, { recursive: true });
    copyFileSync(join(GOLDEN_DIR, 'bone_sam.pth'), join(half, 'bone_sam.pth'));
    await expect(finetune(base(join(tmp, 'o4'), { weights: half, iterations: 1 }))).rejects.toThrow(/atten\.pth is missing/);
    await expect(finetune(base(join(tmp, 'o5'), { resume: true, iterations: 1 }))).rejects.toThrow(/no checkpoint to resume/);
  });
});
