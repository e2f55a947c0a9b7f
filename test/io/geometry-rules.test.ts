import { describe, expect, it } from 'vitest';
import { decodeNifti } from '../../src/io/nifti/read.js';
import { encodeNifti } from '../../src/io/nifti/write.js';
import type { NiftiHeader } from '../../src/io/nifti/header.js';
import { decodeNrrd } from '../../src/io/nrrd/read.js';
import { mat4, spacingFromAffine } from '../../src/volume/affine.js';
import { affineProblem } from '../../src/volume/geometry-rules.js';
import { createVolume } from '../../src/volume/volume.js';
import { expectAffineClose, nifti1Bytes } from './helpers.js';

/** A 4x3x2 int16 NIfTI-1 with pixdim 2, 3, 4 and zero voxels, edited by `edit`. */
const nifti = (edit: (h: NiftiHeader) => void): Uint8Array => nifti1Bytes(edit, new Int16Array(24));
/** nibabel's base affine of that grid: diag(-2, 3, 4), centred. */
const BASE = mat4([[-2, 0, 0, 3], [0, 3, 0, -3], [0, 0, 4, -2]]);
const SFORM = (h: NiftiHeader): void => {
  h.srowX = [0, -2, 0, 10];
  h.srowY = [3, 0, 0, 20];
  h.srowZ = [0, 0, 4, 30];
};

function read(bytes: Uint8Array): { affine: Float64Array; warnings: string[] } {
  const warnings: string[] = [];
  const v = decodeNifti(bytes, 'scan.nii', { onWarning: (m) => warnings.push(m) });
  expect(v.source?.warnings ?? []).toEqual(warnings); // the same messages, kept on the volume for library callers
  return { affine: v.affine, warnings };
}

