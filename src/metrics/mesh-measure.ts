import type { TriangleMesh } from './mesh-types.js';

/**
 * Volume enclosed by a closed, outward-oriented mesh (divergence theorem: sum of signed tetrahedra
 * origin-a-b-c, each a·(b×c)/6). In the mesh's units cubed (mm^3 for world-mm meshes).
 */
export function enclosedVolume(mesh: TriangleMesh): number {
  const p = mesh.positions;
  const t = mesh.triangles;
  let sum = 0;
  for (let i = 0; i < t.length; i += 3) {
    const a = 3 * t[i], b = 3 * t[i + 1], c = 3 * t[i + 2];
    const bx = p[b], by = p[b + 1], bz = p[b + 2];
    const cx = p[c], cy = p[c + 1], cz = p[c + 2];
    sum += p[a] * (by * cz - bz * cy) + p[a + 1] * (bz * cx - bx * cz) + p[a + 2] * (bx * cy - by * cx);
  }
  return sum / 6;
}

export function surfaceArea(mesh: TriangleMesh): number {
  const p = mesh.positions;
  const t = mesh.triangles;
  let sum = 0;
  for (let i = 0; i < t.length; i += 3) {
    const a = 3 * t[i], b = 3 * t[i + 1], c = 3 * t[i + 2];
    const ux = p[b] - p[a], uy = p[b + 1] - p[a + 1], uz = p[b + 2] - p[a + 2];
    const vx = p[c] - p[a], vy = p[c + 1] - p[a + 1], vz = p[c + 2] - p[a + 2];
    sum += Math.hypot(uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx) / 2;
  }
  return sum;
}

/** Edge topology: a watertight, consistently oriented mesh has boundary = nonManifold = 0 and consistent = true. */
export interface EdgeReport {
  edges: number;
  /** Edges used by exactly one triangle. */
  boundaryEdges: number;
  /** Edges used by three or more triangles. */
  nonManifoldEdges: number;
  /** Every edge used once in each direction (neighbouring triangles agree on orientation). */
  consistentlyOriented: boolean;
}

export function edgeReport(mesh: TriangleMesh): EdgeReport {
  const t = mesh.triangles;
  const nv = mesh.positions.length / 3;
  // one sortable number per half-edge: 2 * (min * nv + max) + (a < b); exact in a double below ~6e7 vertices
  const keys = new Float64Array(t.length);
  for (let i = 0; i < t.length; i += 3) {
    for (let e = 0; e < 3; e++) {
      const a = t[i + e];
      const b = t[i + ((e + 1) % 3)];
      keys[i + e] = 2 * (Math.min(a, b) * nv + Math.max(a, b)) + (a < b ? 1 : 0);
    }
  }
  keys.sort();
  let edges = 0;
  let boundaryEdges = 0;
  let nonManifoldEdges = 0;
  let consistentlyOriented = true;
  for (let i = 0; i < keys.length; ) {
    const edge = Math.floor(keys[i] / 2);
    let j = i;
    let forward = 0;
    while (j < keys.length && Math.floor(keys[j] / 2) === edge) {
      forward += keys[j] % 2;
      j++;
    }
    const uses = j - i;
    edges++;
    if (uses === 1) boundaryEdges++;
    else if (uses > 2) nonManifoldEdges++;
    else if (forward !== 1) consistentlyOriented = false;
    i = j;
  }
  return { edges, boundaryEdges, nonManifoldEdges, consistentlyOriented };
}

/** Axis-aligned bounds of the vertices: [xmin, ymin, zmin, xmax, ymax, zmax]. */
export function meshBounds(mesh: TriangleMesh): [number, number, number, number, number, number] {
  const b: [number, number, number, number, number, number] = [Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity];
  const p = mesh.positions;
  for (let i = 0; i < p.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      if (p[i + k] < b[k]) b[k] = p[i + k];
      if (p[i + k] > b[k + 3]) b[k + 3] = p[i + k];
    }
  }
  return b;
}
