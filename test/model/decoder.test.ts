import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, type StateDict } from '../../src/checkpoint/index.js';
import { createNodeRuntime, type RunTensor, type Session } from '../../src/graph/index.js';
import { buildDecoderGraph, DecoderIO, type DecoderGraphOptions } from '../../src/model/decoderGraph.js';
import { ModelWeightsError } from '../../src/model/decoderParams.js';
import { buildFusionGraph } from '../../src/model/fusion.js';
import { SegmentAnyBone } from '../../src/model/segmentAnyBone.js';
import { encodePrompts, PromptError, type Prompts } from '../../src/model/promptEncoder.js';
import { GOLDEN, goldenManifest, loadGoldenF32, loadGoldenU8, maxAbs, maxAbsDiff } from './golden.js';

/** Issue tolerance: max abs error <= 1e-4 * max |reference|. */
const REL_TOL = 1e-4;
/** Mask pixels whose reference logit is this close to 0 may flip. */
const MASK_LOGIT_MARGIN = 1e-3;

const runtime = createNodeRuntime({ threads: 2 });
let sd: StateDict;
const sessions = new Map<string, Session>();

async function session(opts: DecoderGraphOptions): Promise<Session> {
  const key = `${opts.mode}/${opts.attention}`;
  let s = sessions.get(key);
  if (!s) {
    const g = buildDecoderGraph(sd, opts);
    s = await runtime.session(g.toBytes(), g.name);
    sessions.set(key, s);
  }
  return s;
}

function expectParity(name: string, actual: RunTensor | undefined, referenceName = name): void {
  expect(actual, `${name}: output missing`).toBeDefined();
  const ref = loadGoldenF32(referenceName);
  expect(actual!.dims).toEqual(ref.dims);
  const err = maxAbsDiff(actual!.data as Float32Array, ref.data);
  const scale = maxAbs(ref.data);
  console.log(`${name}: max abs err ${err.toExponential(3)}, max|ref| ${scale.toExponential(3)}, ratio ${(err / scale).toExponential(3)}`);
  expect(err).toBeLessThanOrEqual(REL_TOL * scale);
}

/** Our mask (bone channel > 0) equals the reference mask except where the reference logit is within the margin of 0. */
function expectMask(logits: RunTensor, maskName: string, refLogitsName: string): void {
  const mask = loadGoldenU8(maskName).data;
  const refLogits = loadGoldenF32(refLogitsName).data;
  const plane = mask.length;
  const bone = (logits.data as Float32Array).subarray(plane, 2 * plane);
  let flips = 0;
  let excused = 0;
  for (let i = 0; i < plane; i++) {
    if ((bone[i]! > 0 ? 1 : 0) === mask[i]) continue;
    if (Math.abs(refLogits[plane + i]!) < MASK_LOGIT_MARGIN) excused++;
    else flips++;
  }
  console.log(`${maskName}: ${flips} differing pixels outside the margin, ${excused} inside`);
  expect(flips).toBe(0);
}

const embedding = () => loadGoldenF32(DecoderIO.imageEmbedding);
const promptFeeds = (p: Prompts): Record<string, RunTensor> => {
  const e = encodePrompts(p);
  return {
    [DecoderIO.pointCoords]: { data: e.coords, dims: [1, e.count, 2] },
    [DecoderIO.pointLabels]: { data: e.labels, dims: [1, e.count] },
  };
};

interface ManifestPrompt {
  points?: [number, number][];
  labels?: number[];
  box?: [number, number, number, number];
}
function manifestPrompt(mode: string): Prompts {
  const m = (goldenManifest()['prompts'] as Record<string, ManifestPrompt>)[mode]!;
  const points = (m.points ?? []).map(([x, y], i) => [x, y, m.labels![i]!] as [number, number, number]);
  return { ...(points.length ? { points } : {}), ...(m.box ? { box: m.box } : {}) };
}

beforeAll(() => {
  sd = loadCheckpoint(`${GOLDEN}bone_sam.pth`);
});
afterAll(async () => {
  for (const s of sessions.values()) await s.release();
});

