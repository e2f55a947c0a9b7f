import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeNifti, readNifti } from '../../src/io/nifti/read.js';
import { writeNifti } from '../../src/io/nifti/write.js';
import type { NiftiHeader } from '../../src/io/nifti/header.js';
import { createMaskLike, createVolume, voxelStats } from '../../src/volume/volume.js';
import { mat4, orientationCode } from '../../src/volume/affine.js';
import { expectAffineClose, nifti1Bytes, ramp, scratchDir, SHARED } from './helpers.js';

const dir = scratchDir('nifti');

const vox24 = Int16Array.from(ramp(24, 7, 3000), (v) => v - 1500);

describe('NIfTI-1 header layout', () => {
  it('places fields at the offsets of the NIfTI-1 standard', () => {
    const b = nifti1Bytes((h) => { h.qformCode = 1; h.quaternD = 0.5; h.srowX = [1, 2, 3, 4]; }, vox24);
    const v = new DataView(b.buffer);
    expect(v.getInt32(0, true)).toBe(348);
    expect(v.getInt16(40, true)).toBe(3);
    expect(v.getInt16(42, true)).toBe(4);
    expect(v.getInt16(70, true)).toBe(4);
    expect(v.getFloat32(80, true)).toBe(2);
    expect(v.getFloat32(108, true)).toBe(352);
    expect(v.getInt16(252, true)).toBe(1);
    expect(v.getFloat32(264, true)).toBe(0.5);
    expect(v.getFloat32(284, true)).toBe(2);
    expect(String.fromCharCode(b[344]!, b[345]!, b[346]!, b[347]!)).toBe('n+1\0');
  });
});

describe('NIfTI affine precedence (nibabel get_best_affine)', () => {
  const qformRotZ90 = (h: NiftiHeader): void => {
    // 90 degrees about z: quaternion (cos45, 0, 0, sin45)
    h.qformCode = 1;
    h.quaternD = Math.SQRT1_2;
    h.qoffsetX = 10; h.qoffsetY = -20; h.qoffsetZ = 30;
  };
  const sformOblique = (h: NiftiHeader): void => {
    h.sformCode = 2;
    h.srowX = [1.5, 0.2, 0, -5];
    h.srowY = [-0.1, 2.5, 0.3, 6];
    h.srowZ = [0, -0.4, 3.5, 7];
  };
  const expectedQ = mat4([[0, -3, 0, 10], [2, 0, 0, -20], [0, 0, 4, 30]]);
  const expectedS = mat4([[1.5, 0.2, 0, -5], [-0.1, 2.5, 0.3, 6], [0, -0.4, 3.5, 7]]);

  it('qform only: rotation * diag(pixdim) + qoffset', () => {
    const v = decodeNifti(nifti1Bytes(qformRotZ90, vox24), 'q.nii');
    expectAffineClose(v.affine, expectedQ, 1e-6);
    v.spacing.forEach((s, i) => expect(s).toBeCloseTo([2, 3, 4][i]!, 12));
  });
  it('qform with qfac -1 flips the third axis', () => {
    const v = decodeNifti(nifti1Bytes((h) => { qformRotZ90(h); h.pixdim[0] = -1; }, vox24), 'q.nii');
    expectAffineClose(v.affine, mat4([[0, -3, 0, 10], [2, 0, 0, -20], [0, 0, -4, 30]]), 1e-6);
  });
  it('sform only', () => {
    const v = decodeNifti(nifti1Bytes(sformOblique, vox24), 's.nii');
    expectAffineClose(v.affine, expectedS, 1e-6);
  });
  it('both: sform wins even when qform_code is larger', () => {
    const v = decodeNifti(nifti1Bytes((h) => { qformRotZ90(h); sformOblique(h); h.qformCode = 4; h.sformCode = 1; }, vox24), 'b.nii');
    expectAffineClose(v.affine, expectedS, 1e-6);
  });
  it('neither: nibabel base affine (x flipped, centred origin), not diag(pixdim)', () => {
    const v = decodeNifti(nifti1Bytes(() => {}, vox24), 'n.nii');
    // dims 4x3x2, zooms 2,3,4 -> diag(-2,3,4), offset -(dim-1)/2*zoom
    expectAffineClose(v.affine, mat4([[-2, 0, 0, 3], [0, 3, 0, -3], [0, 0, 4, -2]]));
    expect(orientationCode(v.affine)).toBe('LAS');
  });
});

