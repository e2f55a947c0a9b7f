import type { VoxelArray } from './types.js';

export type Axis = 0 | 1 | 2;

/**
 * The axis order that puts `sliceAxis` last, keeping the other two in their order: slicing along it
 * then gives images with rows = first remaining axis, cols = second (the official layout for axis 2).
 */
export function axesWithSliceLast(sliceAxis: Axis): [Axis, Axis, Axis] {
  if (sliceAxis === 2) return [0, 1, 2];
  if (sliceAxis === 1) return [0, 2, 1];
  return [1, 2, 0];
}

/**
 * Reorders voxel axes (first axis fastest in memory, as in NIfTI): out axis a = in axis order[a].
 * One pass over the data with strided reads; the identity order returns the input itself.
 */
export function permuteVoxels<T extends VoxelArray>(data: T, dims: readonly [number, number, number], order: readonly [Axis, Axis, Axis]): { data: T; dims: [number, number, number] } {
  if (order[0] === 0 && order[1] === 1 && order[2] === 2) return { data, dims: [dims[0], dims[1], dims[2]] };
  const inStrides = [1, dims[0], dims[0] * dims[1]];
  const outDims: [number, number, number] = [dims[order[0]], dims[order[1]], dims[order[2]]];
  const s0 = inStrides[order[0]]!;
  const s1 = inStrides[order[1]]!;
  const s2 = inStrides[order[2]]!;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  let o = 0;
  for (let c = 0; c < outDims[2]; c++) {
    const base2 = c * s2;
    for (let b = 0; b < outDims[1]; b++) {
      let src = base2 + b * s1;
      for (let a = 0; a < outDims[0]; a++, src += s0) out[o++] = data[src]!;
    }
  }
  return { data: out, dims: outDims };
}

/** The inverse order: permuting by `order` and then by `inverseOrder(order)` is the identity. */
export function inverseOrder(order: readonly [Axis, Axis, Axis]): [Axis, Axis, Axis] {
  const inv: Axis[] = [0, 0, 0];
  order.forEach((src, dst) => {
    inv[src] = dst as Axis;
  });
  return inv as [Axis, Axis, Axis];
}
