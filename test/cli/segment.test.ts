import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import dcmjs from 'dcmjs';
import { describe, expect, it } from 'vitest';
import { readVolume } from '../../src/io/dispatch.js';
import { writeDicomSeries } from '../../src/io/dicom/write-series.js';
import { resizeNearestPillow } from '../../src/pipeline/preprocess/index.js';
import { fromEncoderFrame } from '../../src/pipeline/prompts.js';
import { createVolume } from '../../src/volume/volume.js';
import { loadCheckpoint } from '../../src/checkpoint/load-checkpoint.js';
import { writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { GOLDEN_DIR, WRIST, countDiff, goldenF32, goldenU8, sab, scratch, sliceRowsI } from './helpers.js';

// End-to-end: `sab segment` on the real wrist MRI with the golden (synthetic) checkpoints. The
// golden masks are what the official code produced for slice 37, so a matching slice proves the
// whole file -> mask path, including geometry and slice placement.

const dir = scratch('segment');
const SLICE = 37;
const [NI, NJ] = [272, 204];

/** Expected prompted mask on the slice grid, and the pixels where the reference logit is within 1e-3 of 0. */
function expectedFromLogits(name: string): { mask: Uint8Array; uncertain: Uint8Array } {
  const logits = goldenF32(name).subarray(256 * 256, 2 * 256 * 256);
  const m256 = Uint8Array.from(logits, (z) => (z > 0 ? 1 : 0));
  const u256 = Uint8Array.from(logits, (z) => (Math.abs(z) < 1e-3 ? 1 : 0));
  return { mask: resizeNearestPillow(m256, 256, 256, NI, NJ), uncertain: resizeNearestPillow(u256, 256, 256, NI, NJ) };
}

function mismatchesOutside(a: Uint8Array, b: Uint8Array, uncertain: Uint8Array): number {
  let n = 0;
  for (let p = 0; p < a.length; p++) if (a[p] !== b[p] && !uncertain[p]) n++;
  return n;
}

/** Golden prompt (1024 frame, x = col, y = row) -> voxel coordinates "i,j" on the wrist slice grid. */
function voxel(x: number, y: number): string {
  const [i, j] = fromEncoderFrame([x, y], NI, NJ);
  return `${i},${j}`;
}

describe('sab segment (automatic mode, whole volume)', () => {
  it('writes a NIfTI mask on the input grid whose slice 37 equals the official mask', async () => {
    const out = path.join(dir, 'wrist_bone.nii.gz');
    const r = await sab(['segment', WRIST, '-o', out, '--weights', GOLDEN_DIR, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { output: string; slicesSegmented: number; boneVolumeMl: number; attention: boolean; peakRssMiB: number };
    expect(summary.slicesSegmented).toBe(74);
    expect(summary.attention).toBe(true);
    // The process's own peak (658 MiB measured; every session and the VNet run included): reported, and plausible.
    expect(summary.peakRssMiB).toBeGreaterThan(100);
    expect(summary.peakRssMiB).toBeLessThan(1536);
    const input = readVolume(WRIST);
    const mask = readVolume(out);
    expect(mask.dims).toEqual(input.dims);
    expect(Array.from(mask.affine)).toEqual(Array.from(input.affine));
    expect(mask.dtype).toBe('uint8');
    let bone = 0;
    for (const v of mask.data) bone += v;
    expect(summary.boneVolumeMl).toBeCloseTo(bone / 1000, 3);
    expect(countDiff(sliceRowsI(mask.data, mask.dims, SLICE), goldenU8('auto_mask_original_size_batchstats'))).toBe(0);
  }, 600_000); // 74 slices through the full model: ~30 s alone, much longer beside another test worker
});

describe('sab segment (prompt mode, golden prompts in voxel coordinates)', () => {
  const cases: [string, string[]][] = [
    ['point', ['--point', `${voxel(520, 430)},${SLICE},1`, '--point', `${voxel(300, 800)},${SLICE},0`]],
    ['box', ['--box', `${voxel(260, 300)},${voxel(760, 720)}@${SLICE}`]],
    ['point_box', ['--point', `${voxel(512, 512)},${SLICE},1`, '--box', `${voxel(200, 200)},${voxel(820, 820)}@${SLICE}`]],
  ];
  for (const [name, args] of cases) {
    it(`${name}: slice ${SLICE} equals the mask of the golden ${name} logits`, async () => {
      const out = path.join(dir, `prompt_${name}.nrrd`);
      const r = await sab(['segment', WRIST, '-o', out, '--weights', GOLDEN_DIR, '--prompted-only', ...args]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/wrote .*prompt_.*\.nrrd: bone mask 272x204x74/);
      const mask = readVolume(out);
      const expected = expectedFromLogits(`${name}_lowres_logits`);
      const got = sliceRowsI(mask.data, mask.dims, SLICE);
      expect(mismatchesOutside(got, expected.mask, expected.uncertain)).toBe(0);
      // --prompted-only: every other slice is empty.
      let elsewhere = 0;
      for (let k = 0; k < 74; k++) if (k !== SLICE) for (const v of sliceRowsI(mask.data, mask.dims, k)) elsewhere += v;
      expect(elsewhere).toBe(0);
    });
  }
});

describe('sab segment output formats', () => {
  it('NRRD output keeps the input geometry; --slices limits the work', async () => {
    const out = path.join(dir, 'slices.nrrd');
    const r = await sab(['segment', WRIST, '-o', out, '--weights', GOLDEN_DIR, '--slices', '36:39']);
    expect(r.code, r.stderr).toBe(0);
    const input = readVolume(WRIST);
    const mask = readVolume(out);
    expect(mask.dims).toEqual(input.dims);
    for (let q = 0; q < 16; q++) expect(mask.affine[q]).toBeCloseTo(input.affine[q]!, 9);
    expect(countDiff(sliceRowsI(mask.data, mask.dims, SLICE), goldenU8('auto_mask_original_size_batchstats'))).toBe(0);
    expect(sliceRowsI(mask.data, mask.dims, 10).every((v) => v === 0)).toBe(true);
  });

  it('a DICOM series in gives a DICOM-SEG out whose frame for slice 37 equals the official mask', async () => {
    const wrist = readVolume(WRIST);
    // A right-handed LPS-style grid so the DICOM slice order equals the NIfTI voxel order.
    const affine = Float64Array.from([-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    const series = path.join(dir, 'dicom_series');
    writeDicomSeries(series, createVolume(wrist.data, wrist.dims, affine), { seriesDescription: 'wrist' });
    const reread = readVolume(series);
    expect(countDiff(reread.data, wrist.data)).toBe(0);

    const out = path.join(dir, 'wrist_seg.dcm');
    const r = await sab(['segment', series, '-o', out, '--weights', GOLDEN_DIR, '--slices', '37:38']);
    expect(r.code, r.stderr).toBe(0);
    const buf = readFileSync(out);
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
      dcmjs.data.DicomMessage.readFile(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)).dict,
    ) as Record<string, any>;
    expect(ds['Modality']).toBe('SEG');
    expect(ds['SegmentSequence'][0].SegmentLabel).toMatch(/bone/i);
    expect(ds['ReferencedSeriesSequence'][0].SeriesInstanceUID).toBe((reread.source as any).header?.seriesInstanceUid ?? ds['ReferencedSeriesSequence'][0].SeriesInstanceUID);
    const frames = Number(ds['NumberOfFrames']);
    expect(frames).toBe(1); // only slice 37 was segmented and holds bone
    const [rows, cols] = [Number(ds['Rows']), Number(ds['Columns'])];
    expect(rows * cols).toBe(NI * NJ);
    const bits = new Uint8Array(ds['PixelData'][0] ?? ds['PixelData']);
    const frame = new Uint8Array(rows * cols);
    for (let p = 0; p < frame.length; p++) frame[p] = (bits[p >> 3]! >> (p & 7)) & 1;
    // DICOM frame pixel (row r, col c) = voxel (i = c, j = r): the volume's own slice layout.
    const golden = goldenU8('auto_mask_original_size_batchstats');
    const expected = new Uint8Array(NI * NJ);
    for (let i = 0; i < NI; i++) for (let j = 0; j < NJ; j++) expected[i + j * NI] = golden[i * NJ + j]!;
    expect(countDiff(frame, expected)).toBe(0);
  });
});

describe('sab segment errors: one clear message, non-zero exit, no output', () => {
  it('missing weights says where to get them', async () => {
    const out = path.join(dir, 'never1.nii.gz');
    const r = await sab(['segment', WRIST, '-o', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/model weights not found.*bone_sam\.pth.*sab weights install/s);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('a wrong checkpoint lists missing and unexpected keys', async () => {
    const wdir = path.join(dir, 'badweights');
    mkdirSync(wdir);
    const sd = loadCheckpoint(path.join(GOLDEN_DIR, 'bone_sam.pth'));
    sd.delete('mask_decoder.iou_token.weight');
    sd.set('mask_decoder.surprise.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
    writeFileSync(path.join(wdir, 'bone_sam.pth'), writeSafetensors(sd));
    copyFileSync(path.join(GOLDEN_DIR, 'atten.pth'), path.join(wdir, 'atten.pth'));
    const out = path.join(dir, 'never2.nii.gz');
    const r = await sab(['segment', WRIST, '-o', out, '--weights', wdir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/mask_decoder\.iou_token\.weight/);
    expect(r.stderr).toMatch(/mask_decoder\.surprise\.weight/);
    expect(existsSync(out)).toBe(false);
  });

  it('unreadable input, unwritable output directory, prompt outside the volume', async () => {
    const bad = path.join(dir, 'corrupt.nii.gz');
    writeFileSync(bad, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
    let r = await sab(['segment', bad, '-o', path.join(dir, 'never3.nii.gz'), '--weights', GOLDEN_DIR]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/corrupt\.nii\.gz/);
    expect(existsSync(path.join(dir, 'never3.nii.gz'))).toBe(false);

    // /proc refuses new files even for root (CI runs as root, where chmod would not stop a write).
    r = await sab(['segment', WRIST, '-o', '/proc/sab-mask.nii.gz', '--weights', GOLDEN_DIR, '--slices', '0:1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/sab-mask\.nii\.gz.*not writable/);
    r = await sab(['segment', WRIST, '-o', path.join(dir, 'no-such-dir', 'mask.nii.gz'), '--weights', GOLDEN_DIR, '--slices', '0:1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/does not exist/);

    r = await sab(['segment', WRIST, '-o', path.join(dir, 'never4.nii.gz'), '--weights', GOLDEN_DIR, '--point', '300,10,5']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/outside the volume/);
    expect(existsSync(path.join(dir, 'never4.nii.gz'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
