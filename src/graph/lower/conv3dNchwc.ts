import { GraphError, type GraphBuilder, type OpRecord, type Value } from '../builder.js';

/** ONNX Runtime's CPU-provider domain of the blocked-layout ("NCHWc") kernels; its convolution op is named Conv. */
export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/**
 * Smallest output volume (voxels per channel) lowered. Measured one conv at a time (5x5x5, 2 threads): 64^3
 * 32->32 461 -> 297 ms, 32^3 64->64 196 -> 156 ms, 16^3 128->128 100 -> 99 ms, 8^3 256->256 66 -> 92 ms.
 */
export const CONV3D_NCHWC_MIN_VOXELS = 32 ** 3;

export interface Conv3dLowering {
  /** MLAS's NCHWc channel block (16 with AVX-512, 8 with AVX2), as probed on this machine. */
  block: number;
  minVoxels?: number;
}

const NC = { domain: NCHWC_DOMAIN, dtype: 'float32' as const };

function ints(v: unknown, n: number, fill: number): number[] {
  return Array.isArray(v) ? (v as number[]) : new Array<number>(n).fill(fill);
}

function fixedShape(g: GraphBuilder, name: string | undefined): number[] | undefined {
  const s = name ? g.values.get(name)?.shape : undefined;
  return s && s.every((d) => typeof d === 'number') ? (s as number[]) : undefined;
}

/** The shapes of a Conv record this pass can lower, or undefined. */
function lowerable(g: GraphBuilder, r: OpRecord, block: number, minVoxels: number): { x: number[]; w: number[] } | undefined {
  if (r.opType !== 'Conv' || r.domain !== '' || r.outputs.length !== 1) return undefined;
  const x = fixedShape(g, r.inputs[0]);
  const w = fixedShape(g, r.inputs[1]);
  if (!x || !w || x.length !== 5 || w.length !== 5 || g.values.get(r.inputs[0]!)?.dtype !== 'float32') return undefined;
  if ((r.attrs['group'] ?? 1) !== 1 || r.attrs['auto_pad'] !== undefined) return undefined;
  if (ints(r.attrs['strides'], 3, 1).some((s) => s !== 1) || ints(r.attrs['dilations'], 3, 1).some((d) => d !== 1)) return undefined;
  const [, ci, d, h, wd] = x as [number, number, number, number, number];
  const [co, , kd, kh, kw] = w as [number, number, number, number, number];
  if (ci % block !== 0 || co % block !== 0) return undefined;
  const p = ints(r.attrs['pads'], 6, 0);
  const out = [d + p[0]! + p[3]! - kd + 1, h + p[1]! + p[4]! - kh + 1, wd + p[2]! + p[5]! - kw + 1];
  if (out.some((o) => o < 1) || out[0]! * out[1]! * out[2]! < minVoxels) return undefined;
  return { x, w };
}

/**
 * Rewrites every large, stride-1, ungrouped 3-D Conv of a finished graph (forward and input-gradient convs alike)
 * into ONNX Runtime's NCHWc 2-D convolutions: with depth folded into the batch, Y = sum over kernel depth t of
 * Conv2d(X[depths t .. t + Do), W[:, :, t]), the terms accumulated through the kernel's Sum input. ORT's CPU 3-D
 * Conv is im2col + GEMM; its own NCHWc transformer takes only 2-D convs with constant weights, so a training
 * graph (weights are inputs) never got the direct kernels. The weights are reordered in the graph to MLAS's
 * blocked filter layout [Co/B][Ci/B][kh][kw][B(ci)][B(co)]. Same sums in another order: float32 rounding only.
 * Returns how many convs were lowered. CPU provider only (the domain exists nowhere else).
 */
export function lowerConv3dToNchwc(g: GraphBuilder, opts: Conv3dLowering): number {
  const minVoxels = opts.minVoxels ?? CONV3D_NCHWC_MIN_VOXELS;
  let n = 0;
  for (const r of [...g.records]) {
    const shapes = lowerable(g, r, opts.block, minVoxels);
    if (!shapes) continue;
    g.replaceNode(r, () => emitBlockedConv3d(g, r, shapes.x, shapes.w, opts.block));
    n++;
  }
  return n;
}

/** True when `lowerConv3dToNchwc` would lower at least one conv for some block size dividing 4. */
export function hasLowerableConv3d(g: GraphBuilder, minVoxels = CONV3D_NCHWC_MIN_VOXELS): boolean {
  return g.records.some((r) => lowerable(g, r, 4, minVoxels) !== undefined);
}

function emitBlockedConv3d(g: GraphBuilder, r: OpRecord, xShape: number[], wShape: number[], B: number): Value {
  const value = (name: string): Value => {
    const v = g.values.get(name);
    if (!v) throw new GraphError(`lowerConv3dToNchwc: ${r.name} reads unknown value ${name}`);
    return v;
  };
  const x = value(r.inputs[0]!);
  const w = value(r.inputs[1]!);
  const bias = r.inputs[2] ? value(r.inputs[2]) : null;
  const [n, ci, d, h, wd] = xShape as [number, number, number, number, number];
  const [co, , kd, kh, kw] = wShape as [number, number, number, number, number];
  const [pd0, ph0, pw0, pd1, ph1, pw1] = ints(r.attrs['pads'], 6, 0) as [number, number, number, number, number, number];
  const dp = d + pd0 + pd1;
  const dOut = dp - kd + 1;
  const hOut = h + ph0 + ph1 - kh + 1;
  const wOut = wd + pw0 + pw1 - kw + 1;

  // [N, Ci, D, H, W] -> [N, D, Ci, H, W] (depth next to the batch), zero-padded in depth, blocked.
  let xt = g.transpose(x, [0, 2, 1, 3, 4]);
  if (pd0 || pd1) xt = g.op('Pad', [xt, g.int64s([0, pd0, 0, 0, 0, 0, pd1, 0, 0, 0])]);
  const xb = g.op('ReorderInput', [g.reshape(xt, [n * dp, ci, h, wd])], {}, NC);
  // A blocked image keeps its batch items whole and contiguous (Ci is a multiple of B), so slicing depths is safe.
  const xb5 = n > 1 ? g.reshape(xb, [n, dp, ci, h, wd]) : xb;
  const wb = g.reshape(g.transpose(g.reshape(w, [co / B, B, ci / B, B, kd, kh, kw]), [4, 0, 2, 5, 6, 3, 1]), [kd, co, ci, kh, kw]);

  const attrs = { kernel_shape: [kh, kw], pads: [ph0, pw0, ph1, pw1], strides: [1, 1], dilations: [1, 1], group: 1 };
  let y: Value | null = null;
  for (let t = 0; t < kd; t++) {
    const wt = g.reshape(g.slice(wb, [t], [t + 1], [0]), [co, ci, kh, kw]);
    const xs = n > 1 ? g.reshape(g.slice(xb5, [t], [t + dOut], [1]), [n * dOut, ci, h, wd]) : g.slice(xb, [t], [t + dOut], [0]);
    const ins: (Value | null)[] = [xs, wt, t === 0 ? bias : null, y];
    while (ins.at(-1) === null) ins.pop();
    y = g.op('Conv', ins, attrs, NC);
  }
  const yo = g.op('ReorderOutput', [y!], { channels: co }, NC);
  return g.transpose(g.reshape(yo, [n, dOut, co, hOut, wOut]), [0, 2, 1, 3, 4]);
}
