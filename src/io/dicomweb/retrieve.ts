import { createHash } from 'node:crypto';
import type { DicomFileBytes } from '../dicom/files.js';
import { jsonValue, type DicomwebClient } from './client.js';
import { DicomwebError } from './errors.js';

export interface RetrieveOptions {
  /** Instances fetched at once (default 6). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

const SOP_INSTANCE_UID = '00080018';

/** The SOPInstanceUIDs of a series (QIDO-RS), sorted. */
export async function listSeriesInstances(client: DicomwebClient, studyUid: string, seriesUid: string): Promise<string[]> {
  return (await client.searchInstances(studyUid, seriesUid, { includefield: SOP_INSTANCE_UID })).map((o) => jsonValue(o, SOP_INSTANCE_UID)).filter(Boolean).sort();
}

/**
 * A content identity of a series on a DICOMweb server without retrieving it: the sha256 of its study, series
 * and sorted SOPInstanceUIDs (a SOP Instance UID names one immutable object, so the same list is the same data;
 * an instance added or replaced changes it). Used by the queue, which keys jobs by input content.
 */
export async function seriesIdentity(client: DicomwebClient, studyUid: string, seriesUid: string): Promise<string> {
  const uids = await listSeriesInstances(client, studyUid, seriesUid);
  if (uids.length === 0) throw new DicomwebError(`${client.shownUrl}/studies/${studyUid}/series/${seriesUid}`, 'the series has no instances (or does not exist)');
  return createHash('sha256').update(`dicomweb-series\0${studyUid}\0${seriesUid}\0${uids.join('\n')}`).digest('hex');
}

/**
 * All instances of a series over WADO-RS, in parallel, into memory (nothing touches the disk, so nothing is left
 * behind on failure). The instance list is read before and after: a series that changed meanwhile (instances
 * added or removed) is an error rather than a silently mixed volume.
 */
export async function retrieveSeries(client: DicomwebClient, studyUid: string, seriesUid: string, opts: RetrieveOptions = {}): Promise<DicomFileBytes[]> {
  const seriesUrl = `${client.shownUrl}/studies/${studyUid}/series/${seriesUid}`;
  const list = (): Promise<string[]> => listSeriesInstances(client, studyUid, seriesUid);
  const before = await list();
  if (before.length === 0) throw new DicomwebError(seriesUrl, 'the series has no instances (or does not exist)');
  const out = new Array<DicomFileBytes>(before.length);
  let next = 0;
  let done = 0;
  let failed = false;
  opts.onProgress?.(0, before.length);
  const worker = async (): Promise<void> => {
    while (next < before.length && !failed) {
      const i = next++;
      const uid = before[i]!;
      let bytes: Uint8Array;
      try {
        bytes = await client.retrieveInstance(studyUid, seriesUid, uid);
      } catch (e) {
        failed = true; // the other workers stop after their current request
        throw e;
      }
      out[i] = { name: `${seriesUrl}/instances/${uid}`, bytes };
      opts.onProgress?.(++done, before.length);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 6, before.length));
  await Promise.all(Array.from({ length: n }, worker));
  const after = await list();
  if (after.length !== before.length || after.some((u, i) => u !== before[i])) {
    throw new DicomwebError(seriesUrl, `the series changed while it was read (${before.length} instances before, ${after.length} after); try again when it is complete`);
  }
  return out;
}
