import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/graph/builder.js';
import { batchStatsNorm } from '../../src/model/layers.js';
import { planeGemmWeightGradApplies, weightGrad3dByPlanes } from '../../src/train/autodiff/planeWeightGrad.js';
import { deriveBackward } from '../../src/train/autodiff/backward.js';
import { maxAbsDiff, randn, seededRandom } from '../graph/reference.js';
import { awayFromZero, gradCheck, positive, runtime, type GradCase } from './gradcheck.js';

/** Finite-difference checks of every backward rule on small random graphs (float32 ORT, central differences). */
const TOL = 2e-2;

const cases: Record<string, GradCase> = {
  'Add (broadcast both ways)': { inputs: { a: [2, 3, 4], b: [3, 1] }, build: (g, x) => g.add(x['a']!, x['b']!) },
  'Sub (broadcast)': { inputs: { a: [2, 3], b: [1, 3] }, build: (g, x) => g.sub(x['a']!, x['b']!) },
  'Mul (broadcast, scalar)': { inputs: { a: [2, 3, 4], b: [4] }, build: (g, x) => g.mul(g.mul(x['a']!, x['b']!), g.scalar(0.5)) },
  'Div (broadcast)': {
    inputs: { a: [2, 3], b: [2, 1] },
    init: { b: positive },
    build: (g, x) => g.div(x['a']!, x['b']!),
  },
  'Sum (3 inputs)': { inputs: { a: [2, 3], b: [3], c: [2, 1] }, build: (g, x) => g.op('Sum', [x['a']!, x['b']!, x['c']!]) },
  'Pow 2 and 3': { inputs: { a: [5] }, build: (g, x) => g.add(g.op('Pow', [x['a']!, g.scalar(2)]), g.op('Pow', [x['a']!, g.scalar(3)])) },
  'Sqrt, Reciprocal, Log': {
    inputs: { a: [6] },
    init: { a: positive },
    build: (g, x) => g.add(g.add(g.op('Sqrt', [x['a']!]), g.op('Reciprocal', [x['a']!])), g.op('Log', [x['a']!])),
  },
  'Exp, Neg, Abs, Identity': {
    inputs: { a: [6] },
    init: { a: awayFromZero },
    build: (g, x) => g.add(g.op('Exp', [g.op('Neg', [x['a']!])]), g.op('Identity', [g.op('Abs', [x['a']!])])),
  },
  'Relu, Elu': {
    inputs: { a: [8] },
    init: { a: awayFromZero },
    build: (g, x) => g.add(g.relu(x['a']!), g.op('Elu', [g.mul(x['a']!, g.scalar(1.5))], { alpha: 1.0 })),
  },
  'Elu with alpha 0.5 and -0.5 (the rule away from alpha = 1)': {
    inputs: { a: [8] },
    init: { a: awayFromZero },
    build: (g, x) => g.add(g.op('Elu', [x['a']!], { alpha: 0.5 }), g.op('Elu', [x['a']!], { alpha: -0.5 })),
  },
  'Sigmoid, Tanh, Softplus, Erf': {
    inputs: { a: [8] },
    build: (g, x) =>
      g.op('Sum', [g.sigmoid(x['a']!), g.op('Tanh', [x['a']!]), g.op('Softplus', [x['a']!]), g.op('Erf', [x['a']!])]),
  },
  'Gelu (exact)': { inputs: { a: [3, 7] }, build: (g, x) => g.gelu(g.mul(x['a']!, g.scalar(2))) },
  'Softmax (last and middle axis)': {
    inputs: { a: [2, 3, 4] },
    build: (g, x) => g.add(g.softmax(x['a']!, -1), g.softmax(x['a']!, 1)),
  },
  LogSoftmax: { inputs: { a: [2, 3, 4] }, build: (g, x) => g.op('LogSoftmax', [x['a']!], { axis: 1 }) },
  'LayerNormalization (x, scale, bias)': {
    inputs: { x: [2, 3, 8], s: [8], b: [8] },
    build: (g, x) => g.layerNorm(x['x']!, x['s']!, x['b']!, 1e-5),
  },
  'LayerNormalization over two axes': {
    inputs: { x: [2, 3, 4], s: [3, 4], b: [3, 4] },
    build: (g, x) => g.layerNorm(x['x']!, x['s']!, x['b']!, 1e-6, 1),
  },
  'MatMul 3-D x 2-D (Linear) and W^T': {
    inputs: { x: [2, 3, 4], w: [5, 4] },
    build: (g, x) => g.matmul(x['x']!, g.transpose(x['w']!, [1, 0])),
  },
  'MatMul batched with broadcast': {
    inputs: { a: [2, 1, 3, 4], b: [3, 4, 5] },
    build: (g, x) => g.matmul(x['a']!, x['b']!),
  },
  'Transpose, Reshape, Unsqueeze, Squeeze': {
    inputs: { a: [2, 3, 4] },
    build: (g, x) => g.squeeze(g.unsqueeze(g.reshape(g.transpose(x['a']!, [2, 0, 1]), [4, 6]), [0]), [0]),
  },
  'Concat and Split (one output unused)': {
    inputs: { a: [2, 3], b: [2, 2] },
    build: (g, x) => {
      const c = g.concat([x['a']!, x['b']!], 1);
      const [p, , r] = g.opMulti('Split', [c, g.int64s([1, 2, 2])], 3, { axis: 1 });
      return g.concat([p!, r!], 1);
    },
  },
  'Slice (negative and clamped bounds) and Pad': {
    inputs: { a: [4, 5] },
    build: (g, x) => g.op('Pad', [g.slice(x['a']!, [1, -3], [100, -1], [0, 1]), g.int64s([1, 0, 2, 3])]),
  },
  'Expand and Tile': {
    inputs: { a: [3, 1], b: [2] },
    build: (g, x) => g.add(g.op('Expand', [x['a']!, g.int64s([2, 3, 4])]), g.op('Tile', [x['b']!, g.int64s([2])])),
  },
  'ReduceSum / ReduceMean (keepdims 0 and 1)': {
    inputs: { a: [2, 3, 4] },
    build: (g, x) => g.add(g.reduceSum(x['a']!, [1], false), g.reduceMean(x['a']!, [1, 2], true)),
  },
  'Gather (repeated indices)': {
    inputs: { a: [3, 5] },
    build: (g, x) => g.op('Gather', [x['a']!, g.constant([0, 4, 4, 1, 2, 0], [2, 3], 'int64')], { axis: 1 }),
  },
  'Where (broadcast)': {
    inputs: { a: [2, 3], b: [3] },
    build: (g, x) => g.op('Where', [g.constant([1, 0, 1, 0, 0, 1], [2, 3], 'bool'), x['a']!, x['b']!]),
  },
  'Conv 2-D stride 2 pad 1 with bias': {
    inputs: { x: [2, 3, 7, 6], w: [4, 3, 3, 3], b: [4] },
    build: (g, x) => g.conv(x['x']!, x['w']!, x['b']!, { strides: [2, 2], pads: [1, 1, 1, 1] }),
  },
  'Conv 2-D depthwise (group = channels), batch 1': {
    inputs: { x: [1, 4, 6, 6], w: [4, 1, 3, 3] },
    build: (g, x) => g.conv(x['x']!, x['w']!, null, { pads: [1, 1, 1, 1], group: 4 }),
  },
  'Conv 2-D grouped (2 groups), dilation 2': {
    inputs: { x: [2, 4, 7, 7], w: [6, 2, 3, 3] },
    build: (g, x) => g.conv(x['x']!, x['w']!, null, { pads: [2, 1, 2, 1], group: 2, dilations: [2, 2] }),
  },
  'Conv 2-D stride 1, 3x3 (dW by shifted windows), batch 2, uneven pads, dilation 2 on one axis': {
    inputs: { x: [2, 3, 6, 5], w: [4, 3, 3, 3] },
    build: (g, x) => g.conv(x['x']!, x['w']!, null, { pads: [1, 0, 2, 1], dilations: [1, 2] }),
  },
  // >= 65536 values: the broadcast sums below run as products with a ones vector (shapes.ts sumAxes).
  'Add of a bias over 65536 values (leading-axes sum as a ones product)': {
    inputs: { a: [4, 128, 128], b: [128] },
    build: (g, x) => g.add(x['a']!, x['b']!),
  },
  'Conv with bias over 73728 output values (batch + spatial sum as a ones product); LayerNorm scale/bias over 65536': {
    inputs: { x: [2, 4, 96, 96], w: [4, 4, 3, 3], b: [4], a: [4, 128, 128], s: [128], lb: [128] },
    build: (g, x) =>
      g.concat([g.reshape(g.conv(x['x']!, x['w']!, x['b']!, { pads: [1, 1, 1, 1] }), [-1]), g.reshape(g.layerNorm(x['a']!, x['s']!, x['lb']!, 1e-5), [-1])], 0),
  },
  'Conv 3-D 3x3x3 pad 1 and 2x2x2 stride 2': {
    inputs: { x: [1, 2, 4, 4, 4], w: [3, 2, 3, 3, 3], w2: [2, 3, 2, 2, 2] },
    build: (g, x) => g.conv(g.conv(x['x']!, x['w']!, null, { pads: [1, 1, 1, 1, 1, 1] }), x['w2']!, null, { strides: [2, 2, 2] }),
  },
  'Conv 3-D stride 1 as flipped-kernel Conv: 3x2x1 kernel, uneven pads, 2 groups; pad beyond a 1-wide kernel': {
    inputs: { x: [1, 4, 4, 3, 3], w: [6, 2, 3, 2, 1], w2: [2, 6, 1, 1, 1] },
    build: (g, x) => {
      const y = g.conv(x['x']!, x['w']!, null, { pads: [1, 0, 0, 2, 1, 0], group: 2 });
      return g.conv(y, x['w2']!, null, { pads: [1, 0, 0, 0, 0, 1] });
    },
  },
  'Conv 3-D stride 1 with fewer output than input channels (dW from the output side), batch 2, dilation 2': {
    // 12 kernel offsets: more than weightGradByShifts takes, so the output-side Conv is the one checked.
    inputs: { x: [2, 3, 5, 4, 3], w: [2, 3, 3, 2, 2] },
    build: (g, x) => g.conv(x['x']!, x['w']!, null, { pads: [2, 1, 0, 1, 0, 0], dilations: [2, 1, 1] }),
  },
  'Conv 3-D stride 1, kernel larger than the activations (input gradient flips dY and dX), uneven pads': {
    inputs: { x: [1, 6, 2, 3, 2], w: [5, 6, 3, 3, 3] },
    build: (g, x) => g.conv(x['x']!, x['w']!, null, { pads: [1, 2, 1, 1, 0, 1] }),
  },
  'Conv 3-D 5x5x5 stride 1 over 16^3, 8 channels (dW by per-plane GEMMs)': {
    inputs: { x: [1, 8, 16, 16, 16], w: [8, 8, 5, 5, 5] },
    build: (g, x) => g.conv(x['x']!, x['w']!, null, { pads: [2, 2, 2, 2, 2, 2] }),
  },
  'ConvTranspose 3-D 2x2x2 stride 2 with bias, and 2-D': {
    inputs: { x: [1, 3, 2, 2, 2], w: [3, 2, 2, 2, 2], b: [2], x2: [2, 2, 3, 3], w2: [2, 3, 3, 3] },
    build: (g, x) => {
      const a = g.convTranspose(x['x']!, x['w']!, x['b']!, { strides: [2, 2, 2] });
      const b = g.convTranspose(x['x2']!, x['w2']!, null, { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] });
      return g.concat([g.reshape(a, [-1]), g.reshape(b, [-1])], 0);
    },
  },
  'BatchNormalization (inference)': {
    inputs: { x: [2, 3, 4, 4], s: [3], b: [3] },
    build: (g, x) => g.batchNorm(x['x']!, x['s']!, x['b']!, g.constant([0.1, -0.2, 0.3], [3]), g.constant([0.5, 1.5, 2], [3]), 1e-5),
  },
  'batch-statistics BatchNorm (composite)': {
    inputs: { x: [2, 3, 4, 5], s: [3], b: [3] },
    build: (g, x) => batchStatsNorm(g, x['x']!, x['s']!, x['b']!, 1e-5),
  },
};

