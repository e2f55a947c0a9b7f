import type { Vec3 } from './mask.js';

/**
 * Surface voxels: foreground voxels with at least one 6-neighbour that is background or lies outside the
 * grid (the same set as medpy's `mask ^ binary_erosion(mask, connectivity=1)` with zero border).
 * An axis of length 1 is not a spatial axis (a 2-D slice stored as [X, Y, 1]): its "border" does not count,
 * so a 2-D mask gets the 4-neighbour 2-D surface.
 * Returns linear indices in ascending order.
 */
export function surfaceIndices(data: Uint8Array, dims: Vec3): Int32Array {
  const [X, Y, Z] = dims;
  const plane = X * Y;
  let out = new Int32Array(1024);
  let n = 0;
  for (let z = 0; z < Z; z++) {
    const zEdge = Z > 1 && (z === 0 || z === Z - 1);
    for (let y = 0; y < Y; y++) {
      const yEdge = Y > 1 && (y === 0 || y === Y - 1);
      const row = z * plane + y * X;
      for (let x = 0; x < X; x++) {
        const i = row + x;
        if (data[i] === 0) continue;
        let surface = zEdge || yEdge || (X > 1 && (x === 0 || x === X - 1));
        if (!surface) {
          surface =
            (X > 1 && (data[i - 1] === 0 || data[i + 1] === 0)) ||
            (Y > 1 && (data[i - X] === 0 || data[i + X] === 0)) ||
            (Z > 1 && (data[i - plane] === 0 || data[i + plane] === 0));
        }
        if (!surface) continue;
        if (n === out.length) {
          const grown = new Int32Array(out.length * 2);
          grown.set(out);
          out = grown;
        }
        out[n++] = i;
      }
    }
  }
  return out.slice(0, n);
}
