import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readVolume } from '../../src/io/dispatch.js';
import { loadModel } from '../../src/pipeline/segmenter.js';
import { promptsBySlice, toEncoderFrame, fromEncoderFrame } from '../../src/pipeline/prompts.js';
import { axesWithSliceLast, inverseOrder, permuteVoxels } from '../../src/volume/permute.js';
import { createVolume } from '../../src/volume/volume.js';

const GOLDEN = fileURLToPath(new URL('../../../shared/fixtures/golden/', import.meta.url));
const WRIST = fileURLToPath(new URL('../../../shared/fixtures/mri/wrist_2.nii.gz', import.meta.url));

describe('voxel prompts', () => {
  it('map to the encoder frame with the image transform and back', () => {
    const f = toEncoderFrame({ points: [[10.25, 3, 1]], box: [20, 30, 5, 2] }, 272, 204);
    const [x, y] = f.points![0]!;
    expect(x).toBeCloseTo((3 + 0.5) * (1024 / 204) - 0.5, 12);
    expect(y).toBeCloseTo((10.25 + 0.5) * (1024 / 272) - 0.5, 12);
    // corners are ordered (x0 <= x1, y0 <= y1) whatever order the user gave
    expect(f.box![0]).toBeLessThan(f.box![2]);
    expect(f.box![1]).toBeLessThan(f.box![3]);
    const [r, c] = fromEncoderFrame([x, y], 272, 204);
    expect(r).toBeCloseTo(10.25, 12);
    expect(c).toBeCloseTo(3, 12);
  });

  it('group per slice: one decoder call per box with the points inside it, one for the rest', () => {
    const groups = promptsBySlice(
      [
        { kind: 'box', corner0: [0, 0, 4], corner1: [10, 10, 4] },
        { kind: 'point', ijk: [5, 5, 4], label: 1 },
        { kind: 'point', ijk: [50, 50, 4], label: 0 },
        { kind: 'point', ijk: [1, 2, 7], label: 1 },
      ],
      [100, 100, 10],
      [0, 1, 2],
    );
    expect([...groups.keys()].sort()).toEqual([4, 7]);
    expect(groups.get(4)).toEqual([{ points: [[5, 5, 1]], box: [0, 0, 10, 10] }, { points: [[50, 50, 0]] }]);
    expect(() => promptsBySlice([{ kind: 'point', ijk: [100, 0, 0], label: 1 }], [100, 100, 10], [0, 1, 2])).toThrow(
      /outside the volume/,
    );
    expect(() => promptsBySlice([{ kind: 'point', ijk: [1, 1, 2.5], label: 1 }], [100, 100, 10], [0, 1, 2])).toThrow(
      /whole slice index/,
    );
  });

  it('axis reordering round-trips', () => {
    const dims: [number, number, number] = [3, 4, 5];
    const data = Float32Array.from({ length: 60 }, (_, i) => i);
    for (const axis of [0, 1, 2] as const) {
      const order = axesWithSliceLast(axis);
      const p = permuteVoxels(data, dims, order);
      expect(p.dims[2]).toBe(dims[axis]);
      // voxel (i,j,k) of the input lands at the permuted coordinates
      const [a, b] = order;
      const idx = (c: number[], d: number[]) => c[0]! + c[1]! * d[0]! + c[2]! * d[0]! * d[1]!;
      const src = [2, 1, 3];
      const dst = [src[a]!, src[b]!, src[axis]!];
      expect(p.data[idx(dst, p.dims)]).toBe(data[idx(src, dims)]);
      expect(Array.from(permuteVoxels(p.data, p.dims, inverseOrder(order)).data)).toEqual(Array.from(data));
    }
  });
});

describe('segmentVolume (golden checkpoints, real MRI)', () => {
  const segmenter = loadModel(GOLDEN, { threads: 2 });
  afterAll(() => segmenter.release());
  const wrist = readVolume(WRIST);

  it('two boxes on one slice give the union of the two single-box runs (shared fusion path)', async () => {
    const boxA = { kind: 'box' as const, corner0: [40, 30, 37] as [number, number, number], corner1: [130, 110, 37] as [number, number, number] };
    const boxB = { kind: 'box' as const, corner0: [150, 90, 37] as [number, number, number], corner1: [250, 190, 37] as [number, number, number] };
    const opts = { promptedOnly: true, slices: [37, 38] as [number, number] };
    const a = await segmenter.segmentVolume(wrist, { ...opts, prompts: [boxA] });
    const b = await segmenter.segmentVolume(wrist, { ...opts, prompts: [boxB] });
    const both = await segmenter.segmentVolume(wrist, { ...opts, prompts: [boxA, boxB] });
    let diff = 0;
    let ones = 0;
    for (let i = 0; i < both.mask.data.length; i++) {
      const u = (a.mask.data[i]! | b.mask.data[i]!) as number;
      if (u !== both.mask.data[i]) diff++;
      ones += u;
    }
    expect(ones).toBeGreaterThan(0);
    expect(diff).toBe(0);
  });

  it('probabilities threshold at 0.5 to the mask; --axis 0 equals segmenting the permuted volume', async () => {
    const res = await segmenter.segmentVolume(wrist, { attention: false, axis: 0, slices: [100, 101], probabilities: true });
    const probs = res.probabilities!.data as Float32Array;
    let bad = 0;
    for (let i = 0; i < probs.length; i++) if ((probs[i]! > 0.5 ? 1 : 0) !== res.mask.data[i]) bad++;
    expect(bad).toBe(0);
    // Same slice via an explicitly permuted volume (slicing axis moved last) segmented along axis 2.
    const order = axesWithSliceLast(0);
    const p = permuteVoxels(wrist.data, wrist.dims, order);
    const permuted = createVolume(p.data, p.dims, wrist.affine);
    const ref = await segmenter.segmentVolume(permuted, { attention: false, slices: [100, 101] });
    const back = permuteVoxels(ref.mask.data as Uint8Array, p.dims, inverseOrder(order)).data;
    let diff = 0;
    let ones = 0;
    for (let i = 0; i < back.length; i++) {
      if (back[i] !== res.mask.data[i]) diff++;
      ones += back[i]!;
    }
    expect(ones).toBeGreaterThan(0);
    expect(diff).toBe(0);
  });
});
