// Metrics benchmark: HD95 / ASSD (exact EDT) on two 512x512x200 masks, plus overlap, components and meshing figures.
import { connectedComponents26 } from '../metrics/components.js';
import { evaluateSegmentation } from '../metrics/evaluate.js';
import type { BinaryMask, Vec3 } from '../metrics/mask.js';
import { extractSurfaceMesh } from '../metrics/marching-tetrahedra.js';
import { summarizeSurfaceDistances, surfaceDistances } from '../metrics/surface-distance.js';
import { surfaceIndices } from '../metrics/surface.js';

/** Large ellipsoid "bone" plus a few rods, shifted/scaled a little for the second mask. */
function syntheticMask(dims: Vec3, shift: Vec3, scale: number): Uint8Array {
  const [X, Y, Z] = dims;
  const m = new Uint8Array(X * Y * Z);
  const c = [X / 2 + shift[0], Y / 2 + shift[1], Z / 2 + shift[2]];
  const r = [230 * scale, 200 * scale, 90 * scale];
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < Y; y++) {
      const row = X * (y + Y * z);
      for (let x = 0; x < X; x++) {
        const e = ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2;
        // hollow shell with a marrow cavity, like cortical bone
        if (e <= 1 && e >= 0.55) m[row + x] = 1;
        // rods along z (finger-like bones)
        for (let k = 0; k < 4; k++) {
          const rx = 60 + 120 * k + shift[0];
          const ry = 40 + shift[1];
          if ((x - rx) ** 2 + (y - ry) ** 2 <= 100 * scale * scale) m[row + x] = 1;
        }
      }
    }
  }
  return m;
}

function ms(t0: number): string {
  return `${(performance.now() - t0).toFixed(0)} ms`;
}

export async function run(): Promise<void> {
  const dims: Vec3 = [512, 512, 200];
  const spacing: Vec3 = [0.4, 0.4, 1.0];
  let t = performance.now();
  const gt: BinaryMask = { data: syntheticMask(dims, [0, 0, 0], 1), dims, spacing };
  const pred: BinaryMask = { data: syntheticMask(dims, [3, -2, 1], 0.98), dims, spacing };
  process.stdout.write(`masks: ${dims.join('x')} (${((dims[0] * dims[1] * dims[2]) / 1e6).toFixed(1)} M voxels), spacing ${spacing.join('x')} mm, built in ${ms(t)}\n`);

  t = performance.now();
  const ps = surfaceIndices(pred.data, dims);
  const gs = surfaceIndices(gt.data, dims);
  process.stdout.write(`surface voxels: pred ${ps.length}, gt ${gs.length} (${ms(t)})\n`);

  t = performance.now();
  const d = surfaceDistances(pred, gt);
  const s = summarizeSurfaceDistances(d);
  const hdMs = performance.now() - t;
  process.stdout.write(
    `HD95 ${s.hd95.toFixed(4)} mm, ASSD ${s.assd.toFixed(4)} mm, HD ${s.hd.toFixed(4)} mm: ${hdMs.toFixed(0)} ms ` +
      `(target < 5000 ms: ${hdMs < 5000 ? 'met' : 'MISSED'})\n`,
  );

  // reference in the same run: brute-force nearest gt-surface distance for 200 prediction surface voxels
  t = performance.now();
  const [X, Y] = dims;
  let worst = 0;
  for (let k = 0; k < 200; k++) {
    const qi = Math.floor((k * ps.length) / 200);
    const q = ps[qi];
    const qx = q % X, qy = Math.floor(q / X) % Y, qz = Math.floor(q / (X * Y));
    let best = Infinity;
    for (let j = 0; j < gs.length; j++) {
      const g = gs[j];
      const dx = (g % X - qx) * spacing[0];
      const dy = ((Math.floor(g / X) % Y) - qy) * spacing[1];
      const dz = (Math.floor(g / (X * Y)) - qz) * spacing[2];
      const d2 = dx * dx + dy * dy + dz * dz;
      if (d2 < best) best = d2;
    }
    worst = Math.max(worst, Math.abs(Math.sqrt(best) - d.predToGt[qi]));
  }
  process.stdout.write(`brute-force check of 200 directed distances: max |EDT - brute| = ${worst.toExponential(2)} mm (${ms(t)})\n`);

  t = performance.now();
  const m = evaluateSegmentation(pred, gt);
  process.stdout.write(`full evaluateSegmentation (overlap + distances): DSC ${m.dsc.toFixed(4)}, IoU ${m.iou.toFixed(4)}, ${ms(t)}\n`);

  t = performance.now();
  const cc = connectedComponents26(gt.data, dims);
  process.stdout.write(`26-connected components of gt: ${cc.count} (${ms(t)})\n`);

  t = performance.now();
  const mesh = extractSurfaceMesh(gt.data, dims, { affine: [spacing[0], 0, 0, 0, 0, spacing[1], 0, 0, 0, 0, spacing[2], 0, 0, 0, 0, 1] });
  process.stdout.write(`marching tetrahedra on gt: ${mesh.triangles.length / 3} triangles (${ms(t)})\n`);
}
