import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyNiftiHeader, serializeNiftiHeader } from '../../src/io/nifti/header.js';
import { sab, scratch } from './helpers.js';

const dir = scratch('read-options');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('CLI reader options', () => {
  it('detached data outside the header folder: one error, and --allow-external-data reads it', async () => {
    mkdirSync(path.join(dir, 'h'));
    writeFileSync(path.join(dir, 'data.raw'), new Uint8Array(8).fill(3));
    const nhdr = path.join(dir, 'h', 'x.nhdr');
    writeFileSync(nhdr, enc('NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 2 2\nspacings: 1 1 1\nencoding: raw\ndata file: ../data.raw\n\n'));
    const refused = await sab(['info', nhdr]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^sab: error: .*x\.nhdr: data file "\.\.\/data\.raw" resolves to .*data\.raw, outside the header's folder/);
    const allowed = await sab(['info', '--allow-external-data', '--json', nhdr]);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).volume.stats.sum).toBe(24);
  });
  it('a reader warning reaches stderr once', async () => {
    const h = emptyNiftiHeader(1);
    h.dim = [3, 2, 2, 2, 1, 1, 1, 1];
    h.pixdim = [1, 2, 3, 4, 0, 0, 0, 0];
    h.sformCode = 105;
    h.srowX = [4e-44, 0, 0, 0];
    const file = path.join(dir, 'bad-sform.nii');
    const head = serializeNiftiHeader(h);
    const bytes = new Uint8Array(head.length + 8);
    bytes.set(head);
    writeFileSync(file, bytes);
    const r = await sab(['info', '--json', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`sab: warning: ${file}: sform_code 105 is not a valid NIfTI transform code (0..5); the sform is ignored, as nibabel does\n`);
    expect(JSON.parse(r.stdout).volume.spacing).toEqual([2, 3, 4]);
  });
});
