import type { Command } from 'commander';
import { basename, extname } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { readVolume } from '../../io/index.js';
import { ALLOW_EXTERNAL_DATA, cliReadOptions } from '../read-options.js';
import { encodePng, labelledMontagePng, maskOnGrid, renderMontage } from '../../metrics/index.js';
import type { ResampleMode, Rgb } from '../../metrics/index.js';
import { integerOption, parseResample } from '../parse.js';

function parseAlpha(raw: string): number {
  const v = Number(raw);
  if (!(v >= 0 && v <= 1)) throw new Error(`--fill must be an opacity in [0, 1], got '${raw}'`);
  return v;
}

function parseColor(raw: string): Rgb {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(raw);
  if (!m) throw new Error(`--color must be a hex colour like #ff3030, got '${raw}'`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

interface PreviewCliOptions {
  output: string;
  slices: number;
  fill?: number;
  color?: Rgb;
  label?: number;
  resample?: ResampleMode;
  ignoreAffine?: boolean;
  allowExternalData?: boolean;
  labels: boolean;
}

export function register(program: Command): void {
  program
    .command('preview')
    .description('PNG montage of evenly spaced slices (third axis) of an image, windowed 1st-99th percentile, with the mask outline overlaid.')
    .argument('<image>', 'image volume (NIfTI, NRRD or DICOM)')
    .argument('<mask>', 'mask volume on the same grid')
    .requiredOption('-o, --output <file.png>', 'output PNG')
    .option('--slices <n>', 'number of slices (spread over the mask extent)', integerOption('--slices', 1), 9)
    .option('--fill <alpha>', 'also fill the mask with the overlay colour at this opacity (0-1)', parseAlpha)
    .option('--color <hex>', 'overlay colour (default #ff3030)', parseColor)
    .option('--label <n>', 'overlay voxels equal to this label (default: any non-zero voxel)', integerOption('--label', 0))
    .option('--resample <mode>', "'nearest': resample the mask onto the image grid when the grids differ", parseResample)
    .option('--ignore-affine', 'overlay voxel by voxel when dims match even if the voxel->world affines differ')
    .option(...ALLOW_EXTERNAL_DATA)
    .option('--no-labels', 'the bare montage, one pixel per voxel (no title, slice numbers or colour key)')
    .action((imagePath: string, maskPath: string, opts: PreviewCliOptions) => {
      if (extname(opts.output).toLowerCase() !== '.png') throw new Error(`${opts.output}: output must be a .png file`);
      const image = readVolume(imagePath, cliReadOptions(opts));
      const maskVol = readVolume(maskPath, cliReadOptions(opts));
      const mask = maskOnGrid(maskVol, image, {
        label: opts.label,
        resample: opts.resample,
        ignoreAffine: opts.ignoreAffine,
        movingName: maskPath,
        referenceName: imagePath,
      });
      const montage = renderMontage(image.data, image.dims, mask.data, { slices: opts.slices, fillAlpha: opts.fill, color: opts.color });
      const colour = opts.color ?? [255, 48, 48];
      const key = [{ colour, label: `${basename(maskPath)}${opts.label !== undefined ? ` (label ${opts.label})` : ''}: outline${opts.fill ? ', fill' : ''}` }];
      const png = opts.labels
        ? labelledMontagePng(montage, { title: `${basename(imagePath)}: slices along the third axis`, key })
        : encodePng(montage);
      writeFileAtomic(opts.output, png, [imagePath, maskPath]);
      // PNG header: width and height are the big-endian words at bytes 16 and 20.
      const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
      process.stdout.write(`wrote ${opts.output}: ${dv.getUint32(16)}x${dv.getUint32(20)}, slices ${montage.slices.join(', ')}\n`);
    });
}
