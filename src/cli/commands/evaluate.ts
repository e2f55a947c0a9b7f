import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { readVolume } from '../../io/index.js';
import {
  DEFAULT_RESAMPLES,
  csvLine,
  evaluatePerSlice,
  evaluateSegmentation,
  locationTable,
  locationTableCsv,
  locationTableMarkdown,
  maskOnGrid,
  parseManifest,
} from '../../metrics/index.js';
import type { ManifestCase, PerSliceResult, ResampleMode, SegmentationMetrics } from '../../metrics/index.js';
import { integerOption, parseResample } from '../parse.js';
import { ALLOW_EXTERNAL_DATA, cliReadOptions } from '../read-options.js';

interface EvaluateOptions {
  label?: number;
  json?: boolean;
  csv?: boolean;
  perSlice?: boolean;
  resample?: ResampleMode;
  ignoreAffine?: boolean;
  manifest?: string;
  resamples: number;
  seed: number;
  out?: string;
  allowExternalData?: boolean;
}

const METRIC_COLUMNS = ['dsc', 'iou', 'precision', 'recall', 'hd95_mm', 'assd_mm', 'hd_mm', 'pred_ml', 'gt_ml', 'volume_diff_ml', 'relative_volume_diff'];

function metricFields(m: SegmentationMetrics): (number | null)[] {
  return [m.dsc, m.iou, m.precision, m.recall, m.hd95, m.assd, m.hd, m.predMl, m.gtMl, m.volumeDifferenceMl, m.relativeVolumeDifference];
}

