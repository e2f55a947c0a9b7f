import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  GraphBuilder,
  RangeObserver,
  addRangeOutputs,
  createNodeRuntime,
  planStatic,
  quantizeMatMulWeights,
  quantizeStatic,
  uint8Params,
  ORT_CONTRIB_DOMAIN,
  INT7_LEVELS,
  INT8_LEVELS,
} from '../../src/graph/index.js';
import { detectU8s8Saturation } from '../../src/graph/quantize/u8s8Saturation.js';
import { ModelProto } from '../../src/graph/onnxSchema.js';
import { matmulRef, maxAbsDiff, randn, seededRandom } from './reference.js';

const rnd = seededRandom(11);

describe('quantizeMatMulWeights (dynamic int8)', () => {
  it('rewrites constant-weight MatMuls (direct, transposed, reshaped), folds a bias Add, leaves activation x activation ones', async () => {
    const [m, k, n] = [9, 16, 6];
    const x = randn(m * k, rnd);
    const w = randn(n * k, rnd, 0.3); // nn.Linear layout [out, in]
    const g = new GraphBuilder('q');
    const xi = g.input('x', 'float32', [m, k]);
    const wt = g.initializer('lin.weight', { dtype: 'float32', shape: [n, k], data: w });
    const bias = randn(n, rnd);
    const viaTranspose = g.add(g.matmul(xi, g.transpose(wt, [1, 0])), g.initializer('lin.bias', { dtype: 'float32', shape: [n], data: bias })); // [m, n]
    const wr = g.initializer('conv.weight', { dtype: 'float32', shape: [n, k, 1, 1], data: w });
    const viaReshape = g.matmul(xi, g.transpose(g.reshape(wr, [n, k]), [1, 0]));
    const act = g.matmul(viaTranspose, g.transpose(viaReshape, [1, 0])); // [m, m]: stays float
    g.output(viaTranspose, 'a');
    g.output(viaReshape, 'b');
    g.output(act, 'c');
    expect(quantizeMatMulWeights(g)).toEqual({ matmuls: 2, weights: 2 * n * k, biases: 1 });
    // The bias moved into the kernel (its fifth input): no Add is left.
    expect(g.records.filter((r) => r.opType === 'Add')).toHaveLength(0);
    expect(g.records.find((r) => r.opType === 'DynamicQuantizeMatMul' && r.inputs.length === 5)?.inputs[4]).toBe('lin.bias');
    expect(g.records.filter((r) => r.opType === 'DynamicQuantizeMatMul' && r.domain === ORT_CONTRIB_DOMAIN)).toHaveLength(2);
    expect(g.records.filter((r) => r.opType === 'MatMul')).toHaveLength(1);
    // The float weights are gone; the model imports the contrib domain.
    expect(g.initializers.has('lin.weight') || g.initializers.has('conv.weight')).toBe(false);
    const proto = ModelProto.decode(g.toBytes()) as unknown as { opsetImport: { domain: string }[] };
    expect(proto.opsetImport.map((o) => o.domain)).toContain(ORT_CONTRIB_DOMAIN);

    const session = await createNodeRuntime({ threads: 1 }).session(g.toBytes(), 'q');
    const out = await session.run({ x: { data: x, dims: [m, k] } });
    await session.release();
    const wT = new Float32Array(k * n);
    for (let o = 0; o < n; o++) for (let i = 0; i < k; i++) wT[i * n + o] = w[o * k + i]!;
    const ref = matmulRef(x, wT, m, k, n);
    const refs = { a: ref.map((v, i) => v + bias[i % n]!), b: ref };
    // int8 weights and uint8 activations: a few hundredths of the output range, never exact.
    for (const name of ['a', 'b'] as const) {
      const scale = Math.max(...refs[name].map(Math.abs));
      const err = maxAbsDiff(out[name]!.data as Float32Array, refs[name]) / scale;
      expect(err).toBeLessThan(0.03);
      expect(err).toBeGreaterThan(0);
    }
  });
});

