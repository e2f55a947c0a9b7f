import type { StateDict } from '../checkpoint/tensor.js';
import { GraphBuilder, type Dim, type Value } from '../graph/builder.js';
import { checkStateDict, convBn as convBnWith, layerNorm, linear, param, type ConvBnMode } from './layers.js';
import { attentionBiasIndex, windowAttention } from './tinyvitAttention.js';

/** The TinyViT variant of MobileSAM (SegmentAnyBone's `vit_t` image encoder). */
export interface TinyVitConfig {
  imageSize: number;
  inChannels: number;
  embedDims: number[];
  depths: number[];
  heads: number[];
  /** Attention window per stage (stage 0 is convolutional and ignores it). */
  windows: number[];
  mlpRatio: number;
  mbconvExpand: number;
  /** Stride of the PatchMerging after stage i; MobileSAM keeps 64x64 tokens into the last stage. */
  mergeStrides: number[];
  neckChannels: number;
}

export const MOBILE_SAM_TINYVIT: TinyVitConfig = {
  imageSize: 1024,
  inChannels: 3,
  embedDims: [64, 128, 160, 320],
  depths: [2, 2, 6, 2],
  heads: [2, 4, 5, 10],
  windows: [7, 7, 14, 7],
  mlpRatio: 4,
  mbconvExpand: 4,
  mergeStrides: [2, 2, 1],
  neckChannels: 256,
};

const P = 'image_encoder';
const BN_EPS = 1e-5;
const LN_EPS = 1e-5;
/** The neck's LayerNorm2d uses 1e-6 (not nn.LayerNorm's 1e-5). */
const NECK_LN_EPS = 1e-6;

/** Token grid side of each stage for the configured input size. */
export function stageResolutions(cfg: TinyVitConfig): number[] {
  const res = [cfg.imageSize / 4];
  for (let i = 1; i < cfg.depths.length; i++) res.push(Math.ceil(res[i - 1]! / cfg.mergeStrides[i - 1]!));
  return res;
}

const hasAdapters = (sd: StateDict, block: string): boolean =>
  sd.has(`${block}.Space_Adapter.D_fc1.weight`) || sd.has(`${block}.MLP_Adapter.D_fc1.weight`);

/**
 * Every parameter the encoder uses, with its shape. Adapters are part of a transformer block exactly
 * when the checkpoint has adapter keys for it (SegmentAnyBone: layers 1 and 2, i.e. block depths 0 and
 * 1 of `encoder_adapter_depths=[0,1,10,11]`).
 */
