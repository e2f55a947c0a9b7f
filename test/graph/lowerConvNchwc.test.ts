import { beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, createNodeRuntime, hasLowerableConv, lowerConvsToNchwc, NCHWC_DOMAIN, probeNchwcBlock } from '../../src/graph/index.js';

const runtime = createNodeRuntime({ threads: 2 });

/** Deterministic values in [-0.5, 0.5) (a sine hash: no RNG state to share). */
function fill(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const v = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    return v - Math.floor(v) - 0.5;
  });
}

interface Case {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  /** The weight as an initializer (inference) instead of a graph input (training). */
  constantWeight?: boolean;
  attrs: { strides?: number[]; pads?: number[]; dilations?: number[]; group?: number };
}

function graph(c: Case): GraphBuilder {
  const g = new GraphBuilder('conv3d');
  const x = g.input('x', 'float32', c.x);
  const w = c.constantWeight
    ? g.initializer('w', { dtype: 'float32', shape: c.w, data: fill(c.w.reduce((p, q) => p * q, 1), 2) })
    : g.input('w', 'float32', c.w);
  const b = c.bias ? g.input('b', 'float32', [c.w[0]!]) : null;
  g.output(g.conv(x, w, b, c.attrs), 'y');
  return g;
}

async function run(g: GraphBuilder, c: Case): Promise<Float32Array> {
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  const s = await runtime.session(g.toBytes(), g.name);
  try {
    const feeds = {
      x: { data: fill(size(c.x), 1), dims: c.x },
      ...(c.constantWeight ? {} : { w: { data: fill(size(c.w), 2), dims: c.w } }),
      ...(c.bias ? { b: { data: fill(c.w[0]!, 3), dims: [c.w[0]!] } } : {}),
    };
    return (await s.run(feeds))['y']!.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Largest |got - ref| as a fraction of max |ref|. */
function maxError(got: Float32Array, ref: Float32Array): number {
  expect(got.length).toBe(ref.length);
  let err = 0;
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - ref[i]!));
    max = Math.max(max, Math.abs(ref[i]!));
  }
  return err / max;
}

