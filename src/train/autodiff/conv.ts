import type { GraphBuilder, OpRecord, Value } from '../../graph/builder.js';
import { planeGemmWeightGradApplies, weightGrad3dByPlanes } from './planeWeightGrad.js';
import { AutodiffError, numelOf, sumAxes, type VjpRule } from './shapes.js';

/**
 * Backward rules of Conv / ConvTranspose (N-d, grouped) and inference-mode BatchNormalization.
 *
 * Conv:  dX = ConvTranspose(dY, W) with the same strides/pads/dilations/groups (output_padding
 *        restores the input extent), or for stride 1 the equivalent Conv with the flipped kernel; dW = a Conv that correlates the input with dY (see weightGrad).
 * ConvTranspose is the adjoint of Conv in its input, so dX = Conv(dY, W) and dW = weightGrad with
 * the roles of input and output gradient exchanged.
 */

interface ConvAttrs {
  strides: number[];
  pads: number[];
  dilations: number[];
  group: number;
}

function convAttrs(r: OpRecord, nsp: number): ConvAttrs {
  const autoPad = (r.attrs['auto_pad'] as string | undefined) ?? 'NOTSET';
  if (autoPad !== 'NOTSET') throw new AutodiffError(`${r.opType} ${r.name}: auto_pad ${autoPad} is not supported (use explicit pads)`);
  if (r.attrs['output_shape'] !== undefined) throw new AutodiffError(`${r.opType} ${r.name}: output_shape is not supported`);
  return {
    strides: (r.attrs['strides'] as number[] | undefined) ?? new Array<number>(nsp).fill(1),
    pads: (r.attrs['pads'] as number[] | undefined) ?? new Array<number>(2 * nsp).fill(0),
    dilations: (r.attrs['dilations'] as number[] | undefined) ?? new Array<number>(nsp).fill(1),
    group: (r.attrs['group'] as number | undefined) ?? 1,
  };
}

/**
 * dW[o, i, t] = sum_{n, p} dY[n, o, p] * X[n, g*ci + i, p*s + t*d - pad] for output channel o in group g,
 * computed as ONE Conv: the input channels of a group become the batch ([ci, G*N, ...]) and dY becomes
 * the kernel ([Cout, N, ...]); the original stride acts as dilation and vice versa. The result is
 * [ci, Cout, k'...] with k' >= k, transposed and cropped to the kernel extent.
 */
export function weightGrad(
  g: GraphBuilder,
  x: Value,
  xShape: readonly number[],
  dy: Value,
  dyShape: readonly number[],
  kernel: readonly number[],
  a: ConvAttrs,
): Value {
  const [n, cin] = xShape as [number, number];
  const cout = dyShape[1]!;
  const G = a.group;
  const ci = cin / G;
  const xsp = xShape.slice(2);
  const ysp = dyShape.slice(2);
  const nsp = xsp.length;
  const spAxes = (offset: number) => Array.from({ length: nsp }, (_, i) => i + offset);
  let xb: Value;
  if (n === 1 && G === 1) xb = g.reshape(x, [cin, 1, ...xsp]);
  else {
    const split = g.reshape(x, [n, G, ci, ...xsp]);
    xb = g.reshape(g.transpose(split, [2, 1, 0, ...spAxes(3)]), [ci, G * n, ...xsp]);
  }
  let kern: Value;
  if (n === 1) kern = g.reshape(dy, [cout, 1, ...ysp]);
  else kern = g.transpose(dy, [1, 0, ...spAxes(2)]);
  const r = g.conv(xb, kern, null, {
    strides: a.dilations,
    dilations: a.strides,
    pads: a.pads,
    ...(G > 1 ? { group: G } : {}),
  });
  const rShape = r.shape as number[] | undefined;
  if (!rShape) throw new AutodiffError('internal: weight-gradient conv has no inferred shape');
  let w = ci === 1 ? g.reshape(r, [cout, 1, ...rShape.slice(2)]) : g.transpose(r, [1, 0, ...spAxes(2)]);
  if (rShape.slice(2).some((d, i) => d !== kernel[i])) {
    if (rShape.slice(2).some((d, i) => d < kernel[i]!)) throw new AutodiffError('internal: weight-gradient conv is smaller than the kernel');
    w = g.slice(w, kernel.map(() => 0), [...kernel], spAxes(2));
  }
  return w;
}

/** Reverses the last `count` values of every row of `v` viewed as [rows, count] (shape restored). */
function reverseRows(g: GraphBuilder, v: Value, shape: readonly number[], count: number): Value {
  const flat = g.reshape(v, [numelOf(shape) / count, count]);
  return g.reshape(g.slice(flat, [count - 1], [-count - 1], [1], [-1]), [...shape]);
}

