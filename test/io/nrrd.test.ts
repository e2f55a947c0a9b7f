import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeNrrd, readNrrd } from '../../src/io/nrrd/read.js';
import { writeNrrd } from '../../src/io/nrrd/write.js';
import { mat4, orientationCode } from '../../src/volume/affine.js';
import { createMaskLike, createVolume, voxelStats } from '../../src/volume/volume.js';
import { expectAffineClose, ramp, scratchDir, SHARED } from './helpers.js';

const dir = scratchDir('nrrd');
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
function nrrd(header: string, body: Uint8Array): Uint8Array {
  const h = enc(`NRRD0004\n${header.trim()}\n\n`);
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  return out;
}
const i16 = Int16Array.from(ramp(24, 4, 2000), (x) => x - 1000);
const i16bytes = new Uint8Array(i16.buffer);

describe('NRRD geometry', () => {
  it('LPS oblique directions and origin become a RAS affine (x, y negated)', () => {
    const v = decodeNrrd(nrrd(`type: short
dimension: 3
space: left-posterior-superior
sizes: 4 3 2
space directions: (0.9,0.1,0) (-0.2,1.8,0.05) (0,0,3)
kinds: domain domain domain
endian: little
encoding: raw
space origin: (10,-20,30)`, i16bytes), 'lps.nrrd');
    expectAffineClose(v.affine, mat4([[-0.9, 0.2, 0, -10], [-0.1, -1.8, 0, 20], [0, 0.05, 3, 30]]));
    expect(Array.from(v.data)).toEqual(Array.from(i16));
  });
  it('RAS space is taken as is; big endian is swapped', () => {
    const be = new Uint8Array(24 * 2);
    const dv = new DataView(be.buffer);
    i16.forEach((x, i) => dv.setInt16(2 * i, x, false));
    const v = decodeNrrd(nrrd(`type: int16
dimension: 3
space: RAS
sizes: 4 3 2
space directions: (1,0,0) (0,2,0) (0,0,3)
endian: big
encoding: raw
space origin: (1,2,3)`, be), 'ras.nrrd');
    expectAffineClose(v.affine, mat4([[1, 0, 0, 1], [0, 2, 0, 2], [0, 0, 3, 3]]));
    expect(Array.from(v.data)).toEqual(Array.from(i16));
    expect(orientationCode(v.affine)).toBe('RAS');
  });
  it('a 4D vector image needs volumeIndex and then picks that component', () => {
    const body = nrrd(`type: short
dimension: 4
space: left-posterior-superior
sizes: 2 4 3 1
space directions: none (1,0,0) (0,1,0) (0,0,1)
kinds: vector domain domain domain
endian: little
encoding: raw`, i16bytes);
    expect(() => decodeNrrd(body, 'vec.nrrd')).toThrow(/vec\.nrrd: .*2 volumes.*volumeIndex/);
    const v = decodeNrrd(body, 'vec.nrrd', { volumeIndex: 1 });
    expect(v.dims).toEqual([4, 3, 1]);
    expect(Array.from(v.data)).toEqual(Array.from(i16).filter((_, i) => i % 2 === 1));
  });
});

describe('NRRD round trips', () => {
  const oblique = mat4([[0.9, -0.3, 0.1, -12.5], [0.28, 0.95, -0.05, 40.25], [-0.12, 0.02, 2.9, -7]]);
  for (const encoding of ['raw', 'gzip'] as const) {
    for (const ext of ['nrrd', 'nhdr']) {
      it(`${encoding} .${ext}: float32 oblique keeps voxels and affine`, () => {
        const vol = createVolume(Float32Array.from(ramp(5 * 6 * 7, 2, 1e5), (x) => x / 13 - 50), [5, 6, 7], oblique);
        const p = join(dir, `rt-${encoding}.${ext}`);
        writeNrrd(p, vol, { encoding });
        const back = readNrrd(p);
        expect(back.dtype).toBe('float32');
        expect(Array.from(back.data)).toEqual(Array.from(vol.data));
        expectAffineClose(back.affine, oblique, 1e-9);
      });
    }
  }
  it('RAS source keeps writing in RAS; LPS is the default otherwise', () => {
    const src = join(dir, 'ras-src.nrrd');
    writeFileSync(src, nrrd(`type: uchar
dimension: 3
space: right-anterior-superior
sizes: 4 3 2
space directions: (1,0,0) (0,1,0) (0,0,1)
encoding: raw
space origin: (5,6,7)`, new Uint8Array(24).fill(3)));
    const vol = readNrrd(src);
    const mask = createMaskLike(vol);
    mask.data[0] = 1;
    const out = join(dir, 'ras-mask.nrrd');
    writeNrrd(out, mask);
    const text = new TextDecoder().decode(readFileSync(out).subarray(0, 400));
    expect(text).toMatch(/space: right-anterior-superior/);
    expect(text).toMatch(/space origin: \(5,6,7\)/);
    expectAffineClose(readNrrd(out).affine, vol.affine);
    const fresh = createVolume(new Uint8Array(24), [4, 3, 2], vol.affine);
    writeNrrd(join(dir, 'fresh.nrrd'), fresh);
    expect(new TextDecoder().decode(readFileSync(join(dir, 'fresh.nrrd')).subarray(0, 400))).toMatch(/space: left-posterior-superior[\s\S]*space origin: \(-5,-6,7\)/);
  });
  it('refuses to overwrite the input', () => {
    const src = join(dir, 'ras-src.nrrd');
    expect(() => writeNrrd(src, readNrrd(src))).toThrow(/refusing to overwrite the input/);
  });
});

