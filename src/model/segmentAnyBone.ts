import type { StateDict } from '../checkpoint/tensor.js';
import type { GraphBuilder } from '../graph/builder.js';
import { INT7_LEVELS, INT8_LEVELS, quantizeMatMulWeights } from '../graph/quantize/index.js';
import type { ExecutionProvider, RunTensor, Runtime, Session } from '../graph/runtime.js';
import { buildDecoderGraph, buildImageProjectionsGraph } from './decoderGraph.js';
import { blockedToRowMajor } from './maskDecoder.js';
import { buildFusionGraph } from './fusion.js';
import { buildEncoderGraph } from './tinyvit.js';
import { buildVNetGraph, type VNetBatchNormMode } from './vnet.js';

export interface SegmentAnyBoneOptions {
  /**
   * How the VNet's BatchNorm normalises: 'batchstats' (default) reproduces the official demo, which
   * never switches the VNet to eval mode (minus its random Dropout3d); 'eval' uses the running stats.
   */
  vnetBatchNorm?: VNetBatchNormMode;
  /**
   * Image encoder arithmetic: 'float32' (default, faithful) or 'int8' (opt-in: its MatMul weights int8
   * per column, activations quantized per tensor at run time; see graph/quantize/dynamic.ts and the README's
   * agreement figures). The decoder, fusion and VNet stay float32.
   */
  precision?: EncoderPrecision;
}

export type EncoderPrecision = 'float32' | 'int8';
export const ENCODER_PRECISIONS: readonly EncoderPrecision[] = ['float32', 'int8'];

/** Sparse prompt in the 1024x1024 encoder frame, already padded the SAM way (see encodePrompts). */
export interface EncodedPrompt {
  coords: Float32Array; // [P,2]
  labels: Float32Array; // [P]
}

export interface MaskResult {
  /** [1,2,256,256]; channel 1 is bone, threshold logit > 0. */
  lowResLogits: Float32Array;
  /** [1,2] IoU head output for the two returned masks. */
  iouPred: Float32Array;
}

/**
 * What a click decodes from, per slice embedding (buildImageProjectionsGraph): the image tokens
 * [1,4096,256] and block 0's image-token projections split into heads ([1,8,16,4096] keys,
 * [1,8,4096,16] values and queries, [1,4096,64] adapter keys; see ImageProjections). 11 MB.
 */
export interface SliceProjections {
  imageTokens: Float32Array;
  t2iKeys: Float32Array;
  t2iValues: Float32Array;
  i2tQueries: Float32Array;
  adapterKeys: Float32Array;
}

export interface DecoderResult extends MaskResult {
  /** [1,256,64,64] embedding after depth-attention fusion (the raw embedding in 2D-only mode). */
  fusedEmbedding: Float32Array;
  /** [1,T,256] sparse prompt tokens (T = 0 in automatic mode). */
  sparseEmbeddings: Float32Array;
  sparseTokens: number;
  /** [1,256,64,64] dense positional encoding. */
  densePe: Float32Array;
}

/** Sessions opened from at least this much in-memory external data are followed by a garbage collection. */
const COLLECT_AFTER_EXTERNAL_BYTES = 64 * 1024 * 1024;

type DecoderKey = `${'auto' | 'prompt'}:${'att' | 'noatt'}`;

/**
 * SegmentAnyBone assembled from the official checkpoints as three kinds of ONNX graphs: the image
 * encoder (batched slices), the VNet (once per volume), and the small prompt+fusion+decoder graph that
 * prompts re-run over a cached embedding. Graphs are built and sessions opened lazily, once.
 */
export class SegmentAnyBone {
  private readonly sessions = new Map<string, Promise<Session>>();
  /** Milliseconds spent building graphs (and loading lazily loaded weights) and opening sessions, in all. */
  setupMs = 0;

