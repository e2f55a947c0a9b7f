import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readVolume } from '../../src/io/dispatch.js';
import { GOLDEN_DIR, SHARED_FIXTURES, WRIST, sab, scratch } from './helpers.js';

const dir = scratch('batch');

describe('sab segment in batch', () => {
  it('segments a folder, keeps going past a bad input, reports it, and skips finished outputs on the next run', async () => {
    const inDir = path.join(dir, 'in');
    const outDir = path.join(dir, 'out');
    mkdirSync(inDir);
    copyFileSync(WRIST, path.join(inDir, 'a_wrist.nii.gz'));
    writeFileSync(path.join(inDir, 'b_broken.nii.gz'), Buffer.from('not a nifti at all'));
    copyFileSync(path.join(SHARED_FIXTURES, 'mri/wrist_2_official_prediction.nrrd'), path.join(inDir, 'c_mask.nrrd'));
    const args = ['segment', inDir, '-o', outDir, '--weights', GOLDEN_DIR, '--slices', '0:2', '--no-attention', '--json'];
    const first = await sab(args);
    expect(first.code).toBe(1);
    const s1 = JSON.parse(first.stdout) as { done: number; skipped: number; failed: number; results: { input: string; status: string; error?: string }[] };
    expect([s1.done, s1.skipped, s1.failed]).toEqual([2, 0, 1]);
    expect(s1.results.find((r) => r.status === 'failed')!.input).toMatch(/b_broken/);
    expect(s1.results.find((r) => r.status === 'failed')!.error).toMatch(/b_broken\.nii\.gz/);
    expect(existsSync(path.join(outDir, 'a_wrist_bone.nii.gz'))).toBe(true);
    expect(existsSync(path.join(outDir, 'c_mask_bone.nrrd'))).toBe(true);
    expect(existsSync(path.join(outDir, 'b_broken_bone.nii.gz'))).toBe(false);
    expect(readVolume(path.join(outDir, 'a_wrist_bone.nii.gz')).dims).toEqual([272, 204, 74]);

    const second = await sab(args);
    const s2 = JSON.parse(second.stdout) as { done: number; skipped: number; failed: number };
    expect([s2.done, s2.skipped, s2.failed]).toEqual([0, 2, 1]);
  });
});
