import type { VoxelArray } from '../../volume/types.js';

export type { VoxelArray };

/**
 * A 3-D voxel grid in file order: dims = [I, J, K], I fastest (index i + j*I + k*I*J), as stored
 * in NIfTI/NRRD. Slices for the 2-D branch are taken along K. A volume/ `Volume` satisfies it.
 */
export interface VoxelGrid<T extends VoxelArray = VoxelArray> {
  data: T;
  dims: readonly [number, number, number];
}

/** Raised when an input to the official pre/post-processing cannot be processed as given. */
export class PreprocessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreprocessError';
  }
}

export function isIntegerArray(a: VoxelArray): boolean {
  return !(a instanceof Float32Array || a instanceof Float64Array);
}

export function checkGrid(grid: VoxelGrid, what: string): void {
  const [ni, nj, nk] = grid.dims;
  for (const n of grid.dims) {
    if (!Number.isInteger(n) || n <= 0) throw new PreprocessError(`${what}: dims must be positive integers, got [${grid.dims.join(', ')}]`);
  }
  if (grid.data.length !== ni * nj * nk) {
    throw new PreprocessError(`${what}: data has ${grid.data.length} values but dims [${grid.dims.join(', ')}] need ${ni * nj * nk}`);
  }
}

/** Python's round() on a float: nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends ties up; pull an odd tie result back down to the even neighbour.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
