import { GraphError, type GraphBuilder, type OpRecord, type Value } from '../builder.js';
import { producersOf } from '../walk.js';

/** ONNX Runtime's CPU-provider domain of the blocked-layout ("NCHWc") kernels; its convolution op is named Conv. */
export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/**
 * Smallest 3-D output volume (voxels per channel) lowered. Measured one conv at a time (5x5x5, 2 threads): 64^3
 * 32->32 461 -> 297 ms, 32^3 64->64 196 -> 156 ms, 16^3 128->128 100 -> 99 ms, 8^3 256->256 66 -> 92 ms.
 */
export const CONV3D_NCHWC_MIN_VOXELS = 32 ** 3;
/** Smallest 2-D output (batch x pixels per channel) lowered: 3x3 256->256 at 64^2, batch 1 68 -> 61 ms, batch 8 342 -> 302 ms (under load). */
export const CONV2D_NCHWC_MIN_PIXELS = 64 ** 2;

export interface ConvLowering {
  /** MLAS's NCHWc channel block (16 with AVX-512, 8 with AVX2), as probed on this machine. */
  block: number;
  /** Thresholds (defaults above); 1 lowers every convolution that otherwise qualifies (tests, the probe). */
  minVoxels?: number;
  minPixels?: number;
  /**
   * Lower 3-D convs with a block-multiple of output channels (default true). Each costs ~66 MB more transient
   * memory than ORT's im2col conv at the VNet's 64^3 32-channel layer (the depth-major copies of its input and
   * output); a training graph's peak has that on top of every saved activation (VNet step 1320 -> 1512 MiB; with
   * only the input-gradient convs lowered still +104 MiB, round six), so training turns it off. The narrow (few
   * output channels) and 2-D kinds cost nothing measurable and stay on. `'chunked'`: the same sums, one slab of
   * `depthChunk` output depths at a time (only that slab's input depths copied depth-major), the chunks concatenated:
   * VNet step -7 to -11% but peak still +117 to +200 MiB (heap fragmentation mostly; DESIGN round six, 13c), so off.
   */
  conv3d?: boolean | 'chunked';
  /** Output depths per chunk of the `'chunked'` 3-D kind (default 16). */
  depthChunk?: number;
}

const NC = { domain: NCHWC_DOMAIN, dtype: 'float32' as const };

function ints(v: unknown, n: number, fill: number): number[] {
  return Array.isArray(v) ? (v as number[]) : new Array<number>(n).fill(fill);
}

function fixedShape(g: GraphBuilder, name: string | undefined): number[] | undefined {
  const s = name ? g.values.get(name)?.shape : undefined;
  return s && s.every((d) => typeof d === 'number') ? (s as number[]) : undefined;
}

/** True when `name` is computed from a graph input (a trainable weight), not from initializers alone. */
function readsGraphInput(g: GraphBuilder, producer: Map<string, OpRecord>, name: string): boolean {
  const inputs = new Set(g.inputs.map((v) => v.name));
  const seen = new Set<string>();
  const stack = [name];
  while (stack.length) {
    const v = stack.pop()!;
    if (inputs.has(v)) return true;
    if (seen.has(v)) continue;
    seen.add(v);
    for (const i of producer.get(v)?.inputs ?? []) if (i) stack.push(i);
  }
  return false;
}

/**
 * How a Conv record is lowered, with its shapes, or undefined: `3d`, `3d-narrow` (fewer output channels than a block,
 * e.g. the VNet's 32 -> 1 output conv: every (output channel, kernel depth) pair becomes one output channel of a
 * single NCHWc conv, summed over depth afterwards) or `2d`.
 */
type Shape4 = [number, number, number, number];
type Shape5 = [number, number, number, number, number];
type Lowerable = { kind: '2d' | '3d' | '3d-narrow'; x: number[]; w: number[] };

