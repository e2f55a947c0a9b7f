import type { StateDict } from '../checkpoint/tensor.js';
import type { GraphBuilder, Value } from '../graph/builder.js';
import { Params, linearSpecs, type ParamSpec } from './decoderParams.js';
import { EMBED_DIM, EMBED_GRID } from './promptEncoder.js';

/**
 * SAM mask decoder with SegmentAnyBone's decoder adapters: a two-way transformer (depth 2, 8 heads,
 * cross attention at half width, ReLU MLP 2048), 1 IoU token + 3 mask tokens, output upscaling to
 * 256x256, hypernetwork MLPs and an IoU head. Multimask output: mask tokens 1 and 2 (channel 1 = bone).
 * Adapter placement as in the official SegmentAnyBone transformer.py: in each block one `Adapter`
 * (with skip) after the token-to-image residual (before norm2) and again, the same weights, after the
 * image-to-token residual (before norm4); `MLP_Adapter` (no skip) scaled 0.5 beside the MLP (before norm3).
 */

const PREFIX = 'mask_decoder.';
const T = `${PREFIX}transformer.`;
const DEPTH = 2;
const HEADS = 8;
const MLP_DIM = 2048;
const CROSS_DIM = EMBED_DIM / 2;
const ADAPTER_DIM = EMBED_DIM / 4;
const MASK_TOKENS = 3;
const UP1 = EMBED_DIM / 4;
const UP2 = EMBED_DIM / 8;
/** Multimask output: mask tokens 1..2 (token 0 is the single-mask output). */
const OUTPUT_TOKENS = [1, 2];
const MLP_ADAPTER_SCALE = 0.5;
const LAYER_NORM_EPS = 1e-5;
const LAYER_NORM_2D_EPS = 1e-6;

export interface MaskDecoderOptions {
  /** Decoder adapters in both transformer blocks (SegmentAnyBone). Default true. */
  adapters?: boolean;
  /**
   * Attentions between the T (~7) tokens and the 4096 image tokens multiply weights on the token side.
   * Image to token: out_proj(softmax(QK^T) V) = softmax(QK^T) (V W_out) + b per head. Token to image
   * (unless given precomputed keys/values): q (X W_k + b_k)^T = (q W_k) X^T + q b_k and
   * softmax(.) (X W_v + b_v) = (softmax(.) X) W_v + b_v. ~55% fewer multiply-adds there; the same
   * function summed in another order (not bit-equal to the default). Default false.
   */
  tokenSideProjections?: boolean;
  /**
   * Emit only what a mask on screen needs: the bone token's logits (multimask channel 1) in the
   * upscaling's pixel order, [N, 65536] (see blockedToRowMajor), without the other mask token's
   * hypernetwork, the IoU head or the in-graph depth-to-space transpose. Default false.
   */
  boneLogitsOnly?: boolean;
}

export interface MaskDecoderInputs {
  /** [N, 256, 64, 64] (fused) image embedding; absent when `imageTokens` is given. */
  imageEmbedding?: Value;
  /** The keys entering block 0, precomputed ([N, 4096, 256], see imageTokens); replaces `imageEmbedding`. */
  imageTokens?: Value;
  /** [1, 4096, 256] positional encoding of the grid, token = row*64 + col. */
  imagePeTokens: Value;
  /** [N, P, 256] sparse prompt tokens, or null for the automatic mode (no prompt tokens). */
  sparse: Value | null;
  /** [1, 256] dense prompt embedding added to every grid token (no_mask_embed); with `imageEmbedding`. */
  denseEmbedding?: Value;
  /**
   * The first block's projections of the image tokens, computed beforehand (see emitImageProjections);
   * when given, the decoder reads them instead of computing them.
   */
  imageProjections?: ImageProjections;
}

/**
 * The three projections of the image tokens in the first transformer block: keys and values of the
 * token-to-image attention and queries of the image-to-token attention, already split into the 8 heads
 * (the layouts the attention products read, so a click transposes none of them). They depend on the
 * image embedding only (not on the prompt), so the viewer computes them once per slice and every click on
 * that slice skips ~20% of the decoder's arithmetic.
 */
