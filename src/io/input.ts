import type { Volume } from '../volume/types.js';
import type { DicomFileBytes } from './dicom/files.js';
import { listDicomSeries, readDicomSeries, type DicomSeriesInfo } from './dicom/series.js';
import { formatOfPath, readVolume } from './dispatch.js';
import { authFromEnv } from './dicomweb/auth.js';
import { DicomwebClient } from './dicomweb/client.js';
import { DicomwebError } from './dicomweb/errors.js';
import { retrieveSeries, seriesIdentity } from './dicomweb/retrieve.js';
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
  const { client, studyUid, seriesUid } = seriesClient(spec, opts);
  const files = await retrieveSeries(client, studyUid, seriesUid, {
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  });
  return { spec: `${client.shownUrl}/studies/${studyUid}/series/${seriesUid}`, kind: 'dicomweb', files };
}

/** A client for a series URL, with credentials from the environment (never from job data or arguments). */
function seriesClient(spec: string, opts: Pick<OpenInputOptions, 'ca' | 'env'>): { client: DicomwebClient; studyUid: string; seriesUid: string } {
  const parsed = parseSeriesUrl(spec);
  if (!parsed) throw new DicomwebError(new DicomwebClient(spec, { auth: { kind: 'none' } }).shownUrl, 'not a series URL: expected BASE/studies/STUDY_UID/series/SERIES_UID');
  const client = new DicomwebClient(parsed.base, { auth: authFromEnv(spec, opts.env), ...(opts.ca ? { ca: opts.ca } : {}) });
  return { client, studyUid: parsed.studyUid, seriesUid: parsed.seriesUid };
}

/** A series URL as it may be stored and shown: no user:password@ part. */
export function shownSeriesUrl(spec: string): string {
  const { client, studyUid, seriesUid } = seriesClient(spec, { env: {} });
  return `${client.shownUrl}/studies/${studyUid}/series/${seriesUid}`;
}

/** The content identity of a DICOMweb series URL (its instance list; see seriesIdentity), without retrieving it. */
export async function dicomwebSeriesIdentity(spec: string, opts: Pick<OpenInputOptions, 'ca' | 'env'> = {}): Promise<string> {
  const { client, studyUid, seriesUid } = seriesClient(spec, opts);
  return seriesIdentity(client, studyUid, seriesUid);
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
