import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
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

export { writeDicomSeries };
