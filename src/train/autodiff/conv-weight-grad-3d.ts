import type { GraphBuilder, Value } from '../../graph/builder.js';
import { numelOf } from './shapes.js';

/**
 * Weight gradient of a stride-1, undilated, ungrouped 3-D Conv over a large volume as a few big GEMMs.
 *
 * dW[o, i, kd, kh, kw] = sum_{n, d, h, w} dY[n, o, d, h, w] * Xp[n, i, d + kd, h + kh, w + kw] (Xp: the input
 * zero-padded by the conv's pads). The dY-as-kernel Conv (weightGrad) pays for an im2col of the input with
 * all KD*KH*KW offsets (~4.2 GB written and read for VNet's 64^3 32-channel layer) and ran at a third of GEMM
 * speed. Here the offsets are split between the two operands so that each is copied only a few times:
 * - X5: the KW W-shifts of Xp stacked on the channels, [N, Ci*KW, Dp*Hp*Yw], so kw is inside the GEMM's
 *   columns. On that flattened padded-H grid a (kd, kh) offset is one contiguous shift s = kd*Hp*Yw + kh*Yw.
 * - A: dY with its H extent padded to Hp (the extra rows are zero, so the shifted rows never wrap into the
 *   next depth row with a non-zero value), flattened and shifted by each of the KD*KH offsets: [N, KD*KH*Co, L].
 * Then A x X5^T = [KD*KH*Co, Ci*KW] holds every (kd, kh, o, i, kw) at once (M = 800, N = 160 for 32 channels),
 * reordered to [Co, Ci, KD, KH, KW] at the end. The contraction runs over depth slabs of the padded grid
 * (each A slab reads dY with its halo of shifts), with the partial GEMMs summed, so that the shifted copy of dY
 * stays within `slabBytes` instead of 25x dY for the whole volume.
 */
export interface SlabWeightGradOptions {
  /** Contraction length of each slab's GEMM (grid positions, rounded to whole W rows; whole depth rows when >= one). */
  slabPositions?: number;
}

function defaultSlabPositions(cols: number): number {
  return Number(process.env['WG_LEN'] ?? 1024) + 0 * cols;
}

export function weightGrad3dBySlabs(
  g: GraphBuilder,
  x: Value,
  xShape: readonly number[],
  dy: Value,
  dyShape: readonly number[],
  kernel: readonly number[],
  pads: readonly number[],
  options: SlabWeightGradOptions = {},
): Value {
  const [n, ci, xd, xh, xw] = xShape as [number, number, number, number, number];
  const [, co, yd, yh, yw] = dyShape as [number, number, number, number, number];
  const [kd, kh, kw] = kernel as [number, number, number];
  const dp = xd + pads[0]! + pads[3]!;
  const hp = xh + pads[1]! + pads[4]!;
  if (dp - kd + 1 !== yd || hp - kh + 1 !== yh || xw + pads[2]! + pads[5]! - kw + 1 !== yw) {
    throw new Error(`internal: weightGrad3dBySlabs needs a stride-1 undilated conv (x ${xShape}, dY ${dyShape}, kernel ${kernel})`);
  }
  const xp = pads.some((p) => p !== 0) ? g.op('Pad', [x, g.int64s([0, 0, ...pads.slice(0, 3), 0, 0, ...pads.slice(3)])]) : x;
  const plane = hp * yw; // one depth row of the flattened padded-H grid
  // dY padded: kd rows of zeros before (>= the largest shift), kd - 1 after (the grid has Dp = Yd + kd - 1 rows), H to Hp.
  const dyBig = g.reshape(g.op('Pad', [dy, g.int64s([0, 0, kd, 0, 0, 0, 0, kd - 1, kh - 1, 0])]), [n, co, (yd + 2 * kd - 1) * plane]);
  const offset = kd * plane; // index in dyBig of dY's first element
  const shifts = kd * kh;
  // Slab size in grid rows (yw values each): whole depth rows when the budget holds one, else a block of H rows.
  const gridRows = Math.max(1, Math.round((options.slabPositions ?? defaultSlabPositions(ci * kw)) / yw));
  const depthRows = Math.min(dp, Math.floor(gridRows / hp));
  const slabs: { d: [number, number]; h: [number, number] }[] = [];
  if (depthRows >= 1) for (let r0 = 0; r0 < dp; r0 += depthRows) slabs.push({ d: [r0, Math.min(dp, r0 + depthRows)], h: [0, hp] });
  else for (let r = 0; r < dp; r++) for (let h0 = 0; h0 < hp; h0 += gridRows) slabs.push({ d: [r, r + 1], h: [h0, Math.min(hp, h0 + gridRows)] });
  const partials: Value[] = [];
  for (const { d, h } of slabs) {
    const len = (d[1] - d[0]) * (h[1] - h[0]) * yw;
    const xCols: Value[] = [];
    for (let t = 0; t < kw; t++) xCols.push(g.unsqueeze(g.slice(xp, [d[0], h[0], t], [d[1], h[1], t + yw], [2, 3, 4]), [2]));
    const x5 = g.reshape(g.concat(xCols, 2), [n, ci * kw, len]);
    const aRows: Value[] = [];
    for (let a = 0; a < kd; a++) {
      for (let b = 0; b < kh; b++) {
        // A[q] = dY[q - s] for q in this slab of the X5 grid.
        const start = offset + (d[0] * hp + h[0]) * yw - (a * plane + b * yw);
        aRows.push(g.slice(dyBig, [start], [start + len], [2]));
      }
    }
    if (process.env['WG_T']) partials.push(g.transpose(g.matmul(x5, g.transpose(g.concat(aRows, 1), [0, 2, 1])), [0, 2, 1]));
    else partials.push(g.matmul(g.concat(aRows, 1), g.transpose(x5, [0, 2, 1])));
  }
  let r = partials.length === 1 ? partials[0]! : g.op('Sum', partials);
  r = n === 1 ? g.reshape(r, [shifts * co, ci * kw]) : g.reduceSum(r, [0], false);
  // [(kd, kh, o), (i, kw)] -> [o, i, kd, kh, kw]
  return g.transpose(g.reshape(r, [kd, kh, co, ci, kw]), [2, 3, 0, 1, 4]);
}

/** Output positions from which weightGrad3dBySlabs is used (measured: see DESIGN.md, "VNet speed"). */
export const MIN_SLAB_POSITIONS = 16 ** 3;

/** Input and output channels from which it is used (a 1-channel input makes a 5-column GEMM). */
export const MIN_SLAB_CHANNELS = 8;

/** Whether the slab GEMMs apply: 3-D, stride 1, no dilation, one group, a kernel with many offsets, a large volume. */
export function slabWeightGradApplies(
  xShape: readonly number[],
  dyShape: readonly number[],
  kernel: readonly number[],
  a: { strides: readonly number[]; dilations: readonly number[]; group: number },
  minPositions = MIN_SLAB_POSITIONS,
): boolean {
  return (
    kernel.length === 3 &&
    a.group === 1 &&
    a.strides.every((s) => s === 1) &&
    a.dilations.every((d) => d === 1) &&
    kernel[0]! > 1 &&
    kernel[1]! > 1 &&
    xShape[1]! >= MIN_SLAB_CHANNELS &&
    dyShape[1]! >= MIN_SLAB_CHANNELS &&
    numelOf(dyShape.slice(2)) >= minPositions &&
    xShape.length === 5
  );
}
