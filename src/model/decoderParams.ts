import type { StateDict, Tensor } from '../checkpoint/tensor.js';
import type { GraphBuilder, Value } from '../graph/builder.js';

/** The checkpoint does not hold the parameters the graph needs (missing, unexpected or mis-shaped keys). */
export class ModelWeightsError extends Error {
  override name = 'ModelWeightsError';
}

/** One parameter the graph expects: its checkpoint key and shape. */
export interface ParamSpec {
  key: string;
  shape: number[];
}

const LIST_AT_MOST = 5;

function listFew(keys: string[]): string {
  const shown = keys.slice(0, LIST_AT_MOST).join(', ');
  return keys.length > LIST_AT_MOST ? `${shown} (+${keys.length - LIST_AT_MOST} more)` : shown;
}

/**
 * Compare a state dict with the parameters a graph expects, for the keys under `prefixes`.
 * Keys for which `ignore` returns true may be present or absent. Throws ONE error naming a few
 * missing, unexpected and mis-shaped keys.
 */
export function checkStateDict(
  sd: StateDict,
  expected: readonly ParamSpec[],
  prefixes: readonly string[],
  ignore: (key: string) => boolean,
  what: string,
): void {
  const want = new Map(expected.map((s) => [s.key, s.shape]));
  const missing = expected.filter((s) => !sd.has(s.key)).map((s) => s.key);
  const unexpected = [...sd.keys()].filter(
    (k) => prefixes.some((p) => k.startsWith(p)) && !want.has(k) && !ignore(k),
  );
  const misShaped: string[] = [];
  for (const [key, shape] of want) {
    const t = sd.get(key);
    if (!t) continue;
    if (t.dtype !== 'float32') misShaped.push(`${key} is ${t.dtype}, expected float32`);
    else if (t.shape.join(',') !== shape.join(',')) {
      misShaped.push(`${key} has shape [${t.shape.join(',')}], expected [${shape.join(',')}]`);
    }
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`missing keys: ${listFew(missing)}`);
  if (unexpected.length) problems.push(`unexpected keys: ${listFew(unexpected)}`);
  if (misShaped.length) problems.push(`wrong tensors: ${listFew(misShaped)}`);
  if (problems.length) throw new ModelWeightsError(`checkpoint does not match the ${what}: ${problems.join('; ')}`);
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
    const t = this.sd.get(key);
    if (!t) throw new ModelWeightsError(`checkpoint has no tensor ${key}`);
    return t;
  }

  value(key: string): Value {
    return this.g.values.get(key) ?? this.g.initializer(key, this.tensor(key));
  }

  /** torch nn.Linear over the last axis: x @ W^T + b (the Transpose of the initializer is folded by ONNX Runtime). */
  linear(x: Value, prefix: string): Value {
    const w = this.g.transpose(this.value(`${prefix}.weight`), [1, 0]);
    return this.g.add(this.g.matmul(x, w), this.value(`${prefix}.bias`));
  }
}

/** Specs of a torch nn.Linear(inDim -> outDim) with bias. */
export function linearSpecs(prefix: string, inDim: number, outDim: number): ParamSpec[] {
  return [
    { key: `${prefix}.weight`, shape: [outDim, inDim] },
    { key: `${prefix}.bias`, shape: [outDim] },
  ];
}
