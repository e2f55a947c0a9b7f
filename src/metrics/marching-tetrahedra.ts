import { MetricsInputError } from './errors.js';
import type { Vec3 } from './mask.js';
import type { TriangleMesh } from './mesh-types.js';

/*
 * Surface extraction by marching tetrahedra on the binary field (iso-level 0.5, vertices at edge
 * midpoints). Each grid cube is split into the 6 Kuhn tetrahedra (paths 000 -> 111 adding one axis at a
 * time), a triangulation that is consistent across neighbouring cubes; the iso-surface of a piecewise
 * linear field on a consistent triangulation never hits a sample exactly, so it is a closed 2-manifold:
 * every edge is shared by exactly two triangles. The grid is padded by one background voxel on every side
 * so objects touching the volume border are closed too. Unlike classic marching cubes there are no
 * ambiguous cases and no lookup table.
 */

/** The 7 Kuhn edge directions (all 0/1 offsets but zero); index = dx + 2*dy + 4*dz - 1. */
function edgeDirIndex(dx: number, dy: number, dz: number): number {
  return dx + 2 * dy + 4 * dz - 1;
}

/** Corner offsets of the 6 tetrahedra as corner ids (bit0 = x, bit1 = y, bit2 = z). */
const TETS: number[][] = (() => {
  const perms = [
    [0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0],
  ];
  return perms.map(([a, b]) => [0, 1 << a, (1 << a) | (1 << b), 7]);
})();

export interface ExtractOptions {
  /** Row-major 4x4 voxel -> world (mm) affine; identity when omitted. */
  affine?: Float64Array | readonly number[];
}