describe('NIfTI round trips', () => {
  const oblique = mat4([[0.9, -0.3, 0.1, -12.5], [0.28, 0.95, -0.05, 40.25], [-0.12, 0.02, 2.9, -7]]);
  for (const [name, file] of [['nii', 'rt.nii'], ['nii.gz', 'rt.nii.gz']] as const) {
    it(`${name}: int16 oblique from a non-NIfTI volume keeps voxels and affine`, () => {
      const vol = createVolume(Int16Array.from(ramp(5 * 6 * 7, 3, 60000), (x) => x - 30000), [5, 6, 7], oblique);
      const p = join(dir, file);
      writeNifti(p, vol);
      const back = readNifti(p);
      expect(back.dtype).toBe('int16');
      expect(Array.from(back.data)).toEqual(Array.from(vol.data));
      expectAffineClose(back.affine, oblique, 1e-6);
    });
  }
  it('every datatype survives', () => {
    const ctors = [Uint8Array, Int8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array];
    for (const C of ctors) {
      const vol = createVolume(C.from(ramp(60, 9, 100)), [3, 4, 5], mat4([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]));
      const p = join(dir, `dt-${C.name}.nii`);
      writeNifti(p, vol);
      const back = readNifti(p);
      expect(back.data.constructor).toBe(C);
      expect(Array.from(back.data)).toEqual(Array.from(vol.data));
    }
  });
  it('mask of a qform-only source copies the qform fields verbatim', () => {
    const src = join(dir, 'qsrc.nii');
    writeFileSync(src, nifti1Bytes((h) => { h.qformCode = 1; h.quaternD = Math.SQRT1_2; h.qoffsetX = 10; }, vox24));
    const vol = readNifti(src);
    const mask = createMaskLike(vol);
    mask.data[5] = 1;
    const out = join(dir, 'qmask.nii.gz');
    writeNifti(out, mask);
    const back = readNifti(out);
    const h = (back.source!.header as { nifti: NiftiHeader }).nifti;
    expect([h.qformCode, h.sformCode, h.datatype]).toEqual([1, 0, 2]);
    expect(h.quaternD).toBeCloseTo(Math.SQRT1_2, 7);
    expectAffineClose(back.affine, vol.affine);
    expect(back.data[5]).toBe(1);
  });
  it('big-endian file reads and round-trips', () => {
    const vol = createVolume(Float32Array.from(ramp(24, 5, 1e4), (x) => x / 7), [4, 3, 2], mat4([[0, 0, 2, 1], [-3, 0, 0, 2], [0, 1, 0, 3]]));
    const p = join(dir, 'be.nii');
    writeNifti(p, vol, { endian: 'big' });
    const raw = readFileSync(p);
    expect(raw.readInt32BE(0)).toBe(348);
    expect(raw.readFloatBE(352)).toBe(vol.data[0]);
    const back = readNifti(p);
    expect(Array.from(back.data)).toEqual(Array.from(vol.data));
    expectAffineClose(back.affine, vol.affine);
  });
  it('scl_slope/scl_inter give float output', () => {
    const v = decodeNifti(nifti1Bytes((h) => { h.sclSlope = 0.5; h.sclInter = 10; }, vox24), 'scl.nii');
    expect(v.dtype).toBe('float32');
    expect(v.data[3]).toBeCloseTo(vox24[3]! * 0.5 + 10, 5);
    const same = decodeNifti(nifti1Bytes((h) => { h.sclSlope = 1; }, vox24), 'scl1.nii');
    expect(same.dtype).toBe('int16');
  });
});

/** NIfTI-2 written with explicit offsets (independent of our layout table), big-endian. */
function nifti2BigEndian(): { bytes: Uint8Array; voxels: Float64Array } {
  const dims = [3, 2, 4];
  const voxels = Float64Array.from(ramp(24, 11, 1000), (x) => x / 3 - 100);
  const b = new Uint8Array(544 + voxels.byteLength);
  const v = new DataView(b.buffer);
  v.setInt32(0, 540, false);
  b.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
  v.setInt16(12, 64, false);
  v.setInt16(14, 64, false);
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), false));
  [1, 0.8, 0.9, 1.1].forEach((p, i) => v.setFloat64(104 + 8 * i, p, false));
  v.setBigInt64(168, 544n, false);
  v.setFloat64(176, 2, false); // slope
  v.setFloat64(184, -1, false); // intercept
  v.setInt32(348, 1, false); // sform_code
  [[0, 0.9, 0, 5], [0.8, 0, 0, -6], [0, 0, -1.1, 7]].forEach((row, r) => row.forEach((x, c) => v.setFloat64(400 + 32 * r + 8 * c, x, false)));
  voxels.forEach((x, i) => v.setFloat64(544 + 8 * i, x, false));
  return { bytes: b, voxels };
}

