import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVolume } from '../../src/io/index.js';
import { connectedComponents26 } from '../../src/metrics/components.js';
import { makePhantom, writePhantomSet } from '../../src/train/data/phantom.js';
import { CLI, sab, scratch } from '../cli/helpers.js';
import { existsSync } from 'node:fs';

const SIZE: [number, number, number] = [48, 48, 24];

describe('phantom volumes', () => {
  it('has bones (several separate components), cortex darker than tissue, marrow brighter', () => {
    for (const seed of [1, 2, 3]) {
      const c = makePhantom(seed, { dims: [96, 96, 48] });
      const mask = c.mask.data as Uint8Array;
      const img = c.image.data as Uint16Array;
      const cc = connectedComponents26(mask, c.mask.dims);
      expect(cc.count).toBe(c.bones);
      expect(cc.count).toBeGreaterThanOrEqual(3);
      // Per-bone: its outer shell (mask voxels with a background 6-neighbour) is darker than its core.
      const [ni, nj] = c.mask.dims;
      let shell = 0, shellN = 0, core = 0, coreN = 0, soft = 0, softN = 0;
      for (let p = 0; p < mask.length; p++) {
        const i = p % ni;
        const j = Math.floor(p / ni) % nj;
        if (!mask[p]) {
          // soft tissue near the centre of the limb, away from bones
          if (Math.abs(i - ni / 2) < 30 && Math.abs(j - nj / 2) < 20 && img[p]! > 150) { soft += img[p]!; softN++; }
          continue;
        }
        const edge = i === 0 || i === ni - 1 || j === 0 || j === nj - 1 || !mask[p - 1] || !mask[p + 1] || !mask[p - ni] || !mask[p + ni];
        if (edge) { shell += img[p]!; shellN++; } else { core += img[p]!; coreN++; }
      }
      expect(shell / shellN).toBeLessThan(soft / softN);
      expect(core / coreN).toBeGreaterThan(soft / softN);
    }
  });

  it('is deterministic for a seed (identical bytes) and different across seeds', () => {
    const dirA = scratch('phantomA');
    const dirB = scratch('phantomB');
    const dirC = scratch('phantomC');
    writePhantomSet(dirA, { count: 2, seed: 7, dims: SIZE });
    writePhantomSet(dirB, { count: 2, seed: 7, dims: SIZE });
    writePhantomSet(dirC, { count: 2, seed: 8, dims: SIZE });
    const files = readdirSync(dirA).sort();
    expect(files).toEqual(['case_000.nii.gz', 'case_000_mask.nii.gz', 'case_001.nii.gz', 'case_001_mask.nii.gz', 'cases.csv']);
    for (const f of files) expect(readFileSync(join(dirA, f)).equals(readFileSync(join(dirB, f)))).toBe(true);
    expect(readFileSync(join(dirA, 'case_000.nii.gz')).equals(readFileSync(join(dirC, 'case_000.nii.gz')))).toBe(false);
    // Two cases of one set differ too.
    expect(readFileSync(join(dirA, 'case_000.nii.gz')).equals(readFileSync(join(dirA, 'case_001.nii.gz')))).toBe(false);
  });
});

describe('sab phantom (built CLI)', () => {
  const out = scratch('phantom-cli');
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
  });

  it('writes NIfTI pairs with geometry and a cases.csv', async () => {
    const r = await sab(['phantom', '-o', join(out, 'set'), '--n', '4', '--seed', '3', '--size', '40,36,20']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote 4 cases/);
    const csv = readFileSync(join(out, 'set', 'cases.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('image,mask,location,sequence,split');
    expect(csv.slice(1).map((l) => l.split(',')[4])).toEqual(['train', 'train', 'train', 'val']);
    const img = readVolume(join(out, 'set', 'case_002.nii.gz'));
    const mask = readVolume(join(out, 'set', 'case_002_mask.nii.gz'));
    expect(img.dims).toEqual([40, 36, 20]);
    expect(img.dtype).toBe('uint16');
    expect(mask.dtype).toBe('uint8');
    expect(img.spacing).toEqual([1, 1, 1]);
    expect([...img.affine]).toEqual([1, 0, 0, -19.5, 0, 1, 0, -17.5, 0, 0, 1, -9.5, 0, 0, 0, 1]);
    expect([...mask.affine]).toEqual([...img.affine]);
    const m = mask.data as Uint8Array;
    expect(m.some((v) => v === 1)).toBe(true);
    expect(m.every((v) => v <= 1)).toBe(true);
  });

  it('rejects a bad size with one clear error', async () => {
    const r = await sab(['phantom', '-o', join(out, 'bad'), '--size', '8,8,8']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sab: error: .*phantom size 8,8,8/);
  });
});