export interface ImageProjections {
  /** [N, 8, 16, 4096]: per head, the keys transposed. */
  t2iKeys: Value;
  /** [N, 8, 4096, 16]. */
  t2iValues: Value;
  /** [N, 8, 4096, 16]. */
  i2tQueries: Value;
  /**
   * [N, 4096, 64]: block 0's Adapter first linear of the image tokens, without its bias. The image tokens
   * after block 0's image-to-token attention are X + A (V W_out) + b_out, so the Adapter's first linear of
   * them is X W_1 + A (V W_out W_1) + (b_out W_1 + b_1): with X W_1 cached a click multiplies only the
   * [4096, 8T] attention (T ~ 6 tokens) by a [8T, 64] matrix (~13 M multiply-adds instead of 67 M). Used with
   * tokenSideProjections; the same function summed in another order.
   */
  adapterKeys: Value;
}

export interface MaskDecoderOutputs {
  /** [N, 2, 256, 256] mask logits of tokens 1..2; channel 1 = bone. */
  lowResLogits: Value;
  /** [N, 2] IoU predictions of tokens 1..2. */
  iouPred: Value;
}

/** What the decoder emits with boneLogitsOnly. */
export interface BoneLogitsOutput {
  /** [N, 65536]: channel 1 of lowResLogits, pixels in the upscaling's order (see blockedToRowMajor). */
  boneLogitsBlocked: Value;
}

/**
 * The upscaling's pixel order (row, col, kh1, kw1, kh2, kw2 over the 64x64 grid; see upscale) to
 * row-major 256x256: out[y * 256 + x] with y = 4row + 2kh1 + kh2, x = 4col + 2kw1 + kw2. What the
 * full decoder's depth-to-space transpose does, as one gather (65536 moves) in the caller.
 */
export function blockedToRowMajor(blocked: Float32Array): Float32Array {
  const s = EMBED_GRID;
  const side = 4 * s;
  if (blocked.length !== side * side) throw new Error(`blockedToRowMajor: ${blocked.length} logits, expected ${side * side}`);
  const out = new Float32Array(side * side);
  let p = 0;
  for (let row = 0; row < s; row++) {
    for (let col = 0; col < s; col++) {
      for (let kh1 = 0; kh1 < 2; kh1++) {
        for (let kw1 = 0; kw1 < 2; kw1++) {
          const base = (4 * row + 2 * kh1) * side + 4 * col + 2 * kw1;
          out[base] = blocked[p]!;
          out[base + 1] = blocked[p + 1]!;
          out[base + side] = blocked[p + 2]!;
          out[base + side + 1] = blocked[p + 3]!;
          p += 4;
        }
      }
    }
  }
  return out;
}

function attentionSpecs(prefix: string, inner: number): ParamSpec[] {
  return ['q_proj', 'k_proj', 'v_proj']
    .flatMap((n) => linearSpecs(`${prefix}.${n}`, EMBED_DIM, inner))
    .concat(linearSpecs(`${prefix}.out_proj`, inner, EMBED_DIM));
}

function normSpecs(prefix: string, dim: number): ParamSpec[] {
  return [
    { key: `${prefix}.weight`, shape: [dim] },
    { key: `${prefix}.bias`, shape: [dim] },
  ];
}

function adapterSpecs(prefix: string): ParamSpec[] {
  return [...linearSpecs(`${prefix}.D_fc1`, EMBED_DIM, ADAPTER_DIM), ...linearSpecs(`${prefix}.D_fc2`, ADAPTER_DIM, EMBED_DIM)];
}

function mlpSpecs(prefix: string, dims: number[]): ParamSpec[] {
  return dims.slice(1).flatMap((out, i) => linearSpecs(`${prefix}.layers.${i}`, dims[i]!, out));
}

