import type { StateDict, Tensor } from '../checkpoint/tensor.js';
import type { GraphBuilder, Value } from '../graph/builder.js';
import { ModelWeightsError, checkStateDict as checkStateDictShapes, floatTensor, linear, param } from './layers.js';

export { ModelWeightsError };

/** One parameter the graph expects: its checkpoint key and shape. */
export interface ParamSpec {
  key: string;
  shape: number[];
}

/**
 * Compare a state dict with the parameters a graph expects, for the keys under `prefixes`
 * (the shared check in layers.ts, taking the decoder modules' spec lists).
 */
export function checkStateDict(
  sd: StateDict,
  expected: readonly ParamSpec[],
  prefixes: readonly string[],
  ignore: (key: string) => boolean,
  what: string,
): void {
  checkStateDictShapes(sd, new Map(expected.map((s) => [s.key, s.shape])), prefixes, what, ignore);
}

/**
 * Checkpoint tensors as graph values. A tensor used as is becomes an initializer named by its
 * checkpoint key (registered once, however often it is used), so gradients can be mapped back.
 */
export class Params {
  constructor(
    readonly g: GraphBuilder,
    readonly sd: StateDict,
  ) {}

  tensor(key: string): Tensor {
    return floatTensor(this.sd, key);
  }

  value(key: string): Value {
    return param(this.g, this.sd, key);
  }

  /** torch nn.Linear over the last axis: x @ W^T + b. */
  linear(x: Value, prefix: string): Value {
    return linear(this.g, this.sd, x, prefix);
  }
}

/** Specs of a torch nn.Linear(inDim -> outDim) with bias. */
export function linearSpecs(prefix: string, inDim: number, outDim: number): ParamSpec[] {
  return [
    { key: `${prefix}.weight`, shape: [outDim, inDim] },
    { key: `${prefix}.bias`, shape: [outDim] },
  ];
}
