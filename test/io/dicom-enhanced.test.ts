import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDicomSeg } from '../../src/io/dicom/seg.js';
import type { DicomSourceHeader } from '../../src/io/dicom/series.js';
import { readVolume } from '../../src/io/dispatch.js';
import { createMaskLike } from '../../src/volume/volume.js';
import type { Volume } from '../../src/volume/types.js';
import { natural, writeEnhancedMr, writePart10, wristSlab, writeDicomSeries, type Natural } from './dicom-tools.js';
import { expectAffineClose, scratchDir } from './helpers.js';

// An Enhanced (Legacy Converted Enhanced MR) multi-frame object made from a classic wrist series by dcmjs's own
// converter (writeEnhancedMr), frames in descending slice position: it must read like the series.

const dir = scratchDir('enhanced');

describe('Enhanced MR multi-frame', () => {
  const classicDir = join(dir, 'classic');
  const enhancedFile = join(dir, 'enhanced.dcm');
  let classic: Volume;
  beforeAll(() => {
    writeDicomSeries(classicDir, wristSlab(30, 8));
    classic = readVolume(classicDir);
    writeEnhancedMr(classicDir, enhancedFile);
  });

  it('one .dcm file reads as the same volume as the classic series', () => {
    const v = readVolume(enhancedFile);
    expect(v.dims).toEqual(classic.dims);
    let diff = 0;
    for (let i = 0; i < v.data.length; i++) if (v.data[i] !== classic.data[i]) diff++;
    expect(diff).toBe(0);
    expectAffineClose(v.affine, classic.affine, 1e-6);
    const h = v.source!.header as DicomSourceHeader;
    expect(h.series.sliceCount).toBe(8);
    expect(new Set(h.instances.map((r) => r.sopInstanceUid)).size).toBe(1);
    // frames were stored in descending position: slice k of the volume is frame 8 - k
    expect(h.instances.map((r) => r.frameNumber)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('a DICOM-SEG of it references the one instance and each frame by number', () => {
    const v = readVolume(enhancedFile);
    const mask = createMaskLike(v);
    for (let i = 0; i < mask.data.length; i += 7) mask.data[i] = 1;
    const seg = natural(Buffer.from(buildDicomSeg(mask, { algorithm: { name: 'SegmentAnyBone', version: '9.9', parameters: 'weights sha256 abc' } })));
    expect(seg['ReferencedSeriesSequence'].ReferencedInstanceSequence.ReferencedSOPInstanceUID ?? seg['ReferencedSeriesSequence'].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID)
      .toBe((v.source!.header as DicomSourceHeader).instances[0]!.sopInstanceUid);
    const frames = seg['PerFrameFunctionalGroupsSequence'] as Natural[];
    expect(frames).toHaveLength(8);
    expect(frames.map((f) => f['DerivationImageSequence'].SourceImageSequence.ReferencedFrameNumber)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    const alg = seg['SegmentSequence'].SegmentationAlgorithmIdentificationSequence;
    expect(alg.AlgorithmName).toBe('SegmentAnyBone');
    expect(alg.AlgorithmVersion).toBe('9.9');
    expect(alg.AlgorithmParameters).toBe('weights sha256 abc');
    expect(alg.AlgorithmFamilyCodeSequence.CodeValue).toBe('123110');
    expect(seg['SegmentsOverlap']).toBe('NO');
    expect(seg['SegmentSequence'].SegmentedPropertyTypeCodeSequence.CodeValue).toBe('272673000');
  });

  it('a Siemens mosaic gets one clear error', () => {
    const mosaicDir = join(dir, 'mosaic');
    mkdirSync(mosaicDir);
    const ds = natural(readFileSync(join(classicDir, 'IM00001.dcm')));
    ds['ImageType'] = ['ORIGINAL', 'PRIMARY', 'M', 'ND', 'MOSAIC'];
    writePart10(join(mosaicDir, 'IM00001.dcm'), ds);
    expect(() => readVolume(mosaicDir)).toThrow(/mosaic\/IM00001\.dcm is a Siemens mosaic .*convert it/);
  });

  it('a multi-frame object without per-frame positions gets one clear error', () => {
    const mfDir = join(dir, 'noperframe');
    mkdirSync(mfDir);
    const a = natural(readFileSync(join(classicDir, 'IM00001.dcm')));
    const b = natural(readFileSync(join(classicDir, 'IM00002.dcm')));
    const both = new Uint8Array(a['PixelData'][0].byteLength * 2);
    both.set(new Uint8Array(a['PixelData'][0]));
    both.set(new Uint8Array(b['PixelData'][0]), a['PixelData'][0].byteLength);
    a['NumberOfFrames'] = '2';
    a['PixelData'] = [both.buffer];
    writePart10(join(mfDir, 'mf.dcm'), a);
    expect(() => readVolume(mfDir)).toThrow(/mf\.dcm is a multi-frame image with 2 frames but 0 per-frame functional group items: frame positions are unknown/);
  });
});