/**
 * Input gradient of a stride-1 Conv as a Conv: dX[i, x] = sum_{o,t} dY[o, x + t'*d - (d*(k-1) - padBegin)] * W[o, i, k-1-t'],
 * i.e. a correlation of dY with the kernel flipped in space and with input/output channels exchanged
 * (per group), padded by d*(k-1) - pad on each side. Same sums as the ConvTranspose, but ONNX Runtime's
 * CPU ConvTranspose (col2im) is ~10-50x slower than its Conv on 3-D 5x5x5 kernels. Null when a pad
 * exceeds the dilated kernel extent (the ConvTranspose handles that).
 * The flip is a reversed Slice (element by element in ONNX Runtime), so it goes on the smaller side:
 * the kernel, or dY and dX (flipping both and exchanging begin/end pads gives the same sums), which
 * are the smaller ones in the deep, many-channel, small-volume layers.
 */
function inputGradAsConv(
  g: GraphBuilder,
  dy: Value,
  yShape: readonly number[],
  w: Value,
  wShape: readonly number[],
  xShape: readonly number[],
  a: ConvAttrs,
): Value | null {
  const kernel = wShape.slice(2);
  const nsp = kernel.length;
  const ext = kernel.map((k, i) => a.dilations[i]! * (k - 1));
  const pads = [...ext.map((e, i) => e - a.pads[i]!), ...ext.map((e, i) => e - a.pads[i + nsp]!)];
  if (pads.some((p) => p < 0)) return null;
  const [cout, ciPerGroup] = wShape as [number, number];
  const G = a.group;
  const spAxes = Array.from({ length: nsp }, (_, i) => i + 2);
  // [O, I/G, k...] -> [I, O/G, k...]: exchange the channel roles within each group.
  let wt: Value;
  if (G === 1) wt = g.transpose(w, [1, 0, ...spAxes]);
  else {
    const split = g.reshape(w, [G, cout / G, ciPerGroup, ...kernel]);
    wt = g.reshape(g.transpose(split, [0, 2, 1, ...spAxes.map((ax) => ax + 1)]), [G * ciPerGroup, cout / G, ...kernel]);
  }
  const wtShape = [G * ciPerGroup, cout / G, ...kernel];
  const attrs = {
    ...(a.dilations.some((d) => d !== 1) ? { dilations: a.dilations } : {}),
    ...(G > 1 ? { group: G } : {}),
  };
  const kSize = numelOf(kernel);
  if (kSize === 1) return g.conv(dy, wt, null, { pads, ...attrs });
  const ySp = numelOf(yShape.slice(2));
  const xSp = numelOf(xShape.slice(2));
  if (numelOf(yShape) + numelOf(xShape) < numelOf(wtShape)) {
    const swapped = [...pads.slice(nsp), ...pads.slice(0, nsp)];
    const dx = g.conv(reverseRows(g, dy, yShape, ySp), wt, null, { pads: swapped, ...attrs });
    return reverseRows(g, dx, xShape, xSp);
  }
  // Flipping every spatial axis reverses the flattened kernel: one Slice on one axis (cheaper than three).
  return g.conv(dy, reverseRows(g, wt, wtShape, kSize), null, { pads, ...attrs });
}

/**
 * dW of a stride-1, ungrouped Conv with fewer output than input channels: the same correlation with
 * the roles exchanged, dY as the batch-side input ([Cout, N, ...], padded by d*(k-1) - pad) and X as
 * the kernel ([Cin, N, ...]), strided by the dilation. The result R[o, i, u] holds dW[o, i, k-1-u], so
 * it is flipped back. ONNX Runtime's cost here is the im2col of the batch side (one copy per batch
 * row), so putting the side with fewer channels there is the cheaper way round (VNet's 32 -> 1
 * output conv: ~300 -> ~30 ms). Null when a pad exceeds the dilated kernel extent.
 */
