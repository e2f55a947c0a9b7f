import type { BootstrapInterval, BootstrapOptions } from './bootstrap.js';
import { bootstrapMeanCI } from './bootstrap.js';
import { csvLine } from './csv.js';
import { MetricsInputError } from './errors.js';

/** One case's scores with its body location (the grouping of the paper's Table 1). */
export interface LocationScore {
  location: string;
  dsc: number;
  iou: number;
}

/** One table row: mean DSC and IoU with bootstrap 95% CIs over the cases of a location (or all). */
export interface LocationRow {
  location: string;
  n: number;
  dsc: BootstrapInterval;
  iou: BootstrapInterval;
}

export const OVERALL_LABEL = 'Overall';

/**
 * Per-location rows (alphabetical) then an "Overall" row over every case, like the paper's Table 1.
 * Every row and metric uses the same seed, so DSC and IoU of a row are resampled with the same case draws.
 */
export function locationTable(scores: LocationScore[], options: BootstrapOptions = {}): LocationRow[] {
  if (scores.length === 0) throw new MetricsInputError('summary table: no cases');
  const groups = new Map<string, LocationScore[]>();
  for (const s of scores) {
    const g = groups.get(s.location);
    if (g) g.push(s);
    else groups.set(s.location, [s]);
  }
  const row = (location: string, cases: LocationScore[]): LocationRow => ({
    location,
    n: cases.length,
    dsc: bootstrapMeanCI(cases.map((c) => c.dsc), options),
    iou: bootstrapMeanCI(cases.map((c) => c.iou), options),
  });
  const rows = [...groups.keys()].sort().map((loc) => row(loc, groups.get(loc) as LocationScore[]));
  rows.push(row(OVERALL_LABEL, scores));
  return rows;
}

export function locationTableCsv(rows: LocationRow[]): string {
  const lines = [csvLine(['location', 'n', 'dsc_mean', 'dsc_ci_low', 'dsc_ci_high', 'iou_mean', 'iou_ci_low', 'iou_ci_high'])];
  for (const r of rows) {
    lines.push(csvLine([r.location, r.n, r.dsc.estimate, r.dsc.lower, r.dsc.upper, r.iou.estimate, r.iou.lower, r.iou.upper]));
  }
  return lines.join('\n') + '\n';
}

function cell(ci: BootstrapInterval, digits: number): string {
  return `${ci.estimate.toFixed(digits)} (${ci.lower.toFixed(digits)}–${ci.upper.toFixed(digits)})`;
}

/** Markdown table: mean (95% CI) per location, three decimals by default. */
export function locationTableMarkdown(rows: LocationRow[], digits = 3): string {
  const lines = ['| Location | n | DSC (95% CI) | IoU (95% CI) |', '|---|---:|---|---|'];
  for (const r of rows) {
    const name = r.location === OVERALL_LABEL ? `**${r.location}**` : r.location.replace(/\|/g, '\\|');
    lines.push(`| ${name} | ${r.n} | ${cell(r.dsc, digits)} | ${cell(r.iou, digits)} |`);
  }
  return lines.join('\n') + '\n';
}