  constructor(
    readonly runtime: Runtime,
    private readonly sam: StateDict,
    /**
     * The VNet weights, or a function that loads them. A loader lets the model hold no JS copy of
     * the 45.6M VNet parameters (182 MB) once its session is open; ONNX Runtime keeps its own.
     */
    private readonly vnetWeights: StateDict | (() => StateDict) | undefined,
    readonly options: SegmentAnyBoneOptions = {},
  ) {}

  get hasDepthAttention(): boolean {
    return this.vnetWeights !== undefined;
  }

  get precision(): EncoderPrecision {
    return this.options.precision ?? 'float32';
  }

  get vnetBatchNorm(): VNetBatchNormMode {
    return this.options.vnetBatchNorm ?? 'batchstats';
  }

  /** Build every graph once, so bad weights fail before any slice is processed. */
  async prepare(withAttention: boolean): Promise<void> {
    await this.encoderSession();
    await this.decoderSession('auto', withAttention);
    if (withAttention) await this.vnetSession();
  }

  /** [N,3,1024,1024] normalised encoder input -> [N,256,64,64] image embeddings. */
  async encode(images: Float32Array, n: number): Promise<Float32Array> {
    const s = await this.encoderSession();
    const out = await s.run({ image: { data: images, dims: [n, 3, 1024, 1024] } });
    return out['image_embedding']!.data as Float32Array;
  }

  /** [1,1,64,64,64] VNet input -> sigmoid probabilities (64^3, axes I,J,K with K fastest). */
  async depthProbabilities(vnetInput: Float32Array): Promise<{ logits: Float32Array; sigmoid: Float32Array }> {
    const s = await this.vnetSession();
    const out = await s.run({ vnet_input: { data: vnetInput, dims: [1, 1, 64, 64, 64] } });
    return { logits: out['vnet_logits']!.data as Float32Array, sigmoid: out['vnet_sigmoid']!.data as Float32Array };
  }

  /**
   * Prompt encoder + (optional) depth-attention fusion + mask decoder for one slice embedding.
   * `attention` null = 2D-only mode. `prompt` undefined = automatic mode (all bones).
   * Returns every output, intermediates included (for tracing and caching); see decodeMasks.
   */
  async decode(embedding: Float32Array, attention: Float32Array | null, prompt?: EncodedPrompt): Promise<DecoderResult> {
    const out = await this.runDecoder(embedding, attention, prompt);
    const sparse = out['sparse_embeddings'];
    return {
      lowResLogits: out['low_res_logits']!.data as Float32Array,
      iouPred: out['iou_pred']!.data as Float32Array,
      fusedEmbedding: out['fused_embedding']!.data as Float32Array,
      sparseEmbeddings: (sparse?.data as Float32Array | undefined) ?? new Float32Array(0),
      sparseTokens: sparse ? sparse.dims[1]! : 0,
      densePe: out['dense_pe']!.data as Float32Array,
    };
  }

  /**
   * The same decoder run, fetching only the logits and IoU: the 4 MB fused embedding and dense PE are
   * not copied out (in onnxruntime-web those copies were ~30% of a click's decoder time).
   */
  async decodeMasks(embedding: Float32Array, attention: Float32Array | null, prompt?: EncodedPrompt): Promise<MaskResult> {
    const out = await this.runDecoder(embedding, attention, prompt, ['low_res_logits', 'iou_pred']);
    return { lowResLogits: out['low_res_logits']!.data as Float32Array, iouPred: out['iou_pred']!.data as Float32Array };
  }

  /**
   * The prompt-independent part of a prompt decode over `embedding` (the fused one in attention mode):
   * compute once per slice, then decodeWithProjections runs the rest for each prompt, with the same logits.
   */
  async imageProjections(embedding: Float32Array): Promise<SliceProjections> {
    const s = await this.open('decoder:projections', () => buildImageProjectionsGraph(this.sam));
    const out = await s.run({ image_embedding: { data: embedding, dims: [1, 256, 64, 64] } });
    return {
      imageTokens: out['image_tokens']!.data as Float32Array,
      t2iKeys: out['t2i_keys']!.data as Float32Array,
      t2iValues: out['t2i_values']!.data as Float32Array,
      i2tQueries: out['i2t_queries']!.data as Float32Array,
      adapterKeys: out['adapter_keys']!.data as Float32Array,
    };
  }

