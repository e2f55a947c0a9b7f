import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readVolume, writeVolume } from '../../src/io/dispatch.js';
import { mat4 } from '../../src/volume/affine.js';
import { createVolume } from '../../src/volume/volume.js';
import { expectAffineClose, ramp, scratchDir } from './helpers.js';

const dir = scratchDir('dispatch');

describe('readVolume / writeVolume', () => {
  const vol = createVolume(Int16Array.from(ramp(7 * 6 * 5, 13, 9000), (x) => x - 4500), [7, 6, 5],
    mat4([[0, 0, 1.5, -3], [0.9, 0.1, 0, 4], [-0.1, 0.9, 0, 5]]));
  for (const ext of ['nii', 'nii.gz', 'nrrd', 'nhdr']) {
    it(`.${ext} round trip keeps voxels and affine`, () => {
      const p = join(dir, `v.${ext}`);
      writeVolume(p, vol);
      const back = readVolume(p);
      expect(back.dtype).toBe('int16');
      expect(Array.from(back.data)).toEqual(Array.from(vol.data));
      expectAffineClose(back.affine, vol.affine, 1e-6);
    });
  }
  it('clear errors for unknown formats and missing files; nothing written', () => {
    expect(() => writeVolume(join(dir, 'v.png'), vol)).toThrow(/v\.png: unknown output format/);
    expect(existsSync(join(dir, 'v.png'))).toBe(false);
    writeFileSync(join(dir, 'x.txt'), 'hi');
    expect(() => readVolume(join(dir, 'x.txt'))).toThrow(/x\.txt: unknown format/);
    expect(() => readVolume(join(dir, 'nope.nii'))).toThrow(/nope\.nii: cannot read file/);
  });
});