describe('encodePrompts (SAM padding rule)', () => {
  it('appends a padding point when there is no box', () => {
    const e = encodePrompts({ points: [[10, 20, 1], [30, 40, 0]] });
    expect(e.count).toBe(3);
    expect([...e.coords]).toEqual([10, 20, 30, 40, 0, 0]);
    expect([...e.labels]).toEqual([1, 0, -1]);
  });
  it('puts box corners (labels 2, 3) after the points and no padding', () => {
    const e = encodePrompts({ points: [[5, 6, 1]], box: [1, 2, 3, 4] });
    expect([...e.coords]).toEqual([5, 6, 1, 2, 3, 4]);
    expect([...e.labels]).toEqual([1, 2, 3]);
    expect(encodePrompts({ box: [1, 2, 3, 4] }).count).toBe(2);
  });
  it('rejects empty prompts, bad labels and non-finite coordinates', () => {
    expect(() => encodePrompts({})).toThrow(PromptError);
    expect(() => encodePrompts({ points: [[1, 2, 2]] })).toThrow(/label 2/);
    expect(() => encodePrompts({ points: [[NaN, 2, 1]] })).toThrow(/non-finite/);
  });
});

describe('decoder graph: checkpoint checks', () => {
  it('names missing and unexpected keys in one error', () => {
    const broken = new Map(sd);
    broken.delete('mask_decoder.iou_token.weight');
    broken.set('mask_decoder.extra.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
    expect(() => buildDecoderGraph(broken, { mode: 'auto', attention: false })).toThrow(ModelWeightsError);
    expect(() => buildDecoderGraph(broken, { mode: 'auto', attention: false })).toThrow(
      /missing 1 key\(s\): mask_decoder\.iou_token\.weight; unexpected 1 key\(s\): mask_decoder\.extra\.weight/,
    );
  });
});

describe('decoder graph parity with the golden fixtures (tolerance 1e-4 * max|ref|)', () => {
  for (const variant of ['eval', 'batchstats'] as const) {
    it(`automatic mode with attention (${variant}): fused embedding, dense PE, logits, IoU, mask`, async () => {
      const s = await session({ mode: 'auto', attention: true });
      const out = await s.run({
        [DecoderIO.imageEmbedding]: embedding(),
        [DecoderIO.attentionMap]: loadGoldenF32(`attention_map_${variant}`),
      });
      expectParity(`fused_embedding_${variant}`, out[DecoderIO.fusedEmbedding]);
      if (variant === 'eval') expectParity('dense_pe', out[DecoderIO.densePe]);
      expectParity(`auto_lowres_logits_${variant}`, out[DecoderIO.lowResLogits]);
      expectParity(`auto_iou_pred_${variant}`, out[DecoderIO.iouPred]);
      expectMask(out[DecoderIO.lowResLogits]!, `auto_mask_256_${variant}`, `auto_lowres_logits_${variant}`);
    });
  }

  it('automatic mode with attention takes a batch: [eval, batchstats] in one run', async () => {
    const s = await session({ mode: 'auto', attention: true });
    const emb = embedding().data;
    const maps = ['eval', 'batchstats'].map((v) => loadGoldenF32(`attention_map_${v}`).data);
    const out = await s.run({
      [DecoderIO.imageEmbedding]: { data: Float32Array.from([...emb, ...emb]), dims: [2, 256, 64, 64] },
      [DecoderIO.attentionMap]: { data: Float32Array.from([...maps[0]!, ...maps[1]!]), dims: [2, 64, 64] },
    });
    const logits = out[DecoderIO.lowResLogits]!;
    const iou = out[DecoderIO.iouPred]!;
    expect(logits.dims).toEqual([2, 2, 256, 256]);
    expect(iou.dims).toEqual([2, 2]);
    const per = 2 * 256 * 256;
    ['eval', 'batchstats'].forEach((v, b) => {
      const at = (t: RunTensor, n: number) => ({ data: (t.data as Float32Array).slice(b * n, (b + 1) * n), dims: [1, ...t.dims.slice(1)] });
      expectParity(`auto_lowres_logits_${v} (batch item ${b})`, at(logits, per), `auto_lowres_logits_${v}`);
      expectParity(`auto_iou_pred_${v} (batch item ${b})`, at(iou, 2), `auto_iou_pred_${v}`);
    });
  });

  it('automatic mode without attention (2-D only) on the raw embedding', async () => {
    const s = await session({ mode: 'auto', attention: false });
    const out = await s.run({ [DecoderIO.imageEmbedding]: embedding() });
    expectParity('auto_noatten_lowres_logits', out[DecoderIO.lowResLogits]);
    expect(out[DecoderIO.sparseEmbeddings]).toBeUndefined();
  });

  it('decoder alone on the golden fused embedding (cached-fusion path) and the standalone fusion graph', async () => {
    const s = await session({ mode: 'auto', attention: false });
    const out = await s.run({ [DecoderIO.imageEmbedding]: loadGoldenF32('fused_embedding_batchstats') });
    expectParity('auto_lowres_logits_batchstats (from golden fused)', out[DecoderIO.lowResLogits], 'auto_lowres_logits_batchstats');
    const fusion = await runtime.session(buildFusionGraph(sd, { foldBatchNorm: false }).toBytes(), 'fusion');
    const fused = await fusion.run({
      [DecoderIO.imageEmbedding]: embedding(),
      [DecoderIO.attentionMap]: loadGoldenF32('attention_map_eval'),
    });
    await fusion.release();
    expectParity('fused_embedding_eval (unfolded BatchNorm)', fused[DecoderIO.fusedEmbedding], 'fused_embedding_eval');
  });

  it('prompt mode over cached image projections (the viewer\'s click graph): the plain decoder\'s logits and IoU to float rounding', async () => {
    const model = new SegmentAnyBone(runtime, sd, undefined);
    try {
      const fused = loadGoldenF32('fused_embedding_batchstats').data;
      const projections = await model.imageProjections(fused);
      for (const mode of ['point', 'box', 'point_box'] as const) {
        const prompt = encodePrompts(manifestPrompt(mode));
        const plain = await model.decodeMasks(fused, null, prompt);
        const cached = await model.decodeWithProjections(projections, prompt);
        // The click graph also multiplies the attentions' weights on the token side (tokenSideProjections):
        // the same function summed in another order.
        const dLogits = maxAbsDiff(cached.lowResLogits, plain.lowResLogits);
        console.log(`${mode}: click graph vs plain decoder, max |d logit| ${dLogits.toExponential(2)} (max |logit| ${maxAbs(plain.lowResLogits).toFixed(2)})`);
        expect(dLogits, mode).toBeLessThanOrEqual(1e-5 * maxAbs(plain.lowResLogits));
        expect(maxAbsDiff(cached.iouPred, plain.iouPred), mode).toBeLessThanOrEqual(1e-5 * maxAbs(plain.iouPred));
        const dims = [1, 2, 256, 256];
        expectParity(`${mode}_lowres_logits (cached projections)`, { data: cached.lowResLogits, dims }, `${mode}_lowres_logits`);
        // What a click draws: the bone channel alone (its own graph, pixels reordered in JS), bit for bit.
        const bone = await model.decodeBoneLogits(projections, prompt);
        const channel1 = cached.lowResLogits.subarray(256 * 256);
        let differing = 0;
        for (let p = 0; p < channel1.length; p++) if (!Object.is(bone[p], channel1[p])) differing++;
        expect(bone.length, mode).toBe(channel1.length);
        expect(differing, `${mode}: bone logits differing from channel 1`).toBe(0);
      }
    } finally {
      await model.release();
    }
  });

  for (const mode of ['point', 'box', 'point_box'] as const) {
    it(`prompt mode "${mode}" with the batchstats attention map: sparse embeddings, logits, IoU`, async () => {
      const s = await session({ mode: 'prompt', attention: true });
      const out = await s.run({
        [DecoderIO.imageEmbedding]: embedding(),
        [DecoderIO.attentionMap]: loadGoldenF32('attention_map_batchstats'),
        ...promptFeeds(manifestPrompt(mode)),
      });
      expectParity(`${mode}_sparse_embeddings`, out[DecoderIO.sparseEmbeddings]);
      expectParity(`${mode}_lowres_logits`, out[DecoderIO.lowResLogits]);
      expectParity(`${mode}_iou_pred`, out[DecoderIO.iouPred]);
    });
  }
});
