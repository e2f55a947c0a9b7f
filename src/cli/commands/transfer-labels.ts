import type { Command } from 'commander';
import { extname } from 'node:path';
import { checkWritableTarget, writeFileAtomic } from '../../io/atomic.js';
import { readVolume, writeVolume } from '../../io/dispatch.js';
import {
  DEFAULT_MAX_SHIFT_MM, DEFAULT_MIN_SCORE, formatTransferReport, readTransformFile, transferLabels, transferPairs,
  transferPreviewPng, TransferError, writeTransformFile, type RegisterMode,
} from '../../transfer/index.js';
import type { LabelResampleMode } from '../../volume/resample.js';

interface TransferCliOptions {
  from?: string;
  to?: string;
  output: string;
  register: RegisterMode;
  mode: LabelResampleMode;
  transform?: string;
  transformOut?: string;
  maxShift: number;
  minScore: number;
  json?: boolean;
  preview?: string;
  pairs?: string;
  quiet?: boolean;
  ignoreAffine?: boolean;
}

function choice<T extends string>(name: string, values: readonly T[]): (raw: string) => T {
  return (raw: string): T => {
    if (!(values as readonly string[]).includes(raw)) throw new Error(`${name} must be one of ${values.join(', ')}, got '${raw}'`);
    return raw as T;
  };
}

