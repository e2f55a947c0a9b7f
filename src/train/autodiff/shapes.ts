import type { GraphBuilder, Value } from '../../graph/builder.js';

/** The backward pass cannot be derived (unknown shape, unsupported op or attribute). */
export class AutodiffError extends Error {
  override name = 'AutodiffError';
}

/** The build-time shape of a value; every dimension must be a number. */
export function staticShape(g: GraphBuilder, name: string): number[] {
  const v = g.values.get(name);
  if (!v) throw new AutodiffError(`value ${name} is not in graph ${g.name}`);
  if (!v.shape || v.shape.some((d) => typeof d !== 'number')) {
    throw new AutodiffError(
      `value ${name} has no fixed build-time shape ([${v.shape?.join(',') ?? '?'}]); build the training forward with a fixed batch`,
    );
  }
  return v.shape as number[];
}

export const numelOf = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Below this many values a ReduceSum stays a ReduceSum (its cost is noise there). */
const MATMUL_SUM_MIN = 1 << 16;

/**
 * Sum of `v` (static `shape`) over `axes`, keepdims as ReduceSum's. ONNX Runtime's CPU ReduceSum over
 * leading axes ([8,16384,64] -> [64]) or over batch + spatial axes (a conv bias) ran ~3x slower than the
 * same sums as a product with a ones vector (MLAS GEMM, both cores), so large sums of those two forms
 * are written that way; other forms, and small tensors, stay ReduceSum.
 */
export function sumAxes(g: GraphBuilder, v: Value, shape: readonly number[], axes: readonly number[], keepdims: boolean): Value {
  const sorted = [...axes].map((a) => normAxis(a, shape.length)).sort((a, b) => a - b);
  const outShape = shape.flatMap((d, i) => (sorted.includes(i) ? (keepdims ? [1] : []) : [d]));
  if (numelOf(shape) >= MATMUL_SUM_MIN && sorted.length > 0) {
    const ones = (rows: number, cols: number) => g.op('Expand', [g.scalar(1), g.constant([rows, cols], [2], 'int64')]);
    const k = sorted.length;
    if (sorted.every((a, i) => a === i)) {
      // Leading axes: ones[1, R] x v[R, C].
      const r = numelOf(shape.slice(0, k));
      const c = numelOf(shape.slice(k));
      return g.reshape(g.matmul(ones(1, r), g.reshape(v, [r, c])), outShape);
    }
    if (shape.length >= 3 && sorted[0] === 0 && sorted.slice(1).every((a, i) => a === i + 2) && k === shape.length - 1) {
      // Batch and every axis after the channel axis (a conv bias): v[N*C, P] x ones[P, 1], then over N.
      const [n, c] = shape as [number, number];
      const perChannel = g.reshape(g.matmul(g.reshape(v, [n * c, numelOf(shape.slice(2))]), ones(numelOf(shape.slice(2)), 1)), [n, c]);
      return g.reshape(n === 1 ? perChannel : g.reduceSum(perChannel, [0], false), outShape);
    }
  }
  return g.reduceSum(v, [...axes], keepdims);
}

/**
 * Undo numpy-style broadcasting: sums `grad` (shape `from`) down to `to`, i.e. over the leading
 * axes `to` lacks and the axes where `to` has 1 but `from` does not, then reshapes to `to`.
 */
export function sumToShape(g: GraphBuilder, grad: Value, from: readonly number[], to: readonly number[]): Value {
  const lead = from.length - to.length;
  if (lead < 0) throw new AutodiffError(`cannot sum shape [${from}] down to higher-rank [${to}]`);
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    const t = i < lead ? 1 : to[i - lead]!;
    if (i < lead || (t === 1 && from[i] !== 1)) axes.push(i);
  }
  let out = grad;
  if (axes.length) out = sumAxes(g, out, from, axes, true);
  if (lead > 0) out = g.reshape(out, [...to]);
  return out;
}

/** What a backward rule sees of the graph. */
export interface VjpContext {
  g: GraphBuilder;
  /** Static shape of a value (throws if unknown). */
  shape(name: string): number[];
  value(name: string): Value;
  /** The node that computes `name` (forward or backward), undefined for inputs and initializers. */
  producer(name: string): import('../../graph/builder.js').OpRecord | undefined;
}

/**
 * A vector-Jacobian product: given the gradients of a node's outputs (null where an output got none),
 * returns the gradient of each input (null where `need[i]` is false or the input has no gradient).
 */
export type VjpRule = (
  ctx: VjpContext,
  r: import('../../graph/builder.js').OpRecord,
  dys: readonly (Value | null)[],
  need: readonly boolean[],
) => (Value | null)[];

/** The integer values of a constant input (axes, pads, shapes); throws when not constant. */
export function constInts(ctx: VjpContext, name: string, what: string): number[] {
  const v = ctx.g.constantValues(name);
  if (!v) throw new AutodiffError(`${what}: input ${name} must be a build-time constant`);
  return v;
}