describe('NIfTI-2', () => {
  it('reads a big-endian NIfTI-2 with sform and scaling, and round-trips as NIfTI-2', () => {
    const { bytes, voxels } = nifti2BigEndian();
    const src = join(dir, 'n2.nii');
    writeFileSync(src, bytes);
    const vol = readNifti(src);
    expect(vol.source!.format).toBe('nifti2');
    expect(vol.dims).toEqual([3, 2, 4]);
    expect(vol.dtype).toBe('float64');
    expect(vol.data[7]).toBeCloseTo(voxels[7]! * 2 - 1, 9);
    expectAffineClose(vol.affine, mat4([[0, 0.9, 0, 5], [0.8, 0, 0, -6], [0, 0, -1.1, 7]]));
    const out = join(dir, 'n2-out.nii.gz');
    writeNifti(out, vol);
    const back = readNifti(out);
    expect(back.source!.format).toBe('nifti2');
    expect(Array.from(back.data)).toEqual(Array.from(vol.data));
    expectAffineClose(back.affine, vol.affine);
  });
});

describe('wrist_2.nii.gz (real scan, no qform/sform)', () => {
  it('matches reference figures computed with python3 gzip+numpy', () => {
    const vol = readNifti(join(SHARED, 'mri/wrist_2.nii.gz'));
    expect(vol.dims).toEqual([272, 204, 74]);
    expect(vol.spacing).toEqual([1, 1, 1]);
    expect(vol.dtype).toBe('uint16');
    const st = voxelStats(vol.data);
    // python3: np.frombuffer(gzip.open(f).read(), '<u2', offset=352): sum 195155883, min 0, max 636
    expect(st.sum).toBe(195155883);
    expect([st.min, st.max]).toEqual([0, 636]);
    expect(st.mean).toBeCloseTo(47.52814414219583, 10);
    expect(vol.data[100 + 50 * 272 + 30 * 272 * 204]).toBe(14);
    let slice37 = 0;
    for (let i = 37 * 272 * 204; i < 38 * 272 * 204; i++) slice37 += vol.data[i]!;
    expect(slice37).toBe(3971033);
    // nibabel base affine for dims 272x204x74, pixdim 1
    expectAffineClose(vol.affine, mat4([[-1, 0, 0, 135.5], [0, 1, 0, -101.5], [0, 0, 1, -36.5]]));
  });
});

describe('malformed NIfTI', () => {
  const good = (): Uint8Array => nifti1Bytes(() => {}, vox24);
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['truncated gzip', () => { const g = gzipSync(good()); return g.subarray(0, g.length - 12); }, /bad\.nii.*(truncated|corrupt)/],
    ['wrong header size', () => { const b = good(); new DataView(b.buffer).setInt32(0, 300, true); return b; }, /sizeof_hdr is 300/],
    ['zero dim', () => nifti1Bytes((h) => { h.dim[2] = 0; }, vox24), /dim\[2\] is 0/],
    ['negative dim', () => nifti1Bytes((h) => { h.dim[3] = -2; }, vox24), /dim\[3\] is -2/],
    ['short data', () => good().subarray(0, 352 + 20), /truncated.*needs 48 bytes.*has 20/],
    ['unknown datatype', () => nifti1Bytes((h) => { h.datatype = 999; }, vox24), /unsupported NIfTI datatype 999/],
    ['complex datatype', () => nifti1Bytes((h) => { h.datatype = 32; }, vox24), /complex64/],
    ['4D without index', () => nifti1Bytes((h) => { h.dim = [4, 2, 3, 2, 2, 1, 1, 1]; }, vox24), /4D file with 2 volumes.*volumeIndex/],
    ['bad magic', () => { const b = good(); b[345] = 0x3f; return b; }, /bad NIfTI-1 magic/],
  ];
  for (const [name, make, re] of cases) {
    it(`${name} -> clear error naming the file`, () => {
      expect(() => decodeNifti(make(), 'bad.nii')).toThrow(re);
    });
  }
  it('a .nii.gz file (read with native zlib) gives what the in-memory decoder (fflate) gives; corrupt ones fail clearly', () => {
    const gz = gzipSync(good());
    const ok = join(dir, 'ok.nii.gz');
    writeFileSync(ok, gz);
    expect(Array.from(readNifti(ok).data)).toEqual(Array.from(decodeNifti(gz, 'ok.nii.gz').data));
    const cut = join(dir, 'cut.nii.gz');
    writeFileSync(cut, gz.subarray(0, gz.length - 12));
    expect(() => readNifti(cut)).toThrow(/cut\.nii\.gz.*(truncated|corrupt)/);
    const crc = gz.slice();
    crc[crc.length - 6] ^= 0xff; // the trailer's CRC-32: zlib checks it
    const bad = join(dir, 'crc.nii.gz');
    writeFileSync(bad, crc);
    expect(() => readNifti(bad)).toThrow(/crc\.nii\.gz: corrupt or truncated gzip data/);
  });
  it('NaN voxels are refused unless allowNonFinite', () => {
    const f = new Float32Array(24);
    f[13] = NaN;
    const vol = createVolume(f, [4, 3, 2], mat4([]));
    const p = join(dir, 'nan.nii');
    writeNifti(p, vol);
    expect(() => readNifti(p)).toThrow(/nan\.nii: voxel \(1, 0, 1\) is NaN/);
    expect(Number.isNaN(readNifti(p, { allowNonFinite: true }).data[13])).toBe(true);
  });
  it('4D picks a volume with volumeIndex', () => {
    const v = decodeNifti(nifti1Bytes((h) => { h.dim = [4, 2, 3, 2, 2, 1, 1, 1]; }, vox24), 'four.nii', { volumeIndex: 1 });
    expect(v.dims).toEqual([2, 3, 2]);
    expect(Array.from(v.data)).toEqual(Array.from(vox24.subarray(12)));
  });
});

