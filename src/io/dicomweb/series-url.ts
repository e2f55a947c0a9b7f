/** A series URL split into the DICOMweb base and the two UIDs: BASE/studies/S/series/SE. */
export interface SeriesUrl {
  base: string;
  studyUid: string;
  seriesUid: string;
}

const SERIES_PATH = /^(.*?)\/studies\/([0-9.]+)\/series\/([0-9.]+)\/?$/;

export function isDicomwebUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/** Parse BASE/studies/S/series/SE (query strings are not part of it); undefined when the URL is not one. */
export function parseSeriesUrl(spec: string): SeriesUrl | undefined {
  if (!isDicomwebUrl(spec)) return undefined;
  const m = SERIES_PATH.exec(spec.split(/[?#]/)[0]!);
  return m ? { base: m[1]!, studyUid: m[2]!, seriesUid: m[3]! } : undefined;
}
