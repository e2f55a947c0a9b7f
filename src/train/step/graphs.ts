import type { StateDict } from '../../checkpoint/tensor.js';
import { GraphBuilder, type Value } from '../../graph/builder.js';
import { attentionFusion } from '../../model/fusion.js';
import { maskDecoder } from '../../model/maskDecoder.js';
import { EMBED_DIM, EMBED_GRID, denseImagePeTokens, noMaskEmbedding, sparsePromptEmbeddings } from '../../model/promptEncoder.js';
import { MOBILE_SAM_TINYVIT, tinyVitEncoder } from '../../model/tinyvit.js';
import { VNET_GRID, vnet } from '../../model/vnet.js';
import { deriveBackward } from '../autodiff/index.js';
import { samLossGraph, vnetLossGraph } from './losses.js';

/**
 * Training graphs: the train-mode forward (every BatchNorm on batch statistics, dropout off), the
 * loss, and the backward ops derived from the forward records, in ONE ONNX graph. Trainable
 * parameters are graph inputs (named by their checkpoint keys), so a weight update needs no rebuild;
 * frozen parameters stay initializers.
 */

/** Graph input / output names of the training graphs. */
export const TrainIO = {
  image: 'image',
  imageEmbedding: 'image_embedding',
  attentionMap: 'attention_map',
  pointCoords: 'point_coords',
  pointLabels: 'point_labels',
  target: 'target',
  vnetInput: 'vnet_input',
  lowResLogits: 'low_res_logits',
  vnetLogits: 'vnet_logits',
  /** The gradient of parameter `key` is the output `grad:<key>`. */
  gradPrefix: 'grad:',
  /** Scalar input the trainer feeds as 1: every gradient output is `gradient * one` (see orderGradientOutputs). */
  one: 'one',
} as const;

/** Which parameters train: a predicate over checkpoint keys, or a list of key prefixes (a full key is its own prefix). */
export type TrainableSpec = readonly string[] | ((key: string) => boolean);

export function trainablePredicate(spec: TrainableSpec): (key: string) => boolean {
  return typeof spec === 'function' ? spec : (key) => spec.some((p) => key.startsWith(p));
}

export interface TrainGraph {
  g: GraphBuilder;
  /** Trainable parameters the graph takes as inputs, in a fixed order. */
  params: string[];
  /** Trainable parameters the loss does not depend on: their gradient is zero and not computed. */
  zeroGradParams: string[];
  /** Loss outputs: scalar name -> graph output name. */
  losses: Record<string, string>;
  /** Number of forward nodes that got backward ops. */
  differentiatedOps: number;
  /** The graph takes the scalar input `TrainIO.one` (graphs with gradient outputs). */
  takesOne: boolean;
}

/**
 * Turns the trainable initializers into graph inputs, derives the backward pass for them and adds
 * the loss and gradient outputs.
 */
function finishTrainGraph(g: GraphBuilder, lossTerms: Record<string, Value>, totalName: string, trainable: (key: string) => boolean, forwardOnly?: readonly string[]): TrainGraph {
  if (forwardOnly) return { g, params: paramsAsInputs(g, forwardOnly), zeroGradParams: [], losses: lossOutputs(g, lossTerms), differentiatedOps: 0, takesOne: false };
  const candidates = [...g.initializers.keys()].filter((k) => trainable(k));
  const { grads, unreached, differentiatedOps } = deriveBackward(g, lossTerms[totalName]!, candidates);
  // Trainable tensors become inputs (unreached ones stay baked: the graph does not read them for the loss).
  const params = paramsAsInputs(g, candidates.filter((k) => grads.has(k)));
  const losses = lossOutputs(g, lossTerms);
  if (params.length > 0) orderGradientOutputs(g, params.map((key) => [`${TrainIO.gradPrefix}${key}`, grads.get(key)!]));
  return { g, params, zeroGradParams: unreached, losses, differentiatedOps, takesOne: params.length > 0 };
}

/**
 * Adds the gradient outputs so that ONNX Runtime computes each gradient as soon as the backward pass reaches it.
 * ONNX Runtime runs a graph in the order of a depth-first walk from its leaf nodes (nodes whose outputs nothing
 * reads), taking the leaf with the highest node index first and emitting all it depends on before the next leaf.
 * Left to itself, the first leaf it took was a gradient at the far end of the backward pass (and the nodes its
 * fusions create get the highest indices), so it ran the whole data-gradient chain first and most weight and bias
 * gradients at the end, keeping every output gradient they read alive until then: the stage-2 step at batch 8
 * held ~300 MiB more at its peak (DESIGN.md, issue 13, round fourteen). So each gradient output gets a final node
 * of its own, `gradient * one` with `one` a graph input (an Identity or a constant factor would be optimised away,
 * and with it the node's index), appended in the reverse order of the gradients' availability: the one the
 * backward pass produces first gets the highest index and is taken first, and so on. Multiplying by 1 is exact.
 */
function orderGradientOutputs(g: GraphBuilder, outputs: readonly (readonly [string, Value])[]): void {
  const position = new Map<string, number>();
  g.records.forEach((r, i) => {
    for (const o of r.outputs) position.set(o, i);
  });
  const one = g.input(TrainIO.one, 'float32', []);
  const latestFirst = [...outputs].sort(([, a], [, b]) => (position.get(b.name) ?? -1) - (position.get(a.name) ?? -1));
  const made = new Map<string, Value>();
  for (const [name, grad] of latestFirst) made.set(name, g.op('Mul', [grad, one], {}, { outputName: name }));
  // Output order (what callers fetch by name) stays the parameters' order.
  for (const [name] of outputs) g.outputs.push(made.get(name)!);
}

