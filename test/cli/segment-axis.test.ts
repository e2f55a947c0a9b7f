import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readVolume, writeVolume } from '../../src/io/dispatch.js';
import { mat4 } from '../../src/volume/affine.js';
import { createVolume } from '../../src/volume/volume.js';
import { GOLDEN_DIR, sab, scratch } from './helpers.js';

const dir = scratch('segment-axis');

describe('sab segment slicing axis (issue 16)', () => {
  // 4 thick slices of 3.3 mm stacked along axis 0, 0.8 mm in-plane: acquired as axis-0 slices.
  const input = path.join(dir, 'thick-axis0.nii.gz');
  const ramp = Float32Array.from({ length: 4 * 40 * 36 }, (_, i) => ((i * 2654435761) % 997) + (i % 40) * 20);
  writeVolume(input, createVolume(ramp, [4, 40, 36], mat4([[3.3, 0, 0, 0], [0, 0.8, 0, 0], [0, 0, 0.8, 0]])));
  const warning = `sab: warning: ${input}: slicing along axis 2 cuts across the acquisition plane: the largest spacing (3.3 mm) is on axis 0`;

  it('the default (third) axis warns and names --axis 0', async () => {
    const r = await sab(['segment', input, '-o', path.join(dir, 'default.nii.gz'), '--weights', GOLDEN_DIR, '--no-attention', '--slices', '0:1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(warning);
    expect(r.stderr).toContain('--axis 0 (or --axis auto) slices in-plane');
    expect(r.stderr.split(warning)).toHaveLength(2); // once
  });
  it('--axis auto slices along axis 0, silently, and gives the very mask of --axis 0', async () => {
    const auto = path.join(dir, 'auto.nii.gz'), zero = path.join(dir, 'zero.nii.gz');
    const a = await sab(['segment', input, '-o', auto, '--weights', GOLDEN_DIR, '--no-attention', '--axis', 'auto', '--slices', '1:3', '--json']);
    const z = await sab(['segment', input, '-o', zero, '--weights', GOLDEN_DIR, '--no-attention', '--axis', '0', '--slices', '1:3', '--json']);
    expect([a.code, z.code], a.stderr + z.stderr).toEqual([0, 0]);
    expect(a.stderr).not.toContain('warning');
    expect(JSON.parse(a.stdout)).toMatchObject({ axis: 0, slicesSegmented: 2 });
    expect(JSON.parse(z.stdout)).toMatchObject({ axis: 0, slicesSegmented: 2 });
    expect(Array.from(readVolume(auto).data)).toEqual(Array.from(readVolume(zero).data));
  });
});