/** JSON with non-finite numbers (one-empty-mask distances) as null. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

function fmt(v: number | null, digits = 4): string {
  if (v === null) return 'n/a';
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

function evaluatePair(predPath: string, gtPath: string, opts: EvaluateOptions): { metrics: SegmentationMetrics; perSlice?: PerSliceResult } {
  const gtVol = readVolume(gtPath, cliReadOptions(opts));
  const predVol = readVolume(predPath, cliReadOptions(opts));
  const gt = maskOnGrid(gtVol, gtVol, { label: opts.label });
  const pred = maskOnGrid(predVol, gtVol, {
    label: opts.label,
    resample: opts.resample,
    ignoreAffine: opts.ignoreAffine,
    movingName: predPath,
    referenceName: gtPath,
  });
  const metrics = evaluateSegmentation(pred, gt);
  return opts.perSlice ? { metrics, perSlice: evaluatePerSlice(pred, gt) } : { metrics };
}

function reportPair(pred: string, gt: string, opts: EvaluateOptions): void {
  const { metrics: m, perSlice } = evaluatePair(pred, gt, opts);
  if (opts.json) {
    process.stdout.write(toJson({ pred, gt, label: opts.label ?? null, hd95Definition: 'medpy: 95th percentile of pooled symmetric surface distances', ...m, perSlice }));
    return;
  }
  if (opts.csv) {
    const lines = [csvLine(['slice', 'tp', 'fp', 'fn', ...METRIC_COLUMNS])];
    lines.push(csvLine(['volume', m.counts.tp, m.counts.fp, m.counts.fn, ...metricFields(m)]));
    for (const s of perSlice?.slices ?? []) lines.push(csvLine([s.slice, s.counts.tp, s.counts.fp, s.counts.fn, ...metricFields(s)]));
    process.stdout.write(lines.join('\n') + '\n');
    return;
  }
  const out = [
    `prediction: ${pred}`,
    `reference:  ${gt}`,
    `DSC ${fmt(m.dsc)}  IoU ${fmt(m.iou)}  precision ${fmt(m.precision)}  recall ${fmt(m.recall)}`,
    `HD95 ${fmt(m.hd95, 3)} mm  ASSD ${fmt(m.assd, 3)} mm  HD ${fmt(m.hd, 3)} mm`,
    `volume: prediction ${fmt(m.predMl, 3)} mL, reference ${fmt(m.gtMl, 3)} mL, difference ${fmt(m.volumeDifferenceMl, 3)} mL` +
      (m.relativeVolumeDifference === null ? '' : ` (${(100 * m.relativeVolumeDifference).toFixed(2)}%)`),
  ];
  if (perSlice) {
    out.push(`per slice (third axis): ${perSlice.evaluatedSlices} slices with bone, mean DSC ${fmt(perSlice.meanDsc)}, mean IoU ${fmt(perSlice.meanIou)}`);
    for (const s of perSlice.slices) {
      if (s.counts.tp + s.counts.fp + s.counts.fn === 0) continue;
      out.push(`  slice ${s.slice}: DSC ${fmt(s.dsc)} IoU ${fmt(s.iou)} HD95 ${fmt(s.hd95, 3)} mm`);
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}

function reportManifest(manifestPath: string, opts: EvaluateOptions): void {
  let text: string;
  try {
    text = readFileSync(manifestPath, 'utf8');
  } catch (e) {
    throw new Error(`${manifestPath}: cannot read manifest (${(e as Error).message})`);
  }
  const cases: ManifestCase[] = parseManifest(text, manifestPath);
  const base = dirname(resolve(manifestPath));
  const caseLines = [csvLine(['pred', 'gt', 'location', 'sequence', ...METRIC_COLUMNS])];
  const scores: { location: string; dsc: number; iou: number }[] = [];
  const results: (ManifestCase & SegmentationMetrics)[] = [];
  cases.forEach((c, k) => {
    process.stderr.write(`[${k + 1}/${cases.length}] ${c.pred}\n`);
    const { metrics } = evaluatePair(resolve(base, c.pred), resolve(base, c.gt), { ...opts, perSlice: false });
    caseLines.push(csvLine([c.pred, c.gt, c.location, c.sequence, ...metricFields(metrics)]));
    scores.push({ location: c.location, dsc: metrics.dsc, iou: metrics.iou });
    results.push({ ...c, ...metrics });
  });
  const rows = locationTable(scores, { resamples: opts.resamples, seed: opts.seed });
  const tableCsv = locationTableCsv(rows);
  const tableMd = locationTableMarkdown(rows);
  const note = `Mean with 95% bootstrap CI (percentile method, ${opts.resamples} case resamples, mulberry32 seed ${opts.seed}).\n`;
  if (opts.out) {
    const inputs = [manifestPath];
    writeFileAtomic(`${opts.out}_cases.csv`, new TextEncoder().encode(caseLines.join('\n') + '\n'), inputs);
    writeFileAtomic(`${opts.out}_table.csv`, new TextEncoder().encode(tableCsv), inputs);
    writeFileAtomic(`${opts.out}_table.md`, new TextEncoder().encode(tableMd + '\n' + note), inputs);
    process.stderr.write(`wrote ${opts.out}_cases.csv, ${opts.out}_table.csv, ${opts.out}_table.md\n`);
  }
  if (opts.json) process.stdout.write(toJson({ cases: results, table: rows, resamples: opts.resamples, seed: opts.seed }));
  else if (opts.csv) process.stdout.write(tableCsv);
  else process.stdout.write(tableMd + '\n' + note);
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description(
      'Compare a predicted mask with a reference: DSC, IoU, precision, recall, HD95/ASSD/HD in mm (medpy definitions), volumes. ' +
        'With --manifest, evaluate many cases and print per-location means with bootstrap 95% CIs.',
    )
    .argument('[pred]', 'predicted mask volume (NIfTI, NRRD or DICOM)')
    .argument('[gt]', 'reference mask volume')
    .option('--label <n>', 'compare voxels equal to this label (default: any non-zero voxel)', integerOption('--label', 0))
    .option('--json', 'print JSON (Infinity distances as null)')
    .option('--csv', 'print CSV')
    .option('--per-slice', 'also report 2-D metrics for every slice along the third axis')
    .option('--resample <mode>', "'nearest': resample the prediction onto the reference grid when the grids differ", parseResample)
    .option('--ignore-affine', 'compare voxel by voxel when dims match even if the voxel->world affines differ')
    .option('--manifest <cases.csv>', 'CSV with columns pred,gt,location,sequence (paths relative to the CSV)')
    .option('--resamples <n>', 'bootstrap resamples for --manifest', integerOption('--resamples', 1), DEFAULT_RESAMPLES)
    .option('--seed <s>', 'bootstrap PRNG seed (uint32)', integerOption('--seed', 0), 0)
    .option('--out <prefix>', 'with --manifest: write PREFIX_cases.csv, PREFIX_table.csv and PREFIX_table.md')
    .option(...ALLOW_EXTERNAL_DATA)
    .action((pred: string | undefined, gt: string | undefined, opts: EvaluateOptions) => {
      if (opts.json && opts.csv) throw new Error('choose one of --json and --csv');
      if (opts.manifest) {
        if (pred !== undefined || gt !== undefined) throw new Error('give either PRED GT or --manifest, not both');
        if (opts.perSlice) throw new Error('--per-slice applies to a single PRED GT pair');
        reportManifest(opts.manifest, opts);
        return;
      }
      if (pred === undefined || gt === undefined) throw new Error('evaluate needs PRED and GT mask files (or --manifest cases.csv)');
      if (opts.out) throw new Error('--out applies to --manifest');
      reportPair(pred, gt, opts);
    });
}