export function maskDecoderParamSpecs(opts: MaskDecoderOptions = {}): ParamSpec[] {
  const specs: ParamSpec[] = [];
  for (let i = 0; i < DEPTH; i++) {
    const l = `${T}layers.${i}`;
    specs.push(
      ...attentionSpecs(`${l}.self_attn`, EMBED_DIM),
      ...attentionSpecs(`${l}.cross_attn_token_to_image`, CROSS_DIM),
      ...attentionSpecs(`${l}.cross_attn_image_to_token`, CROSS_DIM),
      ...[1, 2, 3, 4].flatMap((k) => normSpecs(`${l}.norm${k}`, EMBED_DIM)),
      ...linearSpecs(`${l}.mlp.lin1`, EMBED_DIM, MLP_DIM),
      ...linearSpecs(`${l}.mlp.lin2`, MLP_DIM, EMBED_DIM),
    );
    if (opts.adapters ?? true) specs.push(...adapterSpecs(`${l}.MLP_Adapter`), ...adapterSpecs(`${l}.Adapter`));
  }
  specs.push(
    ...attentionSpecs(`${T}final_attn_token_to_image`, CROSS_DIM),
    ...normSpecs(`${T}norm_final_attn`, EMBED_DIM),
    { key: `${PREFIX}iou_token.weight`, shape: [1, EMBED_DIM] },
    { key: `${PREFIX}mask_tokens.weight`, shape: [MASK_TOKENS, EMBED_DIM] },
    { key: `${PREFIX}output_upscaling.0.weight`, shape: [EMBED_DIM, UP1, 2, 2] },
    { key: `${PREFIX}output_upscaling.0.bias`, shape: [UP1] },
    ...normSpecs(`${PREFIX}output_upscaling.1`, UP1),
    { key: `${PREFIX}output_upscaling.3.weight`, shape: [UP1, UP2, 2, 2] },
    { key: `${PREFIX}output_upscaling.3.bias`, shape: [UP2] },
    ...mlpSpecs(`${PREFIX}iou_prediction_head`, [EMBED_DIM, EMBED_DIM, EMBED_DIM, MASK_TOKENS]),
  );
  for (let i = 0; i < MASK_TOKENS; i++) {
    specs.push(...mlpSpecs(`${PREFIX}output_hypernetworks_mlps.${i}`, [EMBED_DIM, EMBED_DIM, EMBED_DIM, UP2]));
  }
  return specs;
}

/** Builds the decoder's ops; one instance per graph. */
class DecoderEmitter {
  private readonly p: Params;
  constructor(
    private readonly g: GraphBuilder,
    sd: StateDict,
    private readonly adapters: boolean,
    private readonly tokenSideProjections = false,
  ) {
    this.p = new Params(g, sd);
  }

  private layerNorm(x: Value, prefix: string, eps = LAYER_NORM_EPS): Value {
    return this.g.layerNorm(x, this.p.value(`${prefix}.weight`), this.p.value(`${prefix}.bias`), eps);
  }

  /**
   * LayerNorm of a residual sum on the image tokens. Normalising a 2-D view keeps ONNX Runtime from
   * fusing the Add into SkipLayerNormalization, whose CPU kernel is about 4x slower than Add + LayerNorm.
   */
  private residualLayerNorm(x: Value, prefix: string): Value {
    const g = this.g;
    const flat = g.reshape(x, [-1, EMBED_DIM]);
    return g.op('Reshape', [this.layerNorm(flat, prefix), g.op('Shape', [x])]);
  }

  /** [N, T, heads*c] -> [N, heads, T, c]. */
  private splitHeads(x: Value, inner: number): Value {
    return this.g.transpose(this.g.reshape(x, [0, -1, HEADS, inner / HEADS]), [0, 2, 1, 3]);
  }