describe('backward rules agree with central differences', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(name, async () => {
      const results = await gradCheck(c);
      for (const r of results) {
        expect(r.relErr, `${r.name}: analytic ${r.analytic} vs numeric ${r.numeric}`).toBeLessThan(TOL);
      }
    });
  }
});

/** dW[o, i, t] = sum_{n, p} dY[n, o, p] * Xpad[n, i, p + t] by its definition (stride 1, no dilation). */
function weightGrad3dRef(x: Float32Array, xs: number[], dy: Float32Array, ys: number[], k: number[], pads: number[]): Float64Array {
  const [n, ci, xd, xh, xw] = xs as [number, number, number, number, number];
  const [, co, yd, yh, yw] = ys as [number, number, number, number, number];
  const out = new Float64Array(co * ci * k[0]! * k[1]! * k[2]!);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < co; o++)
      for (let i = 0; i < ci; i++)
        for (let a = 0; a < k[0]!; a++)
          for (let c = 0; c < k[1]!; c++)
            for (let e = 0; e < k[2]!; e++) {
              let acc = 0;
              for (let d = 0; d < yd; d++) {
                const sd = d + a - pads[0]!;
                if (sd < 0 || sd >= xd) continue;
                for (let h = 0; h < yh; h++) {
                  const sh = h + c - pads[1]!;
                  if (sh < 0 || sh >= xh) continue;
                  for (let w = 0; w < yw; w++) {
                    const sw = w + e - pads[2]!;
                    if (sw < 0 || sw >= xw) continue;
                    acc += dy[(((b * co + o) * yd + d) * yh + h) * yw + w]! * x[(((b * ci + i) * xd + sd) * xh + sh) * xw + sw]!;
                  }
                }
              }
              out[((((o * ci + i) * k[0]! + a) * k[1]! + c) * k[2]!) + e] += acc;
            }
  return out;
}

