import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** File endings that are volumes when a folder or glob is expanded (a DICOM folder is named explicitly). */
export const VOLUME_EXTS = ['.nii', '.nii.gz', '.nrrd', '.nhdr'] as const;

/** Output formats a batch can be written in, by file ending. */
export type OutputFormat = 'nii' | 'nii.gz' | 'nrrd' | 'dcm';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['nii', 'nii.gz', 'nrrd', 'dcm'];

export interface ExpandedInputs {
  /** True for several inputs, a folder of volumes or a glob: outputs go into a folder under derived names. */
  batch: boolean;
  inputs: string[];
}

/** An address such as https://... rather than a path: passed through untouched for the reader to resolve. */
export function isUrlInput(input: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(input);
}

/**
 * The volumes the command-line inputs stand for: a folder holding volume files expands to them (sorted), a
 * pattern with * or ? in its last component expands to the matching entries, anything else (one file, a
 * DICOM folder, a .zip, a URL) is one input. `sab segment` and `sab queue add` both expand through here,
 * so a new kind of input (e.g. a DICOMweb series URL) is added in one place.
 */
export function expandInputs(args: readonly string[]): ExpandedInputs {
  const inputs: string[] = [];
  let batch = args.length > 1;
  for (const arg of args) {
    if (isUrlInput(arg)) inputs.push(arg);
    else if (/[*?]/.test(path.basename(arg))) {
      batch = true;
      inputs.push(...globBasename(arg));
    } else if (existsSync(arg) && statSync(arg).isDirectory() && volumeFilesIn(arg).length > 0) {
      batch = true;
      inputs.push(...volumeFilesIn(arg));
    } else inputs.push(arg);
  }
  if (batch && inputs.length === 0) throw new Error(`no input volumes match ${args.join(' ')}`);
  return { batch, inputs };
}

function volumeFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => VOLUME_EXTS.some((e) => f.toLowerCase().endsWith(e)))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Minimal glob: * and ? in the last path component (the shell usually expands patterns itself). */
function globBasename(pattern: string): string[] {
  const dir = path.dirname(pattern);
  const re = new RegExp(
    `^${path
      .basename(pattern)
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * The batch output name of an input: `<stem>_bone<ext>` in `outDir`, keeping the input's format (.nhdr is
 * written as .nrrd; a DICOM folder or .zip gives a DICOM-SEG `_bone.dcm`), or in `format` when given.
 */
export function outputNameFor(input: string, outDir: string, format?: OutputFormat): string {
  const base = path.basename(input.replace(/[\\/]+$/, ''));
  const lower = base.toLowerCase();
  const ext = VOLUME_EXTS.find((e) => lower.endsWith(e));
  const stem = ext ? base.slice(0, base.length - ext.length) : base.replace(/\.zip$/i, '');
  const outExt = format ? `.${format}` : ext ? (ext === '.nhdr' ? '.nrrd' : ext) : '.dcm';
  return path.join(outDir, `${stem}_bone${outExt}`);
}

/** Where `--probabilities` goes in batch: next to the mask as `<stem>_bone_probabilities<ext>` (NIfTI for DICOM-SEG). */
export function probabilitiesNameFor(maskOutput: string): string {
  const m = /(\.nii\.gz|\.nii|\.nrrd)$/i.exec(maskOutput);
  if (m) return `${maskOutput.slice(0, maskOutput.length - m[1]!.length)}_probabilities${m[1]}`;
  return `${maskOutput.replace(/\.dcm$/i, '')}_probabilities.nii.gz`;
}
