import type { StateDict } from '../checkpoint/tensor.js';
import { GraphBuilder, type Value } from '../graph/builder.js';
import { checkStateDict, type ParamSpec } from './decoderParams.js';
import { attentionFusion, fusionParamSpecs, isUnusedFusionKey } from './fusion.js';
import { maskDecoder, maskDecoderParamSpecs } from './maskDecoder.js';
import {
  EMBED_DIM,
  EMBED_GRID,
  denseImagePeNchw,
  denseImagePeTokens,
  isUnusedPromptEncoderKey,
  noMaskEmbedding,
  promptEncoderParamSpecs,
  sparsePromptEmbeddings,
} from './promptEncoder.js';

/**
 * The small interactive graph: (attention fusion) + prompt encoder + mask decoder. It runs on a
 * cached image embedding, so a new prompt only re-runs this graph.
 */

/** 'auto': no prompt (0 sparse tokens, SegmentAnyBone's automatic mode); 'prompt': points and/or a box. */
export type DecoderMode = 'auto' | 'prompt';

export interface DecoderGraphOptions {
  mode: DecoderMode;
  /** Fuse the depth-attention map into the embedding first (false = the 2-D-only model). */
  attention: boolean;
  /** Decoder adapters (default true). */
  adapters?: boolean;
  /** Fold the fusion's eval-mode BatchNorms into its convs (default true). */
  foldBatchNorm?: boolean;
}

/** Graph input and output names. */
export const DecoderIO = {
  imageEmbedding: 'image_embedding',
  attentionMap: 'attention_map',
  pointCoords: 'point_coords',
  pointLabels: 'point_labels',
  lowResLogits: 'low_res_logits',
  iouPred: 'iou_pred',
  fusedEmbedding: 'fused_embedding',
  sparseEmbeddings: 'sparse_embeddings',
  densePe: 'dense_pe',
} as const;

/** Every checkpoint parameter a decoder graph with these options reads. */
export function decoderParamSpecs(opts: DecoderGraphOptions): ParamSpec[] {
  return [
    ...promptEncoderParamSpecs(),
    ...maskDecoderParamSpecs(opts.adapters === undefined ? {} : { adapters: opts.adapters }),
    ...(opts.attention ? fusionParamSpecs() : []),
  ];
}

/**
 * Inputs: image_embedding [N,256,64,64]; attention_map [N,64,64] when `attention`; in prompt mode
 * point_coords [N,P,2] (1024-frame pixels, box corners included) and point_labels [N,P] float32
 * (-1 padding, 0, 1, 2, 3; see encodePrompts).
 * Outputs: low_res_logits [N,2,256,256] (channel 1 = bone), iou_pred [N,2], and for tracing
 * fused_embedding, dense_pe [1,256,64,64] and, in prompt mode, sparse_embeddings [N,P,256]
 * (the automatic mode has no sparse tokens, so no such output).
 */
export function buildDecoderGraph(sd: StateDict, opts: DecoderGraphOptions): GraphBuilder {
  const prefixes = ['prompt_encoder.', 'mask_decoder.', ...(opts.attention ? ['attention_fusion.'] : [])];
  const ignore = (k: string) => isUnusedPromptEncoderKey(k) || isUnusedFusionKey(k);
  checkStateDict(sd, decoderParamSpecs(opts), prefixes, ignore, `${opts.mode} decoder graph`);

  const name = `sam_decoder_${opts.mode}${opts.attention ? '_attention' : ''}`;
  const g = new GraphBuilder(name);
  const grid = [EMBED_GRID, EMBED_GRID];
  const embedding = g.input(DecoderIO.imageEmbedding, 'float32', ['N', EMBED_DIM, ...grid]);
  const fused = opts.attention
    ? attentionFusion(
        g,
        sd,
        embedding,
        g.input(DecoderIO.attentionMap, 'float32', ['N', ...grid]),
        opts.foldBatchNorm === undefined ? {} : { foldBatchNorm: opts.foldBatchNorm },
      )
    : embedding;

  let sparse: Value | null = null;
  if (opts.mode === 'prompt') {
    const coords = g.input(DecoderIO.pointCoords, 'float32', ['N', 'P', 2]);
    const labels = g.input(DecoderIO.pointLabels, 'float32', ['N', 'P']);
    sparse = sparsePromptEmbeddings(g, sd, coords, labels);
  }
  const peTokens = denseImagePeTokens(g, sd);
  const { lowResLogits, iouPred } = maskDecoder(
    g,
    sd,
    { imageEmbedding: fused, imagePeTokens: peTokens, sparse, denseEmbedding: noMaskEmbedding(g, sd) },
    opts.adapters === undefined ? {} : { adapters: opts.adapters },
  );

  g.output(lowResLogits, DecoderIO.lowResLogits);
  g.output(iouPred, DecoderIO.iouPred);
  g.output(fused, DecoderIO.fusedEmbedding);
  if (sparse) g.output(sparse, DecoderIO.sparseEmbeddings);
  g.output(denseImagePeNchw(g, peTokens), DecoderIO.densePe);
  return g;
}
