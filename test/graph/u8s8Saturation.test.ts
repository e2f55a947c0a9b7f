// The CPU check that picks 7-bit int8 weights, and what it protects against: ONNX Runtime's u8s8 GEMM on
// this very machine clamps 8-bit products exactly where the check says it does, and 7-bit weights are right
// everywhere.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, createNodeRuntime, quantizeMatMulWeights, INT7_LEVELS, INT8_LEVELS } from '../../src/graph/index.js';
import { detectU8s8Saturation, u8s8Saturates } from '../../src/graph/quantize/u8s8Saturation.js';

const cpuinfo = (flags: string) => `processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: ${flags}\nbugs\t\t: sysret_ss_attrs\n`;

describe('u8s8Saturates', () => {
  it('x86 saturates unless it has AVX-512 VNNI or AVX-VNNI; other architectures never', () => {
    expect(u8s8Saturates('x64', cpuinfo('fpu sse2 avx avx2 fma'))).toBe(true);
    expect(u8s8Saturates('x64', cpuinfo('fpu avx2 avx512f avx512bw'))).toBe(true);
    expect(u8s8Saturates('x64', cpuinfo('fpu avx2 avx512f avx512_vnni avx512_bf16'))).toBe(false);
    expect(u8s8Saturates('x64', cpuinfo('fpu avx2 avx_vnni'))).toBe(false);
    expect(u8s8Saturates('x64', cpuinfo('fpu avx2 avx_vnni_int8'))).toBe(true); // a flag name, not a prefix
    expect(u8s8Saturates('x64', undefined)).toBe(true); // no /proc/cpuinfo: the safe choice
    expect(u8s8Saturates('x64', 'no flags line')).toBe(true);
    expect(u8s8Saturates('arm64', undefined)).toBe(false);
    expect(u8s8Saturates('arm64', cpuinfo('fp asimd asimddp'))).toBe(false);
  });

  it("matches ONNX Runtime's kernel here: 8-bit weights clamp exactly when detected, 7-bit ones never", async () => {
    // Positive activations (uint8 up to 255) times the column's largest weight (q = levels) in every row:
    // pairs of 255 x 127 products overflow a signed 16-bit sum, pairs of 255 x 63 do not.
    const [m, k, n] = [4, 64, 8];
    const x = Float32Array.from({ length: m * k }, (_, i) => 1 + (i % 3) / 100);
    const w = Float32Array.from({ length: k * n }, (_, i) => 0.5 + (i % n) / 10);
    const ref = new Float32Array(m * n);
    for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) for (let i = 0; i < k; i++) ref[r * n + c]! += x[r * k + i]! * w[i * n + c]!;
    const relError = async (levels: number): Promise<number> => {
      const g = new GraphBuilder('sat');
      g.output(g.matmul(g.input('x', 'float32', [m, k]), g.initializer('w', { dtype: 'float32', shape: [k, n], data: w })), 'y');
      expect(quantizeMatMulWeights(g, { weightLevels: levels }).matmuls).toBe(1);
      const session = await createNodeRuntime({ threads: 1 }).session(g.toBytes(), 'sat');
      const y = (await session.run({ x: { data: x, dims: [m, k] } }))['y']!.data as Float32Array;
      await session.release();
      return Math.max(...y.map((v, i) => Math.abs(v - ref[i]!))) / Math.max(...ref);
    };
    const seven = await relError(INT7_LEVELS);
    const eight = await relError(INT8_LEVELS);
    console.log(`u8s8 on this CPU (${ort.env.versions?.common ?? 'ort'}): detected saturating ${detectU8s8Saturation()}, error 8-bit ${eight.toExponential(2)}, 7-bit ${seven.toExponential(2)}`);
    expect(seven).toBeLessThan(0.03);
    if (detectU8s8Saturation() && process.arch === 'x64') expect(eight).toBeGreaterThan(0.2);
    else expect(eight).toBeLessThan(0.03);
  });

  it('createNodeRuntime records the detection, and an explicit option wins', () => {
    expect(createNodeRuntime().options.u8s8Saturates).toBe(detectU8s8Saturation());
    expect(createNodeRuntime({ u8s8Saturates: false }).options.u8s8Saturates).toBe(false);
  });
});
