import { GraphBuilder, type Value } from '../../src/graph/builder.js';
import { createNodeRuntime } from '../../src/graph/index.js';
import { deriveBackward } from '../../src/train/autodiff/backward.js';
import { randn, seededRandom } from '../graph/reference.js';

export const runtime = createNodeRuntime({ threads: 1 });

export interface GradCase {
  /** Differentiable inputs: name -> shape (random normal values unless `init` says otherwise). */
  inputs: Record<string, number[]>;
  init?: Record<string, (rnd: () => number, n: number) => Float32Array>;
  /** Emits the op(s) under test; returns the output to be dotted with a fixed random tensor. */
  build: (g: GraphBuilder, x: Record<string, Value>) => Value;
}

export interface GradCheckResult {
  name: string;
  analytic: number;
  numeric: number;
  relErr: number;
}

/**
 * Central-difference check of every input's gradient along random directions: loss = sum(y * R),
 * analytic <grad, v> against (loss(x + eps v) - loss(x - eps v)) / (2 eps), all in float32 ORT.
 */
export async function gradCheck(c: GradCase, seed = 1, eps = 1e-2, directions = 2): Promise<GradCheckResult[]> {
  const rnd = seededRandom(seed);
  const g = new GraphBuilder('gradcheck');
  const xs: Record<string, Value> = {};
  for (const [name, shape] of Object.entries(c.inputs)) xs[name] = g.input(name, 'float32', shape);
  const y = c.build(g, xs);
  const yShape = y.shape as number[];
  const n = yShape.reduce((p, d) => p * d, 1);
  const weights = g.constant(randn(n, rnd), yShape);
  const loss = g.reduceSum(g.mul(y, weights), yShape.map((_, i) => i), false);
  g.output(loss, 'loss');
  const { grads } = deriveBackward(g, loss, Object.keys(c.inputs));
  for (const name of Object.keys(c.inputs)) g.output(grads.get(name)!, `grad_${name}`);
  const session = await runtime.session(g.toBytes(), 'gradcheck');
  const data: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(c.inputs)) {
    const size = shape.reduce((p, d) => p * d, 1);
    data[name] = c.init?.[name]?.(rnd, size) ?? randn(size, rnd);
  }
  const feeds = (override?: Record<string, Float32Array>) =>
    Object.fromEntries(Object.entries(c.inputs).map(([k, shape]) => [k, { data: override?.[k] ?? data[k]!, dims: shape }]));
  const base = await session.run(feeds());
  const results: GradCheckResult[] = [];
  for (const name of Object.keys(c.inputs)) {
    const grad = base[`grad_${name}`]!.data as Float32Array;
    for (let d = 0; d < directions; d++) {
      const v = randn(grad.length, rnd);
      let analytic = 0;
      for (let i = 0; i < v.length; i++) analytic += grad[i]! * v[i]!;
      const shifted = (sign: number) => data[name]!.map((x, i) => x + sign * eps * v[i]!);
      const lp = (await session.run(feeds({ [name]: shifted(1) })))['loss']!.data as Float32Array;
      const lm = (await session.run(feeds({ [name]: shifted(-1) })))['loss']!.data as Float32Array;
      const numeric = (lp[0]! - lm[0]!) / (2 * eps);
      const relErr = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), Math.abs(analytic), 1e-3);
      results.push({ name, analytic, numeric, relErr });
    }
  }
  await session.release();
  return results;
}

/** Values kept away from 0 (for kinks such as Relu/Elu/Abs at 0 and for Log/Sqrt/Div domains). */
export const awayFromZero = (rnd: () => number, n: number): Float32Array =>
  Float32Array.from({ length: n }, () => (rnd() < 0.5 ? -1 : 1) * (0.3 + rnd()));
export const positive = (rnd: () => number, n: number): Float32Array => Float32Array.from({ length: n }, () => 0.5 + rnd());

/** What a trainer-level directional check needs: the current parameter values, a setter, and a loss-only run. */
export interface LossOf {
  params: Map<string, Float32Array>;
  setParam(key: string, value: Float32Array): void;
  loss(): Promise<number>;
}

/**
 * Directional derivative of a training loss along `direction` (default: the gradient scaled to max 1,
 * so the derivative is large and float32 differences resolve it): analytic <grad, d> against
 * (loss(w + eps d) - loss(w - eps d)) / (2 eps). The parameter is restored afterwards.
 */
export async function centralDifference(t: LossOf, key: string, grad: Float32Array, eps: number, direction?: Float32Array): Promise<{ analytic: number; numeric: number; relErr: number }> {
  let m = 0;
  for (const v of grad) m = Math.max(m, Math.abs(v));
  const d = direction ?? grad.map((v) => v / m);
  let analytic = 0;
  for (let i = 0; i < d.length; i++) analytic += grad[i]! * d[i]!;
  const w0 = t.params.get(key)!.slice();
  const at = async (sign: number) => {
    t.setParam(key, w0.map((w, i) => w + sign * eps * d[i]!));
    return t.loss();
  };
  const numeric = ((await at(1)) - (await at(-1))) / (2 * eps);
  t.setParam(key, w0);
  return { analytic, numeric, relErr: Math.abs(numeric - analytic) / Math.abs(analytic) };
}
