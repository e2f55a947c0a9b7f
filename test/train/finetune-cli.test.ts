import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readVolume } from '../../src/io/dispatch.js';
import { GOLDEN_DIR, sab, scratch } from '../cli/helpers.js';

// End to end with the BUILT cli (npm test builds first): phantoms -> both stages (1 iteration each, stage 1
// is the slow one: encoder + VNet backward) -> the exported folder segments a phantom with `sab segment`.
const tmp = scratch('finetune-cli');

describe('sab finetune (built CLI)', () => {
  it('runs stage 1 and stage 2 and exports weights that sab segment loads', async () => {
    const data = join(tmp, 'data');
    const out = join(tmp, 'out');
    expect((await sab(['phantom', '-o', data, '--n', '3', '--seed', '2', '--size', '48,48,16'])).code).toBe(0);
    const ft = await sab([
      'finetune', '--data', data, '--weights', GOLDEN_DIR, '-o', out, '--stage', 'both', '--iterations', '1', '--batch', '1',
      '--warmup', '1', '--val-slices', '1', '--seed', '1', '--no-evaluate', '--json',
    ]);
    expect(ft.stderr).toBe('');
    expect(ft.code).toBe(0);
    const res = JSON.parse(ft.stdout) as { stopped: boolean; stages: { stage: number; losses: number[]; valDsc: unknown[]; vnetValDsc?: unknown[] }[] };
    expect(res.stopped).toBe(false);
    expect(res.stages.map((s) => [s.stage, s.losses.length, s.valDsc.length])).toEqual([[1, 1, 2], [2, 1, 2]]);
    expect(res.stages[0]!.vnetValDsc).toHaveLength(2);
    for (const f of ['bone_sam.pth', 'atten.pth', 'bone_sam.safetensors', 'atten.safetensors', 'log_stage1_sam.csv', 'log_stage1_vnet.csv', 'log_stage2.csv', 'log_stage2.png']) {
      expect(readFileSync(join(out, f)).length, f).toBeGreaterThan(0);
    }
    expect(JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8'))).toMatchObject({ stage: 2, iteration: 1, done: true });

    const mask = join(tmp, 'seg.nii.gz');
    const seg = await sab(['segment', join(data, 'case_002.nii.gz'), '-o', mask, '--weights', out, '--slices', '7:9', '--json']);
    expect(seg.code, seg.stderr).toBe(0);
    expect(JSON.parse(seg.stdout)).toMatchObject({ attention: true, slicesSegmented: 2, dims: [48, 48, 16] });
    expect(readVolume(mask).dims).toEqual([48, 48, 16]);
  }, 900_000); // about a minute on 2 free cores; several under contention

  it('reports bad input as one error line', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty, { recursive: true });
    const r = await sab(['finetune', '--data', empty, '--weights', GOLDEN_DIR, '-o', join(tmp, 'o')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^sab: error: .*empty: no image\/mask pairs found$/);
    const s = await sab(['finetune', '--data', empty, '-o', join(tmp, 'o'), '--stage', '3']);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/--stage 3: expected 1, 2 or both/);
  });
});
