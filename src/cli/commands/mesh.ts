import type { Command } from 'commander';
import { extname } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { readVolume } from '../../io/index.js';
import {
  countForeground,
  decimateMesh,
  edgeReport,
  enclosedVolume,
  encodeObj,
  encodeStl,
  extractSurfaceMesh,
  labelToMask,
  smoothMesh,
} from '../../metrics/index.js';
import { integerOption } from '../parse.js';
import { ALLOW_EXTERNAL_DATA, cliReadOptions } from '../read-options.js';

function parseRatio(raw: string): number {
  const v = Number(raw);
  if (!(v > 0 && v <= 1)) throw new Error(`--decimate must be a fraction of triangles to keep in (0, 1], got '${raw}'`);
  return v;
}

export function register(program: Command): void {
  program
    .command('mesh')
    .description('Closed triangle surface of a mask in world mm (marching tetrahedra), written as binary STL or OBJ.')
    .argument('<mask>', 'mask volume (NIfTI, NRRD or DICOM)')
    .requiredOption('-o, --output <file>', 'output mesh: .stl (binary) or .obj')
    .option('--smooth <n>', 'Taubin smoothing iterations (volume-preserving)', integerOption('--smooth', 0), 0)
    .option('--decimate <ratio>', 'keep this fraction of the triangles (edge collapse, stays closed)', parseRatio)
    .option('--label <n>', 'use voxels equal to this label (default: any non-zero voxel)', integerOption('--label', 0))
    .option(...ALLOW_EXTERNAL_DATA)
    .action((maskPath: string, opts: { output: string; smooth: number; decimate?: number; label?: number; allowExternalData?: boolean }) => {
      const ext = extname(opts.output).toLowerCase();
      if (ext !== '.stl' && ext !== '.obj') throw new Error(`${opts.output}: unsupported mesh format '${ext || '(no extension)'}' (use .stl or .obj)`);
      const vol = readVolume(maskPath, cliReadOptions(opts));
      const mask = labelToMask(vol.data, opts.label);
      const voxels = countForeground(mask);
      if (voxels === 0) throw new Error(`${maskPath}: mask is empty${opts.label === undefined ? '' : ` for label ${opts.label}`}, nothing to mesh`);
      let mesh = extractSurfaceMesh(mask, vol.dims, { affine: vol.affine });
      if (opts.smooth > 0) mesh = smoothMesh(mesh, { iterations: opts.smooth });
      if (opts.decimate !== undefined) mesh = decimateMesh(mesh, opts.decimate);
      const bytes = ext === '.stl' ? encodeStl(mesh) : new TextEncoder().encode(encodeObj(mesh));
      writeFileAtomic(opts.output, bytes, [maskPath]);
      const edges = edgeReport(mesh);
      const maskMl = (voxels * vol.spacing[0] * vol.spacing[1] * vol.spacing[2]) / 1000;
      process.stdout.write(
        `wrote ${opts.output}: ${mesh.triangles.length / 3} triangles, ${mesh.positions.length / 3} vertices, ` +
          `${edges.boundaryEdges === 0 && edges.nonManifoldEdges === 0 ? 'closed' : 'NOT closed'}; ` +
          `enclosed volume ${(enclosedVolume(mesh) / 1000).toFixed(3)} mL (mask ${maskMl.toFixed(3)} mL)\n`,
      );
    });
}
