// What the viewer can open as a volume: one NIfTI/NRRD file, or a DICOM series (its files picked or dropped, a
// dropped folder, or one multi-frame Enhanced MR .dcm), read by the same readers as Node (src/io) and shown by
// niivue from a NIfTI encoding of the Volume, so the display and the model see the very voxels the reader made.
import { readDicomSeries } from '../../src/io/dicom/series.js';
import { decodeNifti } from '../../src/io/nifti/read.js';
import { encodeNifti } from '../../src/io/nifti/write.js';
import { decodeNrrd } from '../../src/io/nrrd/read.js';
import type { Volume } from '../../src/volume/types.js';
import { loadDicomCodecs } from './dicomCodecs.js';

/** A picked or dropped file with its path inside a picked/dropped folder (else its name). */
export interface PickedFile {
  path: string;
  file: File;
}

export interface OpenedVolume {
  volume: Volume;
  name: string;
  /** What niivue displays: the file itself for NIfTI/NRRD, a NIfTI encoding of the volume for DICOM. */
  display: { bytes: Uint8Array; name: string };
}

const NIFTI_OR_NRRD = /\.(nii|nii\.gz|nrrd|nhdr)$/i;

export const picked = (files: Iterable<File>): PickedFile[] =>
  [...files].map((file) => ({ path: file.webkitRelativePath || file.name, file }));

/** The files under dropped items, folders walked recursively (DataTransfer entries). */
export async function droppedFiles(items: DataTransferItemList): Promise<PickedFile[]> {
  const entries = [...items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  const out: PickedFile[] = [];
  const walk = async (e: FileSystemEntry): Promise<void> => {
    if (e.isFile) {
      const file = await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej));
      out.push({ path: e.fullPath.replace(/^\//, ''), file });
    } else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      // readEntries returns the listing in batches until an empty one.
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A name for a DICOM series: its folder when the files came in one, else the first file (or "N DICOM files"). */
function seriesName(files: PickedFile[]): string {
  const dirs = new Set(files.map((f) => f.path.split('/').slice(0, -1).join('/')));
  const [dir] = dirs;
  if (dirs.size === 1 && dir) return dir;
  return files.length === 1 ? files[0]!.path : `${files.length} DICOM files`;
}

const bytesOf = async (f: File): Promise<Uint8Array> => new Uint8Array(await f.arrayBuffer());

/** Read what was picked or dropped as one volume (weights already filtered out). */
export async function openVolumeFiles(files: PickedFile[]): Promise<OpenedVolume> {
  const hidden = (p: string): boolean => p.split('/').some((part) => part.startsWith('.')) || /(^|\/)DICOMDIR$/i.test(p);
  const candidates = files.filter((f) => !hidden(f.path));
  if (candidates.length === 0) throw new Error('no volume among the dropped files');
  const niftiOrNrrd = candidates.filter((f) => NIFTI_OR_NRRD.test(f.path));
  if (niftiOrNrrd.length > 0) {
    if (candidates.length > 1) throw new Error('open one volume at a time: a NIfTI/NRRD file, or the files (or folder) of one DICOM series');
    const { file } = niftiOrNrrd[0]!;
    const lower = file.name.toLowerCase();
    if (lower.endsWith('.nhdr')) throw new Error(`${file.name}: detached NRRD headers need their data file; save as .nrrd or .nii.gz`);
    const bytes = await bytesOf(file);
    const volume = lower.endsWith('.nrrd') ? decodeNrrd(bytes, file.name) : decodeNifti(bytes, file.name);
    return { volume, name: file.name, display: { bytes, name: file.name } };
  }
  await loadDicomCodecs();
  const name = seriesName(candidates);
  const dicom = await Promise.all(candidates.map(async (f) => ({ name: f.path, bytes: await bytesOf(f.file) })));
  const volume = readDicomSeries(name, {}, dicom);
  const [head, body] = encodeNifti(volume);
  const bytes = new Uint8Array(head!.length + body!.length);
  bytes.set(head!, 0);
  bytes.set(body!, head!.length);
  return { volume, name, display: { bytes, name: `${name.replace(/[/\\]/g, '_')}.nii` } };
}