function lowerable(g: GraphBuilder, r: OpRecord, opts: Required<ConvLowering>, producer: () => Map<string, OpRecord>): Lowerable | undefined {
  if (r.opType !== 'Conv' || r.domain !== '' || r.outputs.length !== 1) return undefined;
  const x = fixedShape(g, r.inputs[0]);
  const w = fixedShape(g, r.inputs[1]);
  if (!x || !w || x.length !== w.length || (x.length !== 4 && x.length !== 5)) return undefined;
  if (g.values.get(r.inputs[0]!)?.dtype !== 'float32') return undefined;
  const nsp = x.length - 2;
  if ((r.attrs['group'] ?? 1) !== 1 || r.attrs['auto_pad'] !== undefined) return undefined;
  if (ints(r.attrs['strides'], nsp, 1).some((s) => s !== 1) || ints(r.attrs['dilations'], nsp, 1).some((d) => d !== 1)) return undefined;
  const [n, ci] = x as [number, number];
  const co = w[0]!;
  const narrow = nsp === 3 && co * w[2]! <= opts.block;
  if (ci % opts.block !== 0 || (co % opts.block !== 0 && !narrow)) return undefined;
  const p = ints(r.attrs['pads'], 2 * nsp, 0);
  const out = x.slice(2).map((s, i) => s + p[i]! + p[i + nsp]! - w[i + 2]! + 1);
  if (out.some((o) => o < 1)) return undefined;
  const size = out.reduce((a, b) => a * b, 1);
  if (nsp === 3) {
    const kind = co % opts.block === 0 ? '3d' : '3d-narrow';
    // A chunk must reach at least one input depth: depth pads under the kernel depth (every usual conv).
    if (kind === '3d' && opts.conv3d === 'chunked' && Math.max(p[0]!, p[3]!) >= w[2]!) return undefined;
    return size >= opts.minVoxels && (kind === '3d-narrow' || opts.conv3d !== false) ? { kind, x, w } : undefined;
  }
  // A 2-D conv with constant weights is left to ORT's own NCHWc transformer, which reorders them once and keeps
  // chains of NCHWc ops in the blocked layout; only weights computed from graph inputs (training) come here.
  return n * size >= opts.minPixels && readsGraphInput(g, producer(), r.inputs[1]!) ? { kind: '2d', x, w } : undefined;
}

function withDefaults(lowering: ConvLowering): Required<ConvLowering> {
  return { minVoxels: CONV3D_NCHWC_MIN_VOXELS, minPixels: CONV2D_NCHWC_MIN_PIXELS, conv3d: true, depthChunk: 16, ...lowering };
}

/**
 * Rewrites the large, stride-1, ungrouped Convs of a finished graph that ORT would run as im2col + GEMM onto its
 * NCHWc direct-convolution kernels (MLAS); ORT's own NCHWc transformer takes only 2-D convs with constant weights,
 * so a training graph (weights are inputs) and every 3-D conv never got them.
 * - 2-D, weights computed from graph inputs (training's forward and input-gradient convs): ReorderInput ->
 *   NCHWc Conv -> ReorderOutput.
 * - 3-D (forward and input-gradient alike): with depth folded into the batch, Y = sum over kernel depth t of
 *   Conv2d(X[depths t .. t + Do), W[:, :, t]), the terms accumulated through the kernel's Sum input.
 * The weights are reordered in the graph to MLAS's blocked filter layout [Co/B][Ci/B][k...][B(ci)][B(co)]. Same
 * sums in another order: float32 rounding only. Returns how many convs were lowered. CPU provider only (the
 * domain exists nowhere else).
 */
export function lowerConvsToNchwc(g: GraphBuilder, lowering: ConvLowering): number {
  const opts = withDefaults(lowering);
  let producer: Map<string, OpRecord> | undefined;
  const producers = () => (producer ??= producersOf(g.records));
  let n = 0;
  for (const r of [...g.records]) {
    const shapes = lowerable(g, r, opts, producers);
    if (!shapes) continue;
    const { kind, x, w } = shapes;
    g.replaceNode(r, () =>
      kind === '2d'
        ? emitBlockedConv2d(g, r, w, opts.block)
        : kind === '3d-narrow'
          ? emitNarrowConv3d(g, r, x, w, opts.block)
          : opts.conv3d === 'chunked'
            ? emitChunkedConv3d(g, r, x, w, opts.block, opts.depthChunk)
            : emitBlockedConv3d(g, r, x, w, opts.block),
    );
    n++;
  }
  return n;
}

/**
 * True when `lowerConvsToNchwc` (default thresholds) may lower a conv with one of MLAS's blocks (4, 8 or 16): the
 * channel counts pass with smaller blocks, the narrow kind's Co * kd <= block with larger ones, so each is checked
 * (block 4 alone missed the VNet's 32 -> 1 output conv, 1 x 5 pairs, so training graphs never lowered it).
 */