  /**
   * SAM Attention: projections to `inner` channels, 8 heads, softmax(QK^T / sqrt(c)) V, output projection.
   * A `projected` entry replaces that input's projection, already split into heads (qh, vh [N, heads, L, c];
   * khT [N, heads, c, L]); q, k or v are then not read for it.
   */
  private attention(
    prefix: string,
    q: Value | null,
    k: Value | null,
    v: Value | null,
    inner: number,
    projected: { qh?: Value; khT?: Value; vh?: Value; fewValues?: boolean; fewQueries?: boolean } = {},
  ): Value {
    const g = this.g;
    const heads = (x: Value | null, pre: Value | undefined, name: string): Value => {
      if (pre) return pre;
      if (!x) throw new Error(`${prefix}.${name}: no input and no precomputed projection`);
      return this.splitHeads(this.p.linear(x, `${prefix}.${name}`), inner);
    };
    const qh = heads(q, projected.qh, 'q_proj');
    if (projected.fewQueries && k && v && !projected.khT && !projected.vh) return this.fewQueryAttention(prefix, qh, k, v, inner);
    const kh = projected.khT ? undefined : heads(k, undefined, 'k_proj');
    const vh = heads(v, projected.vh, 'v_proj');
    // Q @ K^T: ONNX Runtime fuses this last-two-axes Transpose into the MatMul.
    const khT = projected.khT ?? g.transpose(kh!, [0, 1, 3, 2]);
    const logits = g.div(g.matmul(qh, khT), g.scalar(Math.sqrt(inner / HEADS)));
    if (projected.fewValues) {
      const { a, vw } = this.fewValueParts(prefix, logits, vh, inner);
      return g.add(g.matmul(a, vw), this.p.value(`${prefix}.out_proj.bias`));
    }
    const out = g.matmul(g.softmax(logits, -1), vh);
    const merged = g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, -1, inner]);
    return this.p.linear(merged, `${prefix}.out_proj`);
  }

  /**
   * Few values: per head h, A_h V_h W_h with W_h the head's rows of W_out^T [c, 256]; summed over heads
   * as one MatMul of a [N, L, heads*T] by vw [N, heads*T, 256] (the output projection before its bias).
   */
  private fewValueParts(prefix: string, logits: Value, vh: Value, inner: number): { a: Value; vw: Value } {
    const g = this.g;
    const w = g.reshape(g.transpose(this.p.value(`${prefix}.out_proj.weight`), [1, 0]), [HEADS, inner / HEADS, EMBED_DIM]);
    const vw = g.reshape(g.matmul(vh, w), [0, -1, EMBED_DIM]);
    const a = g.reshape(g.transpose(g.softmax(logits, -1), [0, 2, 1, 3]), [0, 0, -1]);
    return { a, vw };
  }

  /**
   * Block 0's image-to-token attention and its Adapter over cached projections (ImageProjections.adapterKeys):
   * the image tokens X after both, with the Adapter's first linear taken apart as X W_1 (cached) + A (V W_out W_1)
   * + (b_out W_1 + b_1).
   */
  private cachedImageToToken(l: string, keys: Value, pre: ImageProjections, tokenQ: Value, tokens: Value): Value {
    const g = this.g;
    const prefix = `${l}.cross_attn_image_to_token`;
    const kh = this.splitHeads(this.p.linear(tokenQ, `${prefix}.k_proj`), CROSS_DIM);
    const vh = this.splitHeads(this.p.linear(tokens, `${prefix}.v_proj`), CROSS_DIM);
    const logits = g.div(g.matmul(pre.i2tQueries, g.transpose(kh, [0, 1, 3, 2])), g.scalar(Math.sqrt(CROSS_DIM / HEADS)));
    const { a, vw } = this.fewValueParts(prefix, logits, vh, CROSS_DIM);
    const bOut = this.p.value(`${prefix}.out_proj.bias`);
    const attended = g.add(keys, g.add(g.matmul(a, vw), bOut));
    if (!this.adapters) return attended;
    const w1 = g.transpose(this.p.value(`${l}.Adapter.D_fc1.weight`), [1, 0]);
    const bias1 = g.add(g.matmul(bOut, w1), this.p.value(`${l}.Adapter.D_fc1.bias`)); // folded at session creation
    const h = g.add(g.add(pre.adapterKeys, g.matmul(a, g.matmul(vw, w1))), bias1);
    return g.add(attended, this.p.linear(g.gelu(h), `${l}.Adapter.D_fc2`));
  }

  /**
   * Few queries (qh [N, heads, T, c]) over many keys k and values v [N, L, 256], with the key and value
   * projections moved to the query side; heads stacked so each product is one MatMul of [N, heads*T, .].
   */
  private fewQueryAttention(prefix: string, qh: Value, k: Value, v: Value, inner: number): Value {
    const g = this.g;
    const c = inner / HEADS;
    // torch Linear weight [inner, 256]: head h owns output rows h*c .. h*c+c-1.
    const wk = g.reshape(this.p.value(`${prefix}.k_proj.weight`), [HEADS, c, EMBED_DIM]);
    const bk = g.reshape(this.p.value(`${prefix}.k_proj.bias`), [HEADS, c, 1]);
    const qk = g.reshape(g.matmul(qh, wk), [0, -1, EMBED_DIM]);
    const raw = g.reshape(g.matmul(qk, g.transpose(k, [0, 2, 1])), [0, HEADS, -1, EMBED_GRID * EMBED_GRID]);
    const logits = g.div(g.add(raw, g.matmul(qh, bk)), g.scalar(Math.sqrt(c)));
    const ax = g.matmul(g.reshape(g.softmax(logits, -1), [0, -1, EMBED_GRID * EMBED_GRID]), v);
    const wv = g.transpose(g.reshape(this.p.value(`${prefix}.v_proj.weight`), [HEADS, c, EMBED_DIM]), [0, 2, 1]);
    const bv = g.reshape(this.p.value(`${prefix}.v_proj.bias`), [HEADS, 1, c]);
    const out = g.add(g.matmul(g.reshape(ax, [0, HEADS, -1, EMBED_DIM]), wv), bv);
    const merged = g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, -1, inner]);
    return this.p.linear(merged, `${prefix}.out_proj`);
  }

  /** Adapter: Linear(256->64), GELU, Linear(64->256); with or without the skip connection. */
  private adapter(x: Value, prefix: string, skip: boolean): Value {
    const h = this.p.linear(this.g.gelu(this.p.linear(x, `${prefix}.D_fc1`)), `${prefix}.D_fc2`);
    return skip ? this.g.add(x, h) : h;
  }

  /** The image-token projections of block 0 from its input keys (the image tokens plus the dense embedding). */
  imageProjections(keys: Value, keyPe: Value): ImageProjections {
    const g = this.g;
    const l = `${T}layers.0`;
    const keysPe = g.add(keys, keyPe);
    const heads = (x: Value, name: string) => this.splitHeads(this.p.linear(x, `${l}.${name}`), CROSS_DIM);
    return {
      t2iKeys: g.transpose(heads(keysPe, 'cross_attn_token_to_image.k_proj'), [0, 1, 3, 2]),
      t2iValues: heads(keys, 'cross_attn_token_to_image.v_proj'),
      i2tQueries: heads(keysPe, 'cross_attn_image_to_token.q_proj'),
      adapterKeys: g.matmul(keys, g.transpose(this.p.value(`${l}.Adapter.D_fc1.weight`), [1, 0])),
    };
  }

  /** One TwoWayAttentionBlock with SegmentAnyBone's adapters; `pre`: block 0's precomputed image projections. */
  private block(i: number, queries: Value, keys: Value, queryPe: Value, keyPe: Value, pre?: ImageProjections): [Value, Value] {
    const g = this.g;
    const l = `${T}layers.${i}`;
    // Self attention; the first block attends without the query PE and has no residual (as SAM).
    if (i === 0) {
      queries = this.attention(`${l}.self_attn`, queries, queries, queries, EMBED_DIM);
    } else {
      const q = g.add(queries, queryPe);
      queries = g.add(queries, this.attention(`${l}.self_attn`, q, q, queries, EMBED_DIM));
    }
    queries = this.layerNorm(queries, `${l}.norm1`);

    // Tokens attend to the image. keys + PE is shared with the image-to-token attention below
    // (keys do not change in between).
    // With precomputed projections keys + PE is not needed at all.
    const keysPe = pre ? null : g.add(keys, keyPe);
    let q = g.add(queries, queryPe);
    const t2i = pre ? { khT: pre.t2iKeys, vh: pre.t2iValues } : { fewQueries: this.tokenSideProjections };
    queries = g.add(queries, this.attention(`${l}.cross_attn_token_to_image`, q, keysPe, keys, CROSS_DIM, t2i));
    if (this.adapters) queries = this.adapter(queries, `${l}.Adapter`, true);
    queries = this.layerNorm(queries, `${l}.norm2`);

    // MLP, with the parallel MLP_Adapter (no skip) scaled by 0.5.
    const mlp = this.p.linear(g.relu(this.p.linear(queries, `${l}.mlp.lin1`)), `${l}.mlp.lin2`);
    let sum = g.add(queries, mlp);
    if (this.adapters) {
      sum = g.add(sum, g.mul(g.scalar(MLP_ADAPTER_SCALE), this.adapter(queries, `${l}.MLP_Adapter`, false)));
    }
    queries = this.layerNorm(sum, `${l}.norm3`);

    // The image attends to the tokens; the same Adapter module (with skip) follows.
    q = g.add(queries, queryPe);
    if (pre && this.tokenSideProjections) {
      keys = this.cachedImageToToken(l, keys, pre, q, queries);
    } else {
      const i2t = { ...(pre ? { qh: pre.i2tQueries } : {}), fewValues: this.tokenSideProjections };
      keys = g.add(keys, this.attention(`${l}.cross_attn_image_to_token`, keysPe, q, queries, CROSS_DIM, i2t));
      if (this.adapters) keys = this.adapter(keys, `${l}.Adapter`, true);
    }
    keys = this.residualLayerNorm(keys, `${l}.norm4`);
    return [queries, keys];
  }

  private mlp(x: Value, prefix: string, layers: number): Value {
    for (let i = 0; i < layers; i++) {
      x = this.p.linear(x, `${prefix}.layers.${i}`);
      if (i < layers - 1) x = this.g.relu(x);
    }
    return x;
  }

  /**
   * Output upscaling (ConvTranspose 2x2/2 -> LayerNorm2d -> GELU -> ConvTranspose 2x2/2 -> GELU) done
   * as channel-last MatMuls on the grid tokens: a 2x2 stride-2 transposed conv is a per-pixel matmul
   * whose output columns are (kh, kw, c). Result [N, 64*64*2*2*2*2, 32] with pixel order
   * (row, col, kh1, kw1, kh2, kw2), i.e. output pixel (4row + 2kh1 + kh2, 4col + 2kw1 + kw2).
   */
  private upscale(keys: Value): Value {
    const g = this.g;
    const up = `${PREFIX}output_upscaling`;
    // [in, out, kh, kw] -> [in, (kh, kw, out)]; folded at session creation.
    const w1 = g.reshape(g.transpose(this.p.value(`${up}.0.weight`), [0, 2, 3, 1]), [EMBED_DIM, 4 * UP1]);
    const w2 = g.reshape(g.transpose(this.p.value(`${up}.3.weight`), [0, 2, 3, 1]), [UP1, 4 * UP2]);
    const n1 = EMBED_GRID * EMBED_GRID * 4;
    let y = g.reshape(g.matmul(keys, w1), [0, n1, UP1]);
    y = g.add(y, this.p.value(`${up}.0.bias`));
    y = g.gelu(this.layerNorm(y, `${up}.1`, LAYER_NORM_2D_EPS));
    // The bias is added before the reshape, tiled over (kh2, kw2): ONNX Runtime would otherwise fuse
    // Add+Gelu into BiasGelu, which is several times slower than Gelu on this 2M-element tensor.
    const b2 = g.op('Tile', [this.p.value(`${up}.3.bias`), g.int64s([4])]);
    y = g.reshape(g.add(g.matmul(y, w2), b2), [0, n1 * 4, UP2]);
    return g.gelu(y);
  }

  /** Image tokens [N, 4096, 256] plus the dense prompt embedding: the keys entering block 0. */
  imageTokens(imageEmbedding: Value, denseEmbedding: Value): Value {
    const g = this.g;
    const src = g.transpose(g.reshape(imageEmbedding, [0, EMBED_DIM, EMBED_GRID * EMBED_GRID]), [0, 2, 1]);
    return g.add(src, denseEmbedding);
  }

  /** The two-way transformer and the final attention: output tokens [N, T, 256] and image tokens [N, 4096, 256]. */
  private transformer(inputs: MaskDecoderInputs): { queries: Value; keys: Value } {
    const g = this.g;
    const { imageEmbedding, imagePeTokens, sparse, denseEmbedding } = inputs;
    const imageInput = imageEmbedding ?? inputs.imageTokens;
    if (!imageInput || (imageEmbedding && (inputs.imageTokens || !denseEmbedding))) {
      throw new Error('mask decoder: give imageEmbedding with denseEmbedding, or imageTokens');
    }

    // Output tokens (IoU + masks), repeated over the batch, then the prompt tokens.
    const outTokens = g.unsqueeze(
      g.concat([this.p.value(`${PREFIX}iou_token.weight`), this.p.value(`${PREFIX}mask_tokens.weight`)], 0),
      [0],
    );
    const batch = g.slice(g.op('Shape', [imageInput]), [0], [1], [0]);
    const expandShape = g.concat([batch, g.int64s([1 + MASK_TOKENS, EMBED_DIM])], 0);
    const batchedOut = g.op('Expand', [outTokens, expandShape]);
    const tokens = sparse ? g.concat([batchedOut, sparse], 1) : batchedOut;

    let keys = inputs.imageTokens ?? this.imageTokens(imageEmbedding!, denseEmbedding!);
    let queries = tokens;
    for (let i = 0; i < DEPTH; i++) {
      [queries, keys] = this.block(i, queries, keys, tokens, imagePeTokens, i === 0 ? inputs.imageProjections : undefined);
    }

    const q = g.add(queries, tokens);
    const k = g.add(keys, imagePeTokens);
    const final = { fewQueries: this.tokenSideProjections };
    queries = g.add(queries, this.attention(`${T}final_attn_token_to_image`, q, k, keys, CROSS_DIM, final));
    queries = this.layerNorm(queries, `${T}norm_final_attn`);
    return { queries, keys };
  }

  /** Hypernetwork weights [N, 1, 32] of output token t. */
  private hypernetwork(queries: Value, t: number): Value {
    const token = this.g.slice(queries, [1 + t], [2 + t], [1]);
    return this.mlp(token, `${PREFIX}output_hypernetworks_mlps.${t}`, 3);
  }

  emit(inputs: MaskDecoderInputs): MaskDecoderOutputs {
    const g = this.g;
    const { queries, keys } = this.transformer(inputs);

    // Masks of the multimask tokens: hypernetwork weights [N, 2, 32] against the upscaled features.
    const upscaled = this.upscale(keys);
    const hyper = g.concat(
      OUTPUT_TOKENS.map((t) => this.hypernetwork(queries, t)),
      1,
    );
    const m = OUTPUT_TOKENS.length;
    const masksChannelLast = g.matmul(upscaled, g.transpose(hyper, [0, 2, 1]));
    const s = EMBED_GRID;
    const unshuffled = g.transpose(g.reshape(masksChannelLast, [0, s, s, 2, 2, 2, 2, m]), [0, 7, 1, 3, 5, 2, 4, 6]);
    const lowResLogits = g.reshape(unshuffled, [0, m, 4 * s, 4 * s]);

    const iouToken = g.squeeze(g.slice(queries, [0], [1], [1]), [1]);
    const iouAll = this.mlp(iouToken, `${PREFIX}iou_prediction_head`, 3);
    const iouPred = g.slice(iouAll, [OUTPUT_TOKENS[0]!], [OUTPUT_TOKENS[m - 1]! + 1], [1]);
    return { lowResLogits, iouPred };
  }

  /** boneLogitsOnly: the bone token's logits against the same upscaled features, left in the upscaling's pixel order. */
  emitBoneLogits(inputs: MaskDecoderInputs): BoneLogitsOutput {
    const g = this.g;
    const { queries, keys } = this.transformer(inputs);
    const hyper = this.hypernetwork(queries, OUTPUT_TOKENS[1]!);
    const logits = g.matmul(this.upscale(keys), g.transpose(hyper, [0, 2, 1]));
    return { boneLogitsBlocked: g.reshape(logits, [0, -1]) };
  }
}

