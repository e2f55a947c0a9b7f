import { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, createNodeRuntime } from '../../src/graph/index.js';
import { fullGarbageCollection } from '../../src/graph/fullGc.js';

const N = 1 << 19; // 2 MiB of float32: above Runtime.serialize's 1 MiB external-data threshold

/** y = x * w2 + w with both weights as in-memory external data. */
function weightedGraph(): { g: GraphBuilder; w: Float32Array; w2: Float32Array } {
  const g = new GraphBuilder('external_data');
  const w = Float32Array.from({ length: N }, (_, i) => i % 97);
  const w2 = Float32Array.from({ length: N }, (_, i) => 1 + (i % 13));
  const x = g.input('x', 'float32', [N]);
  g.output(g.add(g.mul(x, g.initializer('w2', { dtype: 'float32', shape: [N], data: w2 })), g.initializer('w', { dtype: 'float32', shape: [N], data: w })), 'y');
  return { g, w, w2 };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('in-memory external data', () => {
  const runtime = createNodeRuntime({ threads: 1 });
  const x = { data: Float32Array.from({ length: N }, (_, i) => (i % 7) - 3), dims: [N] };

  it('ONNX Runtime copies it while the session is created (sessions do not keep the JS weights alive)', async () => {
    // Both with the graph optimiser (which may fold weights) and without it (the kernels read the initializers).
    for (const level of ['all', 'disabled'] as const) {
      const { bytes, external } = runtime.serialize(weightedGraph().g);
      expect(external.length).toBe(2);
      const s = await InferenceSession.create(bytes, { externalData: external, graphOptimizationLevel: level });
      const before = ((await s.run({ x: new Tensor('float32', x.data, x.dims) }))['y']!.data as Float32Array).slice();
      for (const e of external) e.data.fill(0xff); // NaN patterns: any read in place would show
      const after = (await s.run({ x: new Tensor('float32', x.data, x.dims) }))['y']!.data as Float32Array;
      expect(after).toEqual(before);
      expect(before[5]).toBe(x.data[5]! * (1 + (5 % 13)) + (5 % 97));
      await s.release();
    }
  });

  it('nothing of ours holds the weights once Runtime.session has returned', async () => {
    // Only weak references to the weights leave this function.
    const open = async () => {
      const { g, w, w2 } = weightedGraph();
      const model = runtime.serialize(g);
      g.initializers.clear();
      return { session: await runtime.session(model, g.name), refs: [new WeakRef(w.buffer), new WeakRef(w2.buffer)] };
    };
    const { session, refs } = await open();
    await nextTurn();
    fullGarbageCollection();
    await nextTurn();
    expect(refs.map((r) => r.deref() === undefined)).toEqual([true, true]);
    const y = (await session.run({ x }))['y']!.data as Float32Array;
    expect(y[5]).toBe(x.data[5]! * (1 + (5 % 13)) + (5 % 97));
    await session.release();
  });
});
