import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dice } from '../../src/metrics/index.js';
import {
  makeTransferPhantom, parameterObjectToWorld, readTransformFile, rigidMatrix, rotationDegrees, transferLabels,
  TransferError, writeTransformFile, type TransferResult,
} from '../../src/transfer/index.js';
import { invertAffine, multiply4, type Volume } from '../../src/volume/index.js';

// Phantom: 64x64x24 voxels of 1 x 1 x 2.5 mm on an oblique grid (20 deg), T2-like target (inverted marrow
// contrast, 4% noise, bias field) showing the T1 scene moved by a known rigid transform.
const gridRot = rigidMatrix([1, -0.5, 0.3], 20, [0, 0, 0]);
const R = [gridRot[0]!, gridRot[1]!, gridRot[2]!, gridRot[4]!, gridRot[5]!, gridRot[6]!, gridRot[8]!, gridRot[9]!, gridRot[10]!];
const base = { seed: 3, dims: [64, 64, 24] as [number, number, number], spacing: [1, 1, 2.5] as [number, number, number], gridRotation: R };
const truth = rigidMatrix([0.3, 0.2, 1], 4, [2.0, -1.5, 1.8]); // 4 deg, 3.08 mm
const ph = makeTransferPhantom({ ...base, correction: truth });

const asMask = (v: Volume) => ({ data: Uint8Array.from(v.data, (x) => (x !== 0 ? 1 : 0)), dims: v.dims, spacing: v.spacing });

/** Largest distance (mm) between where two target->T1 maps send the corners of the mask's box (+-30, +-30, +-20 mm). */
function maxPointError(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (const x of [-30, 30]) for (const y of [-30, 30]) for (const z of [-20, 20]) {
    const pa = [0, 1, 2].map((r) => a[4 * r]! * x + a[4 * r + 1]! * y + a[4 * r + 2]! * z + a[4 * r + 3]!);
    const pb = [0, 1, 2].map((r) => b[4 * r]! * x + b[4 * r + 1]! * y + b[4 * r + 2]! * z + b[4 * r + 3]!);
    worst = Math.max(worst, Math.hypot(pa[0]! - pb[0]!, pa[1]! - pb[1]!, pa[2]! - pb[2]!));
  }
  return worst;
}

describe('transferLabels on a moved T2-like phantom', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sab-transfer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let rigid: TransferResult;

  it('--register rigid recovers the transform within 0.5 mm / 0.5 deg and the mask with DSC >= 0.95', async () => {
    rigid = await transferLabels(ph.mask, ph.t1, ph.target, { register: 'rigid', resolutions: 3 });
    const found = Float64Array.from(rigid.report.targetToSourceWorld);
    const residual = multiply4(invertAffine(truth), found);
    expect(rotationDegrees(residual)).toBeLessThan(0.5);
    expect(maxPointError(found, truth)).toBeLessThan(0.5);
    expect(Math.abs(rigid.report.rotationDeg - 4)).toBeLessThan(0.5);
    expect(dice(asMask(rigid.mask), asMask(ph.targetTruth))).toBeGreaterThanOrEqual(0.95);
    expect(rigid.report.after.mutualInformation).toBeGreaterThan(rigid.report.before.mutualInformation);
    expect(rigid.report.after.boundaryScore).toBeGreaterThan(rigid.report.before.boundaryScore);
    expect(rigid.report.verdict).toBe('accepted');
    expect(rigid.mask.dims).toEqual(ph.target.dims);
    expect(Array.from(rigid.mask.affine)).toEqual(Array.from(ph.target.affine));
  }, 120_000);

  it('--register affine also recovers the mask (DSC >= 0.95) with a near-rigid result', async () => {
    const affine = await transferLabels(ph.mask, ph.t1, ph.target, { register: 'affine' });
    expect(affine.parameterObject![0]!.Transform).toEqual(['AffineTransform']);
    expect(Math.abs(affine.report.rotationDeg - 4)).toBeLessThan(1);
    expect(dice(asMask(affine.mask), asMask(ph.targetTruth))).toBeGreaterThanOrEqual(0.95);
    expect(affine.report.verdict).toBe('accepted');
  }, 120_000);

  it('--register none does not: DSC < 0.95 and a rejected verdict', async () => {
    const none = await transferLabels(ph.mask, ph.t1, ph.target, { register: 'none' });
    expect(dice(asMask(none.mask), asMask(ph.targetTruth))).toBeLessThan(0.95);
    expect(none.report.verdict).toBe('rejected');
    expect(none.report.reasons.join()).toMatch(/bone-boundary score/);
    expect(none.report.rotationDeg).toBe(0);
  });

  it('writes the transform as elastix text and applies it again with the same result', async () => {
    const file = join(dir, 'TransformParameters.txt');
    await writeTransformFile(file, rigid.parameterObject!);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/\(Transform "EulerTransform"\)/);
    expect(text).toMatch(/\(TransformParameters( -?[0-9.e-]+){6}\)/);
    const back = await readTransformFile(file);
    expect(maxPointError(parameterObjectToWorld(back), Float64Array.from(rigid.report.targetToSourceWorld))).toBeLessThan(1e-9);
    const again = await transferLabels(ph.mask, ph.t1, ph.target, { transform: back });
    expect(again.report.register).toBe('given');
    expect(Buffer.from(again.mask.data.buffer).equals(Buffer.from(rigid.mask.data.buffer))).toBe(true);
  }, 60_000);

  it('rejects a 15 mm misalignment', async () => {
    const far = makeTransferPhantom({ ...base, correction: rigidMatrix([0.3, 0.2, 1], 4, [12, -9, 0]) });
    const res = await transferLabels(far.mask, far.t1, far.target, { register: 'rigid', resolutions: 3 });
    expect(res.report.verdict).toBe('rejected');
    // Either the registration finds the 15 mm (beyond --max-shift) or it does not align (low boundary score).
    expect(res.report.reasons.join()).toMatch(/max-shift|bone-boundary/);
  }, 120_000);

  it('errors for a mask off the T1 grid, non-overlapping grids and an empty mask', async () => {
    const offGrid = { ...ph.mask, affine: multiply4(rigidMatrix([0, 0, 1], 0, [1, 0, 0]), ph.mask.affine) };
    await expect(transferLabels(offGrid, ph.t1, ph.target, { names: { mask: 'm.nii.gz', t1: 't1.nii.gz' } })).rejects.toThrow(/m\.nii\.gz: its grid differs from the T1 image t1\.nii\.gz/);
    const away = { ...ph.target, affine: multiply4(rigidMatrix([0, 0, 1], 0, [0, 0, 400]), ph.target.affine) };
    await expect(transferLabels(ph.mask, ph.t1, away, { names: { other: 'far.nii' } })).rejects.toThrow(/far\.nii .* do not overlap in world space/);
    const empty = { ...ph.mask, data: new Uint8Array(ph.mask.data.length) };
    await expect(transferLabels(empty, ph.t1, ph.target)).rejects.toThrow(TransferError);
  });

  it('turns a registration elastix cannot complete (a sliver of overlap) into one clear error', async () => {
    const sliver = { ...ph.target, affine: multiply4(rigidMatrix([0, 0, 1], 0, [58, 0, 0]), ph.target.affine) };
    await expect(transferLabels(ph.mask, ph.t1, sliver, { register: 'rigid', resolutions: 3, names: { t1: 't1.nii', other: 'sliver.nii' } }))
      .rejects.toThrow(/t1\.nii -> sliver\.nii: elastix rigid registration failed: .*% of the target grid lies inside T1's/);
  }, 60_000);
});
