import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, type StateDict } from '../../src/checkpoint/index.js';
import { createNodeRuntime, NCHWC_DOMAIN } from '../../src/graph/index.js';
import {
  attentionMapForSlice,
  attentionMapsForAllSlices,
  attentionPreRescale,
  sliceAttentionMap,
} from '../../src/model/depthAttention.js';
import { ModelWeightsError } from '../../src/model/layers.js';
import {
  VNET_INPUT,
  VNET_LOGITS,
  VNET_SIGMOID,
  buildVNetGraph,
  checkVNetStateDict,
  vnetParameterShapes,
  type VNetBatchNormMode,
} from '../../src/model/vnet.js';
import { GOLDEN, goldenManifest, loadGoldenF32, relMaxErr } from './golden.js';

/** Recipe: slice 37 of the 74-slice public volume -> VNet window [24, 40) on the last axis. */
const SLICE = 37;
const DEPTH = 74;
const TOL = 1e-4;
/** The sigmoid <= 0.1 count may differ from the reference for voxels sitting right at the threshold. */
const THRESHOLD_VOXELS = 16;

const runtime = createNodeRuntime({ threads: 2 });
let sd: StateDict;

beforeAll(() => {
  sd = loadCheckpoint(`${GOLDEN}atten.pth`);
});

describe('VNet state_dict checks', () => {
  it('accepts atten.pth and names every key MONAI VNet() has', () => {
    expect([...vnetParameterShapes().keys()]).toEqual([...sd.keys()]);
    expect(() => checkVNetStateDict(sd)).not.toThrow();
  });

  it('rejects missing, unexpected and mis-shaped keys in one error', () => {
    const bad: StateDict = new Map(sd);
    bad.delete('up_tr64.bn1.running_var');
    bad.set('module.extra', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
    bad.set('out_tr.conv2.bias', { dtype: 'float32', shape: [2], data: new Float32Array(2) });
    expect(() => buildVNetGraph(bad)).toThrow(ModelWeightsError);
    expect(() => buildVNetGraph(bad)).toThrow(/up_tr64\.bn1\.running_var.*out_tr\.conv2\.bias.*module\.extra/);
  });
});

describe.each(['eval', 'batchstats'] as VNetBatchNormMode[])('VNet parity, BatchNorm mode %s', (bnMode) => {
  let logits: Float32Array;
  let sigmoid: Float32Array;

  beforeAll(async () => {
    const g = buildVNetGraph(sd, { bnMode });
    expect(g.outputs.map((o) => [o.name, o.shape])).toEqual([
      [VNET_LOGITS, [1, 1, 64, 64, 64]],
      [VNET_SIGMOID, [1, 1, 64, 64, 64]],
    ]);
    // As `sab segment` opens it: on the CPU provider the large 3-D convs run on the NCHWc kernels.
    await runtime.lower(g);
    expect(g.records.some((r) => r.domain === NCHWC_DOMAIN)).toBe(process.arch === 'x64');
    const session = await runtime.session(g.toBytes(), g.name);
    const out = await session.run({ [VNET_INPUT]: loadGoldenF32('vnet_input') });
    await session.release();
    logits = out[VNET_LOGITS]!.data as Float32Array;
    sigmoid = out[VNET_SIGMOID]!.data as Float32Array;
  }, 120_000);

  it('logits match the golden VNet output within 1e-4 * max|ref|', () => {
    const err = relMaxErr(logits, loadGoldenF32(`vnet_logits_${bnMode}`).data);
    console.log(`vnet ${bnMode}: max abs err / max|ref| = ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(TOL);
  });

  it('sigmoid <= 0.1 fraction matches the manifest to within a few voxels', () => {
    const stats = goldenManifest().scalars['stats'] as Record<string, Record<string, number>>;
    const expected = stats[bnMode]!['vnet_sigmoid_le_0.1_fraction']! * sigmoid.length;
    const floor = Math.fround(0.1);
    let count = 0;
    for (const v of sigmoid) if (v <= floor) count++;
    console.log(`vnet ${bnMode}: sigmoid <= 0.1 in ${count} voxels, reference ${expected}`);
    expect(Math.abs(count - expected)).toBeLessThanOrEqual(THRESHOLD_VOXELS);
  });

  it('attention map for slice 37 of 74 matches the golden map within 1e-4 * max|ref|', () => {
    const pre = relMaxErr(attentionPreRescale(sigmoid, SLICE, DEPTH), loadGoldenF32(`attention_map_pre_rescale_${bnMode}`).data);
    const map = attentionMapForSlice(sigmoid, SLICE, DEPTH);
    const err = relMaxErr(map, loadGoldenF32(`attention_map_${bnMode}`).data);
    console.log(`attention ${bnMode}: pre-rescale err ${pre.toExponential(2)}, map err ${err.toExponential(2)}`);
    expect(pre).toBeLessThanOrEqual(TOL);
    expect(err).toBeLessThanOrEqual(TOL);
  });

  it('all-slice maps from one VNet run equal the per-slice maps', () => {
    const maps = attentionMapsForAllSlices(sigmoid, DEPTH);
    expect(maps.length).toBe(DEPTH * 64 * 64);
    for (const s of [0, 1, SLICE, 60, DEPTH - 1]) {
      expect(sliceAttentionMap(maps, s)).toEqual(attentionMapForSlice(sigmoid, s, DEPTH));
    }
    expect(() => sliceAttentionMap(maps, DEPTH)).toThrow(RangeError);
  });
});