describe('quantizeStatic (QDQ int8, calibrated ranges)', () => {
  const [c, h, n] = [4, 8, 6];
  const x = randn(c * h * h, rnd);
  const w1 = randn(8 * c * 9, rnd, 0.3);
  const b1 = randn(8, rnd, 0.1);
  const w2 = randn(n * 8, rnd, 0.3);
  /** x -> Conv 3x3 (+bias) -> Gelu -> to channels-last -> MatMul by a weight -> y. */
  const build = (): GraphBuilder => {
    const g = new GraphBuilder('s');
    const xi = g.input('x', 'float32', [1, c, h, h]);
    const conv = g.conv(xi, g.initializer('w1', { dtype: 'float32', shape: [8, c, 3, 3], data: w1 }), g.initializer('b1', { dtype: 'float32', shape: [8], data: b1 }), { pads: [1, 1, 1, 1] });
    const tokens = g.transpose(g.gelu(conv), [0, 2, 3, 1]);
    g.output(g.matmul(tokens, g.initializer('w2', { dtype: 'float32', shape: [8, n], data: w2 })), 'y');
    return g;
  };
  const feeds = { x: { data: x, dims: [1, c, h, h] } };

  it('calibrates ranges with ReduceMin/ReduceMax outputs, fuses into QLinearConv, stays within int8 error', async () => {
    const runtime = createNodeRuntime({ threads: 1 });
    const runOnce = async (model: GraphBuilder, outputs?: string[]) => {
      const s = await runtime.session(model.toBytes(), model.name);
      try {
        return await s.run(feeds, outputs);
      } finally {
        await s.release();
      }
    };
    const reference = (await runOnce(build()))['y']!.data as Float32Array;

    const plan = planStatic(build());
    expect(plan.activations).toHaveLength(3); // conv input, conv output, MatMul input
    const calibration = build();
    const observer = new RangeObserver(addRangeOutputs(calibration, plan.activations));
    observer.observe(await runOnce(calibration, observer.outputNames));
    const xr = observer.ranges.get('x')!;
    expect(xr.min).toBe(Math.min(...x));
    expect(xr.max).toBe(Math.max(...x));

    const g = build();
    // 7-bit weights where this CPU's u8s8 kernels would clamp 8-bit products (as --precision int8 does).
    const weightLevels = detectU8s8Saturation() ? INT7_LEVELS : INT8_LEVELS;
    expect(quantizeStatic(g, observer.ranges, { weightLevels })).toEqual({ convs: 1, matmuls: 1, activationMatmuls: 0, activations: 3 });
    expect(g.initializers.has('w1') || g.initializers.has('w2')).toBe(false); // float weights dropped
    const dir = mkdtempSync(path.join(tmpdir(), 'sab-qdq-'));
    try {
      const file = path.join(dir, 'optimized.onnx');
      const s = await ort.InferenceSession.create(g.toBytes(), { graphOptimizationLevel: 'all', optimizedModelFilePath: file, logSeverityLevel: 3 });
      await s.release();
      const ops = (ModelProto.decode(readFileSync(file)) as unknown as { graph: { node: { opType: string }[] } }).graph.node.map((nd) => nd.opType);
      expect(ops).toContain('QLinearConv');
      expect(ops).not.toContain('Conv');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const out = (await runOnce(g))['y']!.data as Float32Array;
    const err = maxAbsDiff(out, reference) / Math.max(...reference.map(Math.abs));
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(0.05);
  });

  it('keeps zero exact and names an activation that has no range', () => {
    const p = uint8Params({ min: -1, max: 3 });
    expect(Math.round(0 / p.scale) + p.zeroPoint).toBe(p.zeroPoint);
    expect(p.zeroPoint * p.scale).toBeCloseTo(1, 2);
    expect(uint8Params({ min: 0.5, max: 2 }).zeroPoint).toBe(0); // widened to hold 0
    expect(() => quantizeStatic(build(), new Map())).toThrow(/no calibrated range for activation x/);
  });
});