export function hasLowerableConv(g: GraphBuilder, conv3d: boolean | 'chunked' = true): boolean {
  let producer: Map<string, OpRecord> | undefined;
  const producers = () => (producer ??= producersOf(g.records));
  const blocks = [4, 8, 16].map((block) => withDefaults({ block, conv3d }));
  return g.records.some((r) => blocks.some((opts) => lowerable(g, r, opts, producers) !== undefined));
}

function valueOf(g: GraphBuilder, r: OpRecord, name: string): Value {
  const v = g.values.get(name);
  if (!v) throw new GraphError(`lowerConvsToNchwc: ${r.name} reads unknown value ${name}`);
  return v;
}

/** A [Co, Ci, kh, kw] filter (Co, Ci multiples of B) in MLAS's blocked layout [Co/B][Ci/B][kh][kw][B(ci)][B(co)]. */
function blockedFilter(g: GraphBuilder, w: Value, [co, ci, kh, kw]: [number, number, number, number], B: number): Value {
  return g.reshape(g.transpose(g.reshape(w, [co / B, B, ci / B, B, kh, kw]), [0, 2, 4, 5, 3, 1]), [co, ci, kh, kw]);
}

function emitBlockedConv2d(g: GraphBuilder, r: OpRecord, wShape: number[], B: number): Value {
  const x = valueOf(g, r, r.inputs[0]!);
  const bias = r.inputs[2] ? valueOf(g, r, r.inputs[2]) : null;
  const [co, ci, kh, kw] = wShape as [number, number, number, number];
  const wb = blockedFilter(g, valueOf(g, r, r.inputs[1]!), [co, ci, kh, kw], B);
  const attrs = { kernel_shape: [kh, kw], pads: ints(r.attrs['pads'], 4, 0), strides: [1, 1], dilations: [1, 1], group: 1 };
  const xb = g.op('ReorderInput', [x], {}, NC);
  const y = g.op('Conv', bias ? [xb, wb, bias] : [xb, wb], attrs, NC);
  return g.op('ReorderOutput', [y], { channels: co }, NC);
}

/**
 * An int64 [1] zero that ONNX Runtime can only compute after `v` (its first value, whatever it is: NaN and
 * infinities included, `isnan & !isnan` is false). Orders a later node after v's producer at the cost of 6 tiny ops.
 */
function zeroAfter(g: GraphBuilder, v: Value): Value {
  const first = g.reshape(g.op('Slice', [g.reshape(v, [-1]), g.int64s([0]), g.int64s([1]), g.int64s([0])]), [1]);
  const nan = g.op('IsNaN', [first]);
  return g.op('Cast', [g.op('And', [nan, g.op('Not', [nan])])], { to: 7 }, { dtype: 'int64' });
}

/** A stride-1 3-D conv's depth pads, its H/W pads as a 2-D conv's, the padded depth and the output extent. */
function geometry3d(r: OpRecord, xShape: number[], wShape: number[]) {
  const [pd0, ph0, pw0, pd1, ph1, pw1] = ints(r.attrs['pads'], 6, 0) as [number, number, number, number, number, number];
  const dp = xShape[2]! + pd0 + pd1;
  return {
    pd0,
    pd1,
    hwPads: [ph0, pw0, ph1, pw1],
    dp,
    dOut: dp - wShape[2]! + 1,
    hOut: xShape[3]! + ph0 + ph1 - wShape[3]! + 1,
    wOut: xShape[4]! + pw0 + pw1 - wShape[4]! + 1,
  };
}

/** [N, Ci, D, H, W] -> blocked [N * Dp, Ci, H, W]: depth next to the batch, zero-padded in depth by pd0 / pd1. */
function depthAsBatch(g: GraphBuilder, x: Value, xShape: number[], pd0: number, pd1: number): Value {
  const [n, ci, d, h, wd] = xShape as [number, number, number, number, number];
  let xt = g.transpose(x, [0, 2, 1, 3, 4]);
  if (pd0 || pd1) xt = g.op('Pad', [xt, g.int64s([0, pd0, 0, 0, 0, 0, pd1, 0, 0, 0])]);
  return g.op('ReorderInput', [g.reshape(xt, [n * (d + pd0 + pd1), ci, h, wd])], {}, NC);
}

