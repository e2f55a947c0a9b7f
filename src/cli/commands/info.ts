import type { Command } from 'commander';
import type { DicomSeriesInfo } from '../../io/dicom/series.js';
import { isDicomInput, listOpenedSeries, readOpenedInput, type OpenedInput } from '../../io/input.js';
import { openInputWithProgress } from '../input.js';
import { summarizeVolume, type VolumeSummary } from '../../volume/volume.js';
import { ALLOW_EXTERNAL_DATA, cliReadOptions } from '../read-options.js';

interface InfoOptions {
  json?: boolean;
  series?: string;
  volumeIndex?: string;
  allowExternalData?: boolean;
  ca?: string;
}

export interface InfoReport {
  input: string;
  series?: DicomSeriesInfo[];
  volume?: VolumeSummary;
  note?: string;
}

/** Gather what `sab info` shows: the volume summary, and for DICOM inputs the series list. */
export function infoReport(spec: string | OpenedInput, opts: { series?: string; volumeIndex?: number; allowExternalData?: boolean }): InfoReport {
  const input: OpenedInput = typeof spec === 'string' ? { spec, kind: 'file' } : spec;
  const report: InfoReport = { input: input.spec };
  const readOpts = { allowNonFinite: true, ...cliReadOptions(opts), ...(opts.series !== undefined ? { seriesUid: opts.series } : {}), ...(opts.volumeIndex !== undefined ? { volumeIndex: opts.volumeIndex } : {}) };
  if (isDicomInput(input.spec)) {
    report.series = listOpenedSeries(input);
    if (report.series.length > 1 && opts.series === undefined) {
      report.note = `${report.series.length} series: pick one with --series UID to see its volume`;
      return report;
    }
  }
  report.volume = summarizeVolume(readOpenedInput(input, readOpts));
  return report;
}

const num = (x: number): string => (Number.isInteger(x) ? String(x) : x.toPrecision(6).replace(/\.?0+$/, ''));

function printText(r: InfoReport): void {
  const out: string[] = [`input:       ${r.input}`];
  for (const s of r.series ?? []) {
    out.push(`series:      ${s.seriesInstanceUid}  #${s.seriesNumber ?? '-'}  ${s.modality}  ${s.columns}x${s.rows}x${s.sliceCount}  ${s.description}`);
  }
  if (r.note) out.push(`note:        ${r.note}`);
  const v = r.volume;
  if (v) {
    out.push(
      `format:      ${v.format}`,
      `dims:        ${v.dims.join(' x ')}`,
      `spacing:     ${v.spacing.map(num).join(' x ')} mm`,
      `orientation: ${v.orientation}`,
      `dtype:       ${v.dtype}`,
      'affine (voxel -> RAS mm):',
      ...v.affine.map((row) => '  [' + row.map((x) => num(x).padStart(10)).join(' ') + ' ]'),
      `voxels:      min ${num(v.stats.min)}  max ${num(v.stats.max)}  mean ${num(v.stats.mean)}  sum ${num(v.stats.sum)}` +
        (v.stats.nonFinite ? `  non-finite ${v.stats.nonFinite}` : ''),
    );
  }
  process.stdout.write(out.join('\n') + '\n');
}

export function register(program: Command): void {
  program
    .command('info')
    .description('show format, grid, spacing, RAS affine, orientation, dtype and voxel statistics of a volume (DICOM: its series)')
    .argument('<input>', '.nii, .nii.gz, .nrrd, .nhdr, a DICOM folder, .zip or .dcm file, or a DICOMweb series URL')
    .option('--json', 'print JSON')
    .option('--series <uid>', 'DICOM SeriesInstanceUID to describe')
    .option('--volume-index <n>', '0-based volume of a 4D file')
    .option(...ALLOW_EXTERNAL_DATA)
    .option('--ca <file>', 'DICOMweb over https: extra CA certificate (PEM)')
    .action(async (input: string, opts: InfoOptions) => {
      let volumeIndex: number | undefined;
      if (opts.volumeIndex !== undefined) {
        volumeIndex = Number(opts.volumeIndex);
        if (!Number.isInteger(volumeIndex) || volumeIndex < 0) throw new Error(`--volume-index must be a non-negative integer, got ${opts.volumeIndex}`);
      }
      const opened = await openInputWithProgress(input, { quiet: Boolean(opts.json), ...(opts.ca ? { ca: opts.ca } : {}) });
      const report = infoReport(opened, { allowExternalData: Boolean(opts.allowExternalData), ...(opts.series !== undefined ? { series: opts.series } : {}), ...(volumeIndex !== undefined ? { volumeIndex } : {}) });
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else printText(report);
    });
}