/** Closed triangle surface of the foreground of `data` (dims [X,Y,Z], x fastest), in world mm. */
export function extractSurfaceMesh(data: Uint8Array, dims: Vec3, options: ExtractOptions = {}): TriangleMesh {
  const [X, Y, Z] = dims;
  if (data.length !== X * Y * Z) throw new MetricsInputError(`mesh: data has ${data.length} voxels, dims need ${X * Y * Z}`);
  const A = options.affine ?? [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  // padded grid: PX = X + 2 samples, sample (i, j, k) holds voxel (i-1, j-1, k-1)
  const PX = X + 2;
  const PY = Y + 2;
  const PZ = Z + 2;
  const sample = (i: number, j: number, k: number): number =>
    i < 1 || j < 1 || k < 1 || i > X || j > Y || k > Z ? 0 : data[i - 1 + X * (j - 1 + Y * (k - 1))] !== 0 ? 1 : 0;

  const vertexOfEdge = new Map<number, number>();
  let positions = new Float64Array(3 * 4096);
  let nv = 0;
  let tris = new Uint32Array(3 * 8192);
  let nt = 0;

  const corner = new Int32Array(8);
  const vertexOn = (a: number, b: number, ox: number, oy: number, oz: number): number => {
    // edge between corners a < b (in Kuhn order b's offset dominates a's), key by lower endpoint + direction
    const ax = ox + (a & 1);
    const ay = oy + ((a >> 1) & 1);
    const az = oz + ((a >> 2) & 1);
    const dx = (b & 1) - (a & 1);
    const dy = ((b >> 1) & 1) - ((a >> 1) & 1);
    const dz = ((b >> 2) & 1) - ((a >> 2) & 1);
    const key = (ax + PX * (ay + PY * az)) * 7 + edgeDirIndex(dx, dy, dz);
    const found = vertexOfEdge.get(key);
    if (found !== undefined) return found;
    if (3 * nv === positions.length) {
      const grown = new Float64Array(positions.length * 2);
      grown.set(positions);
      positions = grown;
    }
    // midpoint in voxel coordinates (padded index - 1)
    positions[3 * nv] = ax + dx / 2 - 1;
    positions[3 * nv + 1] = ay + dy / 2 - 1;
    positions[3 * nv + 2] = az + dz / 2 - 1;
    vertexOfEdge.set(key, nv);
    return nv++;
  };
  const pushTri = (a: number, b: number, c: number, inX: number, inY: number, inZ: number): void => {
    // orient so the normal points from the inside corners towards the outside corners
    const p = positions;
    const e1x = p[3 * b] - p[3 * a], e1y = p[3 * b + 1] - p[3 * a + 1], e1z = p[3 * b + 2] - p[3 * a + 2];
    const e2x = p[3 * c] - p[3 * a], e2y = p[3 * c + 1] - p[3 * a + 1], e2z = p[3 * c + 2] - p[3 * a + 2];
    const nx = e1y * e2z - e1z * e2y;
    const ny = e1z * e2x - e1x * e2z;
    const nz = e1x * e2y - e1y * e2x;
    if (nt * 3 === tris.length) {
      const grown = new Uint32Array(tris.length * 2);
      grown.set(tris);
      tris = grown;
    }
    const flip = nx * inX + ny * inY + nz * inZ > 0;
    tris[3 * nt] = a;
    tris[3 * nt + 1] = flip ? c : b;
    tris[3 * nt + 2] = flip ? b : c;
    nt++;
  };

  for (let k = 0; k < PZ - 1; k++) {
    for (let j = 0; j < PY - 1; j++) {
      for (let i = 0; i < PX - 1; i++) {
        let sum = 0;
        for (let c = 0; c < 8; c++) {
          corner[c] = sample(i + (c & 1), j + ((c >> 1) & 1), k + ((c >> 2) & 1));
          sum += corner[c];
        }
        if (sum === 0 || sum === 8) continue;
        for (const tet of TETS) {
          let inside = 0;
          for (let t = 0; t < 4; t++) inside += corner[tet[t]];
          if (inside === 0 || inside === 4) continue;
          // direction inside -> outside centroid, for orientation
          let ix = 0, iy = 0, iz = 0, ox = 0, oy = 0, oz = 0;
          const ins: number[] = [];
          const outs: number[] = [];
          for (let t = 0; t < 4; t++) {
            const c = tet[t];
            const cx = c & 1, cy = (c >> 1) & 1, cz = (c >> 2) & 1;
            if (corner[c] === 1) {
              ins.push(c);
              ix += cx; iy += cy; iz += cz;
            } else {
              outs.push(c);
              ox += cx; oy += cy; oz += cz;
            }
          }
          const dx = ox / outs.length - ix / ins.length;
          const dy = oy / outs.length - iy / ins.length;
          const dz = oz / outs.length - iz / ins.length;
          // in Kuhn order a tet's corners ascend, so min/max gives the lower/upper endpoint of an edge
          const v = (a: number, b: number): number => vertexOn(Math.min(a, b), Math.max(a, b), i, j, k);
          if (ins.length === 1 || outs.length === 1) {
            const lone = ins.length === 1 ? ins[0] : outs[0];
            const others = ins.length === 1 ? outs : ins;
            pushTri(v(lone, others[0]), v(lone, others[1]), v(lone, others[2]), -dx, -dy, -dz);
          } else {
            const [a, b] = ins;
            const [c, d] = outs;
            const ac = v(a, c), ad = v(a, d), bd = v(b, d), bc = v(b, c);
            pushTri(ac, ad, bd, -dx, -dy, -dz);
            pushTri(ac, bd, bc, -dx, -dy, -dz);
          }
        }
      }
    }
  }

  // voxel -> world; a mirroring affine reverses the winding, so flip it back
  const out = new Float64Array(3 * nv);
  for (let n = 0; n < nv; n++) {
    const x = positions[3 * n], y = positions[3 * n + 1], z = positions[3 * n + 2];
    out[3 * n] = A[0] * x + A[1] * y + A[2] * z + A[3];
    out[3 * n + 1] = A[4] * x + A[5] * y + A[6] * z + A[7];
    out[3 * n + 2] = A[8] * x + A[9] * y + A[10] * z + A[11];
  }
  const det =
    A[0] * (A[5] * A[10] - A[6] * A[9]) - A[1] * (A[4] * A[10] - A[6] * A[8]) + A[2] * (A[4] * A[9] - A[5] * A[8]);
  const triangles = tris.slice(0, 3 * nt);
  if (det < 0) {
    for (let t = 0; t < nt; t++) {
      const b = triangles[3 * t + 1];
      triangles[3 * t + 1] = triangles[3 * t + 2];
      triangles[3 * t + 2] = b;
    }
  }
  return { positions: out, triangles };
}