describe('3-D weight gradient by per-plane GEMMs (weightGrad3dByPlanes) equals the direct sum', () => {
  const cases: { name: string; xs: number[]; co: number; k: number[]; pads: number[] }[] = [
    { name: 'batch 2, uneven pads, a 3x4x2 kernel', xs: [2, 3, 5, 6, 7], co: 4, k: [3, 4, 2], pads: [1, 2, 0, 2, 1, 1] },
    // 37 depth planes: more partial products per depth offset than one Sum takes, so the grouped sums are checked.
    { name: 'batch 1, 37 depth planes, 5x5x5 pad 2', xs: [1, 2, 37, 4, 3], co: 3, k: [5, 5, 5], pads: [2, 2, 2, 2, 2, 2] },
  ];
  for (const { name, xs, co, k, pads } of cases) {
    it(name, async () => {
      const ys = [xs[0]!, co, ...k.map((kk, i) => xs[i + 2]! + pads[i]! + pads[i + 3]! - kk + 1)];
      const rnd = seededRandom(7);
      const x = randn(xs.reduce((p, d) => p * d, 1), rnd);
      const dy = randn(ys.reduce((p, d) => p * d, 1), rnd);
      const g = new GraphBuilder('plane-wgrad');
      g.output(weightGrad3dByPlanes(g, g.input('x', 'float32', xs), xs, g.input('dy', 'float32', ys), ys, k, pads), 'dw');
      const session = await runtime.session(g.toBytes(), 'plane-wgrad');
      const out = await session.run({ x: { data: x, dims: xs }, dy: { data: dy, dims: ys } });
      await session.release();
      expect(out['dw']!.dims).toEqual([co, xs[1]!, ...k]);
      const ref = weightGrad3dRef(x, xs, dy, ys, k, pads);
      const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(maxAbsDiff(out['dw']!.data as Float32Array, ref) / scale).toBeLessThan(1e-5);
    });
  }
});