function weightGradOutputSide(g: GraphBuilder, x: Value, xShape: readonly number[], dy: Value, dyShape: readonly number[], kernel: readonly number[], a: ConvAttrs): Value | null {
  const nsp = kernel.length;
  const ext = kernel.map((k, i) => a.dilations[i]! * (k - 1));
  const pads = [...ext.map((e, i) => e - a.pads[i]!), ...ext.map((e, i) => e - a.pads[i + nsp]!)];
  if (pads.some((p) => p < 0)) return null;
  const [n, cin] = xShape as [number, number];
  const cout = dyShape[1]!;
  const spAxes = Array.from({ length: nsp }, (_, i) => i + 2);
  const batchSide = (v: Value, c: number, shape: readonly number[]) =>
    n === 1 ? g.reshape(v, [c, 1, ...shape.slice(2)]) : g.transpose(v, [1, 0, ...spAxes]);
  const r = g.conv(batchSide(dy, cout, dyShape), batchSide(x, cin, xShape), null, {
    pads,
    ...(a.dilations.some((d) => d !== 1) ? { strides: a.dilations } : {}),
  });
  const kSize = numelOf(kernel);
  if (kSize === 1) return r;
  const flat = g.reshape(r, [cout, cin, kSize]);
  return g.reshape(g.slice(flat, [kSize - 1], [-kSize - 1], [2], [-1]), [cout, cin, ...kernel]);
}

/**
 * dW of a stride-1, ungrouped Conv with a small kernel as one MatMul per kernel offset t:
 * dW[o, i, t] = sum_n dY[n, o, :] . Xpad[n, i, t*d : t*d + Y] (the input zero-padded by the conv's pads),
 * so each offset is a GEMM over the positions with the channels as rows and columns, and the Transpose
 * feeding it folds into the MatMul (ORT's transB). weightGrad's single Conv with dY as the kernel has only
 * k (e.g. 9) output columns per GEMM and ran at ~75 GFLOP/s on the fusion's 3x3 256-channel conv; these
 * GEMMs are square. Each offset copies one shifted window of the input, so this pays only for few offsets.
 */
function weightGradByShifts(g: GraphBuilder, x: Value, xShape: readonly number[], dy: Value, dyShape: readonly number[], kernel: readonly number[], a: ConvAttrs): Value {
  const [n, cin] = xShape as [number, number];
  const cout = dyShape[1]!;
  const nsp = kernel.length;
  const ysp = dyShape.slice(2);
  const positions = numelOf(ysp);
  const spAxes = Array.from({ length: nsp }, (_, i) => i + 2);
  const padded = a.pads.some((p) => p !== 0)
    ? g.op('Pad', [x, g.constant([0, 0, ...a.pads.slice(0, nsp), 0, 0, ...a.pads.slice(nsp)], [2 * (nsp + 2)], 'int64')])
    : x;
  const dyFlat = g.reshape(dy, [n, cout, positions]);
  const kSize = numelOf(kernel);
  const parts: Value[] = [];
  for (let t = 0; t < kSize; t++) {
    // Row-major kernel offset -> per-axis start of the shifted window.
    const starts = new Array<number>(nsp);
    for (let i = nsp - 1, rest = t; i >= 0; i--) {
      starts[i] = (rest % kernel[i]!) * a.dilations[i]!;
      rest = Math.floor(rest / kernel[i]!);
    }
    const window = g.slice(padded, starts, starts.map((s, i) => s + ysp[i]!), spAxes);
    parts.push(g.matmul(dyFlat, g.transpose(g.reshape(window, [n, cin, positions]), [0, 2, 1])));
  }
  // [k*n, cout, cin] -> sum over n -> [k, cout, cin] -> [cout, cin, k...]
  const stacked = g.reshape(g.concat(parts, 0), [kSize, n, cout, cin]);
  const summed = n === 1 ? g.reshape(stacked, [kSize, cout, cin]) : g.reduceSum(stacked, [1], false);
  return g.reshape(g.transpose(summed, [1, 2, 0]), [cout, cin, ...kernel]);
}

/** Kernel offsets up to which weightGradByShifts (one window copy + GEMM each) beats the dY-as-kernel Conv. */
const MAX_SHIFTED_WINDOWS = 9;

function biasGrad(g: GraphBuilder, dy: Value, shape: readonly number[]): Value {
  return sumAxes(g, dy, shape, [0, ...Array.from({ length: shape.length - 2 }, (_, i) => i + 2)], false);
}