describe('volume/geometry-rules affineProblem', () => {
  it('accepts an ordinary oblique affine and refuses degenerate ones', () => {
    expect(affineProblem(mat4([[0.9, -0.3, 0.1, 1], [0.28, 0.95, -0.05, 2], [-0.12, 0.02, 2.9, 3]]))).toBeUndefined();
    expect(affineProblem(mat4([[4e-44, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]))).toMatch(/voxel size along axis 0 is 4.00e-44 mm/);
    expect(affineProblem(mat4([[2e4, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]))).toMatch(/axis 0 is 20000 mm/);
    expect(affineProblem(mat4([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]]))).toMatch(/singular/);
    expect(affineProblem(mat4([[NaN, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]))).toMatch(/non-finite/);
  });
});

describe('NIfTI geometry (issue 16, defects 1 and 2)', () => {
  it('defect 1: an invalid sform_code (105) is unknown, as in nibabel: the qform is used, with one warning', () => {
    const { affine, warnings } = read(nifti((h) => {
      h.sformCode = 105;
      h.srowX = [4e-44, 0, 0, 0]; // the garbage sform that gave 0 mL
      h.qformCode = 1;
      h.quaternD = 1; // 180 degrees about z
      h.qoffsetX = 5;
    }));
    expectAffineClose(affine, mat4([[-2, 0, 0, 5], [0, -3, 0, 0], [0, 0, 4, 0]]));
    expect(warnings).toEqual(['scan.nii: sform_code 105 is not a valid NIfTI transform code (0..5); the sform is ignored, as nibabel does']);
  });
  it('defect 1: an invalid sform_code with no qform falls back to the pixdim base affine, never 4e-44 mm voxels', () => {
    const { affine, warnings } = read(nifti((h) => { h.sformCode = 105; h.srowX = [4e-44, 0, 0, 0]; }));
    expectAffineClose(affine, BASE);
    expect(spacingFromAffine(affine)).toEqual([2, 3, 4]);
    expect(warnings).toHaveLength(1);
  });
  it('a valid code with a degenerate sform: replaced by the pixdim base affine with a warning', () => {
    const { affine, warnings } = read(nifti((h) => { h.sformCode = 1; h.srowX = [4e-44, 0, 0, 0]; h.srowY = [0, 3, 0, 0]; h.srowZ = [0, 0, 4, 0]; }));
    expectAffineClose(affine, BASE);
    expect(warnings.join('\n')).toMatch(/the sform is unusable \(its voxel size along axis 0 is 4\.\d+e-44 mm.*\n.*using the pixdim spacing 2 x 3 x 4 mm/);
  });
  it('a singular or non-finite sform falls back to a valid qform', () => {
    for (const bad of [[0, 0, 0, 1], [NaN, 0, 0, 0]]) {
      const { affine, warnings } = read(nifti((h) => { SFORM(h); h.srowY = [0, -2, 0, 1]; h.srowZ = bad; h.sformCode = 2; h.qformCode = 1; }));
      expectAffineClose(affine, mat4([[2, 0, 0, 0], [0, 3, 0, 0], [0, 0, 4, 0]]));
      expect(warnings[0]).toMatch(/the sform is unusable/);
    }
  });
  it('a degenerate form and no usable pixdim: one error, no volume', () => {
    expect(() => decodeNifti(nifti((h) => { SFORM(h); h.sformCode = 1; h.srowX = [0, 0, 0, 0]; h.pixdim = [1, NaN, 3, 4, 0, 0, 0, 0]; }), 'scan.nii'))
      .toThrow(/^scan\.nii: the sform is unusable .*; and pixdim \[NaN, 3, 4\] gives no usable voxel size either$/);
    expect(() => decodeNifti(nifti((h) => { h.pixdim = [1, 1e-20, 3, 4, 0, 0, 0, 0]; }), 'tiny.nii'))
      .toThrow(/^tiny\.nii: no usable geometry.*1.00e-20 mm/);
  });
  it('defect 2: pixdim NaN or 0 with no form is 1 mm, and the warning names the axis and the spacing', () => {
    for (const bad of [NaN, 0, Infinity]) {
      const { affine, warnings } = read(nifti((h) => { h.pixdim = [1, 2, bad, 4, 0, 0, 0, 0]; }));
      expect(spacingFromAffine(affine)).toEqual([2, 1, 4]);
      expect(warnings).toEqual([`scan.nii: pixdim[2] is ${bad}; assuming a spacing of 1 mm along axis 1`]);
    }
  });
  it('defect 2: a qform with a NaN pixdim is used with 1 mm there, with the same warning', () => {
    const { affine, warnings } = read(nifti((h) => { h.qformCode = 1; h.pixdim = [1, NaN, 3, 4, 0, 0, 0, 0]; }));
    expect(spacingFromAffine(affine)).toEqual([1, 3, 4]);
    expect(warnings).toEqual(['scan.nii: pixdim[1] is NaN; assuming a spacing of 1 mm along axis 0']);
  });
  it('a clean header gives no warning, and a mask of a repaired header is written with clean geometry', () => {
    expect(read(nifti((h) => { SFORM(h); h.sformCode = 1; })).warnings).toEqual([]);
    const v = decodeNifti(nifti((h) => { h.sformCode = 105; h.srowX = [4e-44, 0, 0, 0]; }), 'scan.nii');
    const mask = createVolume(new Uint8Array(24), v.dims, v.affine, v.source);
    const parts = encodeNifti(mask);
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((o, p) => (bytes.set(p, o), o + p.length), 0);
    const back = read(bytes);
    expect(back.warnings).toEqual([]);
    expectAffineClose(back.affine, BASE);
  });
});

describe('NRRD geometry goes through the same rules', () => {
  const nrrd = (fields: string): Uint8Array => {
    const h = new TextEncoder().encode(`NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n${fields}\n\n`);
    const out = new Uint8Array(h.length + 8);
    out.set(h);
    return out;
  };
  it('space directions with a zero vector are refused', () => {
    expect(() => decodeNrrd(nrrd('space: RAS\nspace directions: (1,0,0) (0,0,0) (0,0,1)'), 'z.nrrd'))
      .toThrow(/^z\.nrrd: the geometry .* is unusable: its voxel size along axis 1 is 0 mm/);
  });
  it('spacings NaN or 0 become 1 mm with a warning', () => {
    const warnings: string[] = [];
    const v = decodeNrrd(nrrd('spacings: 2 nan 0'), 's.nrrd', { onWarning: (m) => warnings.push(m) });
    expect(v.spacing).toEqual([2, 1, 1]);
    expect(warnings).toEqual([
      's.nrrd: spacings[1] is NaN; assuming a spacing of 1 mm along axis 1',
      's.nrrd: spacings[2] is 0; assuming a spacing of 1 mm along axis 2',
    ]);
  });
});
