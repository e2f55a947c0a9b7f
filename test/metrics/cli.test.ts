import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import pngjs from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeStl, enclosedVolume } from '../../src/metrics/index.js';

/*
 * End-to-end tests of the BUILT cli (npm test runs tsc first). Fixtures: the real wrist MRI (NIfTI without
 * qform/sform, so its affine is the centred default) and the official prediction (NRRD, LPS origin 0):
 * same 272x204x74 voxel grid, different affines.
 * Independent reference figures (python3 + numpy/scipy, reading the raw files):
 *   prediction: 187791 voxels; scipy.ndimage.label with a 3x3x3 structure -> 383 components, largest
 *   164322 / 4034 / 1899 voxels, largest bbox x 0..203, y 48..170, z 15..71;
 *   image inside the mask: mean 195.80990569303108, population std 108.28607771385508, range 0..581.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/cli/main.js');
const MRI = fileURLToPath(new URL('../../../shared/fixtures/mri/', import.meta.url));
const IMAGE = join(MRI, 'wrist_2.nii.gz');
const PRED = join(MRI, 'wrist_2_official_prediction.nrrd');
const work = mkdtempSync(join(tmpdir(), 'sab-metrics-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sab(...args: string[]): string {
  return execFileSync('node', [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function sabFails(...args: string[]): string {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  return r.stderr;
}

describe.skipIf(!existsSync(CLI))('sab evaluate / stats / mesh / preview (built cli)', () => {
  it('evaluate: identical masks, JSON', () => {
    const r = JSON.parse(sab('evaluate', PRED, PRED, '--json')) as Record<string, number>;
    expect(r.dsc).toBe(1);
    expect(r.iou).toBe(1);
    expect(r.hd95).toBe(0);
    expect(r.predMl).toBeCloseTo(187.791, 9);
  });

  it('evaluate: different grids are an error unless --ignore-affine; per-slice CSV', () => {
    const err = sabFails('evaluate', IMAGE, PRED);
    expect(err).toMatch(/^sab: error: .*wrist_2\.nii\.gz and .*wrist_2_official_prediction\.nrrd are on different voxel grids/);
    expect(err).toMatch(/--resample nearest/);
    const csv = sab('evaluate', PRED, PRED, '--label', '1', '--per-slice', '--csv').trim().split('\n');
    expect(csv[0].startsWith('slice,tp,fp,fn,dsc,iou,')).toBe(true);
    expect(csv).toHaveLength(2 + 74);
    expect(csv[1].startsWith('volume,187791,0,0,1,1,')).toBe(true);
    // image (every non-zero voxel, 4096171 of them) as a "prediction": precision = 187791 / 4096171 when every
    // mask voxel has a non-zero image value; just check the overlap identity DSC = 2 IoU / (1 + IoU)
    const r = JSON.parse(sab('evaluate', IMAGE, PRED, '--ignore-affine', '--json')) as Record<string, number>;
    expect(r.dsc).toBeCloseTo((2 * r.iou) / (1 + r.iou), 12);
    expect(r.recall).toBeGreaterThan(0.99);
    expect(r.predMl).toBeCloseTo(4096.171, 9);
  });

  it('evaluate --manifest: per-location bootstrap table, CSV and Markdown files', () => {
    const manifest = join(work, 'cases.csv');
    const p = relative(work, PRED);
    const i = relative(work, IMAGE);
    writeFileSync(manifest, `pred,gt,location,sequence\n${p},${p},wrist,T1\n${i},${p},hand,T1\n${p},${p},wrist,T2\n`);
    const prefix = join(work, 'run');
    const md = sab('evaluate', '--manifest', manifest, '--ignore-affine', '--resamples', '500', '--seed', '3', '--out', prefix);
    expect(md).toContain('| wrist | 2 | 1.000 (1.000–1.000) | 1.000 (1.000–1.000) |');
    expect(md).toMatch(/\| \*\*Overall\*\* \| 3 \|/);
    const table = readFileSync(`${prefix}_table.csv`, 'utf8').trim().split('\n');
    expect(table.map((l) => l.split(',')[0])).toEqual(['location', 'hand', 'wrist', 'Overall']);
    const cases = readFileSync(`${prefix}_cases.csv`, 'utf8').trim().split('\n');
    expect(cases).toHaveLength(4);
    expect(readFileSync(`${prefix}_table.md`, 'utf8')).toContain('500 case resamples, mulberry32 seed 3');
    // same seed -> same table
    expect(sab('evaluate', '--manifest', manifest, '--ignore-affine', '--resamples', '500', '--seed', '3')).toBe(md);
  });

  it('stats: volume, 26-connected components and intensity match the scipy reference', () => {
    const s = JSON.parse(sab('stats', PRED, '--image', IMAGE, '--ignore-affine', '--json')) as {
      voxels: number; volumeMl: number;
      components: { voxels: number; bboxMin: number[]; bboxMax: number[] }[];
      intensity: { mean: number; std: number; min: number; max: number };
    };
    expect(s.voxels).toBe(187791);
    expect(s.volumeMl).toBeCloseTo(187.791, 9);
    expect(s.components).toHaveLength(383);
    expect(s.components.slice(0, 3).map((c) => c.voxels)).toEqual([164322, 4034, 1899]);
    expect(s.components[0].bboxMin).toEqual([0, 48, 15]);
    expect(s.components[0].bboxMax).toEqual([203, 170, 71]);
    expect(s.intensity.mean).toBeCloseTo(195.80990569303108, 9);
    expect(s.intensity.std).toBeCloseTo(108.28607771385508, 9);
    expect([s.intensity.min, s.intensity.max]).toEqual([0, 581]);
  });

  it('mesh: binary STL whose enclosed volume is close to the mask volume', () => {
    const out = join(work, 'bone.stl');
    const msg = sab('mesh', PRED, '-o', out, '--smooth', '2');
    expect(msg).toMatch(/closed; enclosed volume/);
    const mesh = decodeStl(new Uint8Array(readFileSync(out)));
    const triangles = Number(/(\d+) triangles/.exec(msg)?.[1]);
    expect(mesh.triangles.length / 3).toBe(triangles);
    expect(Math.abs(enclosedVolume(mesh) / 1000 / 187.791 - 1)).toBeLessThan(0.03);
    expect(sabFails('mesh', PRED, '-o', join(work, 'bone.ply'))).toMatch(/unsupported mesh format/);
  });

  it('preview: PNG montage with the outline colour (--no-labels: one pixel per voxel)', () => {
    const out = join(work, 'preview.png');
    sab('preview', IMAGE, PRED, '-o', out, '--slices', '6', '--ignore-affine', '--no-labels');
    const png = pngjs.PNG.sync.read(readFileSync(out));
    // 6 tiles -> 3 columns x 2 rows of 272x204 with 2-pixel gaps
    expect(png.width).toBe(3 * 272 + 2 * 2);
    expect(png.height).toBe(2 * 204 + 2);
    let outline = 0;
    let grey = 0;
    for (let p = 0; p < png.data.length; p += 4) {
      const [r, g, b] = [png.data[p], png.data[p + 1], png.data[p + 2]];
      if (r === 255 && g === 48 && b === 48) outline++;
      else if (r === g && g === b && r > 60) grey++;
    }
    expect(outline).toBeGreaterThan(1000);
    expect(grey).toBeGreaterThan(10000);
    // Default: title band above, colour key below, 8-pixel margins; the text is drawn (bright pixels in the title band).
    const labelled = join(work, 'preview-labelled.png');
    expect(sab('preview', IMAGE, PRED, '-o', labelled, '--slices', '6', '--ignore-affine')).toMatch(/^wrote .*: 836x478, slices /);
    const lp = pngjs.PNG.sync.read(readFileSync(labelled));
    expect([lp.width, lp.height]).toEqual([836, 478]);
    let bright = 0;
    for (let p = 0; p < 26 * lp.width * 4; p += 4) if (lp.data[p]! > 200) bright++;
    expect(bright).toBeGreaterThan(150);
    const bad = join(work, 'never.png');
    expect(sabFails('preview', IMAGE, PRED, '-o', bad)).toMatch(/different voxel grids/);
    expect(existsSync(bad)).toBe(false);
  });
});