function paramsAsInputs(g: GraphBuilder, params: readonly string[]): string[] {
  for (const key of params) {
    const t = g.initializers.get(key);
    if (!t) throw new Error(`internal: ${key} is not an initializer of ${g.name}`);
    g.initializers.delete(key);
    g.inputs.push({ name: key, dtype: t.dtype, shape: [...t.shape] });
  }
  return [...params];
}

function lossOutputs(g: GraphBuilder, lossTerms: Record<string, Value>): Record<string, string> {
  const losses: Record<string, string> = {};
  for (const [name, v] of Object.entries(lossTerms)) losses[name] = g.output(v, `loss_${name}`).name;
  return losses;
}

export interface SamTrainGraphOptions {
  /** Fixed batch size (batch statistics and the backward shapes need it at build time). */
  batch: number;
  /** 'image': through the encoder from the normalised image (stage 1); 'embedding': from precomputed embeddings (stage 2). */
  input: 'image' | 'embedding';
  /** Fuse the depth-attention map (attention_fusion, batch-statistics BatchNorm). */
  attention: boolean;
  /** 'auto': no prompt; 'prompt': `points` prompt tokens per image (point_coords [B,P,2], point_labels [B,P]). */
  mode: 'auto' | 'prompt';
  points?: number;
  trainable: TrainableSpec;
  /**
   * Forward only: the same train-mode forward and loss WITHOUT the backward ops, taking these
   * parameters (a train graph's `params`) as inputs. ONNX Runtime runs every node of a session
   * whatever outputs are fetched, so a loss-only evaluation needs a graph of its own.
   */
  forwardOnly?: readonly string[];
}

/**
 * SAM (encoder) + (fusion) + prompt encoder + mask decoder in train mode with the 2-D loss.
 * Inputs: image [B,3,1024,1024] or image_embedding [B,256,64,64]; attention_map [B,64,64] when
 * `attention`; prompts in prompt mode; target [B,1,256,256] (0/1 float); the trainable parameters.
 * Outputs: loss_dice, loss_ce, loss_total, low_res_logits [B,2,256,256], grad:<key> per parameter.
 */
export function buildSamTrainGraph(sd: StateDict, opts: SamTrainGraphOptions): TrainGraph {
  const b = opts.batch;
  const g = new GraphBuilder(`sam_train_${opts.input}_${opts.mode}${opts.attention ? '_attention' : ''}_b${b}`);
  let embedding: Value;
  if (opts.input === 'image') {
    const s = MOBILE_SAM_TINYVIT.imageSize;
    const image = g.input(TrainIO.image, 'float32', [b, 3, s, s]);
    embedding = tinyVitEncoder(g, sd, image, MOBILE_SAM_TINYVIT, { bnMode: 'batchstats' });
  } else {
    embedding = g.input(TrainIO.imageEmbedding, 'float32', [b, EMBED_DIM, EMBED_GRID, EMBED_GRID]);
  }
  if (opts.attention) {
    const att = g.input(TrainIO.attentionMap, 'float32', [b, EMBED_GRID, EMBED_GRID]);
    embedding = attentionFusion(g, sd, embedding, att, { batchStats: true });
  }
  let sparse: Value | null = null;
  if (opts.mode === 'prompt') {
    const p = opts.points ?? 1;
    const coords = g.input(TrainIO.pointCoords, 'float32', [b, p, 2]);
    const labels = g.input(TrainIO.pointLabels, 'float32', [b, p]);
    sparse = sparsePromptEmbeddings(g, sd, coords, labels);
  }
  const { lowResLogits } = maskDecoder(g, sd, {
    imageEmbedding: embedding,
    imagePeTokens: denseImagePeTokens(g, sd),
    sparse,
    denseEmbedding: noMaskEmbedding(g, sd),
  });
  const target = g.input(TrainIO.target, 'float32', [b, 1, 4 * EMBED_GRID, 4 * EMBED_GRID]);
  const { dice, ce, total } = samLossGraph(g, lowResLogits, target);
  g.output(lowResLogits, TrainIO.lowResLogits);
  return finishTrainGraph(g, { dice, ce, total }, 'total', trainablePredicate(opts.trainable), opts.forwardOnly);
}

export interface VNetTrainGraphOptions {
  batch: number;
  trainable: TrainableSpec;
  /** See SamTrainGraphOptions.forwardOnly. */
  forwardOnly?: readonly string[];
}

/**
 * MONAI VNet in train mode (batch-statistics BatchNorm, dropout off) with the 3-D loss.
 * Inputs: vnet_input [B,1,64,64,64], target [B,1,64,64,64] (0/1 float), the trainable parameters.
 * Outputs: loss_bce, loss_tversky, loss_total, vnet_logits, grad:<key> per parameter.
 */
export function buildVNetTrainGraph(sd: StateDict, opts: VNetTrainGraphOptions): TrainGraph {
  const dims = [opts.batch, 1, VNET_GRID, VNET_GRID, VNET_GRID];
  const g = new GraphBuilder(`vnet_train_b${opts.batch}`);
  const x = g.input(TrainIO.vnetInput, 'float32', dims);
  const logits = vnet(g, sd, x, { bnMode: 'batchstats' });
  const target = g.input(TrainIO.target, 'float32', dims);
  const { bce, tversky, total } = vnetLossGraph(g, logits, target);
  g.output(logits, TrainIO.vnetLogits);
  return finishTrainGraph(g, { bce, tversky, total }, 'total', trainablePredicate(opts.trainable), opts.forwardOnly);
}