describe('NIfTI writer safety', () => {
  it('refuses to overwrite its input and leaves no temp files', () => {
    const src = join(dir, 'keep.nii');
    writeFileSync(src, nifti1Bytes(() => {}, vox24));
    const vol = readNifti(src);
    expect(() => writeNifti(src, createMaskLike(vol))).toThrow(/keep\.nii: refusing to overwrite the input/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
  it('clear error for a missing or unwritable directory', () => {
    const vol = createVolume(new Uint8Array(8), [2, 2, 2], mat4([]));
    expect(() => writeNifti(join(dir, 'nope/x.nii'), vol)).toThrow(/does not exist/);
    if (process.getuid?.() !== 0) {
      expect(() => writeNifti('/proc/x.nii', vol)).toThrow(/not writable/);
    }
    expect(existsSync(join(dir, 'nope'))).toBe(false);
  });
});

describe('NIfTI qform written from an affine', () => {
  it('reproduces rotated, left- and right-handed affines (float32 precision)', async () => {
    const { qformAffine } = await import('../../src/io/nifti/geometry.js');
    const c = Math.cos(0.5), s = Math.sin(0.5);
    const right = mat4([[0.8 * c, -0.9 * s, 0, 10], [0.8 * s, 0.9 * c, 0, -20], [0, 0, 2.5, 30]]);
    const left = mat4([[-0.8 * c, -0.9 * s, 0, 10], [-0.8 * s, 0.9 * c, 0, -20], [0, 0, 2.5, 30]]);
    for (const [name, aff] of [['right', right], ['left', left]] as const) {
      const p = join(dir, `qf-${name}.nii`);
      writeNifti(p, createVolume(new Uint8Array(8), [2, 2, 2], aff));
      const h = (readNifti(p).source!.header as { nifti: NiftiHeader }).nifti;
      expect([h.qformCode, h.sformCode]).toEqual([1, 1]);
      expect(h.pixdim[0]).toBe(name === 'left' ? -1 : 1);
      expectAffineClose(qformAffine(h), aff, 1e-5);
    }
  });
});

describe('mask for wrist_2 (no qform/sform)', () => {
  it('keeps codes 0/0 and pixdim, so the re-read affine is the same base affine', () => {
    const vol = readNifti(join(SHARED, 'mri/wrist_2.nii.gz'));
    const mask = createMaskLike(vol);
    mask.data[12345] = 1;
    const out = join(dir, 'wrist-mask.nii.gz');
    writeNifti(out, mask);
    const back = readNifti(out);
    const h = (back.source!.header as { nifti: NiftiHeader }).nifti;
    expect([h.qformCode, h.sformCode, h.datatype, h.dim.slice(0, 4)]).toEqual([0, 0, 2, [3, 272, 204, 74]]);
    expectAffineClose(back.affine, vol.affine, 0);
    expect(voxelStats(back.data).sum).toBe(1);
    expect(back.data[12345]).toBe(1);
  });
});
