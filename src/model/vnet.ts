import type { StateDict, Tensor } from '../checkpoint/tensor.js';
import { GraphBuilder, type Value } from '../graph/builder.js';
import { ModelWeightsError, checkStateDict, floatTensor, param } from './layers.js';

/**
 * MONAI 1.3.0 `VNet()` with its defaults (3-D, 1 -> 1 channels, ELU(alpha 1), BatchNorm3d, 5x5x5 convs),
 * the depth-attention branch of SegmentAnyBone. Parameter keys are MONAI's state_dict keys, no prefix.
 *
 * Dropout: MONAI's VNet has Dropout3d(p=0.5) in down_tr128/down_tr256 (after the strided conv) and in every
 * up transition (on the skip input; up_tr256/up_tr128 also on the main input). The official SegmentAnyBone
 * demo never calls vnet.eval(), so those layers stay active and its attention maps are random. We cannot
 * reproduce randomness; every dropout here is the identity, i.e. we reproduce the deterministic part.
 */

/**
 * How BatchNorm3d normalises:
 * - `batchstats`: with this input's own statistics (mean over N,D,H,W, biased variance, eps 1e-5), which is
 *   what the official demo does since it leaves the VNet in train mode (minus dropout, see above). Default.
 * - `eval`: with the checkpoint running statistics (folded into the preceding conv at build time).
 */
export type VNetBatchNormMode = 'eval' | 'batchstats';
export type VNetBnMode = VNetBatchNormMode;

export interface VNetOptions {
  bnMode?: VNetBatchNormMode;
}

export const VNET_INPUT = 'vnet_input';
export const VNET_LOGITS = 'vnet_logits';
export const VNET_SIGMOID = 'vnet_sigmoid';
/** Side of the cubic VNet grid the official code resizes every volume to. */
export const VNET_GRID = 64;
export const VNET_INPUT_DIMS: readonly number[] = [1, 1, VNET_GRID, VNET_GRID, VNET_GRID];

const BN_EPS = 1e-5;
/** Per-channel statistics are taken over batch and the three spatial axes. */
const BN_AXES = [0, 2, 3, 4];

/** Stage layout of MONAI's VNet: [name, input channels, number of 5x5x5 LUConvs]. */
const DOWN_STAGES: readonly (readonly [string, number, number])[] = [
  ['down_tr32', 16, 1],
  ['down_tr64', 32, 2],
  ['down_tr128', 64, 3],
  ['down_tr256', 128, 2],
];
/** [name, input channels, output channels (after the skip concat), number of LUConvs]. */
const UP_STAGES: readonly (readonly [string, number, number, number])[] = [
  ['up_tr256', 256, 256, 2],
  ['up_tr128', 256, 128, 2],
  ['up_tr64', 128, 64, 1],
  ['up_tr32', 64, 32, 1],
];
const BN_SUFFIXES = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'];

/** Every state_dict key of MONAI's default VNet (in its order) with its shape. */
export function vnetParameterShapes(): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const bn = (p: string, c: number) => BN_SUFFIXES.forEach((s) => shapes.set(`${p}.${s}`, s === 'num_batches_tracked' ? [] : [c]));
  const convBlock = (p: string, cin: number, cout: number) => {
    shapes.set(`${p}.conv.weight`, [cout, cin, 5, 5, 5]);
    bn(`${p}.adn.N`, cout);
  };
  convBlock('in_tr.conv_block', 1, 16);
  for (const [name, cin, n] of DOWN_STAGES) {
    shapes.set(`${name}.down_conv.weight`, [2 * cin, cin, 2, 2, 2]);
    bn(`${name}.bn1`, 2 * cin);
    for (let i = 0; i < n; i++) convBlock(`${name}.ops.${i}.conv_block`, 2 * cin, 2 * cin);
  }
  for (const [name, cin, cout, n] of UP_STAGES) {
    shapes.set(`${name}.up_conv.weight`, [cin, cout / 2, 2, 2, 2]);
    shapes.set(`${name}.up_conv.bias`, [cout / 2]);
    bn(`${name}.bn1`, cout / 2);
    for (let i = 0; i < n; i++) convBlock(`${name}.ops.${i}.conv_block`, cout, cout);
  }
  convBlock('out_tr.conv_block', 32, 1);
  shapes.set('out_tr.conv2.weight', [1, 1, 1, 1, 1]);
  shapes.set('out_tr.conv2.bias', [1]);
  return shapes;
}

/** One clear error (missing / unexpected / mis-shaped keys) if `sd` is not a MONAI default VNet's. */
export function checkVNetStateDict(sd: StateDict): void {
  checkStateDict(sd, vnetParameterShapes(), '', 'MONAI VNet (atten.pth)');
}

/** Emits the VNet into a builder; weights come from a MONAI VNet state_dict. */
class VNetEmitter {
  constructor(
    private readonly g: GraphBuilder,
    private readonly sd: StateDict,
    private readonly bnMode: VNetBatchNormMode,
  ) {}