describe('where the per-plane GEMMs take the 3-D weight gradient', () => {
  const plain = { strides: [1, 1, 1], dilations: [1, 1, 1], group: 1 };
  const at = (side: number, c: number) => [1, c, side, side, side];
  it('from 16^3 and 8 channels, stride 1, undilated, ungrouped', () => {
    expect(planeGemmWeightGradApplies(at(16, 8), at(16, 8), [5, 5, 5], plain)).toBe(true);
    expect(planeGemmWeightGradApplies(at(8, 256), at(8, 256), [5, 5, 5], plain)).toBe(false);
    expect(planeGemmWeightGradApplies(at(64, 1), at(64, 16), [5, 5, 5], plain)).toBe(false);
    expect(planeGemmWeightGradApplies(at(32, 16), at(16, 16), [5, 5, 5], { ...plain, strides: [2, 2, 2] })).toBe(false);
    expect(planeGemmWeightGradApplies(at(32, 16), at(32, 16), [5, 5, 5], { ...plain, group: 2 })).toBe(false);
    expect(planeGemmWeightGradApplies(at(32, 16), at(32, 16), [5, 5, 5], { ...plain, dilations: [1, 2, 1] })).toBe(false);
  });
  it('the volume threshold is a parameter', () => {
    expect(planeGemmWeightGradApplies(at(8, 8), at(8, 8), [5, 5, 5], plain, 8 ** 3)).toBe(true);
  });
});