function positive(name: string, allowZero = false): (raw: string) => number {
  return (raw: string): number => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got '${raw}'`);
    return v;
  };
}

/** Exit status of a run whose verdict is 'rejected' (the mask is still written for review). */
export const REJECTED_EXIT_CODE = 2;

async function single(maskPath: string, opts: TransferCliOptions): Promise<void> {
  if (!opts.from || !opts.to) throw new Error('give --from T1_IMAGE and --to OTHER_IMAGE (or --pairs pairs.csv)');
  if (opts.transform && opts.register !== 'none') throw new Error('--transform applies a given transform; do not combine it with --register');
  if (opts.transformOut && opts.register === 'none' && !opts.transform) {
    throw new Error('--transform-out needs --register rigid|affine or --transform (with --register none there is no transform)');
  }
  const inputs = [maskPath, opts.from, opts.to, ...(opts.transform ? [opts.transform] : [])];
  // Check every output target before the (possibly long) registration, so a bad path fails at once.
  checkWritableTarget(opts.output, inputs);
  if (opts.preview) {
    if (extname(opts.preview).toLowerCase() !== '.png') throw new Error(`${opts.preview}: --preview must be a .png file`);
    checkWritableTarget(opts.preview, inputs);
  }
  if (opts.transformOut) checkWritableTarget(opts.transformOut, inputs);
  const mask = readVolume(maskPath);
  const t1 = readVolume(opts.from);
  const other = readVolume(opts.to);
  const transform = opts.transform ? await readTransformFile(opts.transform) : undefined;
  const res = await transferLabels(mask, t1, other, {
    register: opts.register,
    mode: opts.mode,
    transform,
    maxShiftMm: opts.maxShift,
    minScore: opts.minScore,
    ignoreMaskAffine: opts.ignoreAffine,
    names: { mask: maskPath, t1: opts.from, other: opts.to },
    onStep: opts.quiet || opts.json ? undefined : (s) => process.stderr.write(`${s}...\n`),
  });
  if (res.report.maskVoxels.transferred === 0) {
    throw new TransferError(`${maskPath}: the transferred mask would be empty (${res.report.reasons.join('; ')}); nothing written`);
  }
  writeVolume(opts.output, res.mask, { inputs });
  if (opts.transformOut && res.parameterObject) await writeTransformFile(opts.transformOut, res.parameterObject, inputs);
  if (opts.preview) writeFileAtomic(opts.preview, transferPreviewPng(other, res.mask), inputs);
  if (opts.json) {
    process.stdout.write(JSON.stringify({ mask: maskPath, from: opts.from, to: opts.to, output: opts.output, transformOut: opts.transformOut ?? null, preview: opts.preview ?? null, ...res.report }, null, 2) + '\n');
  } else {
    const lines = formatTransferReport(res.report, { from: opts.from, to: opts.to });
    lines.push(`wrote ${opts.output}${opts.transformOut ? `, ${opts.transformOut}` : ''}${opts.preview ? `, ${opts.preview}` : ''}`);
    process.stdout.write(lines.join('\n') + '\n');
  }
  if (res.report.verdict === 'rejected') process.exitCode = REJECTED_EXIT_CODE;
}

async function batch(opts: TransferCliOptions): Promise<void> {
  if (opts.from || opts.to || opts.transform || opts.transformOut || opts.preview) {
    throw new Error('--pairs runs every row of the CSV: --from, --to, --transform, --transform-out and --preview do not apply (previews go to DIR/previews/)');
  }
  const summary = await transferPairs(opts.pairs!, opts.output, {
    register: opts.register,
    mode: opts.mode,
    maxShiftMm: opts.maxShift,
    minScore: opts.minScore,
    ignoreMaskAffine: opts.ignoreAffine,
    onPair: opts.quiet || opts.json ? undefined : (done, total, o) => {
      process.stderr.write(`[${done}/${total}] ${o.other}: ${o.verdict}${o.reasons.length ? ` (${o.reasons.join('; ')})` : ''}\n`);
    },
  });
  if (opts.json) {
    process.stdout.write(JSON.stringify({ ...summary, outcomes: summary.outcomes.map(({ report, ...o }) => ({ ...o, report: report ?? null })) }, null, 2) + '\n');
  } else {
    process.stdout.write(`${summary.accepted} accepted, ${summary.rejected} rejected; wrote ${summary.reportCsv} and ${summary.casesCsv}\n`);
    if (summary.accepted === 0) process.stdout.write('no pair was accepted: cases.csv lists no case\n');
  }
}

export function register(program: Command): void {
  program
    .command('transfer-labels')
    .description("Transfer a T1 bone mask onto another sequence of the same patient (T2, STIR, PD...): resample through world coordinates, optionally after elastix registration, and report the alignment with a verdict (exit status 2 when rejected).")
    .argument('[mask]', 'mask on the T1 grid (NIfTI, NRRD or DICOM); omit with --pairs')
    .option('--from <t1>', 'the T1 image the mask was drawn on')
    .option('--to <other>', 'the other sequence; the output mask is on its grid')
    .requiredOption('-o, --output <file|dir>', 'output mask (.nii.gz, .nrrd, ...), or the output folder with --pairs')
    .option('--register <kind>', "'none' (through the affines only), 'rigid' or 'affine' (elastix, Mattes mutual information)", choice('--register', ['none', 'rigid', 'affine'] as const), 'none')
    .option('--mode <mode>', "label resampling: 'nearest' or 'majority' (partial volume: most frequent label inside each target voxel)", choice('--mode', ['nearest', 'majority'] as const), 'nearest')
    .option('--transform <file>', 'apply this elastix TransformParameters file (fixed = other, moving = T1) instead of registering')
    .option('--transform-out <file>', 'write the registration result as an elastix TransformParameters file')
    .option('--max-shift <mm>', 'reject when the correction moves the mask by more than this', positive('--max-shift', true), DEFAULT_MAX_SHIFT_MM)
    .option('--min-score <s>', 'reject when the bone-boundary score after transfer is below this (0..1)', positive('--min-score', true), DEFAULT_MIN_SCORE)
    .option('--preview <file.png>', 'montage of the other image with the transferred outline, for the accept/reject read')
    .option('--pairs <csv>', 'batch: CSV with columns t1, mask, other (+ location, sequence); writes masks/, previews/, transfer_report.csv and cases.csv into -o DIR')
    .option('--ignore-affine', "take T1's voxel->world affine for a mask with T1's dims (masks saved without geometry)")
    .option('--json', 'print the report as JSON')
    .option('-q, --quiet', 'no progress lines')
    .action(async (maskPath: string | undefined, opts: TransferCliOptions) => {
      if (opts.pairs) {
        if (maskPath) throw new Error('--pairs takes the masks from the CSV; do not also give a MASK argument');
        await batch(opts);
        return;
      }
      if (!maskPath) throw new Error('give the T1 MASK (or --pairs pairs.csv)');
      await single(maskPath, opts);
    });
}
