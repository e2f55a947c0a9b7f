import { describe, expect, it } from 'vitest';
import { GraphBuilder, createNodeRuntime } from '../../src/graph/index.js';

describe('createNodeRuntime defaults', () => {
  it('turns ONNX Runtime\'s memory pattern off unless asked for, and collects garbage with V8', () => {
    const rt = createNodeRuntime();
    expect(rt.options.memPattern).toBe(false);
    expect(typeof rt.options.collectGarbage).toBe('function');
    expect(createNodeRuntime({ memPattern: true }).options.memPattern).toBe(true);
  });

  it('gives the same outputs with and without the memory pattern (it only changes where tensors live)', async () => {
    const g = new GraphBuilder('pattern');
    const x = g.input('x', 'float32', [64, 64]);
    const w = g.initializer('w', { dtype: 'float32', shape: [64, 64], data: Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i)) });
    g.output(g.gelu(g.matmul(g.gelu(g.matmul(x, w)), w)), 'y');
    const feeds = { x: { data: Float32Array.from({ length: 4096 }, (_, i) => Math.cos(i)), dims: [64, 64] } };
    const outs: Float32Array[] = [];
    for (const memPattern of [true, false]) {
      const s = await createNodeRuntime({ memPattern, threads: 1 }).session(g.toBytes(), g.name);
      outs.push((await s.run(feeds))['y']!.data as Float32Array);
      await s.release();
    }
    expect(outs[1]).toEqual(outs[0]);
  });
});
