import type { Value } from '../../graph/builder.js';
import { AutodiffError, constInts, sumToShape, type VjpContext, type VjpRule } from './shapes.js';

/** Backward rules of element-wise ops (broadcasting binary ops sum their gradient back to each input's shape). */

function only(dys: readonly (Value | null)[]): Value {
  const dy = dys[0];
  if (!dy) throw new AutodiffError('internal: backward rule called without an output gradient');
  return dy;
}

/** Gradient of a broadcasting binary op's input `i`, given the full-shape gradient term. */
function toInput(ctx: VjpContext, outName: string, inName: string, full: Value): Value {
  return sumToShape(ctx.g, full, ctx.shape(outName), ctx.shape(inName));
}

const add: VjpRule = (ctx, r, dys, need) => {
  const dy = only(dys);
  return r.inputs.map((name, i) => (need[i] ? toInput(ctx, r.outputs[0]!, name, dy) : null));
};

/** Sub: the subtrahend's gradient is negated after the broadcast sum (a batch-norm mean: one small Neg, not a full pass). */
const sub: VjpRule = (ctx, r, dys, need) => {
  const dy = only(dys);
  const [a, b] = r.inputs as [string, string];
  return [
    need[0] ? toInput(ctx, r.outputs[0]!, a, dy) : null,
    need[1] ? ctx.g.op('Neg', [toInput(ctx, r.outputs[0]!, b, dy)]) : null,
  ];
};

