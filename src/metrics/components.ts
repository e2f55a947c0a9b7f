import type { Vec3 } from './mask.js';

/** Connected components of a binary volume. labels[i] = 0 for background, 1..count otherwise. */
export interface ComponentLabels {
  labels: Int32Array;
  count: number;
  /** voxel count per label; index 0 unused. */
  sizes: Float64Array;
  /** per label k: [xmin, ymin, zmin, xmax, ymax, zmax] at 6*(k-1) (inclusive voxel indices). */
  boxes: Int32Array;
}

function findRoot(parent: Int32Array, a: number): number {
  let r = a;
  while (parent[r] !== r) r = parent[r];
  while (parent[a] !== r) {
    const next = parent[a];
    parent[a] = r;
    a = next;
  }
  return r;
}

/**
 * 3-D connected components with 26-connectivity (faces, edges and corners), two-pass union-find:
 * the first pass looks at the 13 already-visited neighbours, the second relabels roots to 1..count in
 * order of first appearance (scan order, x fastest). Linear time; no per-voxel objects.
 */
export function connectedComponents26(data: Uint8Array, dims: Vec3): ComponentLabels {
  const [X, Y, Z] = dims;
  const plane = X * Y;
  const labels = new Int32Array(data.length);
  let parent = new Int32Array(1024);
  let next = 1;
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      for (let x = 0; x < X; x++) {
        const i = x + X * y + plane * z;
        if (data[i] === 0) continue;
        let label = 0;
        for (let dz = -1; dz <= 0; dz++) {
          const nz = z + dz;
          if (nz < 0) continue;
          for (let dy = -1; dy <= 1; dy++) {
            if (dz === 0 && dy > 0) break;
            const ny = y + dy;
            if (ny < 0 || ny >= Y) continue;
            for (let dx = -1; dx <= 1; dx++) {
              if (dz === 0 && dy === 0 && dx >= 0) break;
              const nx = x + dx;
              if (nx < 0 || nx >= X) continue;
              const l = labels[nx + X * ny + plane * nz];
              if (l === 0) continue;
              if (label === 0) label = findRoot(parent, l);
              else {
                const a = findRoot(parent, l);
                if (a !== label) {
                  // keep the smaller root so roots stay in order of first appearance
                  if (a < label) {
                    parent[label] = a;
                    label = a;
                  } else parent[a] = label;
                }
              }
            }
          }
        }
        if (label === 0) {
          if (next === parent.length) {
            const grown = new Int32Array(parent.length * 2);
            grown.set(parent);
            parent = grown;
          }
          parent[next] = next;
          label = next++;
        }
        labels[i] = label;
      }
    }
  }
  const compact = new Int32Array(next);
  let count = 0;
  for (let l = 1; l < next; l++) {
    const r = findRoot(parent, l);
    compact[l] = r === l ? ++count : 0;
  }
  for (let l = 1; l < next; l++) if (compact[l] === 0) compact[l] = compact[findRoot(parent, l)];
  const sizes = new Float64Array(count + 1);
  const boxes = new Int32Array(6 * count);
  for (let k = 0; k < count; k++) {
    boxes.set([X, Y, Z, -1, -1, -1], 6 * k);
  }
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      const row = X * y + plane * z;
      for (let x = 0; x < X; x++) {
        const l = labels[row + x];
        if (l === 0) continue;
        const c = compact[l];
        labels[row + x] = c;
        sizes[c]++;
        const b = 6 * (c - 1);
        if (x < boxes[b]) boxes[b] = x;
        if (y < boxes[b + 1]) boxes[b + 1] = y;
        if (z < boxes[b + 2]) boxes[b + 2] = z;
        if (x > boxes[b + 3]) boxes[b + 3] = x;
        if (y > boxes[b + 4]) boxes[b + 4] = y;
        if (z > boxes[b + 5]) boxes[b + 5] = z;
      }
    }
  }
  return { labels, count, sizes, boxes };
}
