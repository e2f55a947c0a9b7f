import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import dcmjs from 'dcmjs';
import { join } from 'node:path';
import { writeDicomSeries } from '../../src/io/dicom/write-series.js';
import { readVolume } from '../../src/io/dispatch.js';
import { createVolume } from '../../src/volume/volume.js';
import type { Volume } from '../../src/volume/types.js';
import { SHARED } from './helpers.js';

export const IN_CI = Boolean(process.env['CI']);

/** Is a command on PATH? (tests that need it skip locally and fail under CI, as test/web does) */
export function haveProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Slices k0..k0+n-1 of the sample wrist as a volume on the same world grid (optionally mapped to uint8). */
export function wristSlab(k0: number, n: number, eightBit = false): Volume {
  const v = readVolume(join(SHARED, 'mri/wrist_2.nii.gz'));
  const per = v.dims[0] * v.dims[1];
  const src = v.data.subarray(k0 * per, (k0 + n) * per);
  const affine = Float64Array.from(v.affine);
  for (let r = 0; r < 3; r++) affine[r * 4 + 3] = v.affine[r * 4 + 3]! + k0 * v.affine[r * 4 + 2]!;
  const data = eightBit ? Uint8Array.from(src, (x) => Math.min(255, x >> 1)) : Uint16Array.from(src);
  return createVolume(data, [v.dims[0], v.dims[1], n], affine);
}

/** Write `vol` as an uncompressed series with the project's writer, then run `tool args... in out` on every file. */
export function encodeSeries(rawDir: string, outDir: string, tool: string, args: string[]): void {
  mkdirSync(outDir);
  for (const f of readdirSync(rawDir).sort()) execFileSync(tool, [...args, join(rawDir, f), join(outDir, f)], { stdio: 'pipe' });
}

/** A DICOM dataset as dcmjs names it (keywords to values). */
export type Natural = Record<string, any>;

/** Parse DICOM Part 10 bytes into a dcmjs natural dataset. */
export function natural(bytes: Uint8Array): Natural {
  const dict = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict) as Natural;
}

/** Write a natural dataset as an Explicit VR Little Endian Part 10 file. */
export function writePart10(path: string, ds: Natural): void {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer, MediaStorageSOPClassUID: ds['SOPClassUID'],
    MediaStorageSOPInstanceUID: ds['SOPInstanceUID'], TransferSyntaxUID: '1.2.840.10008.1.2.1', ImplementationClassUID: '2.25.1',
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
  writeFileSync(path, new Uint8Array(dict.write()));
}

/**
 * An Enhanced (Legacy Converted Enhanced MR) multi-frame file made from a classic series folder by dcmjs's own
 * converter (dcmjs.normalizers), which stores the frames in descending slice position.
 */
export function writeEnhancedMr(classicDir: string, file: string): void {
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
  writePart10(file, mf);
}

export { writeDicomSeries };