/** Blocked per kernel depth: [kd][Co/B][Ci/B][kh][kw][B][B], one [Co, Ci, kh, kw] filter per depth t. */
function blockedFilters3d(g: GraphBuilder, w: Value, [co, ci, kd, kh, kw]: number[], B: number): Value {
  return g.reshape(g.transpose(g.reshape(w, [co / B, B, ci / B, B, kd, kh, kw]), [4, 0, 2, 5, 6, 3, 1]), [kd, co, ci, kh, kw]);
}

/**
 * Y[d] = sum over kernel depth t of Conv2d(xb[depths d + t], W[:, :, t]) for the `dOut` output depths of a blocked,
 * depth-major, depth-padded image xb ([N * dp, Ci, H, W]); the result is [N, Co, dOut, H', W'].
 */
function depthSummedConvs(
  g: GraphBuilder,
  xb: Value,
  wb: Value,
  bias: Value | null,
  [n, ci, h, wd]: Shape4,
  [co, , kd, kh, kw]: Shape5,
  dp: number,
  dOut: number,
  { hwPads, hOut, wOut }: { hwPads: number[]; hOut: number; wOut: number },
  B: number,
): Value {
  // A blocked image keeps its batch items whole and contiguous (Ci is a multiple of B), so slicing depths is safe.
  const xb5 = n > 1 ? g.reshape(xb, [n, dp, ci, h, wd]) : xb;
  const attrs = { kernel_shape: [kh, kw], pads: hwPads, strides: [1, 1], dilations: [1, 1], group: 1 };
  let y: Value | null = null;
  for (let t = 0; t < kd; t++) {
    const wt = g.reshape(g.slice(wb, [t], [t + 1], [0]), [co, ci, kh, kw]);
    // ORT would run every slab's Slice before the first conv (all kd slabs alive at once: +130 MB for the VNet's
    // 64^3 layer); a zero computed from the previous term's output makes slab t wait for conv t-1.
    const at = y ? g.add(g.int64s([t]), zeroAfter(g, y)) : g.int64s([t]);
    const xs = n > 1 ? g.reshape(g.op('Slice', [xb5, at, g.add(at, g.int64s([dOut])), g.int64s([1])]), [n * dOut, ci, h, wd]) : g.op('Slice', [xb, at, g.add(at, g.int64s([dOut])), g.int64s([0])]);
    const ins: (Value | null)[] = [xs, wt, t === 0 ? bias : null, y];
    while (ins.at(-1) === null) ins.pop();
    y = g.op('Conv', ins, attrs, NC);
  }
  // y's memory is [N * dOut][Co/B][H'][W'][B]; moving depth inside the channel blocks ([N][Co/B][dOut][H'][W'][B])
  // makes it a blocked [N, Co, dOut * H', W'] image whose ReorderOutput is already [N, Co, dOut, H', W']. A Transpose
  // of the plain output instead is what ORT's transpose optimizer pushes on through the Concat, BatchNorm and ELU
  // after it (the activation then saved depth-major, a transposed 64^3 copy made for each reader: +100-200 MiB in
  // a VNet step); here it sits before an NCHWc op it cannot cross.
  const inner = g.transpose(g.reshape(y!, [n, dOut, co / B, hOut * wOut * B]), [0, 2, 1, 3]);
  const yo = g.op('ReorderOutput', [g.reshape(inner, [n, co, dOut * hOut, wOut])], { channels: co }, NC);
  return g.reshape(yo, [n, co, dOut, hOut, wOut]);
}

function emitBlockedConv3d(g: GraphBuilder, r: OpRecord, xShape: number[], wShape: number[], B: number): Value {
  const x = valueOf(g, r, r.inputs[0]!);
  const bias = r.inputs[2] ? valueOf(g, r, r.inputs[2]) : null;
  const geo = geometry3d(r, xShape, wShape);
  const xb = depthAsBatch(g, x, xShape, geo.pd0, geo.pd1);
  const wb = blockedFilters3d(g, valueOf(g, r, r.inputs[1]!), wShape, B);
  const [n, ci, , h, wd] = xShape as Shape5;
  return depthSummedConvs(g, xb, wb, bias, [n, ci, h, wd], wShape as Shape5, geo.dp, geo.dOut, geo, B);
}

/**
 * The 3-D kind one chunk of output depths [d0, d0 + P) at a time: only input depths [d0 - pd0, d0 + P + kd - 1 - pd0)
 * (zero-padded where they fall outside) are copied depth-major and blocked, so the transients are ~P / D of the
 * whole-tensor copies; the chunk outputs are concatenated along depth. Chunk c + 1's input Slice waits for chunk c's
 * output (ORT would otherwise slice and reorder every chunk first, all alive at once).
 */
