import { mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { readVolume, writeVolume } from '../io/dispatch.js';
import { csvLine, parseCsv } from '../metrics/csv.js';
import { encodePng, renderMontage } from '../metrics/preview.js';
import type { Volume } from '../volume/types.js';
import { REPORT_COLUMNS, reportCsvLine, type PairOutcome, type TransferPair } from './report.js';
import { transferLabels, TransferError, type TransferOptions, type TransferResult } from './transfer.js';

const VOLUME_EXT = /\.(nii\.gz|nii|nrrd|nhdr)$/i;

/** Reads a pairs CSV (header t1, mask, other and optionally location, sequence; paths relative to the CSV). */
export function readPairsCsv(path: string): TransferPair[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TransferError(`${path}: cannot read the pairs CSV (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const rows = parseCsv(text).filter((r) => r.some((v) => v.trim() !== ''));
  const header = (rows[0] ?? []).map((h) => h.trim().toLowerCase());
  const col = (name: string): number => header.indexOf(name);
  const missing = ['t1', 'mask', 'other'].filter((c) => col(c) < 0);
  if (missing.length) throw new TransferError(`${path}: the header must name the columns t1, mask, other (optional: location, sequence); missing ${missing.join(', ')}`);
  const base = dirname(resolve(path));
  const pairs = rows.slice(1).map((r, n): TransferPair => {
    const get = (name: string): string => (col(name) >= 0 ? (r[col(name)] ?? '').trim() : '');
    for (const c of ['t1', 'mask', 'other']) if (!get(c)) throw new TransferError(`${path}: row ${n + 2} has no ${c} path`);
    return { row: n + 2, t1: resolve(base, get('t1')), mask: resolve(base, get('mask')), other: resolve(base, get('other')), location: get('location'), sequence: get('sequence') };
  });
  if (pairs.length === 0) throw new TransferError(`${path}: no pairs (only a header)`);
  return pairs;
}

/** Output file stem of a pair: the other image's name, numbered when two pairs share it. */
function outputStems(pairs: TransferPair[]): string[] {
  const stems = pairs.map((p) => basename(p.other).replace(VOLUME_EXT, '').replace(/[^A-Za-z0-9._-]+/g, '_') || 'pair');
  const seen = new Map<string, number>();
  stems.forEach((s) => seen.set(s, (seen.get(s) ?? 0) + 1));
  return stems.map((s, i) => (seen.get(s)! > 1 ? `${s}_row${pairs[i]!.row}` : s));
}

export interface PairsSummary {
  outcomes: PairOutcome[];
  reportCsv: string;
  casesCsv: string;
  accepted: number;
  rejected: number;
}

/** The binary outline montage of a transferred mask on its target image (what the reader accepts or rejects). */
export function transferPreviewPng(target: Volume, mask: Volume, slices = 6): Uint8Array {
  const binary = new Uint8Array(mask.data.length);
  for (let i = 0; i < binary.length; i++) binary[i] = mask.data[i] !== 0 ? 1 : 0;
  return encodePng(renderMontage(target.data, target.dims, binary, { slices }));
}

/**
 * Transfers every pair of a pairs CSV into `outDir`: masks/<other>_mask.nii.gz, previews/<other>.png,
 * transfer_report.csv (scores and verdict of every pair, rewritten after each pair) and cases.csv (the
 * accepted pairs in the format `sab finetune --data outDir` reads). A pair that fails (unreadable file, no
 * overlap, registration error) is rejected with the error as its reason; the batch goes on.
 */
export async function transferPairs(csvPath: string, outDir: string, options: TransferOptions & { onPair?: (done: number, total: number, o: PairOutcome) => void } = {}): Promise<PairsSummary> {
  const pairs = readPairsCsv(csvPath);
  const out = resolve(outDir);
  try {
    mkdirSync(join(out, 'masks'), { recursive: true });
    mkdirSync(join(out, 'previews'), { recursive: true });
  } catch (err) {
    throw new TransferError(`${outDir}: cannot create the output folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const stems = outputStems(pairs);
  const reportCsv = join(out, 'transfer_report.csv');
  const casesCsv = join(out, 'cases.csv');
  const outcomes: PairOutcome[] = [];
  const inputs = pairs.flatMap((p) => [p.t1, p.mask, p.other]);
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i]!;
    const outcome: PairOutcome = { ...p, output: '', verdict: 'rejected', reasons: [] };
    try {
      const [mask, t1, other] = [readVolume(p.mask), readVolume(p.t1), readVolume(p.other)];
      const res: TransferResult = await transferLabels(mask, t1, other, { ...options, names: { mask: p.mask, t1: p.t1, other: p.other } });
      const maskPath = join(out, 'masks', `${stems[i]}_mask.nii.gz`);
      writeVolume(maskPath, res.mask, { inputs });
      writeFileAtomic(join(out, 'previews', `${stems[i]}.png`), transferPreviewPng(other, res.mask), inputs);
      Object.assign(outcome, { output: maskPath, verdict: res.report.verdict, reasons: res.report.reasons, report: res.report });
    } catch (err) {
      outcome.reasons = [`error: ${(err as Error).message}`];
    }
    outcomes.push(outcome);
    writeFileAtomic(reportCsv, new TextEncoder().encode([csvLine([...REPORT_COLUMNS]), ...outcomes.map(reportCsvLine)].join('\n') + '\n'), inputs);
    options.onPair?.(i + 1, pairs.length, outcome);
  }
  const accepted = outcomes.filter((o) => o.verdict === 'accepted');
  const lines = [csvLine(['image', 'mask', 'location', 'sequence']), ...accepted.map((o) => csvLine([o.other, relative(out, o.output), o.location, o.sequence]))];
  writeFileAtomic(casesCsv, new TextEncoder().encode(lines.join('\n') + '\n'), inputs);
  return { outcomes, reportCsv, casesCsv, accepted: accepted.length, rejected: outcomes.length - accepted.length };
}
