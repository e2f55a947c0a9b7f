import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readDicomSeries } from '../../src/io/dicom/series.js';
import type { Volume } from '../../src/volume/types.js';
import { encodeSeries, haveProgram, IN_CI, wristSlab, writeDicomSeries } from './dicom-tools.js';
import { expectAffineClose, scratchDir } from './helpers.js';

// Every compressed series here is made by dcmtk's or GDCM's own encoders from an uncompressed series that the
// project's writer made from the sample wrist (3 slices). Lossless syntaxes must give the same voxels; lossy
// ones must equal the toolkit's own decoder (dcmdjpeg / dcmdjpls / gdcmconv --raw) to within 1 (IDCT rounding),
// and for JPEG-LS near-lossless stay within its NEAR bound of the original.

const TOOLS = ['dcmcjpeg', 'dcmdjpeg', 'dcmcjpls', 'dcmdjpls', 'dcmcrle', 'dcmconv', 'gdcmconv'];
const HAVE = TOOLS.every(haveProgram);
if (!HAVE && !IN_CI) console.warn(`test/io/dicom-codecs skipped: needs dcmtk and libgdcm-tools (${TOOLS.join(', ')}); install with .ci/install.d/dcmtk`);

const dir = scratchDir('codecs');

function maxAbsDiff(a: Volume, b: Volume): number {
  expect(a.dims).toEqual(b.dims);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

describe.skipIf(!HAVE && !IN_CI)('compressed transfer syntaxes made by dcmtk and GDCM', () => {
  const raw16 = join(dir, 'raw16');
  const raw8 = join(dir, 'raw8');
  let ref16: Volume;
  let ref8: Volume;
  beforeAll(() => {
    writeDicomSeries(raw16, wristSlab(35, 3));
    writeDicomSeries(raw8, wristSlab(35, 3, true));
    ref16 = readDicomSeries(raw16);
    ref8 = readDicomSeries(raw8);
  });

  const read = (name: string, raw: string, tool: string, args: string[]): Volume => {
    const out = join(dir, name);
    encodeSeries(raw, out, tool, args);
    return readDicomSeries(out);
  };
  const syntaxOf = (v: Volume): string => {
    const file = (v.source!.header as { instances: { file: string }[] }).instances[0]!.file;
    const bytes = readFileSync(file).toString('latin1');
    return /1\.2\.840\.10008\.1\.2[.0-9]*/.exec(bytes.slice(128, 400))![0];
  };

  it.each([
    ['JPEG Lossless process 14', 'jl14', '1.2.840.10008.1.2.4.57', 'dcmcjpeg', ['+el']],
    ['JPEG Lossless SV1', 'jl70', '1.2.840.10008.1.2.4.70', 'dcmcjpeg', ['+e1']],
    ['JPEG-LS lossless', 'jls', '1.2.840.10008.1.2.4.80', 'dcmcjpls', ['+el']],
    ['JPEG 2000 lossless', 'j2k', '1.2.840.10008.1.2.4.90', 'gdcmconv', ['--j2k']],
    ['RLE Lossless', 'rle', '1.2.840.10008.1.2.5', 'dcmcrle', []],
    ['Deflated Explicit VR Little Endian', 'deflate', '1.2.840.10008.1.2.1.99', 'dcmconv', ['+td']],
  ])('%s decodes to the same voxels and geometry', (_label, name, uid, tool, args) => {
    const v = read(name, raw16, tool, args as string[]);
    expect(syntaxOf(v)).toBe(uid);
    expect(v.dtype).toBe(ref16.dtype);
    expect(maxAbsDiff(v, ref16)).toBe(0);
    expectAffineClose(v.affine, ref16.affine, 1e-6);
  });

  it('JPEG-LS near-lossless stays within NEAR = 2 of the original', () => {
    const v = read('jlsnear', raw16, 'dcmcjpls', ['+en', '+md', '2']);
    expect(syntaxOf(v)).toBe('1.2.840.10008.1.2.4.81');
    const d = maxAbsDiff(v, ref16);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThanOrEqual(2);
    expectAffineClose(v.affine, ref16.affine, 1e-6);
  });

  // dcmjs-codecs decodes JPEG with the same IJG code as dcmdjpeg, so lossy JPEG equals dcmdjpeg exactly (the
  // tolerance would be 1 for IDCT rounding; measured 0); against the original, quality-90 errors stay small.
  const lossyJpeg = (name: string, raw: string, ref: Volume, uid: string, args: string[], meanErr: number, maxErr: number): void => {
    const v = read(name, raw, 'dcmcjpeg', args);
    expect(syntaxOf(v)).toBe(uid);
    const byDcmtk = read(`${name}-dcmdjpeg`, join(dir, name), 'dcmdjpeg', []);
    expect(maxAbsDiff(v, byDcmtk)).toBe(0);
    expectAffineClose(v.affine, byDcmtk.affine, 1e-6);
    let sum = 0;
    for (let i = 0; i < v.data.length; i++) sum += Math.abs(v.data[i]! - ref.data[i]!);
    expect(sum / v.data.length).toBeLessThan(meanErr);
    const d = maxAbsDiff(v, ref);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(maxErr);
    expectAffineClose(v.affine, ref.affine, 1e-6);
  };

  it.each([
    ['JPEG Baseline', 'base8', '1.2.840.10008.1.2.4.50', ['+eb']],
    ['JPEG Extended (8-bit)', 'ext8', '1.2.840.10008.1.2.4.51', ['+ee']],
  ])('%s equals dcmdjpeg and the original within the codec error', (_l, name, uid, args) => {
    lossyJpeg(name, raw8, ref8, uid, args as string[], 2, 40);
  });

  it('12-bit JPEG Extended (dcmcjpeg +ee of a 16-bit MR series) equals dcmdjpeg and the original within the codec error', () => {
    // Values up to ~640: mean error under 0.5% of that range, never gross.
    lossyJpeg('ext12', raw16, ref16, '1.2.840.10008.1.2.4.51', ['+ee'], 3, 64);
    const file = join(dir, 'ext12', 'IM00001.dcm');
    expect(readFileSync(file).includes(Buffer.from([0xff, 0xc1, 0x00, 0x0b, 12]))).toBe(true); // SOF1, precision 12
  });

  it('JPEG Lossless SV1 of a slice whose last pixel the former decoder got wrong is exact', () => {
    const raw = join(dir, 'raw-sv1');
    writeDicomSeries(raw, wristSlab(14, 1));
    expect(maxAbsDiff(read('sv1-last', raw, 'dcmcjpeg', ['+e1']), readDicomSeries(raw))).toBe(0);
  });

  it('a corrupt 12-bit JPEG frame gets one error naming the file and the syntax', () => {
    const out = join(dir, 'ext12-cut');
    mkdirSync(out);
    const bytes = Buffer.from(readFileSync(join(dir, 'ext12', 'IM00001.dcm')));
    // Overwrite the stream's SOI and first marker segment (the element lengths stay valid).
    bytes.fill(0x55, bytes.indexOf(Buffer.from([0xff, 0xd8, 0xff])), bytes.indexOf(Buffer.from([0xff, 0xd8, 0xff])) + 12);
    writeFileSync(join(out, 'IM00001.dcm'), bytes);
    expect(() => readDicomSeries(out)).toThrow(/ext12-cut\/IM00001\.dcm: JPEG Extended \(Process 2 & 4\) \(1\.2\.840\.10008\.1\.2\.4\.51\): /);
  });

  it('lossy JPEG 2000 equals GDCM\'s own decoding within 1', () => {
    const v = read('j2klossy', raw16, 'gdcmconv', ['--j2k', '--lossy', '-q', '60']);
    expect(syntaxOf(v)).toBe('1.2.840.10008.1.2.4.91');
    const byGdcm = read('j2klossy-raw', join(dir, 'j2klossy'), 'gdcmconv', ['--raw']);
    expect(maxAbsDiff(v, byGdcm)).toBeLessThanOrEqual(1);
    expect(maxAbsDiff(v, ref16)).toBeGreaterThan(0);
    expectAffineClose(v.affine, ref16.affine, 1e-6);
  });

  it('an unsupported transfer syntax gets one error naming it and the file', () => {
    const out = join(dir, 'jpip');
    mkdirSync(out);
    const bytes = readFileSync(join(dir, 'jls', 'IM00001.dcm'));
    const patched = Buffer.from(bytes.toString('latin1').replace('1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.94'), 'latin1');
    writeFileSync(join(out, 'IM00001.dcm'), patched);
    expect(() => readDicomSeries(out)).toThrow(/jpip\/IM00001\.dcm uses JPIP Referenced \(1\.2\.840\.10008\.1\.2\.4\.94\), which sab cannot decode/);
  });
});
