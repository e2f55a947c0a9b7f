import type { StateDict, Tensor } from '../checkpoint/tensor.js';
import { GraphBuilder, type Value } from '../graph/builder.js';
import { Params, checkStateDict, type ParamSpec } from './decoderParams.js';
import { batchStatsNorm } from './layers.js';
import { EMBED_DIM, EMBED_GRID } from './promptEncoder.js';

/**
 * Depth-attention fusion of SegmentAnyBone:
 *   fused = (1 - gate) * emb + gate * BN(Conv3x3(ReLU(BN(Conv3x3(emb * att)))))
 * with eval-mode BatchNorm. The paper writes the gate the other way round (gate on the raw
 * embedding); the official code, which produced the trained weights, gates the conv branch, so we
 * follow the code.
 */

const PREFIX = 'attention_fusion.';
const GATE = `${PREFIX}gate`;
const BN_EPS = 1e-5;
/** (conv, batch norm) module indices inside attention_fusion.fuse_emb. */
const CONV_BN = [
  [0, 1],
  [3, 4],
] as const;

export interface FusionOptions {
  /**
   * Fold each eval-mode BatchNorm into the conv before it (default true; faster). Training wants
   * false, so every checkpoint tensor stays a named initializer.
   */
  foldBatchNorm?: boolean;
  /**
   * Train mode: each BatchNorm normalises with the batch's own statistics (no folding; running
   * statistics unused). Overrides `foldBatchNorm`.
   */
  batchStats?: boolean;
}

export function fusionParamSpecs(): ParamSpec[] {
  const specs: ParamSpec[] = [{ key: GATE, shape: [1] }];
  for (const [c, b] of CONV_BN) {
    specs.push(
      { key: `${PREFIX}fuse_emb.${c}.weight`, shape: [EMBED_DIM, EMBED_DIM, 3, 3] },
      { key: `${PREFIX}fuse_emb.${c}.bias`, shape: [EMBED_DIM] },
      ...['weight', 'bias', 'running_mean', 'running_var'].map((n) => ({
        key: `${PREFIX}fuse_emb.${b}.${n}`,
        shape: [EMBED_DIM],
      })),
    );
  }
  return specs;
}

/** BatchNorm's step counter is training state only. */
export function isUnusedFusionKey(key: string): boolean {
  return key.startsWith(PREFIX) && key.endsWith('.num_batches_tracked');
}

/** Conv weight/bias with the following eval-mode BatchNorm folded in (float64 arithmetic, rounded once). */
function foldedConv(p: Params, conv: number, bn: number): { weight: Tensor; bias: Tensor } {
  const f = (k: string) => p.tensor(`${PREFIX}fuse_emb.${k}`).data as Float32Array;
  const w = f(`${conv}.weight`);
  const b = f(`${conv}.bias`);
  const gamma = f(`${bn}.weight`);
  const beta = f(`${bn}.bias`);
  const mean = f(`${bn}.running_mean`);
  const variance = f(`${bn}.running_var`);
  const perOut = w.length / EMBED_DIM;
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(EMBED_DIM);
  for (let o = 0; o < EMBED_DIM; o++) {
    const scale = gamma[o]! / Math.sqrt(variance[o]! + BN_EPS);
    for (let i = o * perOut; i < (o + 1) * perOut; i++) weight[i] = w[i]! * scale;
    bias[o] = (b[o]! - mean[o]!) * scale + beta[o]!;
  }
  return {
    weight: { dtype: 'float32', shape: [EMBED_DIM, EMBED_DIM, 3, 3], data: weight },
    bias: { dtype: 'float32', shape: [EMBED_DIM], data: bias },
  };
}

function convBn(p: Params, x: Value, conv: number, bn: number, fold: boolean, batchStats = false): Value {
  const g = p.g;
  const pads = { pads: [1, 1, 1, 1] };
  if (batchStats) {
    const k = (s: string) => p.value(`${PREFIX}fuse_emb.${s}`);
    const y = g.conv(x, k(`${conv}.weight`), k(`${conv}.bias`), pads);
    return batchStatsNorm(g, y, k(`${bn}.weight`), k(`${bn}.bias`), BN_EPS);
  }
  if (fold) {
    const { weight, bias } = foldedConv(p, conv, bn);
    const name = `${PREFIX}fuse_emb.${conv}+${bn}`;
    return g.conv(x, g.initializer(`${name}.weight`, weight), g.initializer(`${name}.bias`, bias), pads);
  }
  const k = (s: string) => p.value(`${PREFIX}fuse_emb.${s}`);
  const y = g.conv(x, k(`${conv}.weight`), k(`${conv}.bias`), pads);
  return g.batchNorm(y, k(`${bn}.weight`), k(`${bn}.bias`), k(`${bn}.running_mean`), k(`${bn}.running_var`), BN_EPS);
}

/** Emit the fusion: embedding [N, 256, 64, 64] and attention map [N, 64, 64] -> fused embedding [N, 256, 64, 64]. */
export function attentionFusion(
  g: GraphBuilder,
  sd: StateDict,
  embedding: Value,
  attentionMap: Value,
  opts: FusionOptions = {},
): Value {
  const p = new Params(g, sd);
  const fold = opts.foldBatchNorm ?? true;
  const weighted = g.mul(embedding, g.unsqueeze(attentionMap, [1]));
  const [[c0, b0], [c1, b1]] = CONV_BN;
  const bs = opts.batchStats ?? false;
  const branch = convBn(p, g.relu(convBn(p, weighted, c0, b0, fold, bs)), c1, b1, fold, bs);
  const gate = p.value(GATE);
  const keep = g.sub(g.scalar(1), gate);
  return g.add(g.mul(keep, embedding), g.mul(gate, branch));
}

/** Standalone fusion graph: image_embedding [N,256,64,64] + attention_map [N,64,64] -> fused_embedding. */
export function buildFusionGraph(sd: StateDict, opts: FusionOptions = {}): GraphBuilder {
  checkStateDict(sd, fusionParamSpecs(), [PREFIX], isUnusedFusionKey, 'attention fusion');
  const g = new GraphBuilder('attention_fusion');
  const emb = g.input('image_embedding', 'float32', ['N', EMBED_DIM, EMBED_GRID, EMBED_GRID]);
  const att = g.input('attention_map', 'float32', ['N', EMBED_GRID, EMBED_GRID]);
  g.output(attentionFusion(g, sd, emb, att, opts), 'fused_embedding');
  return g;
}
