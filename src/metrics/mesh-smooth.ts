import type { TriangleMesh } from './mesh-types.js';

export interface SmoothOptions {
  iterations: number;
  /** 'taubin' (default): shrink-free lambda/mu pairs; 'laplacian': plain umbrella steps (shrinks). */
  method?: 'taubin' | 'laplacian';
  /** Positive step (default 0.5). */
  lambda?: number;
  /** Negative step for Taubin (default -0.53, pass-band ~0.1). */
  mu?: number;
}

/** Vertex adjacency in CSR form (offsets, neighbours), from the triangle edges, without duplicates. */
export function vertexNeighbours(mesh: TriangleMesh): { offsets: Int32Array; neighbours: Int32Array } {
  const nv = mesh.positions.length / 3;
  const t = mesh.triangles;
  const degree = new Int32Array(nv + 1);
  for (let i = 0; i < t.length; i++) degree[t[i]] += 2;
  const offsets = new Int32Array(nv + 1);
  for (let v = 0; v < nv; v++) offsets[v + 1] = offsets[v] + degree[v];
  const raw = new Int32Array(offsets[nv]);
  const fill = offsets.slice(0, nv);
  for (let i = 0; i < t.length; i += 3) {
    for (let e = 0; e < 3; e++) {
      const a = t[i + e];
      raw[fill[a]++] = t[i + ((e + 1) % 3)];
      raw[fill[a]++] = t[i + ((e + 2) % 3)];
    }
  }
  // sort each vertex's list and drop duplicates (each neighbour appears twice on a closed manifold)
  const outOffsets = new Int32Array(nv + 1);
  const out = new Int32Array(raw.length);
  let n = 0;
  for (let v = 0; v < nv; v++) {
    const list = raw.subarray(offsets[v], offsets[v + 1]).sort();
    outOffsets[v] = n;
    for (let k = 0; k < list.length; k++) if (k === 0 || list[k] !== list[k - 1]) out[n++] = list[k];
  }
  outOffsets[nv] = n;
  return { offsets: outOffsets, neighbours: out.slice(0, n) };
}

function umbrellaStep(pos: Float64Array, next: Float64Array, offsets: Int32Array, neighbours: Int32Array, factor: number): void {
  const nv = pos.length / 3;
  for (let v = 0; v < nv; v++) {
    const s = offsets[v];
    const e = offsets[v + 1];
    if (e === s) {
      next[3 * v] = pos[3 * v];
      next[3 * v + 1] = pos[3 * v + 1];
      next[3 * v + 2] = pos[3 * v + 2];
      continue;
    }
    let cx = 0, cy = 0, cz = 0;
    for (let k = s; k < e; k++) {
      const w = 3 * neighbours[k];
      cx += pos[w];
      cy += pos[w + 1];
      cz += pos[w + 2];
    }
    const inv = 1 / (e - s);
    next[3 * v] = pos[3 * v] + factor * (cx * inv - pos[3 * v]);
    next[3 * v + 1] = pos[3 * v + 1] + factor * (cy * inv - pos[3 * v + 1]);
    next[3 * v + 2] = pos[3 * v + 2] + factor * (cz * inv - pos[3 * v + 2]);
  }
}

/** Smoothed copy of the mesh (same connectivity). Taubin keeps the volume nearly unchanged; Laplacian shrinks it. */
export function smoothMesh(mesh: TriangleMesh, options: SmoothOptions): TriangleMesh {
  const { offsets, neighbours } = vertexNeighbours(mesh);
  const lambda = options.lambda ?? 0.5;
  const mu = options.mu ?? -0.53;
  let pos = Float64Array.from(mesh.positions);
  let next = new Float64Array(pos.length);
  for (let it = 0; it < options.iterations; it++) {
    umbrellaStep(pos, next, offsets, neighbours, lambda);
    [pos, next] = [next, pos];
    if ((options.method ?? 'taubin') === 'taubin') {
      umbrellaStep(pos, next, offsets, neighbours, mu);
      [pos, next] = [next, pos];
    }
  }
  return { positions: pos, triangles: Uint32Array.from(mesh.triangles) };
}
