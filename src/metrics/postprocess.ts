import { connectedComponents26 } from './components.js';
import type { Vec3 } from './mask.js';

/** Copy of the mask without 26-connected components smaller than `minVoxels`. */
export function removeSmallComponents(data: Uint8Array, dims: Vec3, minVoxels: number): Uint8Array {
  const cc = connectedComponents26(data, dims);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const l = cc.labels[i];
    if (l !== 0 && cc.sizes[l] >= minVoxels) out[i] = 1;
  }
  return out;
}

/** Copy of the mask keeping only the K largest 26-connected components (ties: earlier in scan order). */
export function keepLargestComponents(data: Uint8Array, dims: Vec3, k: number): Uint8Array {
  const cc = connectedComponents26(data, dims);
  const order = Array.from({ length: cc.count }, (_, i) => i + 1).sort((a, b) => cc.sizes[b] - cc.sizes[a] || a - b);
  const keep = new Uint8Array(cc.count + 1);
  for (let i = 0; i < Math.min(k, order.length); i++) keep[order[i]] = 1;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) if (keep[cc.labels[i]] === 1 && cc.labels[i] !== 0) out[i] = 1;
  return out;
}

/**
 * Fills holes slice by slice (slices along the third axis): background pixels that are not 4-connected to
 * the slice border become foreground. 4-connected background pairs with 8-connected foreground, so a
 * diagonal gap in a bone outline does not count as an opening.
 */
export function fillHolesPerSlice(data: Uint8Array, dims: Vec3): Uint8Array {
  const [X, Y, Z] = dims;
  const plane = X * Y;
  const out = Uint8Array.from(data, (v) => (v !== 0 ? 1 : 0));
  const reached = new Uint8Array(plane);
  const queue = new Int32Array(plane);
  for (let z = 0; z < Z; z++) {
    const o = z * plane;
    reached.fill(0);
    let head = 0;
    let tail = 0;
    const seed = (p: number): void => {
      if (out[o + p] === 0 && reached[p] === 0) {
        reached[p] = 1;
        queue[tail++] = p;
      }
    };
    for (let x = 0; x < X; x++) {
      seed(x);
      seed(x + X * (Y - 1));
    }
    for (let y = 0; y < Y; y++) {
      seed(X * y);
      seed(X * y + X - 1);
    }
    while (head < tail) {
      const p = queue[head++];
      const x = p % X;
      const y = (p - x) / X;
      if (x > 0) seed(p - 1);
      if (x < X - 1) seed(p + 1);
      if (y > 0) seed(p - X);
      if (y < Y - 1) seed(p + X);
    }
    for (let p = 0; p < plane; p++) if (out[o + p] === 0 && reached[p] === 0) out[o + p] = 1;
  }
  return out;
}