/** Same shape, element by element: a and b of equal rank and length (no broadcasting needed). */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * dy * other, where dy may be an Expand (a ReduceMean's or ReduceSum's gradient, e.g. a batch-norm variance's):
 * when the Expand's input broadcast against `other` already gives dy's shape, the product reads that input and
 * the full-size Expand is never materialised (same values: broadcasting repeats them as Expand would).
 */
function timesDy(ctx: VjpContext, dy: Value, other: Value, scale = 1): Value {
  const { g } = ctx;
  const p = ctx.producer(dy.name);
  const dyShape = ctx.shape(dy.name);
  let src = dy;
  if (p?.opType === 'Expand' && sameShape(ctx.shape(other.name), dyShape)) src = ctx.value(p.inputs[0]!);
  if (scale !== 1) src = g.mul(src, g.scalar(scale));
  return g.mul(src, other);
}

/** Mul; x * x (a variance's square) gets one product 2 x dy instead of two products and their sum. */
const mul: VjpRule = (ctx, r, dys, need) => {
  const dy = only(dys);
  const [a, b] = r.inputs.map((n) => ctx.value(n)) as [Value, Value];
  if (a.name === b.name) return [need[0] ? toInput(ctx, r.outputs[0]!, a.name, timesDy(ctx, dy, a, 2)) : null, null];
  return [
    need[0] ? toInput(ctx, r.outputs[0]!, a.name, timesDy(ctx, dy, b)) : null,
    need[1] ? toInput(ctx, r.outputs[0]!, b.name, timesDy(ctx, dy, a)) : null,
  ];
};

const div: VjpRule = (ctx, r, dys, need) => {
  const { g } = ctx;
  const dy = only(dys);
  const [a, b] = r.inputs.map((n) => ctx.value(n)) as [Value, Value];
  const y = ctx.value(r.outputs[0]!);
  return [
    need[0] ? toInput(ctx, y.name, a.name, g.div(dy, b)) : null,
    // d(a/b)/db = -a/b^2 = -y/b
    need[1] ? toInput(ctx, y.name, b.name, g.op('Neg', [g.div(g.mul(dy, y), b)])) : null,
  ];
};

/** x^p with a constant exponent p. */
const pow: VjpRule = (ctx, r, dys, need) => {
  const { g } = ctx;
  if (need[1]) throw new AutodiffError(`Pow ${r.name}: the exponent must be a constant`);
  const p = constInts(ctx, r.inputs[1]!, `Pow ${r.name}`);
  if (p.length !== 1) throw new AutodiffError(`Pow ${r.name}: only a scalar exponent is supported`);
  const x = ctx.value(r.inputs[0]!);
  const e = p[0]!;
  const local = e === 2 ? g.mul(x, g.scalar(2)) : g.mul(g.op('Pow', [x, g.scalar(e - 1)]), g.scalar(e));
  return [toInput(ctx, r.outputs[0]!, x.name, g.mul(only(dys), local)), null];
};

/** Unary rules written as dy * f'(x, y). */
function unary(local: (ctx: VjpContext, x: Value, y: Value, dy: Value) => Value): VjpRule {
  return (ctx, r, dys) => [local(ctx, ctx.value(r.inputs[0]!), ctx.value(r.outputs[0]!), only(dys))];
}

const SQRT_HALF = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export const ELEMENTWISE_RULES: Record<string, VjpRule> = {
  Add: add,
  Sum: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Pow: pow,
  Identity: unary((_c, _x, _y, dy) => dy),
  Neg: unary(({ g }, _x, _y, dy) => g.op('Neg', [dy])),
  Abs: unary(({ g }, x, _y, dy) => g.mul(dy, g.op('Sign', [x]))),
  Exp: unary(({ g }, _x, y, dy) => g.mul(dy, y)),
  Log: unary(({ g }, x, _y, dy) => g.div(dy, x)),
  Sqrt: unary(({ g }, _x, y, dy) => g.div(g.mul(dy, g.scalar(0.5)), y)),
  Reciprocal: unary(({ g }, _x, y, dy) => g.op('Neg', [g.mul(dy, g.mul(y, y))])),
  Relu: unary(({ g }, x, _y, dy) => g.op('Where', [g.op('Greater', [x, g.scalar(0)]), dy, g.scalar(0)])),
  Sigmoid: unary(({ g }, _x, y, dy) => g.mul(dy, g.mul(y, g.sub(g.scalar(1), y)))),
  Tanh: unary(({ g }, _x, y, dy) => g.mul(dy, g.sub(g.scalar(1), g.mul(y, y)))),
  Softplus: unary(({ g }, x, _y, dy) => g.mul(dy, g.sigmoid(x))),
  Erf: unary(({ g }, x, _y, dy) =>
    g.mul(dy, g.mul(g.op('Exp', [g.op('Neg', [g.mul(x, x)])]), g.scalar(2 / Math.sqrt(Math.PI)))),
  ),
  Cast: (ctx, r, dys) => {
    const x = ctx.value(r.inputs[0]!);
    const y = ctx.value(r.outputs[0]!);
    if (x.dtype !== y.dtype) throw new AutodiffError(`Cast ${r.name}: gradients through a dtype change are not supported`);
    return [only(dys)];
  },
};

/**
 * Elu: y = x for x > 0, alpha (e^x - 1) otherwise, so dy/dx = 1 or y + alpha. With alpha > 0, y > 0 exactly where
 * x > 0, so the rule reads y alone: the Elu's input (in the VNet a BatchNorm output, 32 MB per 64^3 32-channel
 * layer) need not stay alive for the backward. With alpha = 1 (the VNet's) the factor is min(y, 0) + 1: three
 * passes instead of Greater, Add, Mul and Where; both forms round exactly as dy * (y + 1) and dy do.
 */
ELEMENTWISE_RULES['Elu'] = (ctx, r, dys) => {
  const { g } = ctx;
  const alpha = (r.attrs['alpha'] as number | undefined) ?? 1;
  const y = ctx.value(r.outputs[0]!);
  const dy = only(dys);
  if (alpha === 1) return [g.mul(dy, g.add(g.op('Min', [y, g.scalar(0)]), g.scalar(1)))];
  const positive = g.op('Greater', [alpha > 0 ? y : ctx.value(r.inputs[0]!), g.scalar(0)]);
  return [g.op('Where', [positive, dy, g.mul(dy, g.add(y, g.scalar(alpha)))])];
};

/** Exact (erf) GELU: d/dx [x Phi(x)] = Phi(x) + x phi(x). */
ELEMENTWISE_RULES['Gelu'] = (ctx, r, dys) => {
  const { g } = ctx;
  if ((r.attrs['approximate'] ?? 'none') !== 'none') throw new AutodiffError(`Gelu ${r.name}: only the exact (erf) form has a backward rule`);
  const x = ctx.value(r.inputs[0]!);
  const cdf = g.mul(g.add(g.op('Erf', [g.mul(x, g.scalar(SQRT_HALF))]), g.scalar(1)), g.scalar(0.5));
  const pdf = g.mul(g.op('Exp', [g.mul(g.mul(x, x), g.scalar(-0.5))]), g.scalar(INV_SQRT_2PI));
  return [g.mul(only(dys), g.add(cdf, g.mul(x, pdf)))];
};

/** Where(cond, a, b): the gradient goes to a where cond holds, to b elsewhere. */
ELEMENTWISE_RULES['Where'] = (ctx, r, dys, need) => {
  const { g } = ctx;
  const dy = only(dys);
  const cond = ctx.value(r.inputs[0]!);
  const zero = g.scalar(0);
  return [
    null,
    need[1] ? toInput(ctx, r.outputs[0]!, r.inputs[1]!, g.op('Where', [cond, dy, zero])) : null,
    need[2] ? toInput(ctx, r.outputs[0]!, r.inputs[2]!, g.op('Where', [cond, zero, dy])) : null,
  ];
};