export function encoderParamShapes(sd: StateDict, cfg: TinyVitConfig = MOBILE_SAM_TINYVIT): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const convBnKeys = (prefix: string, wShape: number[]) => {
    m.set(`${prefix}.c.weight`, wShape);
    for (const s of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${prefix}.bn.${s}`, [wShape[0]!]);
  };
  const lin = (prefix: string, out: number, inp: number) => {
    m.set(`${prefix}.weight`, [out, inp]);
    m.set(`${prefix}.bias`, [out]);
  };
  const e = cfg.embedDims;
  convBnKeys(`${P}.patch_embed.seq.0`, [e[0]! / 2, cfg.inChannels, 3, 3]);
  convBnKeys(`${P}.patch_embed.seq.2`, [e[0]!, e[0]! / 2, 3, 3]);
  for (let i = 0; i < cfg.depths.length; i++) {
    const c = e[i]!;
    for (let b = 0; b < cfg.depths[i]!; b++) {
      const blk = `${P}.layers.${i}.blocks.${b}`;
      if (i === 0) {
        const hid = c * cfg.mbconvExpand;
        convBnKeys(`${blk}.conv1`, [hid, c, 1, 1]);
        convBnKeys(`${blk}.conv2`, [hid, 1, 3, 3]);
        convBnKeys(`${blk}.conv3`, [c, hid, 1, 1]);
        continue;
      }
      const ws = cfg.windows[i]!;
      m.set(`${blk}.attn.attention_biases`, [cfg.heads[i]!, attentionBiasIndex(ws, ws).offsets]);
      m.set(`${blk}.attn.norm.weight`, [c]);
      m.set(`${blk}.attn.norm.bias`, [c]);
      lin(`${blk}.attn.qkv`, 3 * c, c);
      lin(`${blk}.attn.proj`, c, c);
      m.set(`${blk}.mlp.norm.weight`, [c]);
      m.set(`${blk}.mlp.norm.bias`, [c]);
      lin(`${blk}.mlp.fc1`, c * cfg.mlpRatio, c);
      lin(`${blk}.mlp.fc2`, c, c * cfg.mlpRatio);
      convBnKeys(`${blk}.local_conv`, [c, 1, 3, 3]);
      if (hasAdapters(sd, blk)) {
        for (const a of ['MLP_Adapter', 'Space_Adapter']) {
          lin(`${blk}.${a}.D_fc1`, c / 4, c);
          lin(`${blk}.${a}.D_fc2`, c, c / 4);
        }
      }
    }
    if (i < cfg.depths.length - 1) {
      const out = e[i + 1]!;
      const ds = `${P}.layers.${i}.downsample`;
      convBnKeys(`${ds}.conv1`, [out, c, 1, 1]);
      convBnKeys(`${ds}.conv2`, [out, 1, 3, 3]);
      convBnKeys(`${ds}.conv3`, [out, out, 1, 1]);
    }
  }
  const last = e[e.length - 1]!;
  const n = cfg.neckChannels;
  m.set(`${P}.neck.0.weight`, [n, last, 1, 1]);
  m.set(`${P}.neck.1.weight`, [n]);
  m.set(`${P}.neck.1.bias`, [n]);
  m.set(`${P}.neck.2.weight`, [n, n, 3, 3]);
  m.set(`${P}.neck.3.weight`, [n]);
  m.set(`${P}.neck.3.bias`, [n]);
  return m;
}

/** Checkpoint keys the encoder deliberately leaves unused (ImageNet head, BN step counters). */
const ignoredKey = (k: string): boolean =>
  k.startsWith(`${P}.norm_head.`) || k.startsWith(`${P}.head.`) || k.endsWith('.num_batches_tracked');

/** BatchNorm mode per graph being built (set by tinyVitEncoder for the duration of its emission). */
const bnModes = new WeakMap<GraphBuilder, ConvBnMode>();

/** Conv2d_BN in the BatchNorm mode chosen for this graph. */
function convBn(
  g: GraphBuilder,
  sd: StateDict,
  x: Value,
  convKey: string,
  bnKey: string,
  attrs: { strides?: number[]; pads?: number[]; group?: number },
  epsilon: number,
): Value {
  return convBnWith(g, sd, x, convKey, bnKey, attrs, epsilon, bnModes.get(g) ?? 'fold');
}

export interface TinyVitOptions {
  /**
   * 'fold' (default): eval-mode BatchNorm folded into the convs. 'batchstats': train mode, every
   * Conv2d_BN normalises with the statistics of the batch and all parameters stay named initializers.
   */
  bnMode?: ConvBnMode;
}

const NCHW_TO_NHWC = [0, 2, 3, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];

/**
 * MobileSAM TinyViT with SegmentAnyBone adapters, eval mode: image [N, 3, S, S] (ImageNet-normalised)
 * -> image embedding [N, 256, S/16, S/16]. Convolutional parts run NCHW with BatchNorm folded into the
 * convs; transformer stages run channels-last [N, H, W, C] so LayerNorm and Linear act on the last axis.
 */
export function tinyVitEncoder(
  g: GraphBuilder,
  sd: StateDict,
  image: Value,
  cfg: TinyVitConfig = MOBILE_SAM_TINYVIT,
  opts: TinyVitOptions = {},
): Value {
  checkStateDict(sd, encoderParamShapes(sd, cfg), `${P}.`, 'TinyViT image encoder', ignoredKey);
  const previous = bnModes.get(g);
  bnModes.set(g, opts.bnMode ?? 'fold');
  try {
    return emitEncoder(g, sd, image, cfg);
  } finally {
    if (previous === undefined) bnModes.delete(g);
    else bnModes.set(g, previous);
  }
}

function emitEncoder(g: GraphBuilder, sd: StateDict, image: Value, cfg: TinyVitConfig): Value {
  const res = stageResolutions(cfg);
  const e = cfg.embedDims;

  // Patch embedding: two stride-2 3x3 Conv2d_BN with GELU between -> [N, e0, S/4, S/4].
  let x = convBn(g, sd, image, `${P}.patch_embed.seq.0.c`, `${P}.patch_embed.seq.0.bn`, { strides: [2, 2], pads: [1, 1, 1, 1] }, BN_EPS);
  x = convBn(g, sd, g.gelu(x), `${P}.patch_embed.seq.2.c`, `${P}.patch_embed.seq.2.bn`, { strides: [2, 2], pads: [1, 1, 1, 1] }, BN_EPS);

  // Stage 0: MBConv blocks (NCHW).
  for (let b = 0; b < cfg.depths[0]!; b++) x = mbConv(g, sd, x, `${P}.layers.0.blocks.${b}`, e[0]! * cfg.mbconvExpand);
  x = g.transpose(patchMerging(g, sd, x, `${P}.layers.0.downsample`, cfg.mergeStrides[0]!), NCHW_TO_NHWC);

  // Stages 1..: TinyViT blocks on channels-last tokens.
  for (let i = 1; i < cfg.depths.length; i++) {
    for (let b = 0; b < cfg.depths[i]!; b++) {
      x = tinyVitBlock(g, sd, x, `${P}.layers.${i}.blocks.${b}`, {
        height: res[i]!,
        width: res[i]!,
        channels: e[i]!,
        heads: cfg.heads[i]!,
        window: cfg.windows[i]!,
        mlpRatio: cfg.mlpRatio,
      });
    }
    if (i < cfg.depths.length - 1) {
      const merged = patchMerging(g, sd, g.transpose(x, NHWC_TO_NCHW), `${P}.layers.${i}.downsample`, cfg.mergeStrides[i]!);
      x = g.transpose(merged, NCHW_TO_NHWC);
    }
  }
  return neck(g, sd, x);
}

/** MBConv: 1x1 expand, GELU, 3x3 depthwise, GELU, 1x1 project, + input, GELU. */
function mbConv(g: GraphBuilder, sd: StateDict, x: Value, blk: string, hidden: number): Value {
  let h = g.gelu(convBn(g, sd, x, `${blk}.conv1.c`, `${blk}.conv1.bn`, {}, BN_EPS));
  h = g.gelu(convBn(g, sd, h, `${blk}.conv2.c`, `${blk}.conv2.bn`, { pads: [1, 1, 1, 1], group: hidden }, BN_EPS));
  h = convBn(g, sd, h, `${blk}.conv3.c`, `${blk}.conv3.bn`, {}, BN_EPS);
  return g.gelu(g.add(h, x));
}

/** PatchMerging (NCHW): 1x1, GELU, 3x3 depthwise (stride 2, or 1 into the last stage), GELU, 1x1. */
function patchMerging(g: GraphBuilder, sd: StateDict, x: Value, ds: string, stride: number): Value {
  const wShape = sd.get(`${ds}.conv2.c.weight`)!.shape;
  let h = g.gelu(convBn(g, sd, x, `${ds}.conv1.c`, `${ds}.conv1.bn`, {}, BN_EPS));
  h = g.gelu(
    convBn(g, sd, h, `${ds}.conv2.c`, `${ds}.conv2.bn`, { strides: [stride, stride], pads: [1, 1, 1, 1], group: wShape[0]! }, BN_EPS),
  );
  return convBn(g, sd, h, `${ds}.conv3.c`, `${ds}.conv3.bn`, {}, BN_EPS);
}

interface BlockSpec {
  height: number;
  width: number;
  channels: number;
  heads: number;
  window: number;
  mlpRatio: number;
}

/** SegmentAnyBone adapter: Linear d->d/4, GELU, Linear d/4->d (plus the input when `skip`). */
function adapter(g: GraphBuilder, sd: StateDict, x: Value, prefix: string, skip: boolean): Value {
  const y = linear(g, sd, g.gelu(linear(g, sd, x, `${prefix}.D_fc1`)), `${prefix}.D_fc2`);
  return skip ? g.add(x, y) : y;
}

/**
 * TinyViT block on x [N, H, W, C]:
 *   a = WindowAttention(x); a = Space_Adapter(a) (with skip)      [adapter blocks only]
 *   x = x + a; x = local_conv(x) (3x3 depthwise Conv2d_BN)
 *   x = x + Mlp(x) + 0.5 * MLP_Adapter(x) (no skip)               [adapter term in adapter blocks only]
 */
function tinyVitBlock(g: GraphBuilder, sd: StateDict, x: Value, blk: string, s: BlockSpec): Value {
  const withAdapters = hasAdapters(sd, blk);
  let a = windowAttention(g, sd, x, `${blk}.attn`, s);
  if (withAdapters) a = adapter(g, sd, a, `${blk}.Space_Adapter`, true);
  let y = g.add(x, a);

  const conv = convBn(g, sd, g.transpose(y, NHWC_TO_NCHW), `${blk}.local_conv.c`, `${blk}.local_conv.bn`, {
    pads: [1, 1, 1, 1],
    group: s.channels,
  }, BN_EPS);
  y = g.transpose(conv, NCHW_TO_NHWC);

  const h = linear(g, sd, g.gelu(linear(g, sd, layerNorm(g, sd, y, `${blk}.mlp.norm`, LN_EPS), `${blk}.mlp.fc1`)), `${blk}.mlp.fc2`);
  let out = g.add(y, h);
  if (withAdapters) out = g.add(out, g.mul(adapter(g, sd, y, `${blk}.MLP_Adapter`, false), g.scalar(0.5)));
  return out;
}

/** Neck on [N, H, W, C]: 1x1 conv (as MatMul), LayerNorm2d, 3x3 conv, LayerNorm2d -> [N, 256, H, W]. */
function neck(g: GraphBuilder, sd: StateDict, x: Value): Value {
  const w0 = param(g, sd, `${P}.neck.0.weight`);
  const n = w0.shape![0] as number;
  const c = w0.shape![1] as number;
  let y = g.matmul(x, g.transpose(g.reshape(w0, [n, c]), [1, 0]));
  y = layerNorm(g, sd, y, `${P}.neck.1`, NECK_LN_EPS);
  y = g.conv(g.transpose(y, NHWC_TO_NCHW), param(g, sd, `${P}.neck.2.weight`), null, { pads: [1, 1, 1, 1] });
  y = layerNorm(g, sd, g.transpose(y, NCHW_TO_NHWC), `${P}.neck.3`, NECK_LN_EPS);
  return g.transpose(y, NHWC_TO_NCHW);
}

export interface EncoderGraphOptions extends TinyVitOptions {
  /** Batch dimension of the graph input: a fixed size, or a symbolic name (default 'N'). */
  batch?: Dim;
  config?: TinyVitConfig;
}

/** Standalone encoder graph: input `image` [N, 3, 1024, 1024] -> output `image_embedding` [N, 256, 64, 64]. */
export function buildEncoderGraph(sd: StateDict, opts: EncoderGraphOptions = {}): GraphBuilder {
  const cfg = opts.config ?? MOBILE_SAM_TINYVIT;
  const g = new GraphBuilder('image_encoder', { docString: 'SegmentAnyBone image encoder: MobileSAM TinyViT-5M + adapters + neck' });
  const image = g.input('image', 'float32', [opts.batch ?? 'N', cfg.inChannels, cfg.imageSize, cfg.imageSize]);
  g.output(tinyVitEncoder(g, sd, image, cfg, opts.bnMode ? { bnMode: opts.bnMode } : {}), 'image_embedding');
  return g;
}