describe('official prediction NRRD', () => {
  it('reads as a 272x204x74 int32 0/1 mask with 187791 positives (golden volume_positive)', () => {
    const v = readNrrd(join(SHARED, 'mri/wrist_2_official_prediction.nrrd'));
    expect(v.dims).toEqual([272, 204, 74]);
    expect(v.dtype).toBe('int32');
    const st = voxelStats(v.data);
    expect([st.min, st.max, st.sum]).toEqual([0, 1, 187791]);
    // python3 zlib+numpy: slice k=37 has 1951 positives, first positive at flat index 56485
    let s37 = 0;
    for (let i = 37 * 272 * 204; i < 38 * 272 * 204; i++) s37 += v.data[i]!;
    expect(s37).toBe(1951);
    expect(v.data.indexOf(1)).toBe(56485);
    expectAffineClose(v.affine, mat4([[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]]));
    expect(orientationCode(v.affine)).toBe('LPS');
  });
});

describe('malformed NRRD', () => {
  const head = (over: Record<string, string>): string => {
    const f: Record<string, string> = { type: 'short', dimension: '3', sizes: '4 3 2', endian: 'little', encoding: 'raw', ...over };
    return Object.entries(f).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}`).join('\n');
  };
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['truncated gzip', () => { const g = gzipSync(i16bytes); return nrrd(head({ encoding: 'gzip' }), g.subarray(0, g.length - 10)); }, /bad\.nrrd: the gzip data in the file .* truncated/],
    ['short data', () => nrrd(head({}), i16bytes.subarray(0, 30)), /bad\.nrrd: image data is truncated.*need 48 bytes.*has 30/],
    ['zero size', () => nrrd(head({ sizes: '4 0 2' }), i16bytes), /sizes\[1\] is 0/],
    ['negative size', () => nrrd(head({ sizes: '4 3 -2' }), i16bytes), /sizes\[2\] is -2/],
    ['unknown type', () => nrrd(head({ type: 'complex' }), i16bytes), /unsupported NRRD type "complex"/],
    ['missing endian', () => nrrd(head({ endian: '' }), i16bytes), /"endian" is missing/],
    ['no magic', () => enc('hello'), /not a NRRD file/],
    ['not bzip2', () => nrrd(head({ encoding: 'bzip2' }), i16bytes), /bad\.nrrd: not bzip2 data/],
    ['unknown encoding', () => nrrd(head({ encoding: 'zstd' }), i16bytes), /unsupported NRRD encoding "zstd"/],
  ];
  for (const [name, make, re] of cases) it(name, () => expect(() => decodeNrrd(make(), 'bad.nrrd')).toThrow(re));
  it('NaN voxels refused unless allowNonFinite', () => {
    const f = new Float32Array(24);
    f[2] = Infinity;
    const b = nrrd(head({ type: 'float' }), new Uint8Array(f.buffer));
    expect(() => decodeNrrd(b, 'inf.nrrd')).toThrow(/inf\.nrrd: voxel \(2, 0, 0\) is Infinity/);
    expect(decodeNrrd(b, 'inf.nrrd', { allowNonFinite: true }).data[2]).toBe(Infinity);
  });
});
