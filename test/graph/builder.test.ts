import { describe, expect, it } from 'vitest';
import { GraphBuilder, createNodeRuntime } from '../../src/graph/index.js';
import { ModelProto } from '../../src/graph/onnxSchema.js';
import {
  convRef,
  convTranspose3dRef,
  geluRef,
  layerNormRef,
  matmulRef,
  maxAbsDiff,
  randn,
  resizeBilinearRef,
  seededRandom,
  softmaxRef,
} from './reference.js';

const runtime = createNodeRuntime({ threads: 1 });
const rnd = seededRandom(7);

async function runSingle(g: GraphBuilder, feeds: Record<string, { data: Float32Array; dims: number[] }>) {
  const session = await runtime.session(g.toBytes(), g.name);
  const out = await session.run(feeds);
  await session.release();
  return out;
}

describe('GraphBuilder + Runtime (onnxruntime-node) against plain-TS references', () => {
  it('MatMul', async () => {
    const a = randn(5 * 7, rnd);
    const b = randn(7 * 3, rnd);
    const g = new GraphBuilder('matmul');
    const x = g.input('a', 'float32', [5, 7]);
    const w = g.initializer('b', { dtype: 'float32', shape: [7, 3], data: b });
    const y = g.matmul(x, w);
    expect(y.shape).toEqual([5, 3]);
    g.output(y, 'y');
    const out = await runSingle(g, { a: { data: a, dims: [5, 7] } });
    expect(out['y']!.dims).toEqual([5, 3]);
    expect(maxAbsDiff(out['y']!.data as Float32Array, matmulRef(a, b, 5, 7, 3))).toBeLessThan(1e-5);
  });

  it('Conv 2-D (stride 2, pad 1, bias)', async () => {
    const xs = [1, 3, 9, 8];
    const ws = [4, 3, 3, 3];
    const x = randn(3 * 9 * 8, rnd);
    const w = randn(4 * 27, rnd);
    const b = randn(4, rnd);
    const g = new GraphBuilder('conv2d');
    const xi = g.input('x', 'float32', xs);
    const y = g.conv(
      xi,
      g.initializer('w', { dtype: 'float32', shape: ws, data: w }),
      g.initializer('b', { dtype: 'float32', shape: [4], data: b }),
      { strides: [2, 2], pads: [1, 1, 1, 1] },
    );
    const ref = convRef(x, xs, w, ws, b, 2, 1);
    expect(y.shape).toEqual(ref.shape);
    g.output(y, 'y');
    const out = await runSingle(g, { x: { data: x, dims: xs } });
    expect(out['y']!.dims).toEqual(ref.shape);
    expect(maxAbsDiff(out['y']!.data as Float32Array, ref.data)).toBeLessThan(1e-4);
  });

  it('Conv 3-D (5x5x5, pad 2, no bias)', async () => {
    const xs = [1, 2, 6, 5, 7];
    const ws = [3, 2, 5, 5, 5];
    const x = randn(2 * 6 * 5 * 7, rnd);
    const w = randn(3 * 2 * 125, rnd, 0.1);
    const g = new GraphBuilder('conv3d');
    const y = g.conv(g.input('x', 'float32', xs), g.initializer('w', { dtype: 'float32', shape: ws, data: w }), null, {
      pads: [2, 2, 2, 2, 2, 2],
    });
    const ref = convRef(x, xs, w, ws, null, 1, 2);
    expect(y.shape).toEqual(ref.shape);
    g.output(y, 'y');
    const out = await runSingle(g, { x: { data: x, dims: xs } });
    expect(maxAbsDiff(out['y']!.data as Float32Array, ref.data)).toBeLessThan(1e-4);
  });

  it('ConvTranspose 3-D (kernel 2, stride 2)', async () => {
    const xs = [1, 3, 2, 3, 2];
    const ws = [3, 2, 2, 2, 2];
    const x = randn(3 * 12, rnd);
    const w = randn(3 * 2 * 8, rnd);
    const b = randn(2, rnd);
    const g = new GraphBuilder('convT');
    const y = g.convTranspose(
      g.input('x', 'float32', xs),
      g.initializer('w', { dtype: 'float32', shape: ws, data: w }),
      g.initializer('b', { dtype: 'float32', shape: [2], data: b }),
      { strides: [2, 2, 2] },
    );
    const ref = convTranspose3dRef(x, xs, w, ws, b, 2);
    expect(y.shape).toEqual(ref.shape);
    g.output(y, 'y');
    const out = await runSingle(g, { x: { data: x, dims: xs } });
    expect(maxAbsDiff(out['y']!.data as Float32Array, ref.data)).toBeLessThan(1e-5);
  });

  it('LayerNormalization, Softmax, Gelu chained through a symbolic batch dimension', async () => {
    const rows = 6;
    const cols = 10;
    const x = randn(rows * cols, rnd, 2);
    const gamma = randn(cols, rnd);
    const beta = randn(cols, rnd);
    const g = new GraphBuilder('ln_softmax_gelu');
    const xi = g.input('x', 'float32', ['N', cols]);
    const ln = g.layerNorm(
      xi,
      g.initializer('gamma', { dtype: 'float32', shape: [cols], data: gamma }),
      g.initializer('beta', { dtype: 'float32', shape: [cols], data: beta }),
      1e-5,
    );
    expect(ln.shape).toEqual(['N', cols]);
    g.output(ln, 'ln');
    g.output(g.softmax(xi, -1), 'sm');
    g.output(g.gelu(xi), 'gelu');
    const out = await runSingle(g, { x: { data: x, dims: [rows, cols] } });
    expect(maxAbsDiff(out['ln']!.data as Float32Array, layerNormRef(x, rows, cols, gamma, beta, 1e-5))).toBeLessThan(1e-5);
    expect(maxAbsDiff(out['sm']!.data as Float32Array, softmaxRef(x, rows, cols))).toBeLessThan(1e-6);
    expect(maxAbsDiff(out['gelu']!.data as Float32Array, geluRef(x))).toBeLessThan(1e-5);
  });

  it('Resize (linear, half_pixel) to explicit sizes', async () => {
    const [h, w, oh, ow] = [5, 4, 11, 7];
    const x = randn(h * w, rnd);
    const g = new GraphBuilder('resize');
    const xi = g.input('x', 'float32', [1, 1, h, w]);
    const y = g.op('Resize', [xi, null, null, g.int64s([1, 1, oh, ow])], {
      mode: 'linear',
      coordinate_transformation_mode: 'half_pixel',
    });
    expect(y.shape).toEqual([1, 1, oh, ow]);
    g.output(y, 'y');
    const out = await runSingle(g, { x: { data: x, dims: [1, 1, h, w] } });
    expect(maxAbsDiff(out['y']!.data as Float32Array, resizeBilinearRef(x, h, w, oh, ow))).toBeLessThan(1e-5);
  });

  it('emits a valid ModelProto: opset, IR version, op records with shapes', () => {
    const g = new GraphBuilder('meta', { opset: 21 });
    const x = g.input('x', 'float32', [2, 3]);
    const y = g.transpose(g.reshape(x, [3, 2]), [1, 0]);
    expect(y.shape).toEqual([2, 3]);
    g.output(y, 'y');
    const decoded = ModelProto.toObject(ModelProto.decode(g.toBytes()), { longs: Number }) as {
      irVersion: number;
      opsetImport: { version: number }[];
      graph: { node: { opType: string }[] };
    };
    expect(decoded.irVersion).toBe(10);
    expect(decoded.opsetImport[0]!.version).toBe(21);
    expect(decoded.graph.node.map((n) => n.opType)).toEqual(['Reshape', 'Transpose', 'Identity']);
    expect(g.records.map((r) => r.opType)).toEqual(['Reshape', 'Transpose', 'Identity']);
    expect(g.records[1]!.attrs).toEqual({ perm: [1, 0] });
  });

  it('rejects inputs from another graph and reused names', () => {
    const g1 = new GraphBuilder('a');
    const g2 = new GraphBuilder('b');
    const x = g1.input('x', 'float32', [1]);
    expect(() => g2.relu(x)).toThrow(/not in graph b/);
    expect(() => g1.input('x', 'float32', [1])).toThrow(/already used/);
  });

  it('replaceNode puts the replacement where the node was, under its output name', async () => {
    const g = new GraphBuilder('replace');
    const x = g.input('x', 'float32', [2, 3]);
    const y = g.relu(g.op('Neg', [x]));
    const out = g.output(g.op('Abs', [y]), 'out');
    const relu = g.records.find((r) => r.opType === 'Relu')!;
    g.replaceNode(relu, () => g.op('Clip', [g.values.get(relu.inputs[0]!)!, g.scalar(0)]));
    expect(g.records.map((r) => r.opType)).toEqual(['Neg', 'Clip', 'Abs', 'Identity']);
    expect(g.records[1]!.outputs).toEqual([y.name]);
    const s = await createNodeRuntime().session(g.toBytes(), g.name);
    const r = await s.run({ x: { data: Float32Array.from([1, -2, 3, -4, 0, 5]), dims: [2, 3] } });
    expect(Array.from(r[out.name]!.data as Float32Array)).toEqual([0, 2, 0, 4, 0, 0]);
    await s.release();
    const split = g.opMulti('Split', [x, g.int64s([1, 2])], 2, { axis: 1 });
    expect(() => g.replaceNode(g.records.at(-1)!, () => split[0]!)).toThrow(/single-output/);
  });

  it('removeNodes drops the nodes, their outputs and the initializers only they read; the constant cache follows', async () => {
    const g = new GraphBuilder('remove');
    const x = g.input('x', 'float32', [3]);
    const shared = g.scalar(2);
    const kept = g.mul(x, shared);
    const sevenBefore = g.scalar(7);
    const times7 = g.mul(x, sevenBefore);
    const unused = g.add(times7, shared);
    g.output(kept, 'y');
    g.removeNodes(new Set(g.records.filter((r) => r.outputs.includes(unused.name) || r.outputs.includes(times7.name))));
    expect(g.records.map((r) => r.opType)).toEqual(['Mul', 'Identity']);
    expect(g.values.has(unused.name)).toBe(false);
    expect([...g.initializers.keys()]).toEqual([shared.name]);
    const seven = g.scalar(7); // a fresh initializer, not the removed one
    expect(g.initializers.has(sevenBefore.name)).toBe(false);
    expect(g.initializers.has(seven.name)).toBe(true);
    g.output(g.mul(x, seven), 'z');
    const s = await createNodeRuntime().session(g.toBytes(), g.name);
    const r = await s.run({ x: { data: Float32Array.from([1, 2, 3]), dims: [3] } });
    expect(Array.from(r['z']!.data as Float32Array)).toEqual([7, 14, 21]);
    await s.release();
  });

  it('builds a 10M-parameter graph and serialises it quickly enough to use', () => {
    const g = new GraphBuilder('big');
    let x = g.input('x', 'float32', [1, 1024]);
    for (let i = 0; i < 10; i++) {
      x = g.relu(g.matmul(x, g.initializer(`w${i}`, { dtype: 'float32', shape: [1024, 1024], data: new Float32Array(1024 * 1024) })));
    }
    g.output(x, 'y');
    const bytes = g.toBytes();
    expect(bytes.length).toBeGreaterThan(10 * 1024 * 1024 * 4);
  });

  it('keeps large initializers out of the protobuf as in-memory external data, with the same results', async () => {
    const g = new GraphBuilder('external');
    const x = g.input('x', 'float32', [2, 512]);
    const big = randn(512 * 600, rnd); // 1.2 MB: external at a 1 MiB threshold
    const bias = randn(600, rnd); // 2.4 kB: stays inside
    const y = g.add(g.matmul(x, g.initializer('w', { dtype: 'float32', shape: [512, 600], data: big })), g.initializer('b', { dtype: 'float32', shape: [600], data: bias }));
    g.output(y, 'y');
    const inline = g.toBytes();
    const model = g.toModel({ externalMinBytes: 1 << 20 });
    // The external entry is a view of the tensor's own memory, and the protobuf lost exactly its bytes.
    expect(model.external).toHaveLength(1);
    expect(model.external[0]!.data.buffer).toBe(big.buffer);
    expect(model.external[0]!.data.byteLength).toBe(big.byteLength);
    expect(inline.length - model.bytes.length).toBeGreaterThan(big.byteLength - 200);
    const decoded = ModelProto.decode(model.bytes) as unknown as {
      graph: { initializer: { name: string; dataLocation?: number; externalData: { key: string; value: string }[] }[] };
    };
    const w = decoded.graph.initializer.find((t) => t.name === 'w')!;
    expect(w.dataLocation).toBe(1);
    expect(Object.fromEntries(w.externalData.map((e) => [e.key, e.value]))).toEqual({
      location: model.external[0]!.path,
      offset: '0',
      length: String(big.byteLength),
    });
    const feeds = { x: { data: randn(2 * 512, rnd), dims: [2, 512] } };
    const a = await runtime.session(inline, 'inline');
    const e = await runtime.session(model, 'external');
    const ra = (await a.run(feeds))['y']!.data as Float32Array;
    const re = (await e.run(feeds))['y']!.data as Float32Array;
    expect(Array.from(re)).toEqual(Array.from(ra));
    await a.release();
    await e.release();
  });
});
