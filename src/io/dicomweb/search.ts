import { jsonValue, type DicomwebClient } from './client.js';

export interface SearchQuery {
  patientId?: string;
  studyUid?: string;
  modality?: string;
}

export interface SeriesSummary {
  seriesInstanceUid: string;
  seriesNumber: number | undefined;
  modality: string;
  description: string;
  instances: number | undefined;
  /** Columns x rows of its first instance, when the server says. */
  columns?: number;
  rows?: number;
  /** The series URL, usable as a `sab segment` / `sab info` input. */
  url: string;
}

export interface StudySummary {
  studyInstanceUid: string;
  patientId: string;
  patientName: string;
  studyDate: string;
  description: string;
  series: SeriesSummary[];
}

const num = (s: string): number | undefined => (s === '' || !Number.isFinite(Number(s)) ? undefined : Number(s));

/** QIDO-RS: studies matching the query, each with its series (filtered by modality), instance counts and dims. */
export async function searchStudies(client: DicomwebClient, q: SearchQuery = {}): Promise<StudySummary[]> {
  const studies = await client.searchStudies({
    PatientID: q.patientId, StudyInstanceUID: q.studyUid, ModalitiesInStudy: q.modality,
    includefield: '00081030,00100010,00100020,00080020',
  });
  const out: StudySummary[] = [];
  for (const st of studies) {
    const studyUid = jsonValue(st, '0020000D');
    const series = await client.searchSeries(studyUid, { Modality: q.modality, includefield: '0008103E,00201209,00200011' });
    const summaries = await Promise.all(series.map(async (se): Promise<SeriesSummary> => {
      const seriesUid = jsonValue(se, '0020000E');
      const s: SeriesSummary = {
        seriesInstanceUid: seriesUid, seriesNumber: num(jsonValue(se, '00200011')), modality: jsonValue(se, '00080060'),
        description: jsonValue(se, '0008103E'), instances: num(jsonValue(se, '00201209')),
        url: `${client.shownUrl}/studies/${studyUid}/series/${seriesUid}`,
      };
      // Rows/Columns are instance-level attributes: ask for one instance.
      const first = await client.searchInstances(studyUid, seriesUid, { limit: '1', includefield: '00280010,00280011' });
      if (first[0]) {
        const rows = num(jsonValue(first[0], '00280010')), columns = num(jsonValue(first[0], '00280011'));
        if (rows !== undefined && columns !== undefined) Object.assign(s, { rows, columns });
      }
      return s;
    }));
    summaries.sort((a, b) => (a.seriesNumber ?? 0) - (b.seriesNumber ?? 0));
    out.push({
      studyInstanceUid: studyUid, patientId: jsonValue(st, '00100020'), patientName: jsonValue(st, '00100010'),
      studyDate: jsonValue(st, '00080020'), description: jsonValue(st, '00081030'), series: summaries,
    });
  }
  return out;
}
