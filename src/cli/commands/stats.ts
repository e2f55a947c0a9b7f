import type { Command } from 'commander';
import { readVolume } from '../../io/index.js';
import { boneStats, gridMismatch, maskFromVolume } from '../../metrics/index.js';
import { integerOption } from '../parse.js';
import { ALLOW_EXTERNAL_DATA, cliReadOptions } from '../read-options.js';

export function register(program: Command): void {
  program
    .command('stats')
    .description('Bone statistics of a mask: volume in mL, 26-connected components (voxels, mL, bounding box), image intensity inside the mask.')
    .argument('<mask>', 'mask volume (NIfTI, NRRD or DICOM)')
    .option('--image <img>', 'image on the same grid: report mean/std intensity inside the mask')
    .option('--label <n>', 'use voxels equal to this label (default: any non-zero voxel)', integerOption('--label', 0))
    .option('--ignore-affine', 'accept an image whose dims match even if its voxel->world affine differs')
    .option('--json', 'print JSON')
    .option(...ALLOW_EXTERNAL_DATA)
    .action((maskPath: string, opts: { image?: string; label?: number; json?: boolean; ignoreAffine?: boolean; allowExternalData?: boolean }) => {
      const vol = readVolume(maskPath, cliReadOptions(opts));
      let image: ArrayLike<number> | undefined;
      if (opts.image) {
        const img = readVolume(opts.image, cliReadOptions(opts));
        const why = gridMismatch(img, vol, opts.ignoreAffine ? Infinity : undefined);
        if (why !== null) {
          throw new Error(`${opts.image} and ${maskPath} are on different voxel grids: ${why}${opts.ignoreAffine ? '' : ' (--ignore-affine accepts equal dims)'}`);
        }
        image = img.data;
      }
      const stats = boneStats(maskFromVolume(vol, opts.label), image);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ mask: maskPath, image: opts.image ?? null, spacing: vol.spacing, ...stats }, null, 2) + '\n');
        return;
      }
      const lines = [
        `mask: ${maskPath} (dims ${vol.dims.join('x')}, spacing ${vol.spacing.map((s) => s.toFixed(4)).join(' x ')} mm)`,
        `bone volume: ${stats.volumeMl.toFixed(3)} mL (${stats.voxels} voxels of ${stats.voxelVolumeMm3.toFixed(4)} mm^3)`,
        `components (26-connected): ${stats.components.length}`,
      ];
      for (const c of stats.components.slice(0, 20)) {
        lines.push(`  #${c.id}: ${c.voxels} voxels, ${c.volumeMl.toFixed(3)} mL, bbox [${c.bboxMin.join(', ')}]..[${c.bboxMax.join(', ')}]`);
      }
      if (stats.components.length > 20) lines.push(`  ... ${stats.components.length - 20} smaller components (see --json)`);
      if (stats.intensity) {
        const t = stats.intensity;
        lines.push(`intensity inside mask: mean ${t.mean.toFixed(3)}, std ${t.std.toFixed(3)}, range ${t.min}..${t.max}`);
      } else if (opts.image) lines.push('intensity inside mask: n/a (empty mask)');
      process.stdout.write(lines.join('\n') + '\n');
    });
}
