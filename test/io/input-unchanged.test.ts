import { describe, expect, it } from 'vitest';
import { decodeNifti } from '../../src/io/nifti/read.js';
import { encodeNifti } from '../../src/io/nifti/write.js';
import { decodeNrrd } from '../../src/io/nrrd/read.js';
import { identity4 } from '../../src/volume/affine.js';
import { createVolume } from '../../src/volume/volume.js';

// Found by the fuzz tests: byte-swapping a big-endian file used Buffer.slice, which is a view, so decoding a Node
// Buffer swapped the caller's bytes in place.
describe('decoders leave the caller\'s bytes alone', () => {
  it('big-endian NIfTI and NRRD from a Node Buffer', () => {
    const vol = createVolume(Int16Array.from({ length: 24 }, (_, i) => i * 300 - 3000), [4, 3, 2], identity4());
    const nii = Buffer.concat(encodeNifti(vol, { endian: 'big' }));
    const niiCopy = Buffer.from(nii);
    expect(Array.from(decodeNifti(nii, 'be.nii').data)).toEqual(Array.from(vol.data));
    expect(nii.equals(niiCopy)).toBe(true);

    const body = Buffer.alloc(48);
    vol.data.forEach((v, i) => body.writeInt16BE(v, 2 * i));
    const nrrd = Buffer.concat([Buffer.from('NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: big\nencoding: raw\n\n'), body]);
    const nrrdCopy = Buffer.from(nrrd);
    expect(Array.from(decodeNrrd(nrrd, 'be.nrrd').data)).toEqual(Array.from(vol.data));
    expect(nrrd.equals(nrrdCopy)).toBe(true);
  });
});
