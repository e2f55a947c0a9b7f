import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pngjs from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVolume, writeVolume } from '../../src/io/dispatch.js';
import { parseCsv } from '../../src/metrics/csv.js';
import { listCases } from '../../src/train/data/index.js';
import { makeTransferPhantom, rigidMatrix } from '../../src/transfer/index.js';
import { SHARED_FIXTURES, WRIST, sab, scratch } from './helpers.js';

const dir = scratch('transfer');
const p = (name: string): string => path.join(dir, name);
const bytesOf = (file: string): Buffer => {
  const d = readVolume(file).data;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
};

beforeAll(() => {
  // Coarser than the library tests (1.3 x 1.3 x 3 mm): these check the command's plumbing, not the accuracy.
  const base = { seed: 5, dims: [48, 48, 20] as [number, number, number], spacing: [1.3, 1.3, 3] as [number, number, number] };
  const moved = makeTransferPhantom({ ...base, correction: rigidMatrix([0.3, 0.2, 1], 4, [2.0, -1.5, 1.8]) });
  writeVolume(p('t1.nii.gz'), moved.t1);
  writeVolume(p('t1_mask.nii.gz'), moved.mask);
  writeVolume(p('t2_moved.nii.gz'), moved.target);
  const aligned = makeTransferPhantom({ ...base, targetDims: [44, 40, 24], targetSpacing: [1.45, 1.5, 2.5] });
  writeVolume(p('t2_aligned.nii.gz'), aligned.target);
  const far = makeTransferPhantom({ ...base, correction: rigidMatrix([0, 0, 1], 0, [12, -9, 0]) });
  writeVolume(p('t2_far.nii.gz'), far.target);
});

