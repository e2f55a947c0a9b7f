import type { Volume } from '../volume/types.js';
import type { DicomFileBytes } from './dicom/files.js';
import { listDicomSeries, readDicomSeries, type DicomSeriesInfo } from './dicom/series.js';
import { formatOfPath, readVolume } from './dispatch.js';
import { authFromEnv } from './dicomweb/auth.js';
import { DicomwebClient } from './dicomweb/client.js';
import { DicomwebError } from './dicomweb/errors.js';
import { retrieveSeries } from './dicomweb/retrieve.js';
import { isDicomwebUrl, parseSeriesUrl } from './dicomweb/series-url.js';
import type { ReadOptions } from './options.js';

export interface OpenInputOptions {
  /** Progress of retrieving a DICOMweb series (instances done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Extra CA file for https DICOMweb servers. */
  ca?: string;
  /** Instances retrieved at once (default 6). */
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
}

/** An input spec made ready to read: a local path, or the instances of a DICOMweb series held in memory. */
export interface OpenedInput {
  spec: string;
  kind: 'file' | 'dicomweb';
  /** DICOM instances when the input is a series URL. */
  files?: DicomFileBytes[];
}

/** Is this spec a DICOM series (folder, zip, .dcm file, or DICOMweb series URL)? */
export function isDicomInput(spec: string): boolean {
  return isDicomwebUrl(spec) || formatOfPath(spec) === 'dicom';
}

/**
 * Resolve an input spec: a path is passed through; a DICOMweb series URL (BASE/studies/S/series/SE) is
 * retrieved (WADO-RS, in parallel, with progress) with credentials from the environment. The one place where
 * `sab segment`, `sab info` and the queue turn what a user typed into something to read.
 */
export async function openInput(spec: string, opts: OpenInputOptions = {}): Promise<OpenedInput> {
  if (!isDicomwebUrl(spec)) return { spec, kind: 'file' };
  const parsed = parseSeriesUrl(spec);
  if (!parsed) throw new DicomwebError(new DicomwebClient(spec, { auth: { kind: 'none' } }).shownUrl, 'not a series URL: expected BASE/studies/STUDY_UID/series/SERIES_UID');
  const client = new DicomwebClient(parsed.base, { auth: authFromEnv(spec, opts.env), ...(opts.ca ? { ca: opts.ca } : {}) });
  const files = await retrieveSeries(client, parsed.studyUid, parsed.seriesUid, {
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  });
  return { spec: `${client.shownUrl}/studies/${parsed.studyUid}/series/${parsed.seriesUid}`, kind: 'dicomweb', files };
}

/** The volume of an opened input. */
export function readOpenedInput(input: OpenedInput, opts: ReadOptions = {}): Volume {
  return input.files ? readDicomSeries(input.spec, opts, input.files) : readVolume(input.spec, opts);
}

/** The DICOM series of an opened DICOM input (folder, zip, file or URL). */
export function listOpenedSeries(input: OpenedInput): DicomSeriesInfo[] {
  return listDicomSeries(input.spec, input.files);
}

/** openInput then readOpenedInput: a path or series URL to a Volume. */
export async function readInput(spec: string, opts: ReadOptions & OpenInputOptions = {}): Promise<Volume> {
  return readOpenedInput(await openInput(spec, opts), opts);
}
