import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDicomSeg } from '../../src/io/dicom/seg.js';
import type { DicomSourceHeader } from '../../src/io/dicom/series.js';
import { readVolume } from '../../src/io/dispatch.js';
import { createMaskLike } from '../../src/volume/volume.js';
import type { Volume } from '../../src/volume/types.js';
import { wristSlab, writeDicomSeries } from './dicom-tools.js';
import { expectAffineClose, scratchDir } from './helpers.js';

// An Enhanced (Legacy Converted Enhanced MR) multi-frame object made from a classic wrist series by dcmjs's own
// converter (dcmjs.normalizers), which stores the frames in descending slice position: it must read like the series.

type Natural = Record<string, any>;
const dir = scratchDir('enhanced');

function natural(bytes: Buffer): Natural {
  const dict = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict) as Natural;
}

function writePart10(path: string, ds: Natural): void {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer, MediaStorageSOPClassUID: ds['SOPClassUID'],
    MediaStorageSOPInstanceUID: ds['SOPInstanceUID'], TransferSyntaxUID: '1.2.840.10008.1.2.1', ImplementationClassUID: '2.25.1',
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
  writeFileSync(path, new Uint8Array(dict.write()));
}

describe('Enhanced MR multi-frame', () => {
  const classicDir = join(dir, 'classic');
  const enhancedFile = join(dir, 'enhanced.dcm');
  let classic: Volume;
  beforeAll(() => {
    writeDicomSeries(classicDir, wristSlab(30, 8));
    classic = readVolume(classicDir);
    const datasets = readdirSync(classicDir).sort().map((f) => {
      const ds = natural(readFileSync(join(classicDir, f)));
      ds['PixelData'] = ds['PixelData'][0]; // dcmjs's converter expects one ArrayBuffer per image
      return ds;
    });
    const mf = (dcmjs as unknown as { normalizers: { Normalizer: { normalizeToDataset(d: Natural[]): Natural } } }).normalizers.Normalizer.normalizeToDataset(datasets);
    // dcmjs 0.51 leaves the SOP class as a keyword and the pixel data unwrapped: fix those two for writing.
    mf['SOPClassUID'] = '1.2.840.10008.5.1.4.1.1.4.4';
    mf['SOPInstanceUID'] = dcmjs.data.DicomMetaDictionary.uid();
    mf['PixelData'] = [mf['PixelData']];
    writePart10(enhancedFile, mf);
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
