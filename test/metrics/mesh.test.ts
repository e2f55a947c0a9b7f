import { describe, expect, it } from 'vitest';
import {
  decimateMesh,
  decodeStl,
  edgeReport,
  enclosedVolume,
  encodeObj,
  encodeStl,
  extractSurfaceMesh,
  meshBounds,
  smoothMesh,
} from '../../src/metrics/index.js';

type V3 = [number, number, number];

/** Voxelised sphere: voxel centres within r mm of the centre, on an anisotropic grid. */
function sphere(dims: V3, spacing: V3, r: number): Uint8Array {
  const c = dims.map((d, k) => (d * spacing[k]) / 2);
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let z = 0; z < dims[2]; z++)
    for (let y = 0; y < dims[1]; y++)
      for (let x = 0; x < dims[0]; x++) {
        const d2 = (x * spacing[0] - c[0]) ** 2 + (y * spacing[1] - c[1]) ** 2 + (z * spacing[2] - c[2]) ** 2;
        if (d2 <= r * r) m[x + dims[0] * (y + dims[1] * z)] = 1;
      }
  return m;
}

const closed = { boundaryEdges: 0, nonManifoldEdges: 0, consistentlyOriented: true };

describe('surface mesh of a voxelised sphere (r = 12 mm, spacing [0.8, 1.0, 1.5] mm)', () => {
  const spacing: V3 = [0.8, 1.0, 1.5];
  const dims: V3 = [36, 30, 20];
  const r = 12;
  const trueVolume = (4 / 3) * Math.PI * r ** 3;
  const affine = [spacing[0], 0, 0, 5, 0, spacing[1], 0, -3, 0, 0, spacing[2], 7, 0, 0, 0, 1];
  const mask = sphere(dims, spacing, r);
  const mesh = extractSurfaceMesh(mask, dims, { affine });

  it('is closed (every edge in exactly 2 triangles), consistently oriented, volume within 3%', () => {
    expect(edgeReport(mesh)).toMatchObject(closed);
    const v = enclosedVolume(mesh);
    expect(v).toBeGreaterThan(0);
    expect(Math.abs(v / trueVolume - 1)).toBeLessThan(0.03);
  });

  it('lies in world mm via the affine', () => {
    const b = meshBounds(mesh);
    // centre in world = voxel-grid centre (dims*spacing/2) + translation, radius ~12 mm
    const centre = [5 + (dims[0] * spacing[0]) / 2, -3 + (dims[1] * spacing[1]) / 2, 7 + (dims[2] * spacing[2]) / 2];
    for (let k = 0; k < 3; k++) {
      expect(Math.abs((b[k] + b[k + 3]) / 2 - centre[k])).toBeLessThan(1.5);
      expect(Math.abs((b[k + 3] - b[k]) / 2 - r)).toBeLessThan(1.5);
    }
  });

  it('keeps outward orientation under a mirroring affine', () => {
    const mirrored = extractSurfaceMesh(mask, dims, { affine: [-spacing[0], 0, 0, 0, 0, spacing[1], 0, 0, 0, 0, spacing[2], 0, 0, 0, 0, 1] });
    expect(enclosedVolume(mirrored)).toBeCloseTo(enclosedVolume(mesh), 6);
  });

  it('Taubin smoothing and decimation keep it closed and the volume within 3%', () => {
    const smooth = smoothMesh(mesh, { iterations: 10 });
    expect(edgeReport(smooth)).toMatchObject(closed);
    expect(Math.abs(enclosedVolume(smooth) / trueVolume - 1)).toBeLessThan(0.03);
    const laplace = smoothMesh(mesh, { iterations: 10, method: 'laplacian' });
    expect(enclosedVolume(laplace)).toBeLessThan(enclosedVolume(smooth)); // plain Laplacian shrinks
    const dec = decimateMesh(smooth, 0.25);
    const nt = mesh.triangles.length / 3;
    expect(dec.triangles.length / 3).toBeLessThanOrEqual(Math.round(nt * 0.25) + 2);
    expect(dec.triangles.length / 3).toBeGreaterThan(nt * 0.2);
    expect(edgeReport(dec)).toMatchObject(closed);
    expect(Math.abs(enclosedVolume(dec) / trueVolume - 1)).toBeLessThan(0.03);
  });

  it('binary STL and OBJ round trip', () => {
    const stl = encodeStl(mesh);
    const nt = mesh.triangles.length / 3;
    expect(stl.length).toBe(84 + 50 * nt);
    const back = decodeStl(stl);
    expect(enclosedVolume(back) / enclosedVolume(mesh)).toBeCloseTo(1, 5);
    const obj = encodeObj(mesh).trim().split('\n');
    expect(obj.filter((l) => l.startsWith('v ')).length).toBe(mesh.positions.length / 3);
    expect(obj.filter((l) => l.startsWith('f ')).length).toBe(nt);
    expect(obj.find((l) => l.startsWith('f '))).toMatch(/^f \d+ \d+ \d+$/);
  });
});

it('an object touching the volume border is closed by the one-voxel padding', () => {
  const dims: V3 = [5, 4, 3];
  const mesh = extractSurfaceMesh(new Uint8Array(60).fill(1), dims);
  expect(edgeReport(mesh)).toMatchObject(closed);
  // iso-surface at 0.5: the box [-0.5, X-0.5] x [-0.5, Y-0.5] x [-0.5, Z-0.5] (volume 60) with chamfered edges
  const v = enclosedVolume(mesh);
  expect(v).toBeGreaterThan(60 * 0.85);
  expect(v).toBeLessThan(60);
  expect(extractSurfaceMesh(new Uint8Array(60), dims).triangles.length).toBe(0);
});