  /** Shapes were checked up front (checkVNetStateDict). */
  private tensor(key: string): Tensor {
    return floatTensor(this.sd, key);
  }

  private param(key: string): Value {
    return param(this.g, this.sd, key);
  }

  /**
   * conv (optionally transposed, optional bias) followed by BatchNorm3d `bnPrefix`. In eval mode the BN is
   * folded into the conv weight and bias (float64 arithmetic, one float32 rounding); in batchstats mode the
   * conv runs as is and the BN normalises with this input's statistics.
   */
  private convBn(
    x: Value,
    weightKey: string,
    biasKey: string | null,
    bnPrefix: string,
    wShape: readonly number[],
    conv: { transposed: boolean; kernel: number; stride: number },
  ): Value {
    const outAxis = conv.transposed ? 1 : 0;
    const cout = wShape[outAxis]!;
    // 'same' padding for the odd 5x5x5 kernels; the 2x2x2 stride-2 (transposed) convs have none.
    const pad = conv.kernel % 2 === 1 ? (conv.kernel - 1) / 2 : 0;
    const attrs = { strides: [conv.stride, conv.stride, conv.stride], pads: [pad, pad, pad, pad, pad, pad] };
    const emit = (w: Value, b: Value | null) =>
      conv.transposed ? this.g.convTranspose(x, w, b, attrs) : this.g.conv(x, w, b, attrs);

    if (this.bnMode === 'eval') {
      const { weight, bias } = foldBatchNorm(
        this.tensor(weightKey),
        biasKey ? this.tensor(biasKey) : null,
        this.bnTensors(bnPrefix),
        outAxis,
      );
      const w = this.g.initializer(`${weightKey}+${bnPrefix}.folded`, weight);
      const b = this.g.initializer(`${biasKey ?? weightKey.replace(/weight$/, 'bias')}+${bnPrefix}.folded`, bias);
      return emit(w, b);
    }
    const y = emit(this.param(weightKey), biasKey ? this.param(biasKey) : null);
    return this.batchStatsNorm(y, bnPrefix);
  }

  private bnTensors(prefix: string): BatchNormParams {
    return {
      gamma: this.tensor(`${prefix}.weight`).data as Float32Array,
      beta: this.tensor(`${prefix}.bias`).data as Float32Array,
      mean: this.tensor(`${prefix}.running_mean`).data as Float32Array,
      variance: this.tensor(`${prefix}.running_var`).data as Float32Array,
    };
  }

  /** (y - mean) * (gamma / sqrt(var + eps)) + beta with mean and biased variance of y over N,D,H,W. */
  private batchStatsNorm(y: Value, prefix: string): Value {
    const g = this.g;
    const perChannel = (key: string) => g.unsqueeze(this.param(key), BN_AXES);
    const mean = this.channelMean(y);
    const centred = g.sub(y, mean);
    const variance = this.channelMean(g.mul(centred, centred));
    const invStd = g.op('Reciprocal', [g.op('Sqrt', [g.add(variance, g.scalar(BN_EPS))])]);
    const scale = g.mul(invStd, perChannel(`${prefix}.weight`));
    return g.add(g.mul(centred, scale), perChannel(`${prefix}.bias`));
  }

  /**
   * Per-channel mean over N,D,H,W as three nested means (W, then H, then N and D). ONNX Runtime's float32
   * ReduceMean over all 64^3 voxels at once accumulates with enough rounding error to shift the output BN
   * scale by ~1e-4 relative; nested means of <= 64 values each stay near float32 precision.
   */
  private channelMean(x: Value): Value {
    const g = this.g;
    return g.reduceMean(g.reduceMean(g.reduceMean(x, [4]), [3]), [0, 2]);
  }

  private elu(x: Value): Value {
    return this.g.op('Elu', [x], { alpha: 1.0 });
  }

  /** MONAI Convolution(kernel 5, act None, norm BATCH): conv (pad 2) then BatchNorm3d. */
  private convBlock(x: Value, prefix: string, cin: number, cout: number): Value {
    return this.convBn(x, `${prefix}.conv.weight`, null, `${prefix}.adn.N`, [cout, cin, 5, 5, 5], {
      transposed: false,
      kernel: 5,
      stride: 1,
    });
  }

  /** n LUConvs (conv block then ELU), channel count unchanged. */
  private luConvs(x: Value, prefix: string, c: number, n: number): Value {
    let out = x;
    for (let i = 0; i < n; i++) out = this.elu(this.convBlock(out, `${prefix}.ops.${i}.conv_block`, c, c));
    return out;
  }

  /** InputTransition: ELU(convBlock(x) + x repeated to 16 channels); with one input channel, Add's broadcast is the repeat. */
  private inputTransition(x: Value): Value {
    return this.elu(this.g.add(this.convBlock(x, 'in_tr.conv_block', 1, 16), x));
  }

