import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { listDicomSeries, readDicomSeries, type DicomSourceHeader } from '../../src/io/dicom/series.js';
import { writeDicomSeries } from '../../src/io/dicom/write-series.js';
import { readVolume, writeVolume } from '../../src/io/dispatch.js';
import { mat4 } from '../../src/volume/affine.js';
import { createMaskLike, createVolume, voxelStats } from '../../src/volume/volume.js';
import type { Volume } from '../../src/volume/types.js';
import { natural, type Natural } from './dicom-tools.js';
import { expectAffineClose, ramp, scratchDir, SHARED } from './helpers.js';

const dir = scratchDir('dicom');
const oblique = mat4([[0.8 * Math.cos(0.3), -0.7 * Math.sin(0.3), 0, -40], [0.8 * Math.sin(0.3), 0.7 * Math.cos(0.3), 0.2, 25.5], [0, -0.1, 2.5, -60]]);
const small = (): Volume => createVolume(Uint16Array.from(ramp(6 * 5 * 4, 21, 4000)), [6, 5, 4], oblique);

const readNatural = (path: string): Natural => natural(readFileSync(path));

describe('DICOM series from the wrist volume (written with dcmjs)', () => {
  let wrist: Volume;
  let dicomVol: Volume;
  const seriesDir = join(dir, 'wrist');
  beforeAll(() => {
    wrist = readVolume(join(SHARED, 'mri/wrist_2.nii.gz'));
    writeDicomSeries(seriesDir, wrist, { seriesDescription: 'wrist' });
    dicomVol = readVolume(seriesDir);
  });

  it('reads back the same voxels at the same world positions', () => {
    expect(readdirSync(seriesDir)).toHaveLength(74);
    expect(dicomVol.dims).toEqual([272, 204, 74]);
    expect(dicomVol.dtype).toBe('uint16');
    // The wrist grid is left-handed (nibabel's x-flipped base affine), so row x column points against its k axis;
    // DICOM readers stack slices along row x column, which reverses k. Same voxels, same world geometry:
    const per = 272 * 204;
    let diff = 0;
    for (let k = 0; k < 74; k++) {
      for (let i = 0; i < per; i++) if (dicomVol.data[k * per + i] !== wrist.data[(73 - k) * per + i]) diff++;
    }
    expect(diff).toBe(0);
    const expected = Float64Array.from(wrist.affine);
    for (let r = 0; r < 3; r++) {
      expected[r * 4 + 3] = wrist.affine[r * 4 + 3]! + 73 * wrist.affine[r * 4 + 2]!;
      expected[r * 4 + 2] = -wrist.affine[r * 4 + 2]!;
    }
    expectAffineClose(dicomVol.affine, expected, 1e-6);
    expect(voxelStats(dicomVol.data).sum).toBe(195155883);
    expect(dicomVol.source!.format).toBe('dicom');
  });

  it('writes a DICOM-SEG that dcmjs parses, with one Bone segment and one frame per slice holding mask voxels', () => {
    const official = readVolume(join(SHARED, 'mri/wrist_2_official_prediction.nrrd'));
    const mask = createMaskLike(dicomVol);
    const perSlice = new Array<number>(74).fill(0);
    for (let i = 0; i < mask.data.length; i++) {
      if (official.data[i]) {
        mask.data[i] = 1;
        perSlice[Math.floor(i / (272 * 204))]!++;
      }
    }
    const segPath = join(dir, 'wrist-seg.dcm');
    writeVolume(segPath, mask);
    const seg = readNatural(segPath);
    const src = dicomVol.source!.header as DicomSourceHeader;
    const framesK = perSlice.map((c, k) => (c > 0 ? k : -1)).filter((k) => k >= 0);
    expect(seg.Modality).toBe('SEG');
    expect(seg.SOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.66.4');
    expect(Number(seg.NumberOfFrames)).toBe(framesK.length);
    expect([seg.Rows, seg.Columns, seg.BitsAllocated, seg.SegmentationType]).toEqual([204, 272, 1, 'BINARY']);
    expect(seg.FrameOfReferenceUID).toBe(src.frameOfReferenceUid);
    expect(seg.StudyInstanceUID).toBe(src.studyInstanceUid);
    const segment = seg.SegmentSequence[0] ?? seg.SegmentSequence;
    expect(segment.SegmentLabel).toBe('Bone');
    expect(segment.SegmentedPropertyCategoryCodeSequence[0]?.CodeValue ?? segment.SegmentedPropertyCategoryCodeSequence.CodeValue).toBe('91723000');
    expect(segment.SegmentedPropertyTypeCodeSequence[0]?.CodeValue ?? segment.SegmentedPropertyTypeCodeSequence.CodeValue).toBe('272673000');
    const refSeries = seg.ReferencedSeriesSequence[0] ?? seg.ReferencedSeriesSequence;
    expect(refSeries.SeriesInstanceUID).toBe(src.series.seriesInstanceUid);
    expect(refSeries.ReferencedInstanceSequence).toHaveLength(74);
    // Per-frame references and bit-packed pixels match the mask slice by slice.
    const pixels = new Uint8Array(seg.PixelData[0]);
    const per = 272 * 204;
    let total = 0;
    seg.PerFrameFunctionalGroupsSequence.forEach((fg: any, f: number) => {
      const k = framesK[f]!;
      const derivation = fg.DerivationImageSequence[0] ?? fg.DerivationImageSequence;
      const source = derivation.SourceImageSequence[0] ?? derivation.SourceImageSequence;
      expect(source.ReferencedSOPInstanceUID).toBe(src.instances[k]!.sopInstanceUid);
      const pos = (fg.PlanePositionSequence[0] ?? fg.PlanePositionSequence).ImagePositionPatient.map(Number);
      src.instances[k]!.position.forEach((p, a) => expect(pos[a]).toBeCloseTo(p, 4));
      let count = 0;
      for (let i = 0; i < per; i++) {
        const bit = f * per + i;
        const v = (pixels[bit >> 3]! >> (bit & 7)) & 1;
        if (v !== mask.data[k * per + i]) throw new Error(`frame ${f} pixel ${i} differs`);
        count += v;
      }
      total += count;
    });
    expect(total).toBe(187791);
  });

  it('a SEG copied into the series folder is not taken for a second series', () => {
    copyFileSync(join(dir, 'wrist-seg.dcm'), join(seriesDir, 'zz-seg.dcm'));
    expect(listDicomSeries(seriesDir)).toHaveLength(1);
    rmSync(join(seriesDir, 'zz-seg.dcm'));
  });

  it('refuses to write a DICOM-SEG without a DICOM reference', () => {
    expect(() => writeVolume(join(dir, 'x.dcm'), createMaskLike(wrist))).toThrow(/x\.dcm: a DICOM-SEG needs the source DICOM series/);
    expect(existsSync(join(dir, 'x.dcm'))).toBe(false);
  });
});

describe('DICOM series reading', () => {
  it('oblique geometry and rescale slope/intercept survive; a .zip reads the same', () => {
    const base = small();
    const vol = createVolume(Float32Array.from(base.data, (v) => v * 0.5 - 100), base.dims, base.affine);
    const d = join(dir, 'oblique');
    writeDicomSeries(d, vol, { rescaleSlope: 0.5, rescaleIntercept: -100 });
    const back = readDicomSeries(d);
    expect(back.dtype).toBe('float32');
    expect(Array.from(back.data)).toEqual(Array.from(vol.data));
    expectAffineClose(back.affine, oblique, 1e-6);
    const zip: Record<string, Uint8Array> = {};
    for (const f of readdirSync(d)) zip[`series/${f}`] = readFileSync(join(d, f));
    writeFileSync(join(dir, 'oblique.zip'), zipSync(zip));
    const fromZip = readVolume(join(dir, 'oblique.zip'));
    expect(Array.from(fromZip.data)).toEqual(Array.from(vol.data));
    expectAffineClose(fromZip.affine, oblique, 1e-6);
  });

  it('several series: listed, and picked with seriesUid', () => {
    const d = join(dir, 'two');
    mkdirSync(d);
    writeDicomSeries(join(d, 'a'), small(), { seriesInstanceUid: '1.2.3.1', seriesDescription: 'A' });
    const b = small();
    b.data.fill(7);
    writeDicomSeries(join(d, 'b'), b, { seriesInstanceUid: '1.2.3.2', seriesDescription: 'B' });
    const list = listDicomSeries(d);
    expect(list.map((s) => [s.seriesInstanceUid, s.description, s.sliceCount])).toEqual([['1.2.3.1', 'A', 4], ['1.2.3.2', 'B', 4]]);
    expect(() => readVolume(d)).toThrow(/2 series found; choose one with seriesUid.*1\.2\.3\.1.*1\.2\.3\.2/);
    expect(readVolume(d, { seriesUid: '1.2.3.2' }).data[3]).toBe(7);
  });

  it('missing slice -> non-uniform spacing error naming the files', () => {
    const d = join(dir, 'missing');
    writeDicomSeries(d, createVolume(new Uint16Array(6 * 5 * 5), [6, 5, 5], oblique));
    rmSync(join(d, 'IM00003.dcm'));
    expect(() => readVolume(d)).toThrow(/missing: series .*non-uniform slice spacing \(missing slice\?\): gap of [\d.]+ mm between .*IM0000[24]\.dcm and .*IM0000[24]\.dcm, expected/);
  });

  it('mixed orientations and inconsistent rows/cols are refused', () => {
    const d = join(dir, 'mixed');
    writeDicomSeries(d, small(), { seriesInstanceUid: '1.2.9' });
    const rotated = createVolume(small().data, [6, 5, 4], mat4([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]]));
    writeDicomSeries(join(dir, 'rot'), rotated, { seriesInstanceUid: '1.2.9' });
    copyFileSync(join(dir, 'rot', 'IM00001.dcm'), join(d, 'ZZ.dcm'));
    expect(() => readVolume(d)).toThrow(/mixed orientations: .*IM00001\.dcm has ImageOrientationPatient .* but .*ZZ\.dcm has/);
    rmSync(join(d, 'ZZ.dcm'));
    writeDicomSeries(join(dir, 'size'), createVolume(new Uint16Array(7 * 5 * 4), [7, 5, 4], oblique), { seriesInstanceUid: '1.2.9' });
    copyFileSync(join(dir, 'size', 'IM00002.dcm'), join(d, 'ZZ.dcm'));
    expect(() => readVolume(d)).toThrow(/inconsistent image size: .* is 5x6 .* but .*ZZ\.dcm is 5x7/);
  });

  it('a folder without DICOM files is a clear error', () => {
    const d = join(dir, 'empty-ish');
    writeDicomSeries(d, small());
    for (const f of readdirSync(d)) writeFileSync(join(d, f), 'not dicom');
    expect(() => readVolume(d)).toThrow(/empty-ish: no DICOM images found \(4 file\(s\) looked at\)/);
  });
});
