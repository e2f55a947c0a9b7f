import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDicomSeg } from '../../src/io/dicom/seg.js';
import { readVolume } from '../../src/io/dispatch.js';
import { createMaskLike } from '../../src/volume/volume.js';
import type { Volume } from '../../src/volume/types.js';
import { haveProgram, IN_CI, writeEnhancedMr, wristSlab, writeDicomSeries } from './dicom-tools.js';
import { scratchDir } from './helpers.js';

// The DICOM-SEG we write, checked by David Clunie's dciodvfy (dicom3tools) against the Segmentation IOD, and the MR
// series writeDicomSeries writes against the MR Image IOD: no "Error" line may appear. This stands in for loading
// them in OHIF or 3D Slicer, which cannot run here.
// Warnings it may print, each known and why it stays:
const KNOWN_WARNINGS = [
  // Laterality (Type 2C) is unknown for a volume: present and empty rather than guessed.
  /^Warning - is only permitted to be empty when actually unknown; .* attribute <Laterality>$/,
];

const HAVE = haveProgram('dciodvfy');
if (!HAVE && !IN_CI) console.warn('test/io/dicom-seg-dciodvfy skipped: needs dciodvfy (Debian dicom3tools); install with .ci/install.d/dicom3tools');

const dir = scratchDir('seg-dciodvfy');

/** dciodvfy's report lines (it prints them to stderr; its exit status only says whether there were errors). */
function dciodvfy(file: string): string[] {
  const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean);
}

function segOf(source: Volume, name: string): string {
  const mask = createMaskLike(source);
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = source.data[i]! > 200 ? 1 : 0;
  const file = join(dir, name);
  writeFileSync(file, buildDicomSeg(mask, { algorithm: { name: 'SegmentAnyBone', version: '0.1.0', parameters: 'weights sha256 0123abcd' } }));
  return file;
}

describe.skipIf(!HAVE && !IN_CI)('DICOM-SEG validated by dciodvfy', () => {
  let classic: Volume;
  let enhanced: Volume;
  beforeAll(() => {
    const classicDir = join(dir, 'classic');
    writeDicomSeries(classicDir, wristSlab(35, 3));
    writeEnhancedMr(classicDir, join(dir, 'enhanced.dcm'));
    classic = readVolume(classicDir);
    enhanced = readVolume(join(dir, 'enhanced.dcm'));
  });

  it.each([
    ['a classic series', () => classic, 'classic-seg.dcm'],
    ['an Enhanced MR source', () => enhanced, 'enhanced-seg.dcm'],
  ])('the SEG of %s has no errors and only known warnings', (_label, source, name) => {
    const lines = dciodvfy(segOf(source(), name));
    expect(lines).toContain('Segmentation'); // dciodvfy recognised the IOD
    expect(lines.filter((l) => l.startsWith('Error'))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('Warning') && !KNOWN_WARNINGS.some((w) => w.test(l)))).toEqual([]);
  });

  it('the MR series writeDicomSeries writes has no errors and only known warnings', () => {
    const lines = dciodvfy(join(dir, 'classic', 'IM00001.dcm'));
    expect(lines).toContain('MRImage');
    expect(lines.filter((l) => l.startsWith('Error'))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('Warning') && !KNOWN_WARNINGS.some((w) => w.test(l)))).toEqual([]);
  });
});