describe('sab transfer-labels', () => {
  it('returns the mask bit-identically on the sample MRI onto its own grid (--register none)', async () => {
    const mask = path.join(SHARED_FIXTURES, 'mri/wrist_2_official_prediction.nrrd');
    // The official prediction NRRD carries no geometry: without --ignore-affine that is an error naming both files.
    const refused = await sab(['transfer-labels', mask, '--from', WRIST, '--to', WRIST, '-o', p('w.nrrd')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/wrist_2_official_prediction\.nrrd: its grid differs from the T1 image .*wrist_2\.nii\.gz/);
    expect(existsSync(p('w.nrrd'))).toBe(false);
    const r = await sab(['transfer-labels', mask, '--from', WRIST, '--to', WRIST, '-o', p('w.nrrd'), '--ignore-affine', '-q']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/verdict: accepted/);
    expect(bytesOf(p('w.nrrd')).equals(bytesOf(mask))).toBe(true);
  }, 60_000);

  it('registers rigidly, writes the transform, the report as JSON and a preview; --transform reproduces the mask', async () => {
    const r = await sab(['transfer-labels', p('t1_mask.nii.gz'), '--from', p('t1.nii.gz'), '--to', p('t2_moved.nii.gz'), '-o', p('moved_mask.nii.gz'),
      '--register', 'rigid', '--transform-out', p('moved.txt'), '--preview', p('moved.png'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { verdict: string; rotationDeg: number; translationNormMm: number; before: { boundaryScore: number }; after: { boundaryScore: number; mutualInformation: number } };
    expect(report.verdict).toBe('accepted');
    expect(Math.abs(report.rotationDeg - 4)).toBeLessThan(0.5);
    expect(report.after.boundaryScore).toBeGreaterThan(report.before.boundaryScore);
    expect(readFileSync(p('moved.txt'), 'utf8')).toMatch(/\(Transform "EulerTransform"\)/);
    const png = pngjs.PNG.sync.read(readFileSync(p('moved.png')));
    expect(png.width).toBeGreaterThan(48);
    expect(readVolume(p('moved_mask.nii.gz')).dims).toEqual([48, 48, 20]);

    const again = await sab(['transfer-labels', p('t1_mask.nii.gz'), '--from', p('t1.nii.gz'), '--to', p('t2_moved.nii.gz'), '-o', p('again.nii.gz'), '--transform', p('moved.txt')]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/register given/);
    expect(bytesOf(p('again.nii.gz')).equals(bytesOf(p('moved_mask.nii.gz')))).toBe(true);
  }, 120_000);

  it('exits 2 for a rejected pair, and 1 with one clear error for bad inputs, writing nothing', async () => {
    const rejected = await sab(['transfer-labels', p('t1_mask.nii.gz'), '--from', p('t1.nii.gz'), '--to', p('t2_far.nii.gz'), '-o', p('far_mask.nii.gz'), '-q']);
    expect(rejected.code).toBe(2);
    expect(rejected.stdout).toMatch(/verdict: rejected \(bone-boundary score/);

    // A 4-D NIfTI (two volumes): the reader refuses it with the file name.
    writeVolume(p('t2.nii'), readVolume(p('t2_aligned.nii.gz')));
    const nii = readFileSync(p('t2.nii'));
    const four = Buffer.concat([nii, nii.subarray(352)]);
    four.writeInt16LE(4, 40);
    four.writeInt16LE(2, 48);
    writeFileSync(p('t2_4d.nii'), four);
    const bad: [string[], RegExp][] = [
      [['--to', p('t2_4d.nii')], /t2_4d\.nii.*4D file with 2 volumes/],
      [['--to', p('t2_aligned.nii.gz'), '--transform', p('missing.txt')], /missing\.txt: no such transform file/],
      [['--to', p('t2_aligned.nii.gz'), '--transform', p('t1.nii.gz')], /t1\.nii\.gz: not .*elastix/],
      [['--to', p('t2_aligned.nii.gz'), '--register', 'similarity'], /--register must be one of none, rigid, affine/],
      [['--to', p('t2_aligned.nii.gz'), '--transform-out', p('t.txt')], /--transform-out needs --register rigid\|affine or --transform/],
    ];
    for (const [args, message] of bad) {
      const r = await sab(['transfer-labels', p('t1_mask.nii.gz'), '--from', p('t1.nii.gz'), '-o', p('bad.nii.gz'), ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('sab: error'))).toHaveLength(1);
      expect(existsSync(p('bad.nii.gz'))).toBe(false);
    }
  }, 60_000);

  it('--pairs writes masks, previews, transfer_report.csv and a cases.csv that the fine-tuning reader accepts', async () => {
    writeFileSync(p('pairs.csv'), [
      't1,mask,other,location,sequence',
      't1.nii.gz,t1_mask.nii.gz,t2_aligned.nii.gz,knee,T2',
      't1.nii.gz,t1_mask.nii.gz,t2_far.nii.gz,knee,STIR',
      't1.nii.gz,t1_mask.nii.gz,no_such.nii.gz,knee,PD',
    ].join('\n'));
    const r = await sab(['transfer-labels', '--pairs', p('pairs.csv'), '-o', p('batch'), '--mode', 'majority']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 accepted, 2 rejected/);
    const rows = parseCsv(readFileSync(p('batch/transfer_report.csv'), 'utf8')).filter((row) => row.length > 1);
    const col = (name: string): number => rows[0]!.indexOf(name);
    expect(rows).toHaveLength(4);
    expect(rows.slice(1).map((row) => row[col('verdict')])).toEqual(['accepted', 'rejected', 'rejected']);
    expect(rows[2]![col('reasons')]).toMatch(/bone-boundary score/);
    expect(rows[3]![col('reasons')]).toMatch(/error: .*no_such\.nii\.gz/);
    expect(Number(rows[1]![col('boundary_after')])).toBeGreaterThan(0.2);
    expect(existsSync(p('batch/previews/t2_aligned.png'))).toBe(true);
    const cases = listCases(p('batch'));
    const all = [...cases.train, ...cases.val, ...cases.test];
    expect(all).toHaveLength(1);
    expect(all[0]!.image).toBe(p('t2_aligned.nii.gz'));
    expect(all[0]!.sequence).toBe('T2');
    expect(all[0]!.location).toBe('knee');
    const mask = readVolume(all[0]!.mask);
    expect(mask.dims).toEqual([44, 40, 24]);
    expect(mask.data.some((v) => v !== 0)).toBe(true);
  }, 60_000);
});
