import type { Value } from '../../graph/builder.js';
import { AutodiffError, constInts, normAxis, numelOf, sumToShape, type VjpRule } from './shapes.js';

/** Backward rules of data-movement and reduction ops: each maps the output gradient back onto the input layout. */

function dyOf(dys: readonly (Value | null)[], k = 0): Value {
  const dy = dys[k];
  if (!dy) throw new AutodiffError('internal: backward rule called without an output gradient');
  return dy;
}

/** Same data, new shape: the gradient is reshaped back to the input's shape. */
const reshapeBack: VjpRule = (ctx, r, dys) => [ctx.g.reshape(dyOf(dys), ctx.shape(r.inputs[0]!)), ...r.inputs.slice(1).map(() => null)];

const transpose: VjpRule = (ctx, r, dys) => {
  const rank = ctx.shape(r.inputs[0]!).length;
  const perm = (r.attrs['perm'] as number[] | undefined) ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  const inverse = new Array<number>(rank);
  perm.forEach((p, i) => (inverse[p] = i));
  return [ctx.g.transpose(dyOf(dys), inverse)];
};

const concat: VjpRule = (ctx, r, dys, need) => {
  const { g } = ctx;
  const outShape = ctx.shape(r.outputs[0]!);
  const axis = normAxis(r.attrs['axis'] as number, outShape.length);
  const sizes = r.inputs.map((n) => ctx.shape(n)[axis]!);
  const dy = dyOf(dys);
  let offset = 0;
  return r.inputs.map((_, i) => {
    const start = offset;
    offset += sizes[i]!;
    return need[i] ? g.slice(dy, [start], [start + sizes[i]!], [axis]) : null;
  });
};

/** Split: the input gradient is the concatenation of the output gradients (zeros for outputs without one). */
const split: VjpRule = (ctx, r, dys) => {
  const { g } = ctx;
  const xShape = ctx.shape(r.inputs[0]!);
  const axis = normAxis((r.attrs['axis'] as number | undefined) ?? 0, xShape.length);
  const parts = r.outputs.map((o, k) => {
    const dy = dys[k];
    if (dy) return dy;
    const shape = ctx.shape(o);
    return g.op('ConstantOfShape', [g.int64s(shape)], { value: { dtype: 'float32', shape: [1], data: new Float32Array(1) } });
  });
  return [g.concat(parts, axis), null];
};

/** Slice with unit steps: the gradient is the output gradient zero-padded back to the input extent. */
const slice: VjpRule = (ctx, r, dys) => {
  const { g } = ctx;
  const xShape = ctx.shape(r.inputs[0]!);
  const rank = xShape.length;
  const starts = constInts(ctx, r.inputs[1]!, `Slice ${r.name}`);
  const ends = constInts(ctx, r.inputs[2]!, `Slice ${r.name}`);
  const axes = r.inputs[3] ? constInts(ctx, r.inputs[3], `Slice ${r.name}`) : starts.map((_, i) => i);
  const steps = r.inputs[4] ? constInts(ctx, r.inputs[4], `Slice ${r.name}`) : starts.map(() => 1);
  if (steps.some((s) => s !== 1)) throw new AutodiffError(`Slice ${r.name}: only unit steps have a backward rule`);
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((a, k) => {
    const ax = normAxis(a, rank);
    const n = xShape[ax]!;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const b = clamp(starts[k]!);
    const e = Math.max(b, clamp(ends[k]!));
    pads[ax] = b;
    pads[ax + rank] = n - e;
  });
  return [g.op('Pad', [dyOf(dys), g.int64s(pads)]), null, null, null, null];
};

/** Constant-mode Pad with non-negative pads: the gradient is the un-padded window of the output gradient. */
const pad: VjpRule = (ctx, r, dys) => {
  const mode = (r.attrs['mode'] as string | undefined) ?? 'constant';
  if (mode !== 'constant') throw new AutodiffError(`Pad ${r.name}: only constant mode has a backward rule`);
  if (r.inputs[3]) throw new AutodiffError(`Pad ${r.name}: the axes input is not supported`);
  const xShape = ctx.shape(r.inputs[0]!);
  const pads = constInts(ctx, r.inputs[1]!, `Pad ${r.name}`);
  if (pads.some((p) => p < 0)) throw new AutodiffError(`Pad ${r.name}: negative pads are not supported`);
  const starts = xShape.map((_, i) => pads[i]!);
  const ends = xShape.map((n, i) => pads[i]! + n);
  return [ctx.g.slice(dyOf(dys), starts, ends, xShape.map((_, i) => i)), null, null];
};