describe('Elu backward from its output alone', () => {
  /** dL/dx of L = sum(Elu(x) * r) from ORT, with Elu(x) itself. */
  async function eluGrad(x: Float32Array, r: Float32Array, alpha: number): Promise<{ y: Float32Array; dx: Float32Array }> {
    const g = new GraphBuilder('elu');
    const xv = g.input('x', 'float32', [x.length]);
    const y = g.op('Elu', [xv], { alpha });
    g.output(y, 'y');
    const loss = g.reduceSum(g.mul(y, g.constant(r, [r.length])), [0], false);
    const { grads } = deriveBackward(g, loss, ['x']);
    g.output(grads.get('x')!, 'dx');
    const s = await runtime.session(g.toBytes(), 'elu');
    const out = await s.run({ x: { data: x, dims: [x.length] } });
    await s.release();
    return { y: out['y']!.data as Float32Array, dx: out['dx']!.data as Float32Array };
  }
  /** The plain form on the input: dy where x > 0, dy * (y + alpha) elsewhere, in float32. */
  const plain = (x: Float32Array, y: Float32Array, r: Float32Array, alpha: number) =>
    Float32Array.from(x, (v, i) => (v > 0 ? r[i]! : Math.fround(r[i]! * Math.fround(y[i]! + alpha))));

  it.each([1, 0.5])('alpha %s: equals the input-based form exactly, at 0 and tiny values too; a variant ignoring alpha fails', async (alpha) => {
    const rnd = seededRandom(7);
    const x = Float32Array.from([...randn(4000, rnd).map((v) => 3 * v), 0, -0, 1e-30, -1e-30, -1e-45, 20, -20]);
    const r = randn(x.length, rnd);
    const { y, dx } = await eluGrad(x, r, alpha);
    expect(maxAbsDiff(dx, plain(x, y, r, alpha))).toBe(0);
    // Deliberately wrong: min(y, 0) + 1 (the alpha = 1 shortcut) for alpha 0.5, or the Where's branches swapped.
    const wrong = alpha === 1 ? Float32Array.from(x, (v, i) => (v > 0 ? Math.fround(r[i]! * Math.fround(y[i]! + 1)) : r[i]!)) : Float32Array.from(y, (v, i) => Math.fround(r[i]! * Math.fround(Math.min(v, 0) + 1)));
    expect(maxAbsDiff(dx, wrong)).toBeGreaterThan(0.1);
  });
});

