import type { StateDict } from '../checkpoint/tensor.js';
import { GraphBuilder, type Value } from '../graph/builder.js';
import { checkStateDict, type ParamSpec } from './decoderParams.js';
import { attentionFusion, fusionParamSpecs, isUnusedFusionKey } from './fusion.js';
import { emitImageProjections, maskDecoder, maskDecoderParamSpecs, type ImageProjections } from './maskDecoder.js';
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
  /**
   * Read the image tokens and block 0's image-token projections from the inputs image_tokens, t2i_keys,
   * t2i_values, i2t_queries and adapter_keys (computed once per slice by buildImageProjectionsGraph) instead of the
   * image embedding; such a graph outputs only low_res_logits and iou_pred (or bone_logits_blocked, see
   * boneLogitsOnly). Prompt mode without attention
   * only (the viewer's clicks over a cached fused embedding).
   */
  cachedImageProjections?: boolean;
  /** See MaskDecoderOptions.tokenSideProjections (default false: the graph `sab segment` runs). */
  tokenSideProjections?: boolean;
  /**
   * With cachedImageProjections: output only bone_logits_blocked [N, 65536] (MaskDecoderOptions.boneLogitsOnly),
   * what the viewer's click draws.
   */
  boneLogitsOnly?: boolean;
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
  imageTokens: 'image_tokens',
  t2iKeys: 't2i_keys',
  t2iValues: 't2i_values',
  i2tQueries: 'i2t_queries',
  adapterKeys: 'adapter_keys',
  boneLogitsBlocked: 'bone_logits_blocked',
} as const;

const HEADS = 8;
const TOKENS = EMBED_GRID * EMBED_GRID;
const HEAD_DIM = EMBED_DIM / 2 / HEADS;
const ADAPTER_DIM = EMBED_DIM / 4;
/** The cached projections: name and shape (see ImageProjections). */
const PROJECTION_IO: [keyof ImageProjections, string, (string | number)[]][] = [
  ['t2iKeys', DecoderIO.t2iKeys, ['N', HEADS, HEAD_DIM, TOKENS]],
  ['t2iValues', DecoderIO.t2iValues, ['N', HEADS, TOKENS, HEAD_DIM]],
  ['i2tQueries', DecoderIO.i2tQueries, ['N', HEADS, TOKENS, HEAD_DIM]],
  ['adapterKeys', DecoderIO.adapterKeys, ['N', TOKENS, ADAPTER_DIM]],
];

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

  const cached = opts.cachedImageProjections === true;
  if (cached && (opts.mode !== 'prompt' || opts.attention)) {
    throw new Error('cachedImageProjections: only for the prompt-mode decoder without attention (over a fused embedding)');
  }
  if (opts.boneLogitsOnly && !cached) throw new Error('boneLogitsOnly: only with cachedImageProjections (the viewer\'s click graph)');
  const name = `sam_decoder_${opts.mode}${opts.attention ? '_attention' : ''}${cached ? '_cached_projections' : ''}${opts.boneLogitsOnly ? '_bone' : ''}`;
  const g = new GraphBuilder(name);
  const grid = [EMBED_GRID, EMBED_GRID];
  // The click graph reads the image tokens the projections graph made instead of the embedding.
  const embedding = cached ? null : g.input(DecoderIO.imageEmbedding, 'float32', ['N', EMBED_DIM, ...grid]);
  const imageTokens = cached ? g.input(DecoderIO.imageTokens, 'float32', ['N', TOKENS, EMBED_DIM]) : null;
  const fused = embedding && opts.attention
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
  const projections = cached
    ? (Object.fromEntries(
        PROJECTION_IO.map(([key, io, shape]) => [key, g.input(io, 'float32', shape)]),
      ) as unknown as ImageProjections)
    : undefined;
  const decoderInputs = {
    ...(fused ? { imageEmbedding: fused, denseEmbedding: noMaskEmbedding(g, sd) } : {}),
    ...(imageTokens ? { imageTokens } : {}),
    imagePeTokens: peTokens,
    sparse,
    ...(projections ? { imageProjections: projections } : {}),
  };
  const decoderOpts = {
    ...(opts.adapters === undefined ? {} : { adapters: opts.adapters }),
    ...(opts.tokenSideProjections ? { tokenSideProjections: true } : {}),
  };
  if (opts.boneLogitsOnly) {
    const { boneLogitsBlocked } = maskDecoder(g, sd, decoderInputs, { ...decoderOpts, boneLogitsOnly: true });
    g.output(boneLogitsBlocked, DecoderIO.boneLogitsBlocked);
    return g;
  }
  const { lowResLogits, iouPred } = maskDecoder(g, sd, decoderInputs, decoderOpts);

  g.output(lowResLogits, DecoderIO.lowResLogits);
  g.output(iouPred, DecoderIO.iouPred);
  if (!fused) return g; // the click graph: logits and IoU only
  g.output(fused, DecoderIO.fusedEmbedding);
  if (sparse) g.output(sparse, DecoderIO.sparseEmbeddings);
  g.output(denseImagePeNchw(g, peTokens), DecoderIO.densePe);
  return g;
}

/**
 * What a click graph (cachedImageProjections) reads, from an image embedding: input image_embedding
 * [N,256,64,64]; outputs image_tokens [N,4096,256] (the keys entering block 0) and block 0's projections
 * t2i_keys [N,8,16,4096], t2i_values and i2t_queries [N,8,4096,16], adapter_keys [N,4096,64] (see ImageProjections). With the
 * decoder built with cachedImageProjections it gives the same logits as the plain prompt decoder.
 */
export function buildImageProjectionsGraph(sd: StateDict): GraphBuilder {
  const g = new GraphBuilder('sam_decoder_image_projections');
  const embedding = g.input(DecoderIO.imageEmbedding, 'float32', ['N', EMBED_DIM, EMBED_GRID, EMBED_GRID]);
  const p = emitImageProjections(g, sd, { imageEmbedding: embedding, imagePeTokens: denseImagePeTokens(g, sd), denseEmbedding: noMaskEmbedding(g, sd) });
  g.output(p.imageTokens, DecoderIO.imageTokens);
  for (const [key, io] of PROJECTION_IO) g.output(p[key], io);
  return g;
}
