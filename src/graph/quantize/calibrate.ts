import type { GraphBuilder } from '../builder.js';
import type { ActivationRange } from './static.js';

/** Graph outputs holding one activation's min and max (ReduceMin/ReduceMax over the whole tensor). */
export interface RangeOutputs {
  activation: string;
  min: string;
  max: string;
}

/**
 * Turns `g` into a calibration graph: every named activation also feeds a ReduceMin and a ReduceMax over all
 * its axes, exported as scalar outputs, so a run returns the ranges without copying the (large) tensors out.
 */
export function addRangeOutputs(g: GraphBuilder, activations: readonly string[]): RangeOutputs[] {
  return activations.map((activation) => {
    const v = g.values.get(activation);
    if (!v) throw new Error(`calibration: ${activation} is not in graph ${g.name}`);
    const min = g.output(g.op('ReduceMin', [v], { keepdims: 0 }), g.uniqueName(`${activation}:min`)).name;
    const max = g.output(g.op('ReduceMax', [v], { keepdims: 0 }), g.uniqueName(`${activation}:max`)).name;
    return { activation, min, max };
  });
}

/** Running min/max of each activation over calibration runs. */
export class RangeObserver {
  readonly ranges = new Map<string, ActivationRange>();

  constructor(private readonly outputs: readonly RangeOutputs[]) {}

  /** The outputs of one calibration run (any batch size). */
  observe(run: Readonly<Record<string, { data: ArrayLike<number | bigint> }>>): void {
    for (const o of this.outputs) {
      const lo = Number(run[o.min]!.data[0]);
      const hi = Number(run[o.max]!.data[0]);
      const r = this.ranges.get(o.activation);
      this.ranges.set(o.activation, r ? { min: Math.min(r.min, lo), max: Math.max(r.max, hi) } : { min: lo, max: hi });
    }
  }

  get outputNames(): string[] {
    return this.outputs.flatMap((o) => [o.min, o.max]);
  }
}
