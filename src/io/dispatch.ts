import { statSync } from 'node:fs';
import type { Volume } from '../volume/types.js';
import { VolumeIOError } from './errors.js';
import type { ReadOptions } from './options.js';
import { readDicomSeries } from './dicom/series.js';
import { writeDicomSeg, type DicomSegOptions } from './dicom/seg.js';
import { readNifti } from './nifti/read.js';
import { writeNifti, type NiftiWriteOptions } from './nifti/write.js';
import { readNrrd } from './nrrd/read.js';
import { writeNrrd, type NrrdWriteOptions } from './nrrd/write.js';

export type VolumeFormat = 'nifti' | 'nrrd' | 'dicom' | 'dicom-seg';

/** Format implied by a path: a directory or .zip is a DICOM series; .dcm output means DICOM-SEG. */
export function formatOfPath(path: string, forWriting = false): VolumeFormat | undefined {
  const p = path.toLowerCase();
  if (p.endsWith('.nii') || p.endsWith('.nii.gz')) return 'nifti';
  if (p.endsWith('.nrrd') || p.endsWith('.nhdr')) return 'nrrd';
  if (forWriting) return p.endsWith('.dcm') ? 'dicom-seg' : undefined;
  if (p.endsWith('.zip') || p.endsWith('.dcm')) return 'dicom'; // a .dcm file: one (e.g. Enhanced multi-frame) object
  try {
    if (statSync(path).isDirectory()) return 'dicom';
  } catch {
    return undefined;
  }
  return undefined;
}

/** Read a NIfTI (.nii/.nii.gz), NRRD (.nrrd/.nhdr) or DICOM series (folder, .zip, or one multi-frame .dcm) as a RAS volume. */
export function readVolume(path: string, opts: ReadOptions = {}): Volume {
  switch (formatOfPath(path)) {
    case 'nifti': return readNifti(path, opts);
    case 'nrrd': return readNrrd(path, opts);
    case 'dicom': return readDicomSeries(path, opts);
    default:
      try {
        statSync(path);
      } catch {
        throw new VolumeIOError(path, 'no such file or directory');
      }
      throw new VolumeIOError(path, 'unknown format: expected .nii, .nii.gz, .nrrd, .nhdr, a DICOM folder or a .zip of DICOM files');
  }
}

export type WriteOptions = NiftiWriteOptions & NrrdWriteOptions & DicomSegOptions;

/**
 * Write a volume by extension: .nii/.nii.gz, .nrrd/.nhdr, or .dcm (DICOM-SEG; the mask's source or
 * `opts.reference` must be the DICOM series it was computed from). Writes are atomic and never overwrite an input.
 */
export function writeVolume(path: string, vol: Volume, opts: WriteOptions = {}): void {
  const fmt = formatOfPath(path, true);
  switch (fmt) {
    case 'nifti': return writeNifti(path, vol, opts);
    case 'nrrd': return writeNrrd(path, vol, opts);
    case 'dicom-seg': return writeDicomSeg(path, vol, opts);
    default:
      throw new VolumeIOError(path, 'unknown output format: use .nii, .nii.gz, .nrrd, .nhdr or .dcm (DICOM-SEG)');
  }
}
