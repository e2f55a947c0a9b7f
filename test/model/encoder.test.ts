import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, type StateDict } from '../../src/checkpoint/index.js';
import { createNodeRuntime, type Session } from '../../src/graph/index.js';
import { ModelWeightsError } from '../../src/model/layers.js';
import { attentionBiasIndex } from '../../src/model/tinyvitAttention.js';
import { buildEncoderGraph, stageResolutions, MOBILE_SAM_TINYVIT } from '../../src/model/tinyvit.js';
import { GOLDEN, loadGoldenF32, maxAbs, maxAbsDiff } from './golden.js';

/** The official encoder input: per channel (x - mean[c]) / std[c], float32 subtract then float32 divide. */
function imagenetNormalise(prenorm: Float32Array): Float32Array {
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const hw = prenorm.length;
  const out = new Float32Array(3 * hw);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]!);
    const s = Math.fround(std[c]!);
    for (let i = 0; i < hw; i++) out[c * hw + i] = Math.fround(Math.fround(prenorm[i]! - m) / s);
  }
  return out;
}

describe('TinyViT attention-bias index', () => {
  it('matches the hand-derived table for a 2x3 window', () => {
    // Tokens (row, col) in row-major order: 0=(0,0) 1=(0,1) 2=(0,2) 3=(1,0) 4=(1,1) 5=(1,2).
    // Offsets (|dr|,|dc|) numbered on first appearance while scanning query 0's row:
    // (0,0)=0 (0,1)=1 (0,2)=2 (1,0)=3 (1,1)=4 (1,2)=5.
    const expected = [
      [0, 1, 2, 3, 4, 5],
      [1, 0, 1, 4, 3, 4],
      [2, 1, 0, 5, 4, 3],
      [3, 4, 5, 0, 1, 2],
      [4, 3, 4, 1, 0, 1],
      [5, 4, 3, 2, 1, 0],
    ];
    const { idxs, offsets } = attentionBiasIndex(2, 3);
    expect(offsets).toBe(6);
    expect(Array.from(idxs)).toEqual(expected.flat());
  });

  it('numbers 7x7 and 14x14 windows with one bias per distinct offset', () => {
    expect(attentionBiasIndex(7, 7).offsets).toBe(49);
    expect(attentionBiasIndex(14, 14).offsets).toBe(196);
    const { idxs } = attentionBiasIndex(7, 7);
    // Token 8 = (1,1) against token 48 = (6,6): offset (5,5) -> first seen from token 0 at key 40.
    expect(idxs[8 * 49 + 48]).toBe(idxs[0 * 49 + 40]);
    expect(idxs[48 * 49 + 8]).toBe(5 * 7 + 5);
  });
});

describe('TinyViT encoder structure', () => {
  it('keeps 64x64 tokens into the last stage (stride-1 merge)', () => {
    expect(stageResolutions(MOBILE_SAM_TINYVIT)).toEqual([256, 128, 64, 64]);
  });

  it('infers shapes through the symbolic batch (window partition and reverse)', () => {
    const sd = loadCheckpoint(`${GOLDEN}bone_sam.pth`);
    const g = buildEncoderGraph(sd, { batch: 'N' });
    expect(g.outputs[0]!.shape).toEqual(['N', 256, 64, 64]);
    const softmaxShapes = g.records.filter((r) => r.opType === 'Softmax').map((r) => g.values.get(r.outputs[0]!)!.shape);
    // Padded grids: 133x133 -> 19x19 windows of 7x7; 70x70 -> 5x5 of 14x14; 70x70 -> 10x10 of 7x7.
    expect(softmaxShapes).toEqual([
      ...Array(2).fill(['N*361', 4, 49, 49]),
      ...Array(6).fill(['N*25', 5, 196, 196]),
      ...Array(2).fill(['N*100', 10, 49, 49]),
    ]);
  });

  it('rejects weights with missing and unexpected keys in one error', () => {
    const sd: StateDict = new Map([
      ['image_encoder.bogus.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) }],
    ]);
    expect(() => buildEncoderGraph(sd)).toThrow(ModelWeightsError);
    expect(() => buildEncoderGraph(sd)).toThrow(/missing \d+ key\(s\): image_encoder\.patch_embed.*unexpected 1 key\(s\): image_encoder\.bogus\.weight/);
  });
});

describe('TinyViT encoder + adapters against the golden image embedding', () => {
  const runtime = createNodeRuntime({ threads: 2 });
  let session: Session;
  let graphParams: string[];
  let input: Float32Array;

  beforeAll(async () => {
    const sd = loadCheckpoint(`${GOLDEN}bone_sam.pth`);
    const g = buildEncoderGraph(sd, { batch: 'N' });
    graphParams = [...g.initializers.keys()];
    session = await runtime.session(g.toBytes(), 'image_encoder');
    input = imagenetNormalise(loadGoldenF32('encoder_input_prenorm').data);
  });
  afterAll(async () => {
    await session?.release();
  });

  it('wires the adapters of exactly the blocks of layers 1 and 2 (all 8 adapter params each)', () => {
    const adapterParams = graphParams.filter((k) => k.includes('_Adapter.'));
    expect(adapterParams.length).toBe(8 * 2 * 4);
    const blocks = new Set(adapterParams.map((k) => k.split('.').slice(0, 5).join('.')));
    expect([...blocks].sort()).toEqual([
      ...[0, 1].map((b) => `image_encoder.layers.1.blocks.${b}`),
      ...[0, 1, 2, 3, 4, 5].map((b) => `image_encoder.layers.2.blocks.${b}`),
    ]);
  });

  it('reproduces image_embedding (max abs error <= 1e-4 * max|ref|), batch 1 and batch 2', async () => {
    const ref = loadGoldenF32('image_embedding');
    const one = await session.run({ image: { data: input, dims: [1, 3, 1024, 1024] } });
    const emb = one['image_embedding']!;
    expect(emb.dims).toEqual([1, 256, 64, 64]);
    const err = maxAbsDiff(emb.data as Float32Array, ref.data);
    const scale = maxAbs(ref.data);
    console.log(`encoder parity: max abs err ${err.toExponential(3)}, max|ref| ${scale.toFixed(4)}, ratio ${(err / scale).toExponential(3)}`);
    expect(err).toBeLessThanOrEqual(1e-4 * scale);

    const two = new Float32Array(2 * input.length);
    two.set(input, 0);
    two.set(input, input.length);
    const out2 = (await session.run({ image: { data: two, dims: [2, 3, 1024, 1024] } }))['image_embedding']!;
    expect(out2.dims).toEqual([2, 256, 64, 64]);
    const d = out2.data as Float32Array;
    const n = ref.data.length;
    expect(maxAbsDiff(d.subarray(0, n), d.subarray(n))).toBeLessThanOrEqual(1e-6 * scale);
    expect(maxAbsDiff(d.subarray(0, n), ref.data)).toBeLessThanOrEqual(1e-4 * scale);
  });
});
