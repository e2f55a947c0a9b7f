import { csvLine } from '../metrics/csv.js';
import type { TransferReport } from './transfer.js';

const f = (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

/** The alignment report as the lines `sab transfer-labels` prints. */
export function formatTransferReport(r: TransferReport, names: { from: string; to: string }): string[] {
  const t = r.translationMm;
  return [
    `transfer ${names.from} -> ${names.to} (register ${r.register}, ${r.mode})`,
    `                         before     after`,
    `mutual information     ${f(r.before.mutualInformation).padStart(8)}  ${f(r.after.mutualInformation).padStart(8)}  nats`,
    `normalised MI          ${f(r.before.normalizedMutualInformation).padStart(8)}  ${f(r.after.normalizedMutualInformation).padStart(8)}`,
    `bone-boundary score    ${f(r.before.boundaryScore).padStart(8)}  ${f(r.after.boundaryScore).padStart(8)}  (min ${r.thresholds.minScore})`,
    `correction: rotation ${f(r.rotationDeg, 2)} deg, translation (${t.map((v) => f(v, 2)).join(', ')}) mm = ${f(r.translationNormMm, 2)} mm, max shift ${f(r.maxShiftMm, 2)} mm (max ${r.thresholds.maxShiftMm})`,
    `mask: ${r.maskVoxels.source} voxels (${f(r.maskVolumeMl.source, 2)} mL) -> ${r.maskVoxels.transferred} voxels (${f(r.maskVolumeMl.transferred, 2)} mL); target inside T1: ${f(100 * r.overlapFraction, 1)}%`,
    `verdict: ${r.verdict}${r.reasons.length ? ` (${r.reasons.join('; ')})` : ''}`,
  ];
}

/** Columns of transfer_report.csv (one row per pair). */
export const REPORT_COLUMNS = [
  'row', 't1', 'mask', 'other', 'location', 'sequence', 'output', 'verdict', 'reasons',
  'mi_before', 'mi_after', 'nmi_before', 'nmi_after', 'boundary_before', 'boundary_after',
  'rotation_deg', 'translation_mm', 'max_shift_mm', 'mask_ml_t1', 'mask_ml_transferred',
] as const;

/** One row of a pairs CSV: a T1 image, its mask, another sequence of the same patient and session. */
export interface TransferPair {
  row: number;
  t1: string;
  mask: string;
  other: string;
  location: string;
  sequence: string;
}

export interface PairOutcome extends TransferPair {
  /** Written mask ('' when none could be computed). */
  output: string;
  verdict: 'accepted' | 'rejected';
  reasons: string[];
  report?: TransferReport;
}

/** One transfer_report.csv line. */
export function reportCsvLine(o: PairOutcome): string {
  const r = o.report;
  const n = (v: number | undefined): string | number => (v === undefined ? '' : v);
  return csvLine([
    o.row, o.t1, o.mask, o.other, o.location, o.sequence, o.output, o.verdict, o.reasons.join('; '),
    n(r?.before.mutualInformation), n(r?.after.mutualInformation), n(r?.before.normalizedMutualInformation), n(r?.after.normalizedMutualInformation),
    n(r?.before.boundaryScore), n(r?.after.boundaryScore), n(r?.rotationDeg), n(r?.translationNormMm), n(r?.maxShiftMm),
    n(r?.maskVolumeMl.source), n(r?.maskVolumeMl.transferred),
  ]);
}
