import type { GraphBuilder, Value } from '../../graph/builder.js';
import { numelOf } from './shapes.js';

/**
 * Weight gradient of a stride-1, undilated, ungrouped 3-D Conv over a large volume as GEMMs, plane by plane.
 *
 * dW[o, i, a, b, t] = sum_{n, d, h, w} dY[n, o, d, h, w] * Xp[n, i, d + a, h + b, w + t] (Xp: the input zero-padded
 * by the conv's pads). The dY-as-kernel Conv (weightGrad) pays for an im2col of the input with all KD*KH*KW
 * offsets (~4.2 GB written and read for VNet's 64^3 32-channel layer) and ran at a third of GEMM speed. Here the
 * offsets are split between the two operands so that each is copied only KW or KH times:
 * - X5(r): the KW W-shifts of depth plane r of Xp stacked on the channels, [Ci*KW, Hp*Yw] per batch element (kw is
 *   in the GEMM's columns). On that flattened padded-H plane an H offset b is one contiguous shift by b*Yw.
 * - B(d): depth plane d of dY, zero-padded by KH - 1 rows on both sides of H, as the KH windows of Hp rows that
 *   those shifts read: [KH*Co, Hp*Yw]. Rows of the windows past dY's own rows are zero, so nothing wraps.
 * Then dW's depth offset a is the sum over d (and the batch) of B(d) x X5(d + a)^T = [KH*Co, Ci*KW] (for 32
 * channels a 160 x 160 GEMM with a 4352-long contraction at 64^3), reordered to [Co, Ci, KD, KH, KW] at the end.
 * Each X5 plane serves KD GEMMs and lives only while they run, so the extra memory is a few planes, not a
 * multiple of the volume. Slabs of several planes with all KD*KH shifts in one GEMM ran no faster and made
 * ~15k-node graphs that took ONNX Runtime 25 s to optimize; this graph has ~25 nodes per plane.
 */