describe('batch-statistics BatchNorm backward (Sub, Mul and sum rewrites) against its closed form', () => {
  const [n, c, d, h, w] = [2, 3, 5, 4, 6];
  const per = n * d * h * w;
  const eps = 1e-5;
  /** Closed form in float64: dx = gamma invStd (dz - mean(dz) - xhat mean(dz xhat)), dgamma = sum(dz xhat), dbeta = sum(dz). */
  function closedForm(x: Float32Array, dz: Float32Array, gamma: Float32Array, varianceTerm = 1) {
    const dx = new Float64Array(x.length);
    const dgamma = new Float64Array(c);
    const dbeta = new Float64Array(c);
    const at = (b: number, ch: number, i: number) => (b * c + ch) * (d * h * w) + i;
    for (let ch = 0; ch < c; ch++) {
      let mean = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < d * h * w; i++) mean += x[at(b, ch, i)]!;
      mean /= per;
      let v = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < d * h * w; i++) v += (x[at(b, ch, i)]! - mean) ** 2;
      const invStd = 1 / Math.sqrt(v / per + eps);
      let sdz = 0;
      let sdzx = 0;
      for (let b = 0; b < n; b++)
        for (let i = 0; i < d * h * w; i++) {
          sdz += dz[at(b, ch, i)]!;
          sdzx += dz[at(b, ch, i)]! * (x[at(b, ch, i)]! - mean) * invStd;
        }
      dgamma[ch] = sdzx;
      dbeta[ch] = sdz;
      for (let b = 0; b < n; b++)
        for (let i = 0; i < d * h * w; i++) {
          const k = at(b, ch, i);
          const xhat = (x[k]! - mean) * invStd;
          dx[k] = gamma[ch]! * invStd * (dz[k]! - sdz / per - varianceTerm * xhat * (sdzx / per));
        }
    }
    return { dx, dgamma, dbeta };
  }
  const relMax = (got: Float32Array, want: Float64Array) => {
    let err = 0;
    let scale = 0;
    want.forEach((v, i) => {
      err = Math.max(err, Math.abs(got[i]! - v));
      scale = Math.max(scale, Math.abs(v));
    });
    return err / scale;
  };

  it('gradients of x, gamma and beta within 1e-5 of the closed form; no full-size Expand or unused node in the backward; dropping the variance term fails', async () => {
    const g = new GraphBuilder('bn');
    const xv = g.input('x', 'float32', [n, c, d, h, w]);
    const gv = g.input('gamma', 'float32', [c]);
    const bv = g.input('beta', 'float32', [c]);
    const rnd = seededRandom(11);
    const dzData = randn(c * per, rnd);
    const z = batchStatsNorm(g, xv, gv, bv, eps);
    const loss = g.reduceSum(g.mul(z, g.constant(dzData, [n, c, d, h, w])), [0, 1, 2, 3, 4], false);
    const forwardNodes = g.records.length;
    const { grads } = deriveBackward(g, loss, ['x', 'gamma', 'beta']);
    const backward = g.records.slice(forwardNodes);
    const full = c * per;
    const size = (name: string) => (g.values.get(name)!.shape as number[]).reduce((p, q) => p * q, 1);
    expect(backward.filter((r) => r.opType === 'Expand' && size(r.outputs[0]!) === full)).toEqual([]);
    const read = new Set(g.records.flatMap((r) => r.inputs));
    const roots = new Set([...grads.values()].map((v) => v.name));
    expect(backward.filter((r) => !r.outputs.some((o) => read.has(o) || roots.has(o))).map((r) => r.name)).toEqual([]);
    expect([...g.initializers.keys()].filter((k) => !read.has(k))).toEqual([]);
    for (const k of ['x', 'gamma', 'beta']) g.output(grads.get(k)!, `d_${k}`);
    const x = Float32Array.from(randn(full, rnd), (v) => 2 * v + 0.5);
    const gamma = Float32Array.from([0.7, -1.3, 1.1]);
    const s = await runtime.session(g.toBytes(), 'bn');
    const out = await s.run({ x: { data: x, dims: [n, c, d, h, w] }, gamma: { data: gamma, dims: [c] }, beta: { data: new Float32Array([0.1, 0.2, -0.3]), dims: [c] } });
    await s.release();
    const want = closedForm(x, dzData, gamma);
    const got = (k: string) => out[`d_${k}`]!.data as Float32Array;
    expect(relMax(got('x'), want.dx)).toBeLessThan(1e-5);
    expect(relMax(got('gamma'), want.dgamma)).toBeLessThan(1e-5);
    expect(relMax(got('beta'), want.dbeta)).toBeLessThan(1e-5);
    // The variance path (the x * x product whose gradient is 2 x dy) is checked: without it, or with half of it
    // (one of the two products dropped), dx misses by over 1000x the tolerance.
    expect(relMax(got('x'), closedForm(x, dzData, gamma, 0).dx)).toBeGreaterThan(1e-2);
    expect(relMax(got('x'), closedForm(x, dzData, gamma, 0.5).dx)).toBeGreaterThan(1e-2);
  });
});
