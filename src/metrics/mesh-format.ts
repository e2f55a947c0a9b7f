import type { TriangleMesh } from './mesh-types.js';

/** Binary STL: 80-byte header, uint32 triangle count, then per triangle normal + 3 vertices (float32) + uint16 0. */
export function encodeStl(mesh: TriangleMesh, header = 'segment-any-bone mesh (mm)'): Uint8Array {
  const t = mesh.triangles;
  const p = mesh.positions;
  const nt = t.length / 3;
  const buf = new ArrayBuffer(84 + 50 * nt);
  const bytes = new Uint8Array(buf);
  const view = new DataView(buf);
  const head = new TextEncoder().encode(header.slice(0, 80));
  bytes.set(head.subarray(0, 80));
  view.setUint32(80, nt, true);
  let o = 84;
  for (let i = 0; i < t.length; i += 3) {
    const a = 3 * t[i], b = 3 * t[i + 1], c = 3 * t[i + 2];
    const ux = p[b] - p[a], uy = p[b + 1] - p[a + 1], uz = p[b + 2] - p[a + 2];
    const vx = p[c] - p[a], vy = p[c + 1] - p[a + 1], vz = p[c + 2] - p[a + 2];
    let nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const len = Math.hypot(nx, ny, nz) || 1;
    nx /= len; ny /= len; nz /= len;
    for (const v of [nx, ny, nz, p[a], p[a + 1], p[a + 2], p[b], p[b + 1], p[b + 2], p[c], p[c + 1], p[c + 2]]) {
      view.setFloat32(o, v, true);
      o += 4;
    }
    view.setUint16(o, 0, true);
    o += 2;
  }
  return bytes;
}

/** Wavefront OBJ text: "v x y z" lines then 1-based "f a b c" lines. */
export function encodeObj(mesh: TriangleMesh, comment = 'segment-any-bone mesh, units: mm'): string {
  const p = mesh.positions;
  const t = mesh.triangles;
  const parts: string[] = [`# ${comment}`];
  for (let i = 0; i < p.length; i += 3) parts.push(`v ${+p[i].toFixed(5)} ${+p[i + 1].toFixed(5)} ${+p[i + 2].toFixed(5)}`);
  for (let i = 0; i < t.length; i += 3) parts.push(`f ${t[i] + 1} ${t[i + 1] + 1} ${t[i + 2] + 1}`);
  return parts.join('\n') + '\n';
}

/** Reads a binary STL back into an unindexed mesh (3 vertices per triangle); for tests and tools. */
export function decodeStl(bytes: Uint8Array): TriangleMesh {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nt = view.getUint32(80, true);
  const positions = new Float64Array(9 * nt);
  const triangles = new Uint32Array(3 * nt);
  for (let i = 0; i < nt; i++) {
    const o = 84 + 50 * i + 12;
    for (let k = 0; k < 9; k++) positions[9 * i + k] = view.getFloat32(o + 4 * k, true);
    triangles[3 * i] = 3 * i;
    triangles[3 * i + 1] = 3 * i + 1;
    triangles[3 * i + 2] = 3 * i + 2;
  }
  return { positions, triangles };
}
