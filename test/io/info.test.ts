import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { infoReport } from '../../src/cli/commands/info.js';
import { writeDicomSeries } from '../../src/io/dicom/write-series.js';
import { mat4 } from '../../src/volume/affine.js';
import { createVolume } from '../../src/volume/volume.js';
import { scratchDir, SHARED } from './helpers.js';

const dir = scratchDir('info');
const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

describe('sab info', () => {
  it('reports grid, RAS affine, orientation and voxel stats', () => {
    const r = infoReport(join(SHARED, 'mri/wrist_2_official_prediction.nrrd'), {});
    expect(r.volume!.format).toBe('nrrd');
    expect(r.volume!.dims).toEqual([272, 204, 74]);
    expect(r.volume!.orientation).toBe('LPS');
    expect(r.volume!.stats.sum).toBe(187791);
    expect(r.volume!.affine[0]).toEqual([-1, 0, 0, 0]);
  });
  it('lists DICOM series and needs --series when there are several', () => {
    const vol = createVolume(new Uint16Array(24).fill(2), [4, 3, 2], mat4([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0]]));
    writeDicomSeries(join(dir, 'a'), vol, { seriesInstanceUid: '1.2.826.1', seriesDescription: 'first' });
    writeDicomSeries(join(dir, 'b'), vol, { seriesInstanceUid: '1.2.826.2', seriesDescription: 'second' });
    const both = infoReport(dir, {});
    expect(both.series!.map((s) => s.description)).toEqual(['first', 'second']);
    expect(both.volume).toBeUndefined();
    expect(both.note).toMatch(/--series/);
    const one = infoReport(dir, { series: '1.2.826.2' });
    expect(one.volume!.stats.sum).toBe(48);
    expect(one.volume!.format).toBe('dicom');
  });
  it.skipIf(!existsSync(CLI))('built CLI prints JSON, and a clear error for a bad file', () => {
    const out = execFileSync(process.execPath, [CLI, 'info', join(SHARED, 'mri/wrist_2.nii.gz'), '--json'], { encoding: 'utf8' });
    const r = JSON.parse(out);
    expect(r.volume.dims).toEqual([272, 204, 74]);
    expect(r.volume.stats.sum).toBe(195155883);
    expect(r.volume.orientation).toBe('LAS');
    let stderr = '';
    try {
      execFileSync(process.execPath, [CLI, 'info', join(dir, 'missing.nii')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      stderr = String((e as { stderr: string }).stderr);
    }
    expect(stderr).toMatch(/sab: error: .*missing\.nii: cannot read file/);
  });
});
