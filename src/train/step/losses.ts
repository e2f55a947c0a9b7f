import type { GraphBuilder, Value } from '../../graph/builder.js';

/**
 * The paper's training losses, exactly as the golden manifest's `training` section defines them,
 * once as graph ops (so their gradients come from the same backward derivation as the model's) and
 * once in plain TypeScript with float64 sums (for tests and logs).
 *
 * 2-D (SAM): MONAI 1.3.0 DiceLoss(sigmoid=True, squared_pred=True, to_onehot_y=True) + torch
 * CrossEntropyLoss on the decoder's two mask channels.
 *   Dice: p = sigmoid(logit) per channel; g = one-hot target (ch0 = [t = 0], ch1 = [t = 1]);
 *         per (b, c): 1 - (2 sum(p g) + 1e-5) / (sum(g^2) + sum(p^2) + 1e-5); mean over b and c.
 *   CE:   mean over pixels of -log softmax(logits over the 2 channels)[t].
 * 3-D (VNet): BCE-with-logits (mean) + Tversky with alpha = 0.7 on false negatives, beta = 0.3 on false
 *   positives: 1 - TP / (TP + 0.7 FN + 0.3 FP) over all voxels, no smoothing.
 */

export const DICE_SMOOTH = 1e-5;
export const TVERSKY_ALPHA_FN = 0.7;
export const TVERSKY_BETA_FP = 0.3;

export interface SamLossValues {
  dice: Value;
  ce: Value;
  total: Value;
}

export interface VNetLossValues {
  bce: Value;
  tversky: Value;
  total: Value;
}

/** Sum over the trailing axes of x (from `from` on), one axis at a time: short float32 sums stay accurate. */
function nestedSum(g: GraphBuilder, x: Value, from: number): Value {
  const rank = x.shape!.length;
  let s = x;
  for (let ax = rank - 1; ax >= from; ax--) s = g.reduceSum(s, [ax], false);
  return s;
}

function rankOf(v: Value, what: string): number {
  if (!v.shape) throw new Error(`${what}: ${v.name} needs a known shape`);
  return v.shape.length;
}

/**
 * SAM loss on logits [B, 2, H, W] and a 0/1 float target [B, 1, H, W]; every output is a scalar.
 */
export function samLossGraph(g: GraphBuilder, logits: Value, target: Value): SamLossValues {
  if (rankOf(logits, 'samLossGraph') !== 4 || rankOf(target, 'samLossGraph') !== 4) {
    throw new Error('samLossGraph: logits [B,2,H,W] and target [B,1,H,W] expected');
  }
  const onehot = g.concat([g.sub(g.scalar(1), target), target], 1);
  const p = g.sigmoid(logits);
  const inter = nestedSum(g, g.mul(p, onehot), 2); // [B, 2]
  const groundO = nestedSum(g, g.mul(onehot, onehot), 2);
  const predO = nestedSum(g, g.mul(p, p), 2);
  const smooth = g.scalar(DICE_SMOOTH);
  const ratio = g.div(g.add(g.mul(inter, g.scalar(2)), smooth), g.add(g.add(groundO, predO), smooth));
  const dice = g.reduceMean(g.sub(g.scalar(1), ratio), [0, 1], false);

  const logp = g.op('LogSoftmax', [logits], { axis: 1 });
  const picked = g.reduceSum(g.mul(onehot, logp), [1], false); // [B, H, W]
  const [b, , h, w] = logits.shape as number[];
  const ce = g.mul(nestedSum(g, picked, 0), g.scalar(-1 / (b! * h! * w!)));
  return { dice, ce, total: g.add(dice, ce) };
}