/** Emit the mask decoder into `g`. */
export function maskDecoder(
  g: GraphBuilder,
  sd: StateDict,
  inputs: MaskDecoderInputs,
  opts: MaskDecoderOptions & { boneLogitsOnly: true },
): BoneLogitsOutput;
export function maskDecoder(g: GraphBuilder, sd: StateDict, inputs: MaskDecoderInputs, opts?: MaskDecoderOptions & { boneLogitsOnly?: false }): MaskDecoderOutputs;
export function maskDecoder(
  g: GraphBuilder,
  sd: StateDict,
  inputs: MaskDecoderInputs,
  opts: MaskDecoderOptions = {},
): MaskDecoderOutputs | BoneLogitsOutput {
  const e = new DecoderEmitter(g, sd, opts.adapters ?? true, opts.tokenSideProjections ?? false);
  return opts.boneLogitsOnly ? e.emitBoneLogits(inputs) : e.emit(inputs);
}

/** Emit block 0's image-token projections (ImageProjections) of an image embedding, and the image tokens they are made from, into `g`. */
export function emitImageProjections(
  g: GraphBuilder,
  sd: StateDict,
  inputs: { imageEmbedding: Value; imagePeTokens: Value; denseEmbedding: Value },
): ImageProjections & { imageTokens: Value } {
  const e = new DecoderEmitter(g, sd, true);
  const imageTokens = e.imageTokens(inputs.imageEmbedding, inputs.denseEmbedding);
  return { ...e.imageProjections(imageTokens, inputs.imagePeTokens), imageTokens };
}
