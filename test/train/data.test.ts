import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/metrics/prng.js';
import { DEFAULT_AUGMENT } from '../../src/train/data/augment.js';
import { listCases, loadCase, makeSliceSample, sampleBatch, sampleSliceIndex, TrainingDataError, vnetSample } from '../../src/train/data/cases.js';
import { writePhantomSet } from '../../src/train/data/phantom.js';
import { scratch } from '../cli/helpers.js';

const SHARED = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
const golden = (name: string) => {
  const b = readFileSync(`${SHARED}golden/${name}.bin`);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('training data from the golden case (bit-exact with the official recipe)', () => {
  const c = loadCase({ image: `${SHARED}mri/wrist_2.nii.gz`, mask: `${SHARED}mri/wrist_2_official_prediction.nrrd`, split: 'train' });

  it('slice 37 without augmentation: encoder input as inference makes it, target = train_target_256', () => {
    const s = makeSliceSample(c, 37, mulberry32(1));
    expect(s.prompts.mode).toBe('auto');
    expect([s.rows, s.cols]).toEqual([272, 204]);
    expect(sameBits(s.prenorm, golden('encoder_input_prenorm'))).toBe(true);
    expect(sameBits(s.target256, golden('train_target_256'))).toBe(true);
  });

  it('VNet input and target equal vnet_input / vnet_target_64', () => {
    const v = vnetSample(c);
    expect(sameBits(v.input, golden('vnet_input'))).toBe(true);
    expect(sameBits(v.target, golden('vnet_target_64'))).toBe(true);
  });

  it('prefers bone slices with the given probability', () => {
    const bone = new Set(c.boneSlices);
    expect(bone.size).toBeGreaterThan(0);
    expect(bone.size).toBeLessThan(c.dims[2]);
    const rand = mulberry32(4);
    let hits = 0;
    for (let t = 0; t < 2000; t++) hits += bone.has(sampleSliceIndex(c, rand, 1)) ? 1 : 0;
    expect(hits).toBe(2000);
    const base = bone.size / c.dims[2];
    let anyHits = 0;
    for (let t = 0; t < 2000; t++) anyHits += bone.has(sampleSliceIndex(c, rand, 0)) ? 1 : 0;
    expect(Math.abs(anyHits / 2000 - base)).toBeLessThan(0.05);
  });
});

describe('case lists and batches from a phantom folder', () => {
  const dir = scratch('data');
  writePhantomSet(dir, { count: 4, seed: 11, dims: [40, 40, 20] });

  it('reads cases.csv (splits, location, sequence) and pairs files without it', () => {
    const lists = listCases(dir);
    expect(lists.train.length).toBe(3);
    expect(lists.val.map((e) => e.image)).toEqual([join(dir, 'case_003.nii.gz')]);
    expect(lists.train[0]!.location).toBe('phantom-limb');
    expect(['T1', 'PD']).toContain(lists.train[0]!.sequence);

    const bare = scratch('data-bare');
    for (const f of ['case_000.nii.gz', 'case_000_mask.nii.gz', 'case_001.nii.gz', 'case_001_mask.nii.gz']) copyFileSync(join(dir, f), join(bare, f));
    const paired = listCases(bare, { valFraction: 0 });
    expect(paired.train.map((e) => [e.image, e.mask])).toEqual([
      [join(bare, 'case_000.nii.gz'), join(bare, 'case_000_mask.nii.gz')],
      [join(bare, 'case_001.nii.gz'), join(bare, 'case_001_mask.nii.gz')],
    ]);
    rmSync(join(bare, 'case_001_mask.nii.gz'));
    expect(() => listCases(bare)).toThrow(/case_001\.nii\.gz: no mask/);
    writeFileSync(join(bare, 'bad.csv'), 'image,mask,split\ncase_000.nii.gz,case_000_mask.nii.gz,holdout\n');
    expect(() => listCases(bare, { csv: join(bare, 'bad.csv') })).toThrow(TrainingDataError);
    expect(() => listCases(join(bare, 'nope'))).toThrow(/no such training folder/);
  });

  it('builds augmented, prompted batches with consistent shapes, reproducibly', () => {
    const cases = listCases(dir).train.map((e) => loadCase(e));
    const opts = { augment: DEFAULT_AUGMENT, prompts: { promptedFraction: 0.5 }, boneProbability: 0.9 };
    const a = sampleBatch(cases, 3, mulberry32(5), opts);
    const b = sampleBatch(cases, 3, mulberry32(5), opts);
    for (let i = 0; i < 3; i++) {
      expect(a[i]!.encoderInput.length).toBe(3 * 1024 * 1024);
      expect(a[i]!.target256.length).toBe(256 * 256);
      expect(a[i]!.target256.every((v) => v === 0 || v === 1)).toBe(true);
      expect([a[i]!.caseIndex, a[i]!.k]).toEqual([b[i]!.caseIndex, b[i]!.k]);
      expect(sameBits(a[i]!.encoderInput, b[i]!.encoderInput)).toBe(true);
      expect(sameBits(a[i]!.target256, b[i]!.target256)).toBe(true);
    }
  });
});