/** VNet loss on logits and a 0/1 float target of the same shape [B, 1, D, H, W]. */
export function vnetLossGraph(g: GraphBuilder, logits: Value, target: Value): VNetLossValues {
  rankOf(logits, 'vnetLossGraph');
  const n = (logits.shape as number[]).reduce((q, d) => q * d, 1);
  // BCE with logits, stable form: max(x, 0) - x g + log(1 + exp(-|x|)).
  const softplusTerm = g.op('Log', [g.add(g.scalar(1), g.op('Exp', [g.op('Neg', [g.op('Abs', [logits])])]))]);
  const perVoxel = g.add(g.sub(g.relu(logits), g.mul(logits, target)), softplusTerm);
  const bce = g.mul(nestedSum(g, perVoxel, 0), g.scalar(1 / n));

  const p = g.sigmoid(logits);
  const one = g.scalar(1);
  const tp = nestedSum(g, g.mul(p, target), 0);
  const fn = nestedSum(g, g.mul(g.sub(one, p), target), 0);
  const fp = nestedSum(g, g.mul(p, g.sub(one, target)), 0);
  const denom = g.add(g.add(tp, g.mul(fn, g.scalar(TVERSKY_ALPHA_FN))), g.mul(fp, g.scalar(TVERSKY_BETA_FP)));
  const tversky = g.sub(one, g.div(tp, denom));
  return { bce, tversky, total: g.add(bce, tversky) };
}

export interface SamLossTerms {
  dice: number;
  ce: number;
  total: number;
  /** Per channel, summed over the batch: sum(p g), sum(g^2), sum(p^2) (the manifest's dice_* scalars for batch 1). */
  intersection: number[];
  groundO: number[];
  predO: number[];
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Plain-TS SAM loss (float64 sums): logits [B, 2, H, W], target [B, H, W] with 0/1 values. */
export function samLoss(logits: Float32Array, target: ArrayLike<number>, batch: number, h: number, w: number): SamLossTerms {
  const hw = h * w;
  if (logits.length !== batch * 2 * hw || target.length !== batch * hw) throw new Error('samLoss: logits [B,2,H,W] and target [B,H,W] expected');
  const intersection = [0, 0];
  const groundO = [0, 0];
  const predO = [0, 0];
  let dice = 0;
  let ce = 0;
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < 2; c++) {
      let inter = 0;
      let go = 0;
      let po = 0;
      for (let i = 0; i < hw; i++) {
        const p = sigmoid(logits[(b * 2 + c) * hw + i]!);
        const t = target[b * hw + i]!;
        const gc = c === 1 ? t : 1 - t;
        inter += p * gc;
        go += gc * gc;
        po += p * p;
      }
      intersection[c]! += inter;
      groundO[c]! += go;
      predO[c]! += po;
      dice += 1 - (2 * inter + DICE_SMOOTH) / (go + po + DICE_SMOOTH);
    }
    for (let i = 0; i < hw; i++) {
      const x0 = logits[b * 2 * hw + i]!;
      const x1 = logits[(b * 2 + 1) * hw + i]!;
      const m = Math.max(x0, x1);
      const lse = m + Math.log(Math.exp(x0 - m) + Math.exp(x1 - m));
      ce += lse - (target[b * hw + i]! >= 0.5 ? x1 : x0);
    }
  }
  dice /= batch * 2;
  ce /= batch * hw;
  return { dice, ce, total: dice + ce, intersection, groundO, predO };
}

export interface VNetLossTerms {
  bce: number;
  tversky: number;
  total: number;
  tp: number;
  fn: number;
  fp: number;
}

/** Plain-TS VNet loss (float64 sums) over all voxels of logits and a same-size 0/1 target. */
export function vnetLoss(logits: Float32Array, target: ArrayLike<number>): VNetLossTerms {
  if (logits.length !== target.length) throw new Error('vnetLoss: logits and target differ in size');
  let bce = 0;
  let tp = 0;
  let fn = 0;
  let fp = 0;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    const t = target[i]!;
    bce += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
    const p = sigmoid(x);
    tp += p * t;
    fn += (1 - p) * t;
    fp += p * (1 - t);
  }
  bce /= logits.length;
  const tversky = 1 - tp / (tp + TVERSKY_ALPHA_FN * fn + TVERSKY_BETA_FP * fp);
  return { bce, tversky, total: bce + tversky, tp, fn, fp };
}