describe('Convs lowered to the NCHWc kernels', () => {
  let block: number | null;
  beforeAll(async () => {
    block = await probeNchwcBlock((m, label) => runtime.session(m, label, 'cpu'));
  });

  it('the probe finds MLAS’s channel block on x64 (AVX2: 8, AVX-512: 16)', () => {
    if (process.arch !== 'x64') return;
    expect([8, 16]).toContain(block);
  });

  const lowered: Case[] = [
    { name: 'batch 2, 5x5x5, symmetric pads', x: [2, 16, 6, 7, 5], w: [32, 16, 5, 5, 5], attrs: { pads: [2, 2, 2, 2, 2, 2] } },
    { name: 'bias, uneven kernel and pads', x: [1, 32, 5, 6, 7], w: [16, 32, 3, 1, 2], bias: true, attrs: { pads: [0, 1, 2, 2, 0, 1] } },
    { name: 'no depth padding', x: [1, 16, 7, 4, 4], w: [16, 16, 3, 3, 3], attrs: { pads: [0, 1, 1, 0, 1, 1] } },
    { name: '2-D, batch 2, trainable weight, bias', x: [2, 32, 9, 7], w: [16, 32, 3, 3], bias: true, attrs: { pads: [1, 0, 1, 2] } },
    { name: 'one output channel (kernel depths as channels), batch 2, bias', x: [2, 16, 7, 6, 5], w: [1, 16, 5, 3, 3], bias: true, attrs: { pads: [2, 1, 0, 2, 1, 1] } },
    { name: 'two output channels x 3 depths', x: [1, 32, 5, 4, 6], w: [2, 32, 3, 3, 1], attrs: { pads: [0, 1, 0, 1, 1, 0] } },
  ];
  it.each(lowered)('$name: same values as the Conv (float32 summation order only)', async (c) => {
    if (!block) return;
    const ref = await run(graph(c), c);
    const g = graph(c);
    expect(lowerConvsToNchwc(g, { block, minVoxels: 1, minPixels: 1 })).toBe(1);
    expect(g.records.some((r) => r.opType === 'Conv' && r.domain === '')).toBe(false);
    expect(g.records.filter((r) => r.domain === NCHWC_DOMAIN && r.opType === 'Conv').length).toBe(c.w.length === 5 && c.w[0]! % block === 0 ? c.w[2] : 1);
    expect(maxError(await run(g, c), ref)).toBeLessThan(2e-6);
  });

  const chunked: (Case & { chunk: number })[] = [
    { name: 'batch 2, depth 7 in chunks of 3 (3 + 3 + 1), symmetric pads', chunk: 3, x: [2, 16, 7, 5, 4], w: [16, 16, 5, 3, 3], attrs: { pads: [2, 1, 1, 2, 1, 1] } },
    { name: 'bias, uneven depth pads, chunks of 2 over 5 output depths', chunk: 2, x: [1, 16, 6, 4, 5], w: [32, 16, 3, 3, 1], bias: true, attrs: { pads: [1, 1, 0, 0, 1, 0] } },
  ];
  it.each(chunked)('chunked over output depth, $name: same values as the Conv', async (c) => {
    if (!block) return;
    const ref = await run(graph(c), c);
    const g = graph(c);
    expect(lowerConvsToNchwc(g, { block, minVoxels: 1, conv3d: 'chunked', depthChunk: c.chunk })).toBe(1);
    const dOut = c.x[2]! + c.attrs.pads![0]! + c.attrs.pads![3]! - c.w[2]! + 1;
    expect(g.records.filter((r) => r.domain === NCHWC_DOMAIN && r.opType === 'Conv').length).toBe(Math.ceil(dOut / c.chunk) * c.w[2]!);
    expect(maxError(await run(g, c), ref)).toBeLessThan(2e-6);
  });

  it('the 3-D kind leaves no Transpose after its ReorderOutput (ORT’s transpose optimizer would push it downstream)', () => {
    const g = graph(lowered[0]!);
    lowerConvsToNchwc(g, { block: 16, minVoxels: 1 });
    const plain = new Set(g.records.filter((r) => r.opType === 'ReorderOutput').flatMap((r) => r.outputs));
    for (const r of g.records) if (r.opType === 'Reshape' && plain.has(r.inputs[0]!)) r.outputs.forEach((o) => plain.add(o));
    expect(plain.size).toBeGreaterThan(0);
    expect(g.records.some((r) => r.opType === 'Transpose' && plain.has(r.inputs[0]!))).toBe(false);
  });

  it('a wrong filter block gives different numbers (the probe’s check has teeth)', async () => {
    if (!block) return;
    const c = lowered[0]!;
    const ref = await run(graph(c), c);
    const g = graph(c);
    lowerConvsToNchwc(g, { block: block === 16 ? 8 : 16, minVoxels: 1 });
    const got = await run(g, c);
    expect(got.some((v, i) => Math.abs(v - ref[i]!) > 1e-3)).toBe(true);
  });

  const kept: Case[] = [
    { name: 'strided', x: [1, 16, 8, 8, 8], w: [16, 16, 2, 2, 2], attrs: { strides: [2, 2, 2] } },
    { name: 'dilated', x: [1, 16, 8, 8, 8], w: [16, 16, 3, 3, 3], attrs: { dilations: [2, 2, 2] } },
    { name: 'grouped', x: [1, 32, 6, 6, 6], w: [32, 16, 3, 3, 3], attrs: { group: 2 } },
    { name: 'output channels x kernel depths above one block', x: [1, 16, 6, 6, 6], w: [4, 16, 5, 3, 3], attrs: { pads: [2, 1, 1, 2, 1, 1] } },
    { name: '2-D with a constant weight (ORT’s own NCHWc transformer takes it)', x: [1, 16, 6, 6], w: [16, 16, 3, 3], constantWeight: true, attrs: { pads: [1, 1, 1, 1] } },
    { name: '2-D strided', x: [1, 16, 8, 8], w: [16, 16, 3, 3], attrs: { strides: [2, 2] } },
  ];
  it.each(kept)('$name conv is left as it is', (c) => {
    const g = graph(c);
    expect(lowerConvsToNchwc(g, { block: 16, minVoxels: 1, minPixels: 1 })).toBe(0);
  });

  it('conv3d: false (training graphs) keeps the block-multiple 3-D convs and still lowers the narrow ones', () => {
    const wide = graph(lowered[0]!);
    expect(lowerConvsToNchwc(wide, { block: 16, minVoxels: 1, conv3d: false })).toBe(0);
    const narrow = graph(lowered[4]!);
    expect(lowerConvsToNchwc(narrow, { block: 16, minVoxels: 1, conv3d: false })).toBe(1);
  });

  it('hasLowerableConv sees a training graph’s narrow conv (the VNet’s 32 -> 1 output conv, 5 depth pairs)', () => {
    const g = graph({ name: 'narrow', x: [1, 32, 32, 32, 32], w: [1, 32, 5, 5, 5], attrs: { pads: [2, 2, 2, 2, 2, 2] } });
    expect(hasLowerableConv(g, false)).toBe(true);
    const wide = graph({ name: 'wide', x: [1, 32, 32, 32, 32], w: [32, 32, 5, 5, 5], attrs: { pads: [2, 2, 2, 2, 2, 2] } });
    expect(hasLowerableConv(wide, false)).toBe(false);
    expect(hasLowerableConv(wide, true)).toBe(true);
  });

  it('small volumes and images stay on the im2col Conv (below the measured break-even)', () => {
    const g = graph({ name: 'small', x: [1, 16, 16, 16, 16], w: [16, 16, 5, 5, 5], attrs: { pads: [2, 2, 2, 2, 2, 2] } });
    expect(lowerConvsToNchwc(g, { block: 16 })).toBe(0);
    const g2 = graph({ name: 'small 2-D', x: [2, 16, 32, 32], w: [16, 16, 3, 3], attrs: { pads: [1, 1, 1, 1] } });
    expect(lowerConvsToNchwc(g2, { block: 16 })).toBe(0);
  });
});
