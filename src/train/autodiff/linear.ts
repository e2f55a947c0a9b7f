import type { Value } from '../../graph/builder.js';
import { AutodiffError, normAxis, numelOf, sumAxes, sumToShape, type VjpRule } from './shapes.js';

/** Backward rules of MatMul, LayerNormalization, Softmax and LogSoftmax. */

function lastTwoSwapped(rank: number): number[] {
  return [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
}

/**
 * MatMul with broadcast batch axes: dA = dY B^T and dB = A^T dY, each summed back to its input's
 * shape. A 2-D right operand (a Linear weight) gets its gradient from one Gemm over all rows.
 */
const matmul: VjpRule = (ctx, r, dys, need) => {
  const { g } = ctx;
  const dy = dys[0]!;
  const [a, b] = r.inputs.map((n) => ctx.value(n)) as [Value, Value];
  const aShape = ctx.shape(a.name);
  const bShape = ctx.shape(b.name);
  const yShape = ctx.shape(r.outputs[0]!);
  if (aShape.length < 2 || bShape.length < 2) throw new AutodiffError(`MatMul ${r.name}: 1-D operands have no backward rule`);
  const out: (Value | null)[] = [null, null];
  if (need[0]) {
    const bt = g.transpose(b, lastTwoSwapped(bShape.length));
    const full = g.matmul(dy, bt);
    out[0] = sumToShape(g, full, [...yShape.slice(0, -2), aShape.at(-2)!, aShape.at(-1)!], aShape);
  }
  if (need[1]) {
    if (bShape.length === 2) {
      const k = aShape.at(-1)!;
      const n = yShape.at(-1)!;
      const a2 = aShape.length === 2 ? a : g.reshape(a, [-1, k]);
      const dy2 = yShape.length === 2 ? dy : g.reshape(dy, [-1, n]);
      out[1] = g.op('Gemm', [a2, dy2], { transA: 1 });
    } else {
      const full = g.matmul(g.transpose(a, lastTwoSwapped(aShape.length)), dy);
      out[1] = sumToShape(g, full, [...yShape.slice(0, -2), bShape.at(-2)!, bShape.at(-1)!], bShape);
    }
  }
  return out;
};

/**
 * LayerNormalization over axes [axis, rank): with xhat = (x - mean) * rstd,
 * dx = rstd * (gs - mean(gs) - xhat * mean(gs * xhat)) where gs = dy * scale;
 * dscale = sum(dy * xhat), dbias = sum(dy) over the leading axes.
 */
const layerNorm: VjpRule = (ctx, r, dys, need) => {
  const { g } = ctx;
  if (r.outputs.length > 1 && r.outputs.slice(1).some((o) => o !== '' && dys[r.outputs.indexOf(o)])) {
    throw new AutodiffError(`LayerNormalization ${r.name}: gradients of the Mean/InvStdDev outputs are not supported`);
  }
  const dy = dys[0]!;
  const [x, scale] = r.inputs.map((n) => (n ? ctx.value(n) : null)) as [Value, Value, Value | null];
  const xShape = ctx.shape(x.name);
  const rank = xShape.length;
  const axis = normAxis((r.attrs['axis'] as number | undefined) ?? -1, rank);
  const eps = (r.attrs['epsilon'] as number | undefined) ?? 1e-5;
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const mean = g.reduceMean(x, axes);
  const centred = g.sub(x, mean);
  const rstd = g.op('Reciprocal', [g.op('Sqrt', [g.add(g.reduceMean(g.mul(centred, centred), axes), g.scalar(eps))])]);
  const xhat = g.mul(centred, rstd);
  const normShape = xShape.slice(axis);
  const out: (Value | null)[] = [null, null, null];
  if (need[0]) {
    const gs = g.mul(dy, scale);
    const inner = g.sub(g.sub(gs, g.reduceMean(gs, axes)), g.mul(xhat, g.reduceMean(g.mul(gs, xhat), axes)));
    out[0] = g.mul(inner, rstd);
  }
  const lead = Array.from({ length: axis }, (_, i) => i);
  const sumLead = (v: Value, shapeName: string) => {
    const s = lead.length ? sumAxes(g, v, xShape, lead, false) : v;
    const target = ctx.shape(shapeName);
    return numelOf(target) === numelOf(normShape) && target.length !== normShape.length ? g.reshape(s, target) : s;
  };
  if (need[1]) out[1] = sumLead(g.mul(dy, xhat), r.inputs[1]!);
  if (need[2]) out[2] = sumLead(dy, r.inputs[2]!);
  return out;
};

const softmax: VjpRule = (ctx, r, dys) => {
  const { g } = ctx;
  const dy = dys[0]!;
  const y = ctx.value(r.outputs[0]!);
  const axis = normAxis((r.attrs['axis'] as number | undefined) ?? -1, ctx.shape(y.name).length);
  return [g.mul(y, g.sub(dy, g.reduceSum(g.mul(dy, y), [axis])))];
};

const logSoftmax: VjpRule = (ctx, r, dys) => {
  const { g } = ctx;
  const dy = dys[0]!;
  const y = ctx.value(r.outputs[0]!);
  const axis = normAxis((r.attrs['axis'] as number | undefined) ?? -1, ctx.shape(y.name).length);
  return [g.sub(dy, g.mul(g.op('Exp', [y]), g.reduceSum(dy, [axis])))];
};

export const LINEAR_RULES: Record<string, VjpRule> = {
  MatMul: matmul,
  LayerNormalization: layerNorm,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
};