  /** DownTransition: down = ELU(BN(conv2x2x2 s2)); ELU(LUConvs(down) + down). (Dropout is the identity.) */
  private downTransition(x: Value, name: string, cin: number, nConvs: number): Value {
    const cout = 2 * cin;
    const down = this.elu(
      this.convBn(x, `${name}.down_conv.weight`, null, `${name}.bn1`, [cout, cin, 2, 2, 2], {
        transposed: false,
        kernel: 2,
        stride: 2,
      }),
    );
    return this.elu(this.g.add(this.luConvs(down, name, cout, nConvs), down));
  }

  /**
   * UpTransition: up = ELU(BN(convTranspose2x2x2 s2 (with bias))); cat = [up, skip] on channels;
   * ELU(LUConvs(cat) + cat). (Both dropouts are the identity.)
   */
  private upTransition(x: Value, skip: Value, name: string, cin: number, cout: number, nConvs: number): Value {
    const half = cout / 2;
    const up = this.elu(
      this.convBn(x, `${name}.up_conv.weight`, `${name}.up_conv.bias`, `${name}.bn1`, [cin, half, 2, 2, 2], {
        transposed: true,
        kernel: 2,
        stride: 2,
      }),
    );
    const cat = this.g.concat([up, skip], 1);
    return this.elu(this.g.add(this.luConvs(cat, name, cout, nConvs), cat));
  }

  /** OutputTransition: 1x1x1 conv (with bias) of ELU(convBlock(x)). */
  private outputTransition(x: Value): Value {
    const h = this.elu(this.convBlock(x, 'out_tr.conv_block', 32, 1));
    return this.g.conv(h, this.param('out_tr.conv2.weight'), this.param('out_tr.conv2.bias'));
  }

  forward(x: Value): Value {
    const out16 = this.inputTransition(x);
    const skips = [out16];
    let h = out16;
    for (const [name, cin, n] of DOWN_STAGES) {
      h = this.downTransition(h, name, cin, n);
      skips.push(h);
    }
    skips.pop(); // the deepest output is the up path's input, not a skip
    for (const [name, cin, cout, n] of UP_STAGES) h = this.upTransition(h, skips.pop()!, name, cin, cout, n);
    return this.outputTransition(h);
  }
}

interface BatchNormParams {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
}

/**
 * Folds eval-mode BatchNorm into the preceding conv: w' = w * s, b' = (b - mean) * s + beta with
 * s = gamma / sqrt(var + eps), per output channel (`outAxis` 0 for Conv, 1 for ConvTranspose weights).
 */
export function foldBatchNorm(
  w: Tensor,
  b: Tensor | null,
  bn: BatchNormParams,
  outAxis: 0 | 1,
  eps = BN_EPS,
): { weight: Tensor; bias: Tensor } {
  const cout = w.shape[outAxis]!;
  const inner = w.shape.slice(outAxis + 1).reduce((p, d) => p * d, 1);
  const src = w.data as Float32Array;
  const scale = new Float64Array(cout);
  const bias = new Float32Array(cout);
  for (let c = 0; c < cout; c++) {
    scale[c] = bn.gamma[c]! / Math.sqrt(bn.variance[c]! + eps);
    const b0 = b ? (b.data as Float32Array)[c]! : 0;
    bias[c] = (b0 - bn.mean[c]!) * scale[c]! + bn.beta[c]!;
  }
  const weight = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) weight[i] = src[i]! * scale[Math.floor(i / inner) % cout]!;
  return { weight: { dtype: 'float32', shape: [...w.shape], data: weight }, bias: { dtype: 'float32', shape: [cout], data: bias } };
}

/** Emits the VNet on `input` ([1,1,64,64,64] in the official pipeline); returns the logits. */
export function vnet(g: GraphBuilder, sd: StateDict, input: Value, opts: VNetOptions = {}): Value {
  checkVNetStateDict(sd);
  return new VNetEmitter(g, sd, opts.bnMode ?? 'batchstats').forward(input);
}

/**
 * Standalone VNet graph: input `vnet_input` [1,1,64,64,64] ((x-0.5)/0.5 of the 64^3 resampled volume),
 * outputs `vnet_logits` and `vnet_sigmoid` [1,1,64,64,64]. The batch is fixed at 1 because batch-statistics
 * BatchNorm would mix volumes of one batch.
 */
export function buildVNetGraph(sd: StateDict, opts: VNetOptions = {}): GraphBuilder {
  const bnMode = opts.bnMode ?? 'batchstats';
  const g = new GraphBuilder(`vnet_${bnMode}`, { docString: `MONAI VNet, BatchNorm mode ${bnMode}, dropout off` });
  const x = g.input(VNET_INPUT, 'float32', [...VNET_INPUT_DIMS]);
  const logits = vnet(g, sd, x, { bnMode });
  g.output(logits, VNET_LOGITS);
  g.output(g.sigmoid(logits), VNET_SIGMOID);
  return g;
}
