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
  if (axes.length) out = g.reduceSum(out, axes, true);
  if (lead > 0) out = g.reshape(out, [...to]);
  return out;
}

/** What a backward rule sees of the graph. */
export interface VjpContext {
  g: GraphBuilder;
  /** Static shape of a value (throws if unknown). */
  shape(name: string): number[];
  value(name: string): Value;
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
