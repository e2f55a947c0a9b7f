import type { StateDict, Tensor } from '../checkpoint/tensor.js';
import { toFloat32 } from '../checkpoint/tensor.js';
import type { GraphBuilder, Value } from '../graph/builder.js';

/** Weights that do not fit the network being built (missing, unexpected or mis-shaped keys). */
export class ModelWeightsError extends Error {
  override name = 'ModelWeightsError';
}

/**
 * Checks a state dict against the keys (and shapes) a module expects, under one prefix, and throws
 * ONE error listing a few of each kind of problem. Keys for which `ignore` is true are allowed extras.
 */
export function checkStateDict(
  sd: StateDict,
  expected: ReadonlyMap<string, readonly number[]>,
  prefix: string,
  what: string,
  ignore: (key: string) => boolean = () => false,
): void {
  const missing: string[] = [];
  const misshaped: string[] = [];
  for (const [key, shape] of expected) {
    const t = sd.get(key);
    if (!t) missing.push(key);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      misshaped.push(`${key} [${t.shape.join(',')}] (expected [${shape.join(',')}])`);
    }
  }
  const unexpected = [...sd.keys()].filter((k) => k.startsWith(prefix) && !expected.has(k) && !ignore(k));
  if (missing.length + misshaped.length + unexpected.length === 0) return;
  const few = (xs: string[]) => xs.slice(0, 4).join(', ') + (xs.length > 4 ? `, ... (${xs.length} in all)` : '');
  const parts: string[] = [];
  if (missing.length) parts.push(`missing ${missing.length} key(s): ${few(missing)}`);
  if (misshaped.length) parts.push(`wrong shape: ${few(misshaped)}`);
  if (unexpected.length) parts.push(`unexpected ${unexpected.length} key(s): ${few(unexpected)}`);
  throw new ModelWeightsError(`weights do not fit the ${what}: ${parts.join('; ')}`);
}

/** A float32 view of a checkpoint tensor (widening half/bfloat16 copies). */
export function floatTensor(sd: StateDict, key: string): Tensor {
  const t = sd.get(key);
  if (!t) throw new ModelWeightsError(`weights lack ${key}`);
  return t.dtype === 'float32' ? t : { dtype: 'float32', shape: [...t.shape], data: toFloat32(t) };
}

/** The checkpoint tensor as an initializer named by its key (registered once, reused after). */
export function param(g: GraphBuilder, sd: StateDict, key: string): Value {
  return g.values.get(key) ?? g.initializer(key, floatTensor(sd, key));
}

/**
 * nn.Linear on the last axis: x @ W^T + b. W stays as in the checkpoint (named by its key); ONNX
 * Runtime folds the Transpose of a constant at session creation and fuses the bias Add (with a
 * following Gelu into BiasGelu), which measured slightly faster than a flattened Gemm.
 */
export function linear(g: GraphBuilder, sd: StateDict, x: Value, prefix: string, bias = true): Value {
  const y = g.matmul(x, g.transpose(param(g, sd, `${prefix}.weight`), [1, 0]));
  return bias ? g.add(y, param(g, sd, `${prefix}.bias`)) : y;
}

/** nn.LayerNorm on the last axis. */
export function layerNorm(g: GraphBuilder, sd: StateDict, x: Value, prefix: string, epsilon = 1e-5): Value {
  return g.layerNorm(x, param(g, sd, `${prefix}.weight`), param(g, sd, `${prefix}.bias`), epsilon);
}

/**
 * Conv2d (no bias) followed by eval-mode BatchNorm2d, folded into one Conv at build time:
 * w' = w * gamma / sqrt(var + eps), b' = beta - mean * gamma / sqrt(var + eps) (float64, then rounded).
 * `convKey`/`bnKey` are the two module prefixes, e.g. 'x.c' and 'x.bn'.
 */
export function convBn(
  g: GraphBuilder,
  sd: StateDict,
  x: Value,
  convKey: string,
  bnKey: string,
  attrs: { strides?: number[]; pads?: number[]; group?: number } = {},
  epsilon = 1e-5,
): Value {
  const w = floatTensor(sd, `${convKey}.weight`);
  const gamma = floatTensor(sd, `${bnKey}.weight`).data as Float32Array;
  const beta = floatTensor(sd, `${bnKey}.bias`).data as Float32Array;
  const mean = floatTensor(sd, `${bnKey}.running_mean`).data as Float32Array;
  const variance = floatTensor(sd, `${bnKey}.running_var`).data as Float32Array;
  const cout = w.shape[0]!;
  const per = w.data.length / cout;
  const wd = w.data as Float32Array;
  const fw = new Float32Array(wd.length);
  const fb = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const s = gamma[o]! / Math.sqrt(variance[o]! + epsilon);
    for (let i = o * per; i < (o + 1) * per; i++) fw[i] = wd[i]! * s;
    fb[o] = beta[o]! - mean[o]! * s;
  }
  const wv = g.initializer(`${convKey}.weight+${bnKey}`, { dtype: 'float32', shape: [...w.shape], data: fw });
  const bv = g.initializer(`${bnKey}.bias+folded`, { dtype: 'float32', shape: [cout], data: fb });
  return g.conv(x, wv, bv, attrs);
}
