import type { GraphBuilder, OpRecord, Value } from '../../graph/builder.js';
import { VJP_RULES, type VjpContext } from './rules.js';
import { AutodiffError, staticShape } from './shapes.js';

export { AutodiffError } from './shapes.js';

export interface BackwardResult {
  /** Gradient value of each `wrt` name the loss depends on (same shape as the parameter). */
  grads: Map<string, Value>;
  /** `wrt` names the loss does not depend on: their gradient is zero (e.g. a sliced-away head). */
  unreached: string[];
  /** Number of forward nodes that got a backward rule (the rest are frozen or off the loss path). */
  differentiatedOps: number;
}

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16']);

/**
 * Reverse-mode differentiation over the builder's op records: appends to `g` the ops computing
 * d(loss)/d(name) for every `wrt` name (initializers or graph inputs). Only nodes on a path from a
 * `wrt` value to the loss get backward ops; everything else (frozen parts, side outputs) gets none.
 * All shapes on those paths must be known at build time (build the forward with a fixed batch).
 */
export function deriveBackward(g: GraphBuilder, loss: Value, wrt: readonly string[]): BackwardResult {
  const lossShape = staticShape(g, loss.name);
  if (lossShape.reduce((p, d) => p * d, 1) !== 1) throw new AutodiffError(`loss ${loss.name} must be a scalar, has shape [${lossShape}]`);
  for (const w of wrt) if (!g.values.has(w)) throw new AutodiffError(`cannot differentiate with respect to ${w}: not in graph ${g.name}`);

  const forward = [...g.records];
  // Values that depend on a wrt value (forward reachability); only these can carry gradients.
  const active = new Set<string>(wrt);
  for (const r of forward) {
    if (r.inputs.some((i) => i !== '' && active.has(i))) {
      for (const o of r.outputs) if (FLOAT_TYPES.has(g.values.get(o)?.dtype ?? '')) active.add(o);
    }
  }
  if (!active.has(loss.name)) {
    return { grads: new Map(), unreached: [...wrt], differentiatedOps: 0 };
  }

  const pending = new Map<string, Value[]>();
  const push = (name: string, v: Value) => {
    const list = pending.get(name);
    if (list) list.push(v);
    else pending.set(name, [v]);
  };
  // Producers indexed lazily: rules ask about values their neighbours' rules have just emitted.
  const producers = new Map<string, OpRecord>();
  let indexed = 0;
  const producer = (name: string): OpRecord | undefined => {
    for (; indexed < g.records.length; indexed++) for (const o of g.records[indexed]!.outputs) producers.set(o, g.records[indexed]!);
    return producers.get(name);
  };
  const ctx: VjpContext = { g, shape: (name) => staticShape(g, name), value: (name) => g.values.get(name)!, producer };
  const total = (name: string): Value | null => {
    const list = pending.get(name);
    if (!list || list.length === 0) return null;
    const sum = list.length === 1 ? list[0]! : (broadcastPair(list) ?? g.op('Sum', list));
    pending.set(name, [sum]);
    return sum;
  };

  // Two terms, one an Expand (a mean's gradient, e.g. a batch-norm input's): add its input with broadcasting,
  // so the full-size Expand is never materialised (same sums: a + b element by element either way).
  const broadcastPair = (list: readonly Value[]): Value | null => {
    if (list.length !== 2) return null;
    for (const [full, other] of [list, [...list].reverse()] as [Value, Value][]) {
      const p = producer(other.name);
      const shape = ctx.shape(full.name);
      if (p?.opType === 'Expand' && ctx.shape(other.name).join() === shape.join() && producer(full.name)?.opType !== 'Expand') return g.add(full, ctx.value(p.inputs[0]!));
    }
    return null;
  };

  push(loss.name, g.constant([1], lossShape));
  let differentiatedOps = 0;
  for (let k = forward.length - 1; k >= 0; k--) {
    const r = forward[k]!;
    if (!r.outputs.some((o) => active.has(o) && pending.has(o))) continue;
    const need = r.inputs.map((i) => i !== '' && active.has(i));
    if (!need.some(Boolean)) continue;
    const dys = r.outputs.map((o) => total(o));
    const rule = VJP_RULES[r.opType];
    if (!rule) throw new AutodiffError(`no backward rule for ${r.opType} (node ${r.name}, output ${r.outputs[0]}) on the path to the loss`);
    const dxs = rule(ctx, r, dys, need);
    differentiatedOps++;
    r.inputs.forEach((name, i) => {
      const dx = dxs[i];
      if (need[i] && dx) push(name, dx);
    });
  }

  const grads = new Map<string, Value>();
  const unreached: string[] = [];
  for (const w of wrt) {
    const v = total(w);
    if (v) grads.set(w, v);
    else unreached.push(w);
  }
  dropUnusedBackwardNodes(g, forward.length, [...grads.values()].map((v) => v.name));
  return { grads, unreached, differentiatedOps };
}

/**
 * Removes backward nodes (records from `start` on) that no gradient depends on: a rule may read a neighbour's
 * output through the node that made it (e.g. the broadcast source of an Expand, see elementwise.ts's Mul), leaving
 * that node without a consumer, and ONNX Runtime would still run it.
 */
function dropUnusedBackwardNodes(g: GraphBuilder, start: number, roots: readonly string[]): void {
  const live = new Set<string>([...roots, ...g.outputs.map((v) => v.name)]);
  const dead = new Set<OpRecord>();
  for (let k = g.records.length - 1; k >= start; k--) {
    const r = g.records[k]!;
    if (r.outputs.some((o) => live.has(o))) for (const i of r.inputs) live.add(i);
    else dead.add(r);
  }
  g.removeNodes(dead);
}

