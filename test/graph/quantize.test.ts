import { describe, expect, it } from 'vitest';
import { GraphBuilder, createNodeRuntime, quantizeMatMulWeights, ORT_CONTRIB_DOMAIN } from '../../src/graph/index.js';
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
