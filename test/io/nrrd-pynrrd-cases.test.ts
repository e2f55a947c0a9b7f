import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { encodeNifti } from '../../src/io/nifti/write.js';
import { decodeNrrd, readNrrd } from '../../src/io/nrrd/read.js';
import { mat4 } from '../../src/volume/affine.js';
import { createVolume } from '../../src/volume/volume.js';
import { scratchDir, SMALL_VOXELS, SMALL_VOXELS_BZ2 } from './helpers.js';

/**
 * Our own small files for the cases of pynrrd's test data that we read differently from pynrrd (issue 16, defects
 * 3-7), modelled on its BallBinary30x30x30 files: a 6x5x4 uint8 volume, voxel i = (7 i) mod 13.
 */
const dir = scratchDir('nrrd-cases');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
};
const VOXELS = SMALL_VOXELS;
const VOXELS_BZ2 = SMALL_VOXELS_BZ2;
const HEAD = 'NRRD0004\ntype: uint8\ndimension: 3\nsizes: 6 5 4\nspace: left-posterior-superior\nspace directions: (1,0,0) (0,1,0) (0,0,1)\n';
const header = (extra: string): Uint8Array => enc(`${HEAD}${extra}\n\n`);
const write = (name: string, bytes: Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

describe('pynrrd cases we read differently before issue 16', () => {
  it('defect 4: line skip 3 before attached gzip data is honoured', () => {
    const file = cat(header('encoding: gzip\nline skip: 3'), enc('first line\nsecond\nthird\n'), gzipSync(VOXELS));
    expect(Array.from(decodeNrrd(file, 'lineskip.nrrd').data)).toEqual(Array.from(VOXELS));
  });
  it('defect 4: without the line skip the message says where the gzip data should start', () => {
    const file = cat(header('encoding: gzip'), enc('first line\n'), gzipSync(VOXELS));
    expect(() => decodeNrrd(file, 'noskip.nrrd')).toThrow(/^noskip\.nrrd: the file does not hold gzip data where the header says it starts \(check "line skip"\)$/);
  });
  it('line skip and byte skip on raw data, byte skip after decompression', () => {
    const raw = cat(header('encoding: raw\nline skip: 2\nbyte skip: 5'), enc('a\nb\n'), enc('12345'), VOXELS);
    expect(Array.from(decodeNrrd(raw, 'raw.nrrd').data)).toEqual(Array.from(VOXELS));
    const gz = cat(header('encoding: gzip\nbyte skip: 5'), gzipSync(cat(enc('12345'), VOXELS)));
    expect(Array.from(decodeNrrd(gz, 'gz.nrrd').data)).toEqual(Array.from(VOXELS));
    const tail = cat(header('encoding: raw\nbyte skip: -1'), enc('junk before the data'), VOXELS);
    expect(Array.from(decodeNrrd(tail, 'tail.nrrd').data)).toEqual(Array.from(VOXELS));
  });
  it('defect 5: a detached .nii.gz decompressing to more than declared, with no byte skip, is refused (as pynrrd)', () => {
    const nii = createVolume(VOXELS.slice(), [6, 5, 4], mat4([[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]]));
    write('ball.nii.gz', gzipSync(cat(...encodeNifti(nii))));
    const nhdr = write('ball_nifti.nhdr', header('encoding: gzip\ndata file: ball.nii.gz'));
    expect(() => readNrrd(nhdr)).toThrow(
      /ball_nifti\.nhdr: the gzip data in detached data file .*ball\.nii\.gz ends with a size field of 472 bytes, but byte skip \+ sizes x type declare 120: .*"byte skip" must give its length/,
    );
    // With the NIfTI header (348 + 4 bytes) skipped after decompression, the voxels are right.
    const skipped = write('ball_nifti_skip.nhdr', header('encoding: gzip\nbyte skip: 352\ndata file: ball.nii.gz'));
    expect(Array.from(readNrrd(skipped).data)).toEqual(Array.from(VOXELS));
  });
  it('defect 6: byte skip -5 is refused with a message that says what is wrong', () => {
    for (const skip of ['-5', '2.5', 'abc']) {
      const file = cat(header(`encoding: raw\nbyte skip: ${skip}`), VOXELS);
      expect(() => decodeNrrd(file, 'neg.nrrd')).toThrow(
        `neg.nrrd: byte skip is "${skip}"; it must be -1 (data at the end of the file) or a non-negative integer`,
      );
    }
    expect(() => decodeNrrd(cat(header('encoding: raw\nline skip: -1'), VOXELS), 'l.nrrd')).toThrow(/line skip is -1/);
    expect(() => decodeNrrd(cat(header('encoding: gzip\nbyte skip: -1'), gzipSync(VOXELS)), 'g.nrrd')).toThrow(/byte skip -1 .* only works with raw encoding/);
  });
  it('defect 7: bzip2 encoding, attached and detached, reads the voxels', () => {
    expect(Array.from(decodeNrrd(cat(header('encoding: bzip2'), VOXELS_BZ2), 'bz2.nrrd').data)).toEqual(Array.from(VOXELS));
    write('ball.raw.bz2', VOXELS_BZ2);
    const nhdr = write('ball_bz2.nhdr', header('encoding: bz2\ndata file: ball.raw.bz2'));
    expect(Array.from(readNrrd(nhdr).data)).toEqual(Array.from(VOXELS));
  });
  it('defect 7: damaged bzip2 gives one error naming the file', () => {
    const bad = VOXELS_BZ2.slice();
    bad[30] ^= 0xff;
    expect(() => decodeNrrd(cat(header('encoding: bzip2'), bad), 'bad.nrrd')).toThrow(/^bad\.nrrd: corrupt or truncated bzip2 data .* in the file$/);
    expect(() => decodeNrrd(cat(header('encoding: bzip2'), VOXELS_BZ2.subarray(0, 40)), 'cut.nrrd')).toThrow(/^cut\.nrrd: corrupt or truncated bzip2 data/);
    // More voxels in the stream than the header declares: stopped at the declared size, not inflated further.
    const small = enc(`${HEAD.replace('sizes: 6 5 4', 'sizes: 6 5 2')}encoding: bzip2\n\n`);
    expect(() => decodeNrrd(cat(small, VOXELS_BZ2), 'big.nrrd')).toThrow(/^big\.nrrd: bzip2 data decompresses to more than the 60 bytes the header declares/);
  });
});

describe('detached data stays inside the header folder (defect 3)', () => {
  const inner = join(dir, 'case');
  mkdirSync(join(inner, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'outside.raw'), VOXELS);
  writeFileSync(join(inner, 'sub', 'inside.raw'), VOXELS);
  symlinkSync(join(dir, 'outside.raw'), join(inner, 'link.raw'));
  const nhdr = (name: string, dataFile: string): string => {
    const p = join(inner, name);
    writeFileSync(p, header(`encoding: raw\ndata file: ${dataFile}`));
    return p;
  };
  it('a data file in the folder or below it is read', () => {
    expect(Array.from(readNrrd(nhdr('ok.nhdr', 'sub/inside.raw')).data)).toEqual(Array.from(VOXELS));
    expect(Array.from(readNrrd(nhdr('abs.nhdr', join(inner, 'sub', 'inside.raw'))).data)).toEqual(Array.from(VOXELS));
  });
  for (const [what, dataFile] of [['../', '../outside.raw'], ['/etc/passwd', '/etc/passwd'], ['a link out of the folder', 'link.raw'], ['../../..', '../../../etc/passwd']]) {
    it(`${what} is refused by default, naming the file and the way to allow it`, () => {
      const p = nhdr('out.nhdr', dataFile!);
      expect(() => readNrrd(p)).toThrow(/out\.nhdr: data file ".*" resolves to .*, outside the header's folder .*; .*--allow-external-data/);
    });
  }
  it('allowExternalData reads a trusted header whose data lies elsewhere', () => {
    expect(Array.from(readNrrd(nhdr('ext.nhdr', '../outside.raw'), { allowExternalData: true }).data)).toEqual(Array.from(VOXELS));
    expect(Array.from(readNrrd(nhdr('lnk.nhdr', 'link.raw'), { allowExternalData: true }).data)).toEqual(Array.from(VOXELS));
  });
  it('in memory (the browser viewer), detached data is refused as well unless allowed', () => {
    expect(() => decodeNrrd(header('encoding: raw\ndata file: /etc/passwd'), join(inner, 'mem.nhdr'))).toThrow(/outside the header's folder/);
  });
});