function emitChunkedConv3d(g: GraphBuilder, r: OpRecord, xShape: number[], wShape: number[], B: number, P: number): Value {
  const x = valueOf(g, r, r.inputs[0]!);
  const bias = r.inputs[2] ? valueOf(g, r, r.inputs[2]) : null;
  const geo = geometry3d(r, xShape, wShape);
  const [n, ci, d, h, wd] = xShape as Shape5;
  const kd = wShape[2]!;
  const wb = blockedFilters3d(g, valueOf(g, r, r.inputs[1]!), wShape, B);
  const chunks: Value[] = [];
  for (let d0 = 0; d0 < geo.dOut; d0 += P) {
    const dc = Math.min(P, geo.dOut - d0);
    // Input depths of this chunk in unpadded coordinates, clipped to the volume; the rest is the chunk's zero padding.
    const lo = d0 - geo.pd0;
    const hi = d0 + dc + kd - 1 - geo.pd0;
    const [a, b] = [Math.max(lo, 0), Math.min(hi, d)];
    const prev = chunks.at(-1);
    const start = prev ? g.add(g.int64s([a]), zeroAfter(g, prev)) : g.int64s([a]);
    const slab = g.op('Slice', [x, start, g.add(start, g.int64s([b - a])), g.int64s([2])]);
    const xb = depthAsBatch(g, slab, [n, ci, b - a, h, wd], a - lo, hi - b);
    chunks.push(depthSummedConvs(g, xb, wb, bias, [n, ci, h, wd], wShape as Shape5, hi - lo, dc, geo, B));
  }
  return chunks.length === 1 ? chunks[0]! : g.concat(chunks, 2);
}

/**
 * A 3-D conv with Co * kd <= B output channels (pairs): one NCHWc 2-D conv over every padded depth computes, as
 * output channel t * Co + o, the depth-t slice of filter o (zero filters pad the block); then
 * Y[d] = sum_t Z[d + t, t * Co .. (t + 1) * Co). MLAS's im2col Conv with one output channel is a matrix-vector
 * product over a 125x-expanded input (the VNet's 64^3 32 -> 1 output conv took 14% of the VNet's kernel time).
 */
function emitNarrowConv3d(g: GraphBuilder, r: OpRecord, xShape: number[], wShape: number[], B: number): Value {
  const x = valueOf(g, r, r.inputs[0]!);
  const w = valueOf(g, r, r.inputs[1]!);
  const bias = r.inputs[2] ? valueOf(g, r, r.inputs[2]) : null;
  const n = xShape[0]!;
  const [co, ci, kd, kh, kw] = wShape as [number, number, number, number, number];
  const { pd0, pd1, hwPads, dp, dOut, hOut, wOut } = geometry3d(r, xShape, wShape);
  const pairs = co * kd;

  const xb = depthAsBatch(g, x, xShape, pd0, pd1);
  // [Co, Ci, kd, kh, kw] -> [kd * Co (+ zero filters up to B), Ci, kh, kw], then MLAS's blocked filter layout.
  const stacked = g.reshape(g.transpose(w, [2, 0, 1, 3, 4]), [pairs, ci, kh, kw]);
  const padded = pairs < B ? g.op('Pad', [stacked, g.int64s([0, 0, 0, 0, B - pairs, 0, 0, 0])]) : stacked;
  const wb = blockedFilter(g, padded, [B, ci, kh, kw], B);
  const attrs = { kernel_shape: [kh, kw], pads: hwPads, strides: [1, 1], dilations: [1, 1], group: 1 };
  const z = g.op('ReorderOutput', [g.op('Conv', [xb, wb], attrs, NC)], { channels: pairs }, NC);
  const z5 = g.reshape(z, [n, dp, pairs, hOut, wOut]);
  const terms = Array.from({ length: kd }, (_, t) => g.slice(z5, [t, t * co], [t + dOut, (t + 1) * co], [1, 2]));
  let y = terms.length === 1 ? terms[0]! : g.op('Sum', terms);
  y = g.transpose(y, [0, 2, 1, 3, 4]);
  return bias ? g.add(y, g.reshape(bias, [co, 1, 1, 1])) : y;
}