  /**
   * decodeMasks(embedding, null, prompt) given the embedding's imageProjections: the same logits to float
   * rounding (the click graph also multiplies weights on the token side: tokenSideProjections), with
   * about half the decoder's multiply-adds on the image tokens.
   */
  async decodeWithProjections(projections: SliceProjections, prompt: EncodedPrompt): Promise<MaskResult> {
    const out = await (await this.cachedPromptDecoder()).run(this.clickFeeds(projections, prompt));
    return { lowResLogits: out['low_res_logits']!.data as Float32Array, iouPred: out['iou_pred']!.data as Float32Array };
  }

  /**
   * What a click draws: channel 1 (bone) of decodeWithProjections' logits, the same values bit for bit,
   * as [256*256] row-major. Its graph skips the other mask token, the IoU head and the depth-to-space
   * transpose (boneLogitsOnly); the pixels are put in order here.
   */
  async decodeBoneLogits(projections: SliceProjections, prompt: EncodedPrompt): Promise<Float32Array> {
    const out = await (await this.cachedPromptDecoder(true)).run(this.clickFeeds(projections, prompt));
    return blockedToRowMajor(out['bone_logits_blocked']!.data as Float32Array);
  }

  /** Open the session decodeBoneLogits needs, ahead of the first prompt (e.g. while a viewer is idle). */
  async preparePromptDecoding(): Promise<void> {
    await this.cachedPromptDecoder(true);
  }

  private clickFeeds(projections: SliceProjections, prompt: EncodedPrompt): Record<string, { data: Float32Array; dims: number[] }> {
    const p = prompt.labels.length;
    const heads = [1, 8, 4096, 16];
    return {
      image_tokens: { data: projections.imageTokens, dims: [1, 4096, 256] },
      point_coords: { data: prompt.coords, dims: [1, p, 2] },
      point_labels: { data: prompt.labels, dims: [1, p] },
      t2i_keys: { data: projections.t2iKeys, dims: [1, 8, 16, 4096] },
      t2i_values: { data: projections.t2iValues, dims: heads },
      i2t_queries: { data: projections.i2tQueries, dims: heads },
      adapter_keys: { data: projections.adapterKeys, dims: [1, 4096, 64] },
    };
  }

  private cachedPromptDecoder(boneOnly = false): Promise<Session> {
    return this.open(`decoder:prompt:cached${boneOnly ? ':bone' : ''}`, () =>
      buildDecoderGraph(this.sam, {
        mode: 'prompt',
        attention: false,
        cachedImageProjections: true,
        tokenSideProjections: true,
        ...(boneOnly ? { boneLogitsOnly: true } : {}),
      }),
    );
  }

  private async runDecoder(
    embedding: Float32Array,
    attention: Float32Array | null,
    prompt: EncodedPrompt | undefined,
    outputs?: string[],
  ): Promise<Record<string, RunTensor>> {
    const mode = prompt ? 'prompt' : 'auto';
    const s = await this.decoderSession(mode, attention !== null);
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = {
      image_embedding: { data: embedding, dims: [1, 256, 64, 64] },
    };
    if (attention) feeds['attention_map'] = { data: attention, dims: [1, 64, 64] };
    if (prompt) {
      const p = prompt.labels.length;
      feeds['point_coords'] = { data: prompt.coords, dims: [1, p, 2] };
      feeds['point_labels'] = { data: prompt.labels, dims: [1, p] };
    }
    return s.run(feeds, outputs);
  }

