import type { StateDict, Tensor } from '../checkpoint/tensor.js';
import { toFloat32 } from '../checkpoint/tensor.js';
import type { GraphBuilder, Value } from '../graph/builder.js';

/** Weights that do not fit the network being built (missing, unexpected or mis-shaped keys). */
export class ModelWeightsError extends Error {
  override name = 'ModelWeightsError';
}

/**
 * Checks a state dict against the keys (and shapes) a module expects, under its prefix(es), and throws
 * ONE error listing a few of each kind of problem. Keys for which `ignore` is true are allowed extras.
 * Used by every model part, so a bad checkpoint reads the same whichever graph finds it.
 */
export function checkStateDict(
  sd: StateDict,
  expected: ReadonlyMap<string, readonly number[]>,
  prefix: string | readonly string[],
  what: string,
  ignore: (key: string) => boolean = () => false,
): void {
  const prefixes = typeof prefix === 'string' ? [prefix] : prefix;
  const missing: string[] = [];
  const misshaped: string[] = [];
  for (const [key, shape] of expected) {
    const t = sd.get(key);
    if (!t) missing.push(key);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      misshaped.push(`${key} [${t.shape.join(',')}] (expected [${shape.join(',')}])`);
    }
  }
  const unexpected = [...sd.keys()].filter((k) => prefixes.some((p) => k.startsWith(p)) && !expected.has(k) && !ignore(k));
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
 * How a Conv2d_BN's BatchNorm normalises: `fold` = eval mode, folded into the conv at build time;
 * `batchstats` = train mode, with the statistics of the batch being run (conv and BN parameters stay
 * named initializers, so training can take their gradients).
 */
export type ConvBnMode = 'fold' | 'batchstats';

/**
 * Train-mode BatchNorm on x [N, C, ...spatial]: (x - mean) / sqrt(var + eps) * gamma + beta with the
 * per-channel mean and biased variance over N and the spatial axes. The means are nested (one spatial
 * axis at a time, then N), which keeps float32 sums over large maps close to an exact mean.
 */
export function batchStatsNorm(g: GraphBuilder, x: Value, gamma: Value, beta: Value, epsilon: number): Value {
  const rank = x.shape?.length;
  if (rank === undefined || rank < 3) throw new Error(`batchStatsNorm: ${x.name} needs a known rank >= 3`);
  const channelMean = (v: Value) => {
    let m = v;
    for (let ax = rank - 1; ax >= 2; ax--) m = g.reduceMean(m, [ax]);
    return g.reduceMean(m, [0]);
  };
  const perChannel = (v: Value) => g.unsqueeze(v, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)]);
  const centred = g.sub(x, channelMean(x));
  const variance = channelMean(g.mul(centred, centred));
  const invStd = g.op('Reciprocal', [g.op('Sqrt', [g.add(variance, g.scalar(epsilon))])]);
  return g.add(g.mul(centred, g.mul(invStd, perChannel(gamma))), perChannel(beta));
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
  mode: ConvBnMode = 'fold',
): Value {
  if (mode === 'batchstats') {
    const y = g.conv(x, param(g, sd, `${convKey}.weight`), null, attrs);
    return batchStatsNorm(g, y, param(g, sd, `${bnKey}.weight`), param(g, sd, `${bnKey}.bias`), epsilon);
  }
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
