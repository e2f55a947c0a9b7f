import { basename, join } from 'node:path';
import type { StateDict } from '../../checkpoint/tensor.js';
import type { Runtime } from '../../graph/runtime.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { readVolume } from '../../io/dispatch.js';
import { csvLine, evaluateSegmentation, labelToMask, locationTable, locationTableCsv, locationTableMarkdown, type LocationRow, type SegmentationMetrics } from '../../metrics/index.js';
import { loadModel } from '../../pipeline/segmenter.js';
import type { LoadedCase } from '../data/index.js';
import { NO_LOCATION } from './slices.js';

/**
 * The closing `sab evaluate`-style report of a fine-tuning run: each validation volume segmented
 * whole by the inference pipeline (as `sab segment` would with the exported weights) and scored
 * against its mask; per-case metrics plus the per-location table (mean DSC/IoU, bootstrap 95% CIs).
 */

export interface CaseEvaluation {
  image: string;
  location: string;
  metrics: SegmentationMetrics;
}

export interface ValidationReport {
  cases: CaseEvaluation[];
  table: LocationRow[];
  /** Files written (validation_cases.csv, validation_table.csv, validation_table.md). */
  files: string[];
}

const CASE_COLUMNS = ['image', 'location', 'dsc', 'iou', 'precision', 'recall', 'hd95_mm', 'assd_mm', 'pred_ml', 'gt_ml'];

export async function evaluateValidation(
  runtime: Runtime, sam: StateDict, vnet: StateDict, cases: readonly LoadedCase[], outDir: string, onCase?: (done: number, total: number) => void,
): Promise<ValidationReport> {
  const segmenter = loadModel({ sam, vnet }, { runtime });
  const results: CaseEvaluation[] = [];
  try {
    for (const c of cases) {
      const image = readVolume(c.entry.image);
      const gtVol = readVolume(c.entry.mask);
      const pred = (await segmenter.segmentVolume(image)).mask;
      const metrics = evaluateSegmentation(
        { data: labelToMask(pred.data), dims: [...image.dims], spacing: [...gtVol.spacing] },
        { data: labelToMask(gtVol.data), dims: [...gtVol.dims], spacing: [...gtVol.spacing] },
      );
      results.push({ image: c.entry.image, location: c.entry.location ?? NO_LOCATION, metrics });
      onCase?.(results.length, cases.length);
    }
  } finally {
    await segmenter.release();
  }
  const table = locationTable(results.map((r) => ({ location: r.location, dsc: r.metrics.dsc, iou: r.metrics.iou })));
  const m = (v: number) => (Number.isFinite(v) ? v : '');
  const caseCsv = [csvLine(CASE_COLUMNS), ...results.map((r) => csvLine([basename(r.image), r.location, r.metrics.dsc, r.metrics.iou, r.metrics.precision, r.metrics.recall, m(r.metrics.hd95), m(r.metrics.assd), r.metrics.predMl, r.metrics.gtMl]))];
  const files = [join(outDir, 'validation_cases.csv'), join(outDir, 'validation_table.csv'), join(outDir, 'validation_table.md')];
  const enc = (s: string) => new TextEncoder().encode(s);
  writeFileAtomic(files[0]!, enc(caseCsv.join('\n') + '\n'));
  writeFileAtomic(files[1]!, enc(locationTableCsv(table)));
  writeFileAtomic(files[2]!, enc(locationTableMarkdown(table)));
  return { cases: results, table, files };
}