  /**
   * Depth-attention fusion alone: the fused embedding of a slice, to cache when several prompts
   * will be decoded over it (then `decode(fused, null, prompt)` runs only prompt encoder + decoder).
   */
  async fuse(embedding: Float32Array, attention: Float32Array): Promise<Float32Array> {
    const s = await this.open('fusion', () => buildFusionGraph(this.sam));
    const out = await s.run({
      image_embedding: { data: embedding, dims: [1, 256, 64, 64] },
      attention_map: { data: attention, dims: [1, 64, 64] },
    });
    return out['fused_embedding']!.data as Float32Array;
  }

  /**
   * Close the VNet session(s). The VNet runs once per volume and holds ~0.5 GB in ONNX Runtime;
   * closing it before the slice loop keeps the peak memory of a whole-volume run lower.
   */
  async releaseDepthAttention(): Promise<void> {
    for (const [key, s] of this.sessions) {
      if (!key.startsWith('vnet:')) continue;
      this.sessions.delete(key);
      await (await s).release();
    }
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }

  private encoderSession(): Promise<Session> {
    const precision = this.precision;
    return this.open(`encoder:${precision}`, () => {
      const g = buildEncoderGraph(this.sam, { batch: 'N' });
      if (precision === 'int8') quantizeMatMulWeights(g, { weightLevels: this.int8WeightLevels() });
      return g;
    });
  }

  /** 7-bit int8 weights where the CPU's u8s8 kernels would clamp 8-bit products (said once, as a notice). */
  private int8WeightLevels(): number {
    if (!this.runtime.options.u8s8Saturates) return INT8_LEVELS;
    this.runtime.options.onNotice?.(
      'int8: this CPU has no VNNI, where ONNX Runtime\'s int8 kernels clamp the sums of 8-bit weights; ' +
        'using 7-bit weights instead (see README "Faster: int8 encoder").',
    );
    return INT7_LEVELS;
  }

  private vnetSession(): Promise<Session> {
    const vnet = this.vnetWeights;
    if (!vnet) {
      return Promise.reject(
        new Error('depth attention needs atten.pth (the VNet weights); install it or run with --no-attention'),
      );
    }
    // onnxruntime-web's WebGPU kernels have no 3-D ConvTranspose ("currently only support 2-dimensional
    // conv"), so in the browser the VNet (run once per volume) stays on WASM when the rest uses WebGPU.
    const provider = this.runtime.device === 'webgpu' ? 'wasm' : undefined;
    return this.open(
      `vnet:${this.vnetBatchNorm}`,
      () => buildVNetGraph(typeof vnet === 'function' ? vnet() : vnet, { bnMode: this.vnetBatchNorm }),
      provider,
    );
  }

  private decoderSession(mode: 'auto' | 'prompt', attention: boolean): Promise<Session> {
    const key: DecoderKey = `${mode}:${attention ? 'att' : 'noatt'}`;
    return this.open(`decoder:${key}`, () => buildDecoderGraph(this.sam, { mode, attention }));
  }

  private open(key: string, build: () => GraphBuilder, provider?: ExecutionProvider): Promise<Session> {
    let s = this.sessions.get(key);
    if (!s) {
      let externalBytes = 0;
      s = Promise.resolve()
        .then(async () => {
          const t0 = performance.now();
          try {
            const g = build();
            await this.runtime.lower(g, { provider });
            const model = this.runtime.serialize(g);
            g.initializers.clear(); // drop the builder's references
            for (const e of model.external) externalBytes += e.data.byteLength;
            return await this.runtime.session(model, g.name, provider);
          } finally {
            this.setupMs += performance.now() - t0;
          }
        })
        .then((session) => {
          // Here, after the frames above have returned, nothing holds a lazily loaded checkpoint's tensors (the VNet's
          // 182 MB; ONNX Runtime has its own copy): collected now, they are not part of the peak of the first run.
          if (externalBytes >= COLLECT_AFTER_EXTERNAL_BYTES) {
            const t0 = performance.now();
            this.runtime.collectGarbage();
            this.setupMs += performance.now() - t0;
          }
          return session;
        });
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }
}