export function weightGrad3dByPlanes(
  g: GraphBuilder,
  x: Value,
  xShape: readonly number[],
  dy: Value,
  dyShape: readonly number[],
  kernel: readonly number[],
  pads: readonly number[],
): Value {
  const [n, ci, xd, xh, xw] = xShape as [number, number, number, number, number];
  const [, co, yd, yh, yw] = dyShape as [number, number, number, number, number];
  const [kd, kh, kw] = kernel as [number, number, number];
  const hp = xh + pads[1]! + pads[4]!;
  if (xd + pads[0]! + pads[3]! - kd + 1 !== yd || hp - kh + 1 !== yh || xw + pads[2]! + pads[5]! - kw + 1 !== yw) {
    throw new Error(`internal: weightGrad3dByPlanes needs a stride-1 undilated conv (x ${xShape}, dY ${dyShape}, kernel ${kernel})`);
  }
  const plane = hp * yw; // one depth plane of the flattened padded-H grid
  // One batch element's depth plane, [1, C, 1, H, W]. Slicing the batch and channel axes too keeps ONNX Runtime
  // from fusing the plane Slices into one Split, whose outputs (a whole copy of the input) are allocated at once.
  const depthPlane = (v: Value, e: number, channels: number, d: number) => g.slice(v, [e, 0, d], [e + 1, channels, d + 1], [0, 1, 2]);
  let zeros: Value | null = null;
  const perPlane: Value[] = [];
  for (let e = 0; e < n; e++) {
    // X5 planes are built when first needed, each from one input plane padded in H and W; the depth padding
    // planes are zero, so their products are skipped.
    const x5: (Value | null)[] = [];
    const x5Plane = (r: number): Value | null => {
      while (x5.length <= r) {
        const d = x5.length - pads[0]!;
        if (d < 0 || d >= xd) {
          x5.push(null);
          continue;
        }
        const xPlane = g.op('Pad', [depthPlane(x, e, ci, d), g.int64s([0, 0, 0, pads[1]!, pads[2]!, 0, 0, 0, pads[4]!, pads[5]!])]);
        const cols: Value[] = [];
        for (let t = 0; t < kw; t++) cols.push(g.slice(xPlane, [t], [t + yw], [4]));
        // Stacked on the plane's singleton depth axis: [1, Ci, KW, Hp, Yw] -> [(i, t), position].
        x5.push(g.reshape(g.concat(cols, 2), [ci * kw, plane]));
      }
      return x5[r]!;
    };
    for (let r = 0; r < yd; r++) {
      // dY plane r padded by KH - 1 zero rows on both sides of H: the H shift b is the window from row KH - 1 - b.
      const dyPlane = g.reshape(g.op('Pad', [depthPlane(dy, e, co, r), g.int64s([0, 0, 0, kh - 1, 0, 0, 0, 0, kh - 1, 0])]), [co, (yh + 2 * (kh - 1)) * yw]);
      const rows: Value[] = [];
      for (let b = 0; b < kh; b++) rows.push(g.slice(dyPlane, [(kh - 1 - b) * yw], [(kh - 1 - b) * yw + plane], [1]));
      const bPlane = g.concat(rows, 0); // [(b, o), position]
      const products = Array.from({ length: kd }, (_, a) => {
        const xa = x5Plane(r + a);
        // Gemm's own transB: a Transpose + MatMul pair would leave ORT a fusion per product to make, which cost
        // ~1 s more session creation on the VNet step graph.
        if (xa) return g.op('Gemm', [bPlane, xa], { transB: 1 });
        zeros ??= g.op('Expand', [g.scalar(0), g.int64s([kh * co, ci * kw])]);
        return zeros;
      });
      perPlane.push(g.concat(products, 0)); // [(a, b, o), (i, t)]
    }
  }
  // Summed over the planes by a chain of Adds emitted after all the planes' products. ONNX Runtime orders the nodes
  // depth-first from the outputs, visiting an op's newest input first: here that is the chain, so each plane's
  // products run just before the Add that consumes them and the planes go in order, each plane's copies freed
  // before the next. (A chain emitted plane by plane is visited products-first: every plane's products would be
  // computed, and kept, before the first Add.)
  let total = perPlane[0]!;
  for (let i = 1; i < perPlane.length; i++) total = g.add(total, perPlane[i]!);
  // [(a, b, o), (i, t)] -> [o, i, a, b, t]
  return g.transpose(g.reshape(total, [kd, kh, co, ci, kw]), [2, 3, 0, 1, 4]);
}

/**
 * Output positions from which weightGrad3dByPlanes is used: from 16^3 up it beat the dY-as-kernel Conv on VNet's
 * layers (1.2-2.2x); at 8^3 it lost (0.6-1x: the H and depth padding is most of a plane). See DESIGN.md, "VNet speed".
 */
export const MIN_PLANE_GEMM_POSITIONS = 16 ** 3;

/** Input and output channels from which it is used (a 1-channel input makes a 5-column GEMM). */
export const MIN_PLANE_GEMM_CHANNELS = 8;

/** Whether the plane GEMMs apply: 3-D, stride 1, no dilation, one group, a kernel with many offsets, a large volume. */
export function planeGemmWeightGradApplies(
  xShape: readonly number[],
  dyShape: readonly number[],
  kernel: readonly number[],
  a: { strides: readonly number[]; dilations: readonly number[]; group: number },
  minPositions = MIN_PLANE_GEMM_POSITIONS,
): boolean {
  return (
    kernel.length === 3 &&
    a.group === 1 &&
    a.strides.every((s) => s === 1) &&
    a.dilations.every((d) => d === 1) &&
    kernel[0]! > 1 &&
    kernel[1]! > 1 &&
    xShape[1]! >= MIN_PLANE_GEMM_CHANNELS &&
    dyShape[1]! >= MIN_PLANE_GEMM_CHANNELS &&
    numelOf(dyShape.slice(2)) >= minPositions &&
    xShape.length === 5
  );
}