/** Expand broadcasts like a binary op; the gradient sums back. */
const expand: VjpRule = (ctx, r, dys) => {
  return [sumToShape(ctx.g, dyOf(dys), ctx.shape(r.outputs[0]!), ctx.shape(r.inputs[0]!)), null];
};

/** Tile: view the output as [r0, d0, r1, d1, ...] and sum over the repeat axes. */
const tile: VjpRule = (ctx, r, dys) => {
  const xShape = ctx.shape(r.inputs[0]!);
  const reps = constInts(ctx, r.inputs[1]!, `Tile ${r.name}`);
  const split = xShape.flatMap((d, i) => [reps[i]!, d]);
  const summed = ctx.g.reduceSum(ctx.g.reshape(dyOf(dys), split), xShape.map((_, i) => 2 * i), false);
  return [summed, null];
};

function reduceAxes(ctx: Parameters<VjpRule>[0], r: Parameters<VjpRule>[1], rank: number): number[] {
  const axes = r.inputs[1] ? constInts(ctx, r.inputs[1], `${r.opType} ${r.name}`) : (r.attrs['axes'] as number[] | undefined);
  return (axes ?? Array.from({ length: rank }, (_, i) => i)).map((a) => normAxis(a, rank));
}

/** ReduceSum / ReduceMean: broadcast the gradient back over the reduced axes (divided by their size for the mean). */
function reduceRule(mean: boolean): VjpRule {
  return (ctx, r, dys) => {
    const { g } = ctx;
    const xShape = ctx.shape(r.inputs[0]!);
    const axes = reduceAxes(ctx, r, xShape.length);
    const keep = (r.attrs['keepdims'] as number | undefined) ?? 1;
    let dy = dyOf(dys);
    if (!keep) dy = g.reshape(dy, xShape.map((d, i) => (axes.includes(i) ? 1 : d)));
    if (mean) dy = g.mul(dy, g.scalar(1 / numelOf(axes.map((a) => xShape[a]!))));
    return [g.op('Expand', [dy, g.int64s(xShape)]), null];
  };
}

/** Gather along an axis with constant indices: scatter-add the gradient back (ScatterND with reduction add). */
const gather: VjpRule = (ctx, r, dys, need) => {
  if (need[1]) throw new AutodiffError(`Gather ${r.name}: indices have no gradient`);
  const { g } = ctx;
  const xShape = ctx.shape(r.inputs[0]!);
  const idxShape = ctx.shape(r.inputs[1]!);
  const axis = normAxis((r.attrs['axis'] as number | undefined) ?? 0, xShape.length);
  // Move the gathered axis to the front so ScatterND can address it with 1-element index tuples.
  const dy = dyOf(dys);
  const yRank = xShape.length - 1 + idxShape.length;
  const idxAxes = Array.from({ length: idxShape.length }, (_, i) => axis + i);
  const rest = Array.from({ length: yRank }, (_, i) => i).filter((i) => !idxAxes.includes(i));
  const moved = g.transpose(dy, [...idxAxes, ...rest]);
  const restShape = [...xShape.slice(0, axis), ...xShape.slice(axis + 1)];
  const nIdx = numelOf(idxShape);
  const updates = g.reshape(moved, [nIdx, ...restShape]);
  const indices = g.reshape(ctx.value(r.inputs[1]!), [nIdx, 1]);
  const xPerm = [axis, ...xShape.map((_, i) => i).filter((i) => i !== axis)];
  const zeros = g.op('ConstantOfShape', [g.int64s(xPerm.map((p) => xShape[p]!))], {
    value: { dtype: 'float32', shape: [1], data: new Float32Array(1) },
  });
  const scattered = g.op('ScatterND', [zeros, g.op('Cast', [indices], { to: 7 }), updates], { reduction: 'add' });
  const inverse = new Array<number>(xPerm.length);
  xPerm.forEach((p, i) => (inverse[p] = i));
  return [g.transpose(scattered, inverse), null];
};

export const LAYOUT_RULES: Record<string, VjpRule> = {
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: slice,
  Pad: pad,
  Expand: expand,
  Tile: tile,
  ReduceSum: reduceRule(false),
  ReduceMean: reduceRule(true),
  Gather: gather,
};