const conv: VjpRule = (ctx, r, dys, need) => {
  const { g } = ctx;
  const dy = dys[0]!;
  const xShape = ctx.shape(r.inputs[0]!);
  const wShape = ctx.shape(r.inputs[1]!);
  const yShape = ctx.shape(r.outputs[0]!);
  const nsp = xShape.length - 2;
  const a = convAttrs(r, nsp);
  const kernel = wShape.slice(2);
  const out: (Value | null)[] = [null, null, null];
  if (need[0]) {
    const asConv = a.strides.every((st) => st === 1) ? inputGradAsConv(g, dy, yShape, ctx.value(r.inputs[1]!), wShape, xShape, a) : null;
    if (asConv) out[0] = asConv;
  }
  if (need[0] && !out[0]) {
    const outputPadding = kernel.map((k, i) => {
      const full = (yShape[i + 2]! - 1) * a.strides[i]! - a.pads[i]! - a.pads[i + nsp]! + a.dilations[i]! * (k - 1) + 1;
      return xShape[i + 2]! - full;
    });
    if (outputPadding.some((p, i) => p < 0 || p >= Math.max(a.strides[i]!, a.dilations[i]!))) {
      throw new AutodiffError(`Conv ${r.name}: cannot express the input gradient as a ConvTranspose (output_padding ${outputPadding})`);
    }
    out[0] = g.convTranspose(dy, ctx.value(r.inputs[1]!), null, {
      strides: a.strides,
      pads: a.pads,
      ...(a.dilations.some((d) => d !== 1) ? { dilations: a.dilations } : {}),
      ...(a.group > 1 ? { group: a.group } : {}),
      ...(outputPadding.some((p) => p !== 0) ? { output_padding: outputPadding } : {}),
    } as Parameters<GraphBuilder['convTranspose']>[3]);
  }
  if (need[1]) {
    const x = ctx.value(r.inputs[0]!);
    const plainStride1 = a.group === 1 && a.strides.every((st) => st === 1);
    const kSize = numelOf(kernel);
    if (plainStride1 && kSize > 1 && kSize <= MAX_SHIFTED_WINDOWS) out[1] = weightGradByShifts(g, x, xShape, dy, yShape, kernel, a);
    else if (planeGemmWeightGradApplies(xShape, yShape, kernel, a)) out[1] = weightGrad3dByPlanes(g, x, xShape, dy, yShape, kernel, a.pads);
    else {
      const swapped = plainStride1 && yShape[1]! < xShape[1]! ? weightGradOutputSide(g, x, xShape, dy, yShape, kernel, a) : null;
      out[1] = swapped ?? weightGrad(g, x, xShape, dy, yShape, kernel, a);
    }
  }
  if (need[2]) out[2] = biasGrad(g, dy, yShape);
  return out;
};

const convTranspose: VjpRule = (ctx, r, dys, need) => {
  const { g } = ctx;
  const dy = dys[0]!;
  const xShape = ctx.shape(r.inputs[0]!);
  const wShape = ctx.shape(r.inputs[1]!);
  const yShape = ctx.shape(r.outputs[0]!);
  const a = convAttrs(r, xShape.length - 2);
  const out: (Value | null)[] = [null, null, null];
  if (need[0]) {
    out[0] = g.conv(dy, ctx.value(r.inputs[1]!), null, {
      strides: a.strides,
      pads: a.pads,
      ...(a.dilations.some((d) => d !== 1) ? { dilations: a.dilations } : {}),
      ...(a.group > 1 ? { group: a.group } : {}),
    });
  }
  if (need[1]) out[1] = weightGrad(g, dy, yShape, ctx.value(r.inputs[0]!), xShape, wShape.slice(2), a);
  if (need[2]) out[2] = biasGrad(g, dy, yShape);
  return out;
};

/** Inference-mode BatchNormalization: y = (x - mean) * scale / sqrt(var + eps) + B, per channel. */
const batchNorm: VjpRule = (ctx, r, dys, need) => {
  const { g } = ctx;
  if (r.attrs['training_mode']) throw new AutodiffError(`BatchNormalization ${r.name}: training_mode has no backward rule (use batch-statistics ops)`);
  if (need[3] || need[4]) throw new AutodiffError(`BatchNormalization ${r.name}: running statistics are not trainable`);
  const eps = (r.attrs['epsilon'] as number | undefined) ?? 1e-5;
  const dy = dys[0]!;
  const xShape = ctx.shape(r.inputs[0]!);
  const rank = xShape.length;
  const unsq = (v: Value) => g.unsqueeze(v, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)]);
  const [x, scale, , mean, variance] = r.inputs.map((nm) => ctx.value(nm)) as Value[];
  const invStd = g.op('Reciprocal', [g.op('Sqrt', [g.add(variance!, g.scalar(eps))])]);
  const out: (Value | null)[] = [null, null, null, null, null];
  if (need[0]) out[0] = g.mul(dy, unsq(g.mul(scale!, invStd)));
  if (need[1]) out[1] = biasGrad(g, g.mul(dy, g.mul(g.sub(x!, unsq(mean!)), unsq(invStd))), xShape);
  if (need[2]) out[2] = biasGrad(g, dy, xShape);
  return out;
};

export const CONV_RULES: Record<string, VjpRule> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  BatchNormalization: batchNorm,
};

